"""Transactional outbox: the event row commits with the change; a relay publishes it.

`record_event` is called inside the request's transaction. The relay takes unpublished
rows with `FOR UPDATE SKIP LOCKED` (replicas share the work), publishes each with
`Nats-Msg-Id` = event id (JetStream drops duplicates of a retry) and stamps
`published_at` in the same transaction. If NATS is down, the transaction rolls back,
the rows stay, and the relay retries with a capped backoff: a broker outage delays
events, it never loses one.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from datetime import UTC, datetime
from typing import Any

import structlog
from nats.js import JetStreamContext
from prometheus_client import Counter, Gauge
from sqlalchemy import BigInteger, DateTime, Identity, String, func, select
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import Mapped, mapped_column

from shared.contracts.base import Payload
from shared.messaging.envelope import MSG_ID_HEADER, TENANT_HEADER, Envelope

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
    ) -> None:
        self.service = service
        self.model = model
        self.sessionmaker = sessionmaker
        self.js = js
        self.poll_seconds = poll_seconds
        self.batch_size = batch_size
        self.max_backoff = max_backoff
        self._wake = asyncio.Event()

    def wake(self) -> None:
        """Called after a commit that wrote events, so they go out without waiting a poll."""
        self._wake.set()

    async def publish_batch(self) -> int:
        """Publish one batch; returns how many rows went out. Raises if NATS fails."""
        model = self.model
        async with self.sessionmaker() as session, session.begin():
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
                return 0
            now = datetime.now(UTC)
            for row in rows:
                envelope = Envelope.model_validate(row.payload)
                await self.js.publish(
                    row.subject,
                    envelope.to_bytes(),
                    headers={MSG_ID_HEADER: str(row.event_id), TENANT_HEADER: row.tenant},
                    timeout=2.0,
                )
                row.published_at = now
            OUTBOX_PUBLISHED.labels(self.service).inc(len(rows))
            OUTBOX_BACKLOG.labels(self.service).set(len(rows))
            return len(rows)

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
                _log.warning("outbox relay failed; will retry", error=repr(exc), backoff=backoff)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, self.max_backoff)
                continue
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=self.poll_seconds)
            self._wake.clear()
