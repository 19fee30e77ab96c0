"""Every registry cluster event into THIS replica's in-memory match index.

The `matching-profiles` durable consumer is shared by the replicas (a work queue): each
event lands in the projection table once, in whichever replica fetched it. The index,
though, lives in each process, and every one of them must hear every event. So each
replica also reads the stream through a consumer of its own, named after the process,
and applies what it reads to its index only (no database write).

It starts where the replica's snapshot leaves off: `start_sequence()`, read before the
index is loaded from the projection, is one past the shared consumer's ack floor.
Everything at or below the floor was committed to the projection before the snapshot
(the shared consumer acks after its commit), so the snapshot holds it; anything above
may or may not be in it, and reading it again is harmless because the index applies a
version only if it is newer. The consumer has the stream's replicas, so it outlives a
NATS node; if it is gone anyway (expired while the replica could not reach NATS), it
is created again from the next sequence this replica has not applied. One a replica
leaves behind (SIGKILL) is removed by NATS after `INACTIVE_SECONDS`.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import socket
import uuid

import structlog
from nats.aio.msg import Msg
from nats.errors import TimeoutError as NatsTimeoutError
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from nats.js.errors import NotFoundError
from pydantic import ValidationError

from services.matching.live_index import LiveIndex
from shared.messaging.envelope import Envelope

_log = structlog.get_logger("matching.follower")

INACTIVE_SECONDS = 300.0
REST_OF_BATCH_SECONDS = 0.05


def replica_consumer_name(prefix: str = "matching-index") -> str:
    """Unique per process, readable by an operator: host, pid and a random tail."""
    host = re.sub(r"[^A-Za-z0-9_-]", "-", socket.gethostname())[:40]
    return f"{prefix}-{host}-{os.getpid()}-{uuid.uuid4().hex[:6]}"


class IndexFollower:
    def __init__(
        self,
        js: JetStreamContext,
        live: LiveIndex,
        *,
        stream: str,
        subject: str,
        shared_consumer: str,
        name: str | None = None,
        batch: int = 200,
    ) -> None:
        self.js = js
        self.live = live
        self.stream = stream
        self.subject = subject
        self.shared_consumer = shared_consumer
        self.name = name or replica_consumer_name()
        self.batch = batch
        self.next_sequence = 1  # the first stream sequence this replica has not applied
        self.applied = 0
        self._sub: JetStreamContext.PullSubscription | None = None

    async def start_sequence(self) -> int:
        """One past the shared consumer's ack floor (1 before it exists); call it before
        loading the index, and it becomes where this follower starts."""
        try:
            info = await self.js.consumer_info(self.stream, self.shared_consumer)
        except NotFoundError:
            floor = 0
        else:
            floor = info.ack_floor.stream_seq if info.ack_floor else 0
        self.next_sequence = floor + 1
        return self.next_sequence

    async def _subscribe(self) -> None:
        config = ConsumerConfig(
            durable_name=self.name,
            deliver_policy=DeliverPolicy.BY_START_SEQUENCE,
            opt_start_seq=self.next_sequence,
            ack_policy=AckPolicy.ALL,
            ack_wait=30,
            inactive_threshold=INACTIVE_SECONDS,
        )
        # Binds to our consumer when it exists (a reconnect), creates it otherwise.
        self._sub = await self.js.pull_subscribe(
            self.subject, durable=self.name, stream=self.stream, config=config
        )

    async def poll_once(self, timeout: float = 1.0) -> int:
        """Fetch what is there (waiting up to `timeout` for the first); apply it."""
        if self._sub is None:
            await self._subscribe()
        assert self._sub is not None
        try:
            msgs = await self._sub.fetch(1, timeout=timeout)
        except (NatsTimeoutError, TimeoutError):
            return 0
        with contextlib.suppress(NatsTimeoutError, TimeoutError):
            msgs += await self._sub.fetch(self.batch - 1, timeout=REST_OF_BATCH_SECONDS)
        await self._apply(msgs)
        return len(msgs)

    async def _apply(self, msgs: list[Msg]) -> None:
        envelopes: list[Envelope] = []
        for msg in msgs:
            seq = msg.metadata.sequence.stream
            if seq < self.next_sequence:
                continue  # a redelivery of what we applied before a reconnect
            try:
                envelopes.append(Envelope.from_bytes(msg.data))
            except ValidationError:
                _log.error("unreadable registry event skipped by the index", sequence=seq)
        if envelopes:
            await self.live.apply(envelopes)
        last = msgs[-1]
        self.next_sequence = max(self.next_sequence, last.metadata.sequence.stream + 1)
        self.applied += len(envelopes)
        self.live.freshness.pending = last.metadata.num_pending
        await last.ack()  # AckPolicy.ALL: everything up to it

    async def run(self) -> None:
        while True:
            try:
                await self.poll_once(timeout=5.0)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                _log.warning(
                    "index follower error; reconnecting", consumer=self.name, error=repr(exc)
                )
                await self._reconnect()
                await asyncio.sleep(1.0)  # retry pacing while NATS is away

    async def _reconnect(self) -> None:
        """Drop the subscription. The next one binds to our consumer where it was (what
        it redelivers below `next_sequence` is skipped), or, if NATS removed it, creates
        it again from `next_sequence`."""
        sub, self._sub = self._sub, None
        if sub is not None:
            with contextlib.suppress(Exception):
                await sub.unsubscribe()

    async def close(self) -> None:
        """Remove our consumer (a stopped replica needs it no more)."""
        if self._sub is not None:
            with contextlib.suppress(Exception):
                await self._sub.unsubscribe()
            self._sub = None
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.js.delete_consumer(self.stream, self.name), 2.0)
