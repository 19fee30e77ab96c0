"""Durable JetStream pull consumers that apply each event at most once.

The handler runs inside a database transaction together with the inbox claim; the
message is acked only after the commit. A failure naks with a delay; after
`max_deliver` attempts JetStream stops redelivering (the message stays in the stream
for inspection). A message that cannot be parsed, or whose payload is off its
contract (the handler raised pydantic's ValidationError), is terminated at once and
logged: retrying it can never succeed, and it must not hold back the others.

Each message is handled under the request id it carries and, with tracing on, in a
consumer span that is the child of the publish span (the trace context in its headers),
so one trace runs from the request that wrote the event to every consumer's effect.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
from collections.abc import Awaitable, Callable, Iterator

import structlog
from nats.aio.msg import Msg
from nats.errors import TimeoutError as NatsTimeoutError
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from opentelemetry.trace import Span, SpanKind
from prometheus_client import Counter, Gauge
from pydantic import ValidationError
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from shared.messaging.envelope import Envelope
from shared.messaging.inbox import InboxMixin, claim
from shared.requestid import request_id_bound
from shared.telemetry.propagation import REQUEST_ID_HEADER, extract_from
from shared.telemetry.telemetry import OFF, Telemetry, mark_error

_log = structlog.get_logger("consumer")

Handler = Callable[[AsyncSession, Envelope], Awaitable[None]]
Committed = Callable[[list[Envelope]], Awaitable[None] | None]

# How long to wait for the rest of a batch once its first message is in.
REST_OF_BATCH_SECONDS = 0.05
# An in-order consumer whose turn another replica has looks again after this long.
TURN_RETRY_SECONDS = 0.2

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
        telemetry: Telemetry = OFF,
        in_order: bool = False,
    ) -> None:
        self.name = name
        # Replicas share a durable consumer, so two of them may fetch neighbouring
        # batches and commit them in either order. Where order matters (webhook
        # deliveries per subject), replicas take turns: see poll_once.
        self.in_order = in_order
        self.stream = stream
        self.subject = subject
        self.js = js
        self.sessionmaker = sessionmaker
        self.inbox = inbox
        self.handler = handler
        self.max_deliver = max_deliver
        self.batch = batch
        self.on_committed = on_committed
        self.telemetry = telemetry
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

    def _count(self, outcome: str, n: int = 1) -> None:
        CONSUMED.labels(self.name, outcome).inc(n)
        self.telemetry.count_consumed(self.name, outcome, n)

    def _handled(self, envelope: Envelope, fresh: bool) -> None:
        # One line per event at LOG_LEVEL=DEBUG (with its request id); nothing above it.
        _log.debug(
            "event handled" if fresh else "event seen before; skipped",
            consumer=self.name,
            event_id=str(envelope.id),
            type=envelope.type,
        )

    @contextlib.contextmanager
    def _handling(self, msg: Msg, envelope: Envelope) -> Iterator[Span | None]:
        """The request id and the consumer span of one message's handling."""
        headers = msg.headers or {}
        with (
            request_id_bound(headers.get(REQUEST_ID_HEADER)),
            self.telemetry.span(
                f"process {msg.subject}",
                SpanKind.CONSUMER,
                parent=extract_from(headers),
                attributes={
                    "messaging.system": "nats",
                    "messaging.operation.type": "process",
                    "messaging.destination.name": msg.subject,
                    "messaging.consumer.group.name": self.name,
                    "messaging.message.id": str(envelope.id),
                },
            ) as span,
        ):
            yield span

    async def handle(self, msg: Msg) -> str:
        """One message in its own transaction (also the fallback for a failed batch)."""
        try:
            envelope = Envelope.from_bytes(msg.data)
        except ValidationError:
            await msg.term()
            return "poison"
        with self._handling(msg, envelope) as span:
            try:
                async with self.sessionmaker() as session, session.begin():
                    fresh = await claim(session, self.inbox, self.name, envelope.id)
                    if fresh:
                        await self.handler(session, envelope)
                    self._handled(envelope, fresh)
            except ValidationError as exc:
                _log.error(
                    "event off its contract; terminated",
                    consumer=self.name,
                    event_id=str(envelope.id),
                    type=envelope.type,
                    error=str(exc),
                )
                mark_error(span, exc)
                await msg.term()
                return "poison"
            except Exception as exc:
                _log.warning("event handling failed", consumer=self.name, error=repr(exc))
                mark_error(span, exc)
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
                self._count("poison")
        if not parsed:
            return
        fresh: list[Envelope] = []
        try:
            async with self.sessionmaker() as session, session.begin():
                for msg, envelope in parsed:
                    with self._handling(msg, envelope):
                        new = await claim(session, self.inbox, self.name, envelope.id)
                        if new:
                            await self.handler(session, envelope)
                            fresh.append(envelope)
                        self._handled(envelope, new)
        except Exception as exc:
            _log.info("batch failed; handling its messages one by one", error=repr(exc))
            for msg, _ in parsed:
                self._count(await self.handle(msg))
            return
        for msg, _ in parsed:
            await msg.ack()
        self._count("applied", len(fresh))
        self._count("duplicate", len(parsed) - len(fresh))
        await self._committed(fresh)

    def _note_pending(self, msgs: list[Msg]) -> None:
        """Consumer lag: what the server still holds for this consumer after the batch."""
        pending = 0
        if msgs:
            try:
                pending = msgs[-1].metadata.num_pending
            except Exception:  # not a JetStream delivery (no ack subject): lag unknown
                return
        CONSUMER_LAG.labels(self.name).set(pending)
        self.telemetry.set_pending(self.name, pending)

    async def poll_once(self, timeout: float = 1.0) -> int:
        """Fetch and handle one batch; returns how many messages were handled."""
        if not self.in_order:
            return await self._fetch_and_handle(timeout)
        # In order across replicas: one replica at a time fetches, handles, commits and
        # acks a batch, under a lock that the next batch's fetch waits for, so the
        # commit order is the stream's order. The others find it taken and look again.
        async with self.sessionmaker() as session, session.begin():
            turn = await session.scalar(
                text("SELECT pg_try_advisory_xact_lock(hashtext(:key))"),
                {"key": f"consumer:{self.name}"},
            )
            if not turn:
                await asyncio.sleep(min(timeout, TURN_RETRY_SECONDS))
                return 0
            # Short fetches: the lock holds a connection while it waits for messages.
            return await self._fetch_and_handle(min(timeout, TURN_RETRY_SECONDS * 5))

    async def _fetch_and_handle(self, timeout: float) -> int:
        assert self._sub is not None, "subscribe() first"
        # Wait for one message, then take what else is there at once. A single fetch of
        # the whole batch would hold a message that arrived alone until the batch
        # filled or the timeout ran out (nats-py keeps a lingering pull open), so
        # one event at a time waited up to 5 s; bursts still come in whole batches.
        try:
            msgs = await self._sub.fetch(1, timeout=timeout)
        except (NatsTimeoutError, TimeoutError):
            self._note_pending([])
            return 0
        if self.batch > 1:
            with contextlib.suppress(NatsTimeoutError, TimeoutError):
                msgs += await self._sub.fetch(self.batch - 1, timeout=REST_OF_BATCH_SECONDS)
        self._note_pending(msgs)
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
