"""Transactional outbox: the event row commits with the change; a relay publishes it.

`record_event` is called inside the request's transaction. The relay takes unpublished
rows in `seq` order, one relay at a time per outbox across replicas (an advisory lock,
so one object's events go out in the order they were written), publishes each with
`Nats-Msg-Id` = event id (JetStream drops duplicates of a retry) and stamps
`published_at` in the same transaction. If NATS is down, the transaction rolls back,
the rows stay, and the relay retries with a capped backoff: a broker outage delays
events, it never loses one.

Each row also keeps the headers of the moment it was written (the request id, and the
trace context when tracing is on), so a message published later still belongs to the
request that caused it: the relay's publish span is a child of that request's span.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from datetime import UTC, datetime
from typing import Any

import structlog
from nats.js import JetStreamContext
from opentelemetry.trace import SpanKind
from prometheus_client import Counter, Gauge
from sqlalchemy import BigInteger, DateTime, Identity, String, func, select, text
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import Mapped, mapped_column

from shared.contracts.base import Payload
from shared.messaging.envelope import MSG_ID_HEADER, TENANT_HEADER, Envelope
from shared.telemetry.propagation import (
    REQUEST_ID_HEADER,
    TRACE_HEADERS,
    context_headers,
    extract_from,
    inject_into,
)
from shared.telemetry.telemetry import OFF, REQUEST_ID_ATTRIBUTE, Telemetry

_log = structlog.get_logger("outbox")

OUTBOX_PUBLISHED = Counter(
    "clusterbridge_outbox_published_total", "Events published from the outbox", ["service"]
)
OUTBOX_BACKLOG = Gauge(
    "clusterbridge_outbox_backlog", "Unpublished outbox rows seen by the relay", ["service"]
)
OUTBOX_FAILURES = Counter(
    "clusterbridge_outbox_publish_failures_total", "Failed relay batches", ["service"]
)


class OutboxMixin:
    """Columns of a service's outbox table; the service declares the mapped class."""

    seq: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    event_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), unique=True)
    subject: Mapped[str] = mapped_column(String(200))
    tenant: Mapped[str] = mapped_column(String(16))
    payload: Mapped[dict[str, Any]] = mapped_column(JSONB)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    published_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), index=True)
    # What the message carries besides the envelope: request id, W3C trace context.
    headers: Mapped[dict[str, str] | None] = mapped_column(JSONB)


def record_event(
    session: AsyncSession,
    model: type[OutboxMixin],
    event_type: str,
    tenant: str,
    payload: Payload,
) -> Envelope:
    """Add the event to the outbox of the session's transaction (published after commit)."""
    envelope = Envelope(
        type=event_type, tenant=tenant, data=payload.model_dump(mode="json", by_alias=True)
    )
    session.info["wrote_events"] = True  # the request's session wakes the relay after commit
    session.add(
        model(  # type: ignore[call-arg]
            event_id=envelope.id,
            subject=event_type,
            tenant=tenant,
            payload=envelope.model_dump(mode="json"),
            headers=context_headers() or None,
        )
    )
    return envelope


class OutboxRelay:
    """Publishes committed outbox rows to JetStream, in order, at least once."""

    def __init__(
        self,
        service: str,
        model: type[OutboxMixin],
        sessionmaker: async_sessionmaker[AsyncSession],
        js: JetStreamContext,
        *,
        poll_seconds: float = 0.5,
        batch_size: int = 200,
        max_backoff: float = 5.0,
        telemetry: Telemetry = OFF,
    ) -> None:
        self.service = service
        self.model = model
        self.sessionmaker = sessionmaker
        self.js = js
        self.poll_seconds = poll_seconds
        self.batch_size = batch_size
        self.max_backoff = max_backoff
        self.telemetry = telemetry
        self._wake = asyncio.Event()

    def wake(self) -> None:
        """Called after a commit that wrote events, so they go out without waiting a poll."""
        self._wake.set()

    async def publish_batch(self) -> int:
        """Publish one batch; returns how many rows went out. Raises if NATS fails."""
        model = self.model
        async with self.sessionmaker() as session, session.begin():
            # One relay at a time per outbox, across replicas: two relays taking
            # neighbouring batches would publish them in either order, and consumers
            # rely on one object's events arriving in the order they were written.
            # The other replicas' relays find the lock taken and wait for their next turn.
            if not await session.scalar(
                text("SELECT pg_try_advisory_xact_lock(hashtext(:key))"),
                {"key": f"outbox:{self.service}"},
            ):
                return 0
            rows = (
                await session.scalars(
                    select(model)
                    .where(model.published_at.is_(None))
                    .order_by(model.seq)
                    .limit(self.batch_size)
                    .with_for_update(skip_locked=True)
                )
            ).all()
            if not rows:
                OUTBOX_BACKLOG.labels(self.service).set(0)
                self.telemetry.set_backlog(0)
                return 0
            now = datetime.now(UTC)
            for row in rows:
                await self._publish(row)
                row.published_at = now
            OUTBOX_PUBLISHED.labels(self.service).inc(len(rows))
            OUTBOX_BACKLOG.labels(self.service).set(len(rows))
            self.telemetry.count_published(len(rows))
            self.telemetry.set_backlog(len(rows))
            return len(rows)

    async def _publish(self, row: OutboxMixin) -> None:
        envelope = Envelope.model_validate(row.payload)
        headers = {
            **(row.headers or {}),
            MSG_ID_HEADER: str(row.event_id),
            TENANT_HEADER: row.tenant,
        }
        with self.telemetry.span(
            f"publish {row.subject}",
            SpanKind.PRODUCER,
            parent=extract_from(row.headers),
            attributes={
                "messaging.system": "nats",
                "messaging.operation.type": "send",
                "messaging.destination.name": row.subject,
                "messaging.message.id": str(row.event_id),
                **_request_id_of(row.headers, REQUEST_ID_ATTRIBUTE),
            },
        ) as span:
            if span is not None:
                # The consumer's span is the child of this one, not of the request's.
                for name in TRACE_HEADERS:
                    headers.pop(name, None)
                inject_into(headers)
            await self.js.publish(row.subject, envelope.to_bytes(), headers=headers, timeout=2.0)
            _log.debug(
                "event published",
                event_id=str(row.event_id),
                type=row.subject,
                **_request_id_of(row.headers, "request_id"),
            )

    async def drain(self) -> int:
        """Publish until nothing is left (used by tests and at shutdown)."""
        total = 0
        while n := await self.publish_batch():
            total += n
        return total

    async def run(self) -> None:
        backoff = 0.1
        while True:
            try:
                n = await self.publish_batch()
                backoff = 0.1
                if n == self.batch_size:
                    continue  # more waiting: no pause
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # NATS down, timeout, database hiccup: retry later
                OUTBOX_FAILURES.labels(self.service).inc()
                self.telemetry.count_publish_failure()
                _log.warning("outbox relay failed; will retry", error=repr(exc), backoff=backoff)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, self.max_backoff)
                continue
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=self.poll_seconds)
            self._wake.clear()


def _request_id_of(headers: dict[str, str] | None, key: str) -> dict[str, str]:
    # The relay serves no request: the id is the one of the request that wrote the row.
    request_id = (headers or {}).get(REQUEST_ID_HEADER)
    return {key: request_id} if request_id else {}
