"""Durable JetStream pull consumers that apply each event at most once.

The handler runs inside a database transaction together with the inbox claim; the
message is acked only after the commit. A failure naks with a delay; after
`max_deliver` attempts JetStream stops redelivering (the message stays in the stream
for inspection). A message that cannot be parsed, or whose payload is off its
contract (the handler raised pydantic's ValidationError), is terminated at once and
logged: retrying it can never succeed, and it must not hold back the others.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
from collections.abc import Awaitable, Callable

import structlog
from nats.aio.msg import Msg
from nats.errors import TimeoutError as NatsTimeoutError
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from prometheus_client import Counter, Gauge
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from shared.messaging.envelope import Envelope
from shared.messaging.inbox import InboxMixin, claim

_log = structlog.get_logger("consumer")

Handler = Callable[[AsyncSession, Envelope], Awaitable[None]]
Committed = Callable[[list[Envelope]], Awaitable[None] | None]

# How long to wait for the rest of a batch once its first message is in.
REST_OF_BATCH_SECONDS = 0.05

CONSUMED = Counter("clusterbridge_events_consumed_total", "Events handled", ["consumer", "outcome"])
CONSUMER_LAG = Gauge(
    "clusterbridge_consumer_pending", "Messages waiting for this consumer", ["consumer"]
)


class DurableConsumer:
    def __init__(
        self,
        *,
        name: str,
        stream: str,
        subject: str,
        js: JetStreamContext,
        sessionmaker: async_sessionmaker[AsyncSession],
        inbox: type[InboxMixin],
        handler: Handler,
        max_deliver: int = 8,
        batch: int = 100,
        on_committed: Committed | None = None,
    ) -> None:
        self.name = name
        self.stream = stream
        self.subject = subject
        self.js = js
        self.sessionmaker = sessionmaker
        self.inbox = inbox
        self.handler = handler
        self.max_deliver = max_deliver
        self.batch = batch
        self.on_committed = on_committed
        self._sub: JetStreamContext.PullSubscription | None = None

    async def subscribe(self) -> None:
        # Creates the durable consumer on first use, binds to it afterwards.
        config = ConsumerConfig(
            durable_name=self.name,
            ack_policy=AckPolicy.EXPLICIT,
            deliver_policy=DeliverPolicy.ALL,
            max_deliver=self.max_deliver,
            ack_wait=30,
        )
        self._sub = await self.js.pull_subscribe(
            self.subject, durable=self.name, stream=self.stream, config=config
        )

    async def _committed(self, envelopes: list[Envelope]) -> None:
        if envelopes and self.on_committed is not None:
            result = self.on_committed(envelopes)
            if inspect.isawaitable(result):
                await result

    async def handle(self, msg: Msg) -> str:
        """One message in its own transaction (also the fallback for a failed batch)."""
        try:
            envelope = Envelope.from_bytes(msg.data)
        except ValidationError:
            await msg.term()
            return "poison"
        try:
            async with self.sessionmaker() as session, session.begin():
                fresh = await claim(session, self.inbox, self.name, envelope.id)
                if fresh:
                    await self.handler(session, envelope)
        except ValidationError as exc:
            _log.error(
                "event off its contract; terminated",
                consumer=self.name,
                event_id=str(envelope.id),
                type=envelope.type,
                error=str(exc),
            )
            await msg.term()
            return "poison"
        except Exception as exc:
            _log.warning("event handling failed", consumer=self.name, error=repr(exc))
            await msg.nak(delay=1.0)
            return "failed"
        await msg.ack()
        await self._committed([envelope] if fresh else [])
        return "applied" if fresh else "duplicate"

    async def handle_batch(self, msgs: list[Msg]) -> None:
        """A fetched batch in one transaction: a bulk import upstream becomes a few
        commits here instead of one per profile. If anything in it fails, the batch is
        rolled back and each message is handled alone, so one bad message delays only
        itself."""
        parsed: list[tuple[Msg, Envelope]] = []
        for msg in msgs:
            try:
                parsed.append((msg, Envelope.from_bytes(msg.data)))
            except ValidationError:
                await msg.term()
                CONSUMED.labels(self.name, "poison").inc()
        if not parsed:
            return
        fresh: list[Envelope] = []
        try:
            async with self.sessionmaker() as session, session.begin():
                for _, envelope in parsed:
                    if await claim(session, self.inbox, self.name, envelope.id):
                        await self.handler(session, envelope)
                        fresh.append(envelope)
        except Exception as exc:
            _log.info("batch failed; handling its messages one by one", error=repr(exc))
            for msg, _ in parsed:
                CONSUMED.labels(self.name, await self.handle(msg)).inc()
            return
        for msg, _ in parsed:
            await msg.ack()
        CONSUMED.labels(self.name, "applied").inc(len(fresh))
        CONSUMED.labels(self.name, "duplicate").inc(len(parsed) - len(fresh))
        await self._committed(fresh)

    async def poll_once(self, timeout: float = 1.0) -> int:
        """Fetch and handle one batch; returns how many messages were handled."""
        assert self._sub is not None, "subscribe() first"
        # Wait for one message, then take what else is there at once. A single fetch of
        # the whole batch would hold a message that arrived alone until the batch
        # filled or the timeout ran out (nats-py keeps a lingering pull open), so
        # one event at a time waited up to 5 s; bursts still come in whole batches.
        try:
            msgs = await self._sub.fetch(1, timeout=timeout)
        except (NatsTimeoutError, TimeoutError):
            return 0
        if self.batch > 1:
            with contextlib.suppress(NatsTimeoutError, TimeoutError):
                msgs += await self._sub.fetch(self.batch - 1, timeout=REST_OF_BATCH_SECONDS)
        await self.handle_batch(msgs)
        return len(msgs)

    async def run(self) -> None:
        while True:
            try:
                if self._sub is None:
                    await self.subscribe()
                await self.poll_once(timeout=5.0)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                _log.warning("consumer loop error; retrying", consumer=self.name, error=repr(exc))
                self._sub = None
                await asyncio.sleep(1.0)
