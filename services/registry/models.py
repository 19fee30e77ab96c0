"""Registry tables: tenants, cluster profiles, label history, self-assessments, import
jobs, strategic partnerships, outbox."""

from __future__ import annotations

import uuid
from datetime import date, datetime

from sqlalchemy import (
    Boolean,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    func,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, UUID
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from shared.db.base import service_metadata
from shared.idempotency import IdempotencyMixin
from shared.messaging.outbox import OutboxMixin

SCHEMA = "registry"


class Base(DeclarativeBase):
    metadata = service_metadata(SCHEMA)


class Tenant(Base):
    __tablename__ = "tenants"

    code: Mapped[str] = mapped_column(String(16), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    countries: Mapped[list[str]] = mapped_column(ARRAY(String(2)))
    timezone: Mapped[str] = mapped_column(String(64))
    language: Mapped[str] = mapped_column(String(8))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class Cluster(Base):
    __tablename__ = "clusters"
    __table_args__ = (UniqueConstraint("tenant", "external_id"),)

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    tenant: Mapped[str] = mapped_column(ForeignKey("tenants.code"), index=True)
    external_id: Mapped[str | None] = mapped_column(String(200))
    name: Mapped[str] = mapped_column(String(200))
    country: Mapped[str] = mapped_column(String(2), index=True)
    region: Mapped[str | None] = mapped_column(String(200))
    # ISO 3166-2 subdivision; once set it names the region and the free text is kept
    # only as what the agency once typed.
    region_code: Mapped[str | None] = mapped_column(String(6), index=True)
    city: Mapped[str | None] = mapped_column(String(200))
    website: Mapped[str | None] = mapped_column(String(500))
    description: Mapped[str] = mapped_column(Text, default="")
    languages: Mapped[list[str]] = mapped_column(ARRAY(String(2)), default=list)
    ecosystems: Mapped[list[str]] = mapped_column(ARRAY(String(64)), default=list)
    nace_codes: Mapped[list[str]] = mapped_column(ARRAY(String(16)), default=list)
    competences: Mapped[list[str]] = mapped_column(ARRAY(Text), default=list)
    technologies: Mapped[list[str]] = mapped_column(ARRAY(Text), default=list)
    offers: Mapped[list[str]] = mapped_column(ARRAY(Text), default=list)
    needs: Mapped[list[str]] = mapped_column(ARRAY(Text), default=list)
    target_countries: Mapped[list[str]] = mapped_column(ARRAY(String(2)), default=list)
    members_smes: Mapped[int] = mapped_column(Integer, default=0)
    members_large_firms: Mapped[int] = mapped_column(Integer, default=0)
    members_research_education: Mapped[int] = mapped_column(Integer, default=0)
    members_other: Mapped[int] = mapped_column(Integer, default=0)
    label_level: Mapped[str] = mapped_column(String(8), default="none")
    label_valid_until: Mapped[date | None] = mapped_column(Date)
    label_issuer: Mapped[str | None] = mapped_column(String(200))
    label_benchmarked_on: Mapped[date | None] = mapped_column(Date)
    verified: Mapped[bool] = mapped_column(Boolean, default=False)
    contact_email: Mapped[str | None] = mapped_column(String(320))
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class LabelAward(Base):
    """One entry of a cluster's label history: each time its label was set or changed."""

    __tablename__ = "label_awards"
    __table_args__ = (Index("ix_registry_label_awards_cluster", "cluster_id", "recorded_at"),)

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    cluster_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("clusters.id", ondelete="CASCADE"))
    tenant: Mapped[str] = mapped_column(String(16))
    level: Mapped[str] = mapped_column(String(8))
    issuer: Mapped[str | None] = mapped_column(String(200))
    benchmarked_on: Mapped[date | None] = mapped_column(Date)
    valid_until: Mapped[date | None] = mapped_column(Date)
    recorded_by: Mapped[str] = mapped_column(String(80))
    recorded_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), index=True
    )


class SelfAssessment(Base):
    """A cluster organisation's own figures on the benchmarking indicators (one per
    cluster, replaced on each submission). Peers see only percentiles computed from it."""

    __tablename__ = "self_assessments"

    cluster_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("clusters.id", ondelete="CASCADE"), primary_key=True
    )
    tenant: Mapped[str] = mapped_column(String(16))
    reference_year: Mapped[int] = mapped_column(Integer)
    staff_fte: Mapped[float] = mapped_column(Float)
    budget_eur: Mapped[float] = mapped_column(Float)
    private_funding_pct: Mapped[float] = mapped_column(Float)
    international_members_pct: Mapped[float] = mapped_column(Float)
    services_offered: Mapped[int] = mapped_column(Integer)
    projects_2y: Mapped[int] = mapped_column(Integer)
    cooperation_agreements_2y: Mapped[int] = mapped_column(Integer)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class ImportJob(Base):
    __tablename__ = "imports"

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    tenant: Mapped[str] = mapped_column(String(16), index=True)
    format: Mapped[str] = mapped_column(String(8))
    status: Mapped[str] = mapped_column(String(16))  # running, done, failed
    rows_seen: Mapped[int] = mapped_column(Integer, default=0)
    created: Mapped[int] = mapped_column(Integer, default=0)
    updated: Mapped[int] = mapped_column(Integer, default=0)
    unchanged: Mapped[int] = mapped_column(Integer, default=0)
    refused: Mapped[int] = mapped_column(Integer, default=0)
    errors: Mapped[list[dict[str, object]]] = mapped_column(JSONB, default=list)
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class Partnership(Base):
    """A strategic cluster partnership, led by one cluster (its tenant owns the row).

    Whether it is "formed" is never stored: it follows from the members who accepted
    (see services.registry.partnerships), so a member of another tenant answering never
    has to rewrite the lead's row.
    """

    __tablename__ = "partnerships"

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    tenant: Mapped[str] = mapped_column(ForeignKey("tenants.code"), index=True)
    lead_cluster_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("clusters.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    field: Mapped[str] = mapped_column(String(200))  # the emerging field
    description: Mapped[str] = mapped_column(Text, default="")
    target_markets: Mapped[list[str]] = mapped_column(ARRAY(String(2)), default=list)
    competences: Mapped[list[str]] = mapped_column(ARRAY(Text), default=list)
    min_countries: Mapped[int] = mapped_column(Integer)
    source: Mapped[str] = mapped_column(String(16))  # consortium | scratch
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class PartnershipMember(Base):
    __tablename__ = "partnership_members"

    partnership_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("partnerships.id"), primary_key=True
    )
    cluster_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("clusters.id"), primary_key=True)
    tenant: Mapped[str] = mapped_column(String(16))  # the member cluster's tenant
    lead_tenant: Mapped[str] = mapped_column(String(16))
    country: Mapped[str] = mapped_column(String(2))
    lead: Mapped[bool] = mapped_column(Boolean, default=False)
    status: Mapped[str] = mapped_column(String(16))  # invited | accepted | declined
    invited_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    answered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class StrategyVersion(Base):
    """One version of a partnership's joint strategy; the newest is the current one."""

    __tablename__ = "partnership_strategy_versions"

    partnership_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("partnerships.id"), primary_key=True
    )
    version: Mapped[int] = mapped_column(Integer, primary_key=True)
    text: Mapped[str] = mapped_column(Text)
    tenant: Mapped[str] = mapped_column(String(16))  # the author's
    cluster_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))  # the member spoken for
    person_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class PartnershipActivity(Base):
    """A mission, event or call of a partnership, with its dates."""

    __tablename__ = "partnership_activities"

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    partnership_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("partnerships.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))  # mission | event | call
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    starts_on: Mapped[date] = mapped_column(Date)
    ends_on: Mapped[date] = mapped_column(Date)
    country: Mapped[str | None] = mapped_column(String(2))
    # A matchmaking event organised under the partnership's name (events service id).
    event_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    tenant: Mapped[str] = mapped_column(String(16))  # the author's
    cluster_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class Outbox(OutboxMixin, Base):
    __tablename__ = "outbox"


class IdempotencyKey(IdempotencyMixin, Base):
    """Keys of POSTs done here, with their answers (shared.idempotency)."""

    __tablename__ = "idempotency_keys"
