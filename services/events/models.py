"""Events tables: events, participants, meeting requests, schedules, placements, the
local directory of registry clusters, outbox and inbox.

Every private row carries the tenants that may see it (`organiser_tenant`, and the
parties' tenants), so row-level security can decide without joins.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Identity,
    Integer,
    String,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, UUID
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from shared.db.base import service_metadata
from shared.idempotency import IdempotencyMixin
from shared.messaging.inbox import InboxMixin
from shared.messaging.outbox import OutboxMixin

SCHEMA = "events"


class Base(DeclarativeBase):
    metadata = service_metadata(SCHEMA)


class Event(Base):
    __tablename__ = "events"

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    tenant: Mapped[str] = mapped_column(String(16), index=True)  # the organiser
    title: Mapped[str] = mapped_column(String(200))
    venue: Mapped[str | None] = mapped_column(String(500))
    online: Mapped[bool] = mapped_column(Boolean, default=False)
    timezone: Mapped[str] = mapped_column(String(64))
    # [{"date": "2027-03-04", "start": "09:00", "end": "12:30"}, ...] in `timezone`.
    sessions: Mapped[list[dict[str, str]]] = mapped_column(JSONB)
    meeting_minutes: Mapped[int] = mapped_column(Integer)
    break_minutes: Mapped[int] = mapped_column(Integer)
    tables: Mapped[int] = mapped_column(Integer)
    table_names: Mapped[list[str]] = mapped_column(ARRAY(String(100)), default=list)
    request_deadline: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    max_meetings: Mapped[int | None] = mapped_column(Integer)
    # Who records outcomes: "organiser" or "organiser_and_parties" (schemas.OutcomesBy).
    outcomes_by: Mapped[str] = mapped_column(String(24), default="organiser_and_parties")
    status: Mapped[str] = mapped_column(String(16), default="draft")
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class DirectoryCluster(Base):
    """What the events service knows of a registry cluster, fed by registry events."""

    __tablename__ = "directory"

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    tenant: Mapped[str] = mapped_column(String(16))
    name: Mapped[str] = mapped_column(String(200))
    country: Mapped[str] = mapped_column(String(2))
    version: Mapped[int] = mapped_column(Integer)
    deleted: Mapped[bool] = mapped_column(Boolean, default=False)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class Participant(Base):
    __tablename__ = "participants"
    __table_args__ = (UniqueConstraint("event_id", "cluster_id"),)

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    event_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("events.id"), index=True)
    cluster_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    tenant: Mapped[str] = mapped_column(String(16))  # the cluster's tenant
    organiser_tenant: Mapped[str] = mapped_column(String(16))
    role: Mapped[str] = mapped_column(String(8), default="guest")
    max_meetings: Mapped[int | None] = mapped_column(Integer)
    # Session indices attended (None: all) and slots (0-based) they cannot attend.
    sessions: Mapped[list[int] | None] = mapped_column(ARRAY(Integer))
    unavailable_slots: Mapped[list[int]] = mapped_column(ARRAY(Integer), default=list)
    registered_by: Mapped[str] = mapped_column(String(16))
    # invited (by another tenant's organiser, until the cluster's tenant answers),
    # registered, declined: see lifecycle.ParticipantStatus.
    status: Mapped[str] = mapped_column(String(16), default="registered")
    answered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    checked_in_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class MeetingRequest(Base):
    """A request, and once accepted and placed, the meeting it becomes (same id)."""

    __tablename__ = "requests"

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    event_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("events.id"), index=True)
    sender_cluster: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    receiver_cluster: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    sender_tenant: Mapped[str] = mapped_column(String(16))
    receiver_tenant: Mapped[str] = mapped_column(String(16))
    organiser_tenant: Mapped[str] = mapped_column(String(16))
    message: Mapped[str] = mapped_column(Text, default="")
    priority: Mapped[str] = mapped_column(String(8))  # must | like
    # pending, accepted, declined, cancelled, expired
    status: Mapped[str] = mapped_column(String(16), default="pending", index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    answered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    cancelled_by: Mapped[str | None] = mapped_column(String(16))
    # After the day: held | no_show, who was absent, each side's feedback.
    outcome: Mapped[str | None] = mapped_column(String(16))
    absent: Mapped[list[uuid.UUID]] = mapped_column(ARRAY(UUID(as_uuid=True)), default=list)
    feedback: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)


class Schedule(Base):
    __tablename__ = "schedules"

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    event_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("events.id"), index=True)
    tenant: Mapped[str] = mapped_column(String(16))  # the organiser
    status: Mapped[str] = mapped_column(String(16), default="draft")  # draft|published|superseded
    params: Mapped[dict[str, Any]] = mapped_column(JSONB)
    placed_weight: Mapped[int] = mapped_column(Integer)
    placed_weight_bound: Mapped[int] = mapped_column(Integer)
    total_breaks: Mapped[int] = mapped_column(Integer)
    breaks_bound: Mapped[int | None] = mapped_column(Integer)
    breaks_by_cluster: Mapped[dict[str, int]] = mapped_column(JSONB)
    unplaced: Mapped[list[str]] = mapped_column(JSONB)  # request ids
    # Request id -> why it is unplaced; published meetings that could not stay.
    reasons: Mapped[dict[str, str]] = mapped_column(JSONB, server_default=text("'{}'::jsonb"))
    displaced: Mapped[list[dict[str, Any]]] = mapped_column(
        JSONB, server_default=text("'[]'::jsonb")
    )
    spread: Mapped[int | None] = mapped_column(Integer)
    kept: Mapped[int] = mapped_column(Integer, default=0)
    optimal: Mapped[bool] = mapped_column(Boolean)
    fairness_met: Mapped[bool] = mapped_column(Boolean)
    method: Mapped[str] = mapped_column(String(16))
    seconds: Mapped[float] = mapped_column(Float)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    published_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class Placement(Base):
    __tablename__ = "placements"
    __table_args__ = (UniqueConstraint("schedule_id", "request_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    schedule_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("schedules.id"), index=True)
    request_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("requests.id"))
    slot: Mapped[int] = mapped_column(Integer)
    table_no: Mapped[int] = mapped_column(Integer)
    organiser_tenant: Mapped[str] = mapped_column(String(16))
    sender_tenant: Mapped[str] = mapped_column(String(16))
    receiver_tenant: Mapped[str] = mapped_column(String(16))


class Training(Base):
    """A course for people (not clusters): sessions, a number of seats, a waiting list."""

    __tablename__ = "trainings"

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    tenant: Mapped[str] = mapped_column(String(16), index=True)  # the organiser
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    venue: Mapped[str | None] = mapped_column(String(500))
    online: Mapped[bool] = mapped_column(Boolean, default=False)
    timezone: Mapped[str] = mapped_column(String(64))
    # [{"date": "2027-03-04", "start": "09:00", "end": "12:30"}, ...] in `timezone`.
    sessions: Mapped[list[dict[str, str]]] = mapped_column(JSONB)
    capacity: Mapped[int] = mapped_column(Integer)
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class TrainingRegistration(Base):
    """A person's place in a training's queue.

    Whether the place is a seat or on the waiting list is never stored: it is the
    place's rank among the live (not cancelled) registrations in `seq` order against
    the capacity. So a cancellation moves the first waiting person up by itself, in
    order, and no other tenant's row ever has to be rewritten for it.
    """

    __tablename__ = "training_registrations"

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    training_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("trainings.id"), index=True)
    seq: Mapped[int] = mapped_column(BigInteger, Identity(always=False), unique=True)
    person_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    person_tenant: Mapped[str] = mapped_column(String(16))
    organiser_tenant: Mapped[str] = mapped_column(String(16))
    # As it should appear on the certificate.
    name: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    cancelled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    attended_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class Outbox(OutboxMixin, Base):
    __tablename__ = "outbox"


class IdempotencyKey(IdempotencyMixin, Base):
    """Keys of POSTs done here, with their answers (shared.idempotency)."""

    __tablename__ = "idempotency_keys"


class Inbox(InboxMixin, Base):
    __tablename__ = "inbox"
