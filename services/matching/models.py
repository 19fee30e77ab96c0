"""Matching tables: the projection of public profiles and their embeddings, match
feedback, inbox, outbox."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, DateTime, Integer, LargeBinary, String, UniqueConstraint, func
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from shared.db.base import service_metadata
from shared.messaging.inbox import InboxMixin
from shared.messaging.outbox import OutboxMixin

SCHEMA = "matching"


class Base(DeclarativeBase):
    metadata = service_metadata(SCHEMA)


class ProfileRow(Base):
    """The latest public profile seen per cluster (from registry events), or a tombstone."""

    __tablename__ = "profiles"

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    tenant: Mapped[str] = mapped_column(String(16))
    version: Mapped[int] = mapped_column(Integer)
    deleted: Mapped[bool] = mapped_column(Boolean, default=False)
    data: Mapped[dict[str, Any]] = mapped_column(JSONB)
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now()
    )


class ProfileEmbedding(Base):
    """Sentence embeddings of one public profile (float16, row-major), computed when the
    profile changed, so a restart builds the index without running the model again."""

    __tablename__ = "profile_embeddings"

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    version: Mapped[int] = mapped_column(Integer)
    model: Mapped[str] = mapped_column(String(120))
    dim: Mapped[int] = mapped_column(Integer)
    profile: Mapped[bytes] = mapped_column(LargeBinary)
    about: Mapped[bytes] = mapped_column(LargeBinary)
    needs: Mapped[bytes] = mapped_column(LargeBinary)
    offers: Mapped[bytes] = mapped_column(LargeBinary)
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now()
    )


class Feedback(Base):
    """A tenant's judgement of one suggested partner; the latest judgement counts."""

    __tablename__ = "feedback"
    __table_args__ = (UniqueConstraint("tenant", "cluster_id", "other_id"),)

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    tenant: Mapped[str] = mapped_column(String(16), index=True)
    client_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    cluster_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    other_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    relevant: Mapped[bool] = mapped_column(Boolean)
    mode: Mapped[str] = mapped_column(String(16))
    rank: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class Inbox(InboxMixin, Base):
    __tablename__ = "inbox"


class Outbox(OutboxMixin, Base):
    __tablename__ = "outbox"
