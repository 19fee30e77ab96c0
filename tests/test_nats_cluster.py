"""A 3-node NATS cluster on loopback (three nats-server processes of the same package,
routed to each other) with the platform's streams at three replicas: a client given
every node's URL rides out the loss of a node, the stream leader included, and loses
no acknowledged message."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from nats.aio.client import Client as NATS
from nats.errors import NoRespondersError
from nats.errors import TimeoutError as NatsTimeoutError
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig
from nats.js.errors import APIError, NoStreamResponseError

from deploy.local.servers import EmbeddedNatsCluster
from shared.contracts import registry
from shared.messaging.envelope import MSG_ID_HEADER
from shared.messaging.streams import connect, ensure_stream
from tests.harness import eventually


@pytest.fixture
async def cluster(tmp_path: Path) -> AsyncIterator[EmbeddedNatsCluster]:
    nodes = EmbeddedNatsCluster(tmp_path / "nats", 3)
    await asyncio.to_thread(nodes.start)
    try:
        yield nodes
    finally:
        await asyncio.to_thread(nodes.stop)


async def publish_acknowledged(js: JetStreamContext, msg_id: str, deadline: float = 30.0) -> None:
    """Publish until JetStream acknowledges, with the same id each time (a retry across a
    leader election is dropped as a duplicate if the first one landed)."""
    give_up = time.monotonic() + deadline
    while True:
        try:
            await js.publish(
                registry.CLUSTER_UPSERTED, msg_id.encode(), headers={MSG_ID_HEADER: msg_id},
                timeout=2.0,
            )  # fmt: skip
            return
        except (NatsTimeoutError, NoStreamResponseError, NoRespondersError, APIError, TimeoutError):
            # No stream leader for a moment (an election after the loss): try again.
            if time.monotonic() > give_up:
                raise
            await asyncio.sleep(0.1)


async def test_a_replicated_stream_rides_out_the_loss_of_its_leader(
    cluster: EmbeddedNatsCluster,
) -> None:
    nc: NATS = await connect(cluster.url, "cluster-test")
    try:
        js = nc.jetstream()
        await ensure_stream(js, registry.STREAM, replicas=3)

        async def placed() -> int:
            """Replicas in step with a leader (0 while there is no leader)."""
            placement = (await js.stream_info(registry.STREAM)).cluster
            if placement is None or placement.leader is None:
                return 0
            return len([r for r in placement.replicas or [] if r.current])

        await eventually(placed, until=lambda n: n == 2, timeout=30)
        sub = await js.pull_subscribe(
            registry.CLUSTER_ALL,
            durable="cluster-test",
            stream=registry.STREAM,
            config=ConsumerConfig(ack_policy=AckPolicy.EXPLICIT, num_replicas=3),
        )
        ids = [f"before-{i}" for i in range(30)] + [f"after-{i}" for i in range(30)]
        for msg_id in ids[:30]:
            await publish_acknowledged(js, msg_id)

        info = await js.stream_info(registry.STREAM)
        assert info.config.num_replicas == 3
        leader = info.cluster.leader if info.cluster else None
        [lost] = [n for n in cluster.nodes if n.name == leader]
        await asyncio.to_thread(lost.kill)

        for msg_id in ids[30:]:
            await publish_acknowledged(js, msg_id)

        seen: list[str] = []

        async def drained() -> int:
            try:
                for msg in await sub.fetch(100, timeout=1.0):
                    seen.append(msg.data.decode())
                    await msg.ack()
            except (NatsTimeoutError, TimeoutError, APIError, NoRespondersError):
                # No consumer leader for a moment after the loss: fetch again, as the
                # platform's consumers do (shared.messaging.consumer).
                pass
            return len(set(seen))

        await eventually(drained, until=lambda n: n == len(ids), timeout=60)
        # Every acknowledged message is in the stream once, none lost with the node.
        assert sorted(set(seen)) == sorted(ids)
        state = (await js.stream_info(registry.STREAM)).state
        assert state.messages == len(ids)
        new_leader = (await js.stream_info(registry.STREAM)).cluster
        assert new_leader is not None
        assert new_leader.leader not in (None, leader)

        # The lost node comes back and catches up with what it missed.
        await asyncio.to_thread(lost.start)
        await eventually(placed, until=lambda n: n == 2, timeout=60)
    finally:
        await nc.close()
