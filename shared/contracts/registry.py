"""The registry's facts: a cluster profile was created or changed, or was deleted.

`ClusterPublic` is also the registry's public read model (its HTTP body, plus the
contact e-mail for the owning tenant), so what the API shows and what the bus carries
are one type.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime

from pydantic import BaseModel, ConfigDict, Field

from shared.contracts.base import Payload

STREAM = "REGISTRY"
SUBJECTS = ("registry.>",)
CLUSTER_UPSERTED = "registry.cluster.upserted"
CLUSTER_DELETED = "registry.cluster.deleted"
CLUSTER_ALL = "registry.cluster.>"
# Strategic cluster partnerships: created or changed (members' answers, strategy,
# activities), each with the partnership as it now is; "formed" once members of
# enough countries have accepted.
PARTNERSHIP_CREATED = "registry.partnership.created"
PARTNERSHIP_CHANGED = "registry.partnership.changed"
PARTNERSHIP_MEMBER_INVITED = "registry.partnership.member_invited"
PARTNERSHIP_MEMBER_ANSWERED = "registry.partnership.member_answered"
PARTNERSHIP_FORMED = "registry.partnership.formed"
PARTNERSHIP_STRATEGY_CHANGED = "registry.partnership.strategy_changed"
PARTNERSHIP_ACTIVITY_ADDED = "registry.partnership.activity_added"
PARTNERSHIP_ALL = "registry.partnership.>"


class MembersOut(BaseModel):
    model_config = ConfigDict(frozen=True)

    smes: int = 0
    large_firms: int = 0
    research_education: int = 0
    other: int = 0


class LabelOut(BaseModel):
    model_config = ConfigDict(frozen=True)

    level: str = "none"
    valid_until: date | None = None
    issuer: str | None = None
    benchmarked_on: date | None = None


class ClusterPublic(Payload):
    """A public cluster profile: what every tenant may read, and what events carry."""

    id: uuid.UUID
    tenant: str
    external_id: str | None = None
    name: str
    country: str
    region: str | None = None
    region_code: str | None = None
    city: str | None = None
    website: str | None = None
    description: str = ""
    languages: list[str] = Field(default_factory=list)
    ecosystems: list[str] = Field(default_factory=list)
    nace_codes: list[str] = Field(default_factory=list)
    competences: list[str] = Field(default_factory=list)
    technologies: list[str] = Field(default_factory=list)
    offers: list[str] = Field(default_factory=list)
    needs: list[str] = Field(default_factory=list)
    target_countries: list[str] = Field(default_factory=list)
    members: MembersOut = MembersOut()
    label: LabelOut = LabelOut()
    verified: bool = False
    version: int
    created_at: datetime
    updated_at: datetime


class ClusterDeleted(Payload):
    id: uuid.UUID
    tenant: str
    version: int


class PartnershipMemberFact(Payload):
    cluster_id: uuid.UUID
    name: str = ""
    tenant: str
    country: str
    status: str  # invited | accepted | declined
    lead: bool = False


class PartnershipFact(Payload):
    """A partnership as it is after the change the subject names."""

    id: uuid.UUID
    tenant: str  # the lead cluster's tenant
    lead_cluster_id: uuid.UUID
    name: str
    field: str
    target_markets: list[str]
    competences: list[str]
    members: list[PartnershipMemberFact]
    countries_accepted: list[str]
    formed: bool
    strategy_version: int
    # What changed: the member who answered or was invited, the activity added.
    cluster_id: uuid.UUID | None = None
    activity_id: uuid.UUID | None = None
