"""Outbox and inbox against a real NATS: nothing lost, nothing applied twice."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from typing import Any

import nats
import pytest
from nats.js.api import StreamConfig
from sqlalchemy import Column, Identity, Integer, MetaData, String, Table, select, text, update
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.orm import DeclarativeBase

from deploy.local.servers import NatsEndpoint
from services.registry.models import Outbox
from shared.contracts.registry import ClusterDeleted
from shared.db.engine import create_sessionmaker
from shared.messaging.consumer import DurableConsumer
from shared.messaging.envelope import Envelope
from shared.messaging.inbox import InboxMixin
from shared.messaging.outbox import OutboxMixin, OutboxRelay
from tests.harness import Platform, eventually
from tests.registry_helpers import cluster_payload


async def stream_envelopes(nats_url: str, stream: str, after_seq: int) -> list[Envelope]:
    nc = await nats.connect(nats_url)
    try:
        js = nc.jetstream()
        info = await js.stream_info(stream)
        out = []
        for seq in range(after_seq + 1, info.state.last_seq + 1):
            msg = await js.get_msg(stream, seq)
            assert msg.data is not None
            out.append(Envelope.from_bytes(msg.data))
        return out
    finally:
        await nc.close()


async def last_seq(nats_url: str, stream: str) -> int:
    nc = await nats.connect(nats_url)
    try:
        return int((await nc.jetstream().stream_info(stream)).state.last_seq)
    finally:
        await nc.close()


async def test_relay_catches_up_after_nats_outage_with_each_event_once(
    platform: Platform, nats_server: NatsEndpoint
) -> None:
    start = await last_seq(platform.nats_url, "REGISTRY")
    await asyncio.to_thread(nats_server.stop)
    try:
        ids = []
        async with platform.client("jp") as c:
            for _ in range(5):
                r = await c.post("/v1/clusters", json=cluster_payload("jp"))
                assert r.status_code == 201  # the write does not depend on the broker
                ids.append(r.json()["id"])
            etag = (await c.get(f"/v1/clusters/{ids[0]}")).headers["etag"]
            r = await c.patch(f"/v1/clusters/{ids[0]}", json={"city": "Fukuoka"},
                              headers={"if-match": etag})  # fmt: skip
            assert r.status_code == 200
            assert (await c.delete(f"/v1/clusters/{ids[1]}")).status_code == 204
    finally:
        await asyncio.to_thread(nats_server.start)

    expected = 5 + 1 + 1

    async def ours() -> list[Envelope]:
        envs = await stream_envelopes(platform.nats_url, "REGISTRY", start)
        return [e for e in envs if e.data["id"] in ids]

    seen = await eventually(ours, until=lambda e: len(e) >= expected, timeout=30)
    assert len(seen) == expected
    assert len({e.id for e in seen}) == expected  # each exactly once
    kinds = sorted(e.type for e in seen)
    assert kinds.count("registry.cluster.upserted") == 6
    assert kinds.count("registry.cluster.deleted") == 1
    updated = [e for e in seen if e.data["id"] == ids[0]]
    assert sorted(e.data["version"] for e in updated) == [1, 2]
    assert all("contact_email" not in e.data for e in seen)  # events carry public data only


async def test_republishing_a_row_is_deduplicated_by_jetstream(
    platform: Platform,
) -> None:
    """A relay that dies after publishing but before marking the row sends it again;
    JetStream drops the copy by its Nats-Msg-Id."""
    async with platform.client("kr") as c:
        cid = (await c.post("/v1/clusters", json=cluster_payload("kr"))).json()["id"]
    engine = create_async_engine(platform.database_url)
    sessionmaker = create_sessionmaker(engine)

    async def row_published() -> bool:
        async with sessionmaker() as s:
            rows = (
                await s.scalars(select(Outbox).where(Outbox.payload["data"]["id"].astext == cid))
            ).all()
            return bool(rows) and all(r.published_at is not None for r in rows)

    await eventually(row_published, timeout=15)
    before = await last_seq(platform.nats_url, "REGISTRY")
    async with sessionmaker() as s, s.begin():
        await s.execute(
            update(Outbox)
            .where(Outbox.payload["data"]["id"].astext == cid)
            .values(published_at=None)
        )
    nc = await nats.connect(platform.nats_url)
    try:
        relay = OutboxRelay("registry-test", Outbox, sessionmaker, nc.jetstream())
        await relay.drain()
    finally:
        await nc.close()
        await engine.dispose()
    envs = await stream_envelopes(platform.nats_url, "REGISTRY", before)
    assert [e for e in envs if e.data.get("id") == cid] == []


# ---- the consuming side -------------------------------------------------------------


class _TestBase(DeclarativeBase):
    metadata = MetaData(schema="messaging_test")


class _Inbox(InboxMixin, _TestBase):
    __tablename__ = "inbox"


class _Outbox(OutboxMixin, _TestBase):
    __tablename__ = "outbox"


handled_in_order = Table(
    "handled_in_order",
    _TestBase.metadata,
    Column("seq", Integer, Identity(), primary_key=True),
    Column("n", Integer),
)

effects = Table(
    "effects",
    _TestBase.metadata,
    Column("event_id", String, primary_key=False),
    Column("n", Integer),
)


@pytest.fixture
async def scratch(database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_async_engine(database_url)
    async with engine.begin() as conn:
        await conn.execute(text("DROP SCHEMA IF EXISTS messaging_test CASCADE"))
        await conn.execute(text("CREATE SCHEMA messaging_test"))
        await conn.run_sync(_TestBase.metadata.create_all)
    try:
        yield engine
    finally:
        async with engine.begin() as conn:
            await conn.execute(text("DROP SCHEMA messaging_test CASCADE"))
        await engine.dispose()


@pytest.fixture
async def test_stream(nats_server: NatsEndpoint) -> AsyncIterator[tuple[Any, str, str]]:
    nc = await nats.connect(nats_server.url)
    js = nc.jetstream()
    name = f"T{uuid.uuid4().hex[:8].upper()}"
    subject = f"test.{name.lower()}"
    await js.add_stream(StreamConfig(name=name, subjects=[f"{subject}.>"]))
    try:
        yield js, name, subject
    finally:
        await js.delete_stream(name)
        await nc.close()


async def test_redelivered_message_changes_nothing(
    scratch: AsyncEngine, test_stream: tuple[Any, str, str]
) -> None:
    js, stream, subject = test_stream
    sessionmaker = create_sessionmaker(scratch)
    calls = 0

    async def handler(session: Any, envelope: Envelope) -> None:
        nonlocal calls
        calls += 1
        await session.execute(effects.insert().values(event_id=str(envelope.id), n=1))

    consumer = DurableConsumer(
        name="test-consumer", stream=stream, subject=f"{subject}.>", js=js,
        sessionmaker=sessionmaker, inbox=_Inbox, handler=handler,
    )  # fmt: skip
    await consumer.subscribe()
    envelope = Envelope(type=f"{subject}.happened", tenant="jp", data={"x": 1})
    # The same event twice, as a redelivery after a lost ack looks to a consumer (a
    # different Nats-Msg-Id, so JetStream's own de-duplication does not hide it).
    for _ in range(2):
        await js.publish(f"{subject}.happened", envelope.to_bytes(),
                         headers={"Nats-Msg-Id": uuid.uuid4().hex})  # fmt: skip
    handled = 0
    while handled < 2:
        handled += await consumer.poll_once(timeout=2)
    async with scratch.connect() as conn:
        rows = (await conn.execute(select(effects))).all()
    assert len(rows) == 1
    assert calls == 1


async def test_failed_handling_is_retried_and_applied_once(
    scratch: AsyncEngine, test_stream: tuple[Any, str, str]
) -> None:
    js, stream, subject = test_stream
    sessionmaker = create_sessionmaker(scratch)
    attempts = 0

    async def flaky(session: Any, envelope: Envelope) -> None:
        nonlocal attempts
        attempts += 1
        await session.execute(effects.insert().values(event_id=str(envelope.id), n=attempts))
        if attempts == 1:
            raise RuntimeError("transient failure")  # rolls back the insert and the claim

    consumer = DurableConsumer(
        name="flaky-consumer", stream=stream, subject=f"{subject}.>", js=js,
        sessionmaker=sessionmaker, inbox=_Inbox, handler=flaky,
    )  # fmt: skip
    await consumer.subscribe()
    await js.publish(f"{subject}.x", Envelope(type=f"{subject}.x", tenant="jp", data={}).to_bytes())

    async def applied() -> int:
        await consumer.poll_once(timeout=1)
        async with scratch.connect() as conn:
            return len((await conn.execute(select(effects))).all())

    assert await eventually(applied, until=lambda n: n >= 1, timeout=15) == 1
    assert attempts == 2


async def test_poison_message_is_terminated_not_retried(
    scratch: AsyncEngine, test_stream: tuple[Any, str, str]
) -> None:
    js, stream, subject = test_stream
    calls = 0

    async def handler(session: Any, envelope: Envelope) -> None:
        nonlocal calls
        calls += 1

    consumer = DurableConsumer(
        name="poison-consumer", stream=stream, subject=f"{subject}.>", js=js,
        sessionmaker=create_sessionmaker(scratch), inbox=_Inbox, handler=handler,
    )  # fmt: skip
    await consumer.subscribe()
    await js.publish(f"{subject}.bad", b"{not an envelope")
    assert await consumer.poll_once(timeout=2) == 1
    assert await consumer.poll_once(timeout=0.5) == 0
    assert calls == 0


async def test_a_payload_off_its_contract_is_terminated_and_the_batch_goes_on(
    scratch: AsyncEngine, test_stream: tuple[Any, str, str]
) -> None:
    js, stream, subject = test_stream

    async def handler(session: Any, envelope: Envelope) -> None:
        payload = envelope.payload(ClusterDeleted)  # raises on a payload off the contract
        await session.execute(effects.insert().values(event_id=str(payload.id), n=1))

    consumer = DurableConsumer(
        name="contract-consumer", stream=stream, subject=f"{subject}.>", js=js,
        sessionmaker=create_sessionmaker(scratch), inbox=_Inbox, handler=handler,
    )  # fmt: skip
    await consumer.subscribe()
    good = [uuid.uuid4() for _ in range(3)]
    for n, cid in enumerate(good):
        if n == 1:
            bad = Envelope(type=f"{subject}.deleted", tenant="jp", data={"id": "not-an-id"})
            await js.publish(f"{subject}.deleted", bad.to_bytes())
        data = {"id": str(cid), "tenant": "jp", "version": 2}
        await js.publish(
            f"{subject}.deleted",
            Envelope(type=f"{subject}.deleted", tenant="jp", data=data).to_bytes(),
        )
    handled = 0
    while handled < 4:
        handled += await consumer.poll_once(timeout=2)
    assert await consumer.poll_once(timeout=0.5) == 0  # nothing left to redeliver
    async with scratch.connect() as conn:
        rows = (await conn.execute(select(effects.c.event_id))).scalars().all()
    assert sorted(rows) == sorted(str(c) for c in good)


async def test_relays_of_several_replicas_publish_one_outbox_in_the_order_written(
    scratch: AsyncEngine, test_stream: tuple[Any, str, str]
) -> None:
    """Two replicas' relays on one outbox: consumers get the events in `seq` order,
    not two interleaved batches (which would reorder one object's changes)."""
    js, stream, subject = test_stream
    sessionmaker = create_sessionmaker(scratch)
    written = []
    async with sessionmaker() as session, session.begin():
        for n in range(120):
            envelope = Envelope(type=f"{subject}.changed", tenant="jp", data={"n": n})
            written.append(str(envelope.id))
            session.add(
                _Outbox(
                    event_id=envelope.id,
                    subject=f"{subject}.changed",
                    tenant="jp",
                    payload=envelope.model_dump(mode="json"),
                )
            )
    relays = [
        OutboxRelay(f"replica-{i}", _Outbox, sessionmaker, js, batch_size=10, poll_seconds=0.01)
        for i in (1, 2)
    ]
    # Both relays guard the same outbox: the lock is per service, as in production.
    for relay in relays:
        relay.service = "messaging-test"
    tasks = [asyncio.create_task(relay.run()) for relay in relays]

    async def unpublished() -> int:
        async with sessionmaker() as session:
            rows = await session.scalars(select(_Outbox).where(_Outbox.published_at.is_(None)))
            return len(rows.all())

    try:
        await eventually(unpublished, until=lambda n: n == 0, timeout=30)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    sub = await js.pull_subscribe(f"{subject}.>", stream=stream)
    received: list[str] = []
    while len(received) < len(written):
        msgs = await sub.fetch(len(written) - len(received), timeout=5)
        received += [str(Envelope.from_bytes(m.data).id) for m in msgs]
    assert received == written


async def test_replicas_sharing_an_in_order_consumer_commit_its_events_in_stream_order(
    scratch: AsyncEngine, test_stream: tuple[Any, str, str]
) -> None:
    """Two replicas on one durable consumer marked in_order: what they commit follows
    the stream's order (webhook deliveries of a subject rely on it)."""
    js, stream, subject = test_stream
    sessionmaker = create_sessionmaker(scratch)

    async def handler(session: Any, envelope: Envelope) -> None:
        # Slow work on every other batch of 5: without turns, the replica with the next
        # batch would commit first.
        await asyncio.sleep(0.02 if envelope.data["n"] % 10 < 5 else 0)
        await session.execute(handled_in_order.insert().values(n=envelope.data["n"]))

    replicas = [
        DurableConsumer(
            name="in-order",
            stream=stream,
            subject=f"{subject}.>",
            js=js,
            sessionmaker=sessionmaker,
            inbox=_Inbox,
            handler=handler,
            batch=5,
            in_order=True,
        )
        for _ in range(2)
    ]
    for replica in replicas:
        await replica.subscribe()
    for n in range(60):
        envelope = Envelope(type=f"{subject}.changed", tenant="jp", data={"n": n})
        await js.publish(f"{subject}.changed", envelope.to_bytes())

    async def work(replica: DurableConsumer) -> None:
        while True:
            await replica.poll_once(timeout=0.2)

    tasks = [asyncio.create_task(work(r)) for r in replicas]

    async def handled() -> list[int]:
        async with scratch.connect() as conn:
            rows = await conn.execute(select(handled_in_order.c.n).order_by(handled_in_order.c.seq))
            return [r[0] for r in rows]

    try:
        order = await eventually(handled, until=lambda ns: len(ns) >= 60, timeout=30)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    assert order == list(range(60))
