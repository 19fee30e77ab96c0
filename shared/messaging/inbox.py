"""Inbox for idempotent consumers: a processed event id recorded with the effect."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import DateTime, String, func
from sqlalchemy.dialects.postgresql import UUID, insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column


class InboxMixin:
    """Columns of a service's inbox table; the service declares the mapped class."""

    consumer: Mapped[str] = mapped_column(String(100), primary_key=True)
    event_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    handled_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


async def claim(
    session: AsyncSession, model: type[InboxMixin], consumer: str, event_id: uuid.UUID
) -> bool:
    """True the first time this consumer sees this event id (in this transaction's view)."""
    stmt = (
        insert(model)
        .values(consumer=consumer, event_id=event_id)
        .on_conflict_do_nothing()
        .returning(model.event_id)
    )
    return (await session.execute(stmt)).first() is not None
