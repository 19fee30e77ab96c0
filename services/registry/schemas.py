"""Request and response models of the registry API."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    EmailStr,
    Field,
    HttpUrl,
    field_validator,
    model_validator,
)

from services.registry import regions
from shared.contracts.registry import ClusterPublic, LabelOut
from shared.schemas import Input
from shared.taxonomy import ECOSYSTEMS, LabelLevel
from shared.validation import CountryCode, LanguageCode, Line, LongText, ShortText


def _ecosystem(value: str) -> str:
    code = value.strip().lower()
    if code not in ECOSYSTEMS:
        raise ValueError(f"'{value}' is not one of the 14 ecosystems: {', '.join(ECOSYSTEMS)}")
    return code


def _nace(value: str) -> str:
    # NACE Rev. 2: a section letter, or a code like "29", "29.1", "29.10".
    import re

    code = value.strip().upper()
    if not re.fullmatch(r"[A-U]|\d{2}(\.\d{1,2})?", code):
        raise ValueError(f"'{value}' is not a NACE Rev. 2 code (e.g. C, 29, 29.10)")
    return code


def _unique(values: list[Any]) -> list[Any]:
    seen: list[Any] = []
    for v in values:
        if v not in seen:
            seen.append(v)
    return seen


Ecosystem = Annotated[str, AfterValidator(_ecosystem)]
RegionCode = Annotated[str, Field(max_length=6), AfterValidator(regions.normalise)]
NaceCode = Annotated[str, AfterValidator(_nace)]
Phrases = Annotated[list[ShortText], Field(max_length=100), AfterValidator(_unique)]
Countries = Annotated[list[CountryCode], Field(max_length=250), AfterValidator(_unique)]


class Members(BaseModel):
    model_config = ConfigDict(extra="forbid")

    smes: int = Field(default=0, ge=0, le=1_000_000)
    large_firms: int = Field(default=0, ge=0, le=1_000_000)
    research_education: int = Field(default=0, ge=0, le=1_000_000)
    other: int = Field(default=0, ge=0, le=1_000_000)


class Label(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    level: LabelLevel = LabelLevel.NONE
    valid_until: date | None = Field(default=None, description="The label's last valid day.")
    issuer: Line | None = Field(default=None, description="The body that awarded it.")
    benchmarked_on: date | None = Field(default=None, description="Date of the benchmarking.")

    @model_validator(mode="after")
    def _dates_in_order(self) -> Label:
        if (
            self.valid_until is not None
            and self.benchmarked_on is not None
            and self.valid_until < self.benchmarked_on
        ):
            raise ValueError("valid_until is before benchmarked_on")
        return self


class LabelSet(Label):
    """A label as a verifier sets it: a real label names its issuer and both dates."""

    level: LabelLevel

    @model_validator(mode="after")
    def _complete(self) -> LabelSet:
        if self.level is not LabelLevel.NONE:
            missing = [
                name
                for name in ("issuer", "benchmarked_on", "valid_until")
                if getattr(self, name) is None
            ]
            if missing:
                raise ValueError(f"a {self.level} label needs {', '.join(missing)}")
        return self


class LabelView(LabelOut):
    """The label as read now: `status` is decided at read time from `valid_until`."""

    status: Literal["none", "valid", "expired"] = "none"


class LabelAwardOut(BaseModel):
    level: str
    issuer: str | None
    benchmarked_on: date | None
    valid_until: date | None
    status: Literal["none", "valid", "expired"]
    recorded_at: datetime


class LabelHistory(BaseModel):
    cluster_id: uuid.UUID
    current: LabelView
    history: list[LabelAwardOut] = Field(description="Newest first.")


class ClusterFields(BaseModel):
    """Fields a client may set; shared by create and (all optional) patch."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    name: Line
    country: CountryCode
    region: Line | None = Field(
        default=None, description="Free text; shown until `region_code` is set."
    )
    region_code: RegionCode | None = Field(
        default=None, description="ISO 3166-2 subdivision of `country`, e.g. FR-ARA, JP-27."
    )
    city: Line | None = None
    website: HttpUrl | None = None
    description: LongText = ""
    languages: Annotated[list[LanguageCode], Field(max_length=30), AfterValidator(_unique)] = []
    ecosystems: Annotated[list[Ecosystem], Field(max_length=14), AfterValidator(_unique)] = []
    nace_codes: Annotated[list[NaceCode], Field(max_length=50), AfterValidator(_unique)] = []
    competences: Phrases = []
    technologies: Phrases = []
    offers: Phrases = []
    needs: Phrases = []
    target_countries: Countries = []
    members: Members = Members()
    label: Label = Label()
    contact_email: EmailStr | None = Field(
        default=None, description="Private: shown only to the owning tenant."
    )
    external_id: Line | None = Field(
        default=None, description="The agency's own id; bulk imports update by it."
    )

    @field_validator("website")
    @classmethod
    def _http_only(cls, v: HttpUrl | None) -> HttpUrl | None:
        if v is not None and v.scheme not in ("http", "https"):
            raise ValueError("must be an http or https URL")
        return v


class ClusterCreate(ClusterFields):
    tenant: str | None = Field(
        default=None,
        description="Defaults to the caller's tenant; only an operator may name another.",
        max_length=16,
    )


class ClusterPatch(BaseModel):
    """JSON merge-patch style: fields present are replaced; null clears optional ones."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    name: Line | None = None
    country: CountryCode | None = None
    region: Line | None = None
    region_code: RegionCode | None = None
    city: Line | None = None
    website: HttpUrl | None = None
    description: LongText | None = None
    languages: Annotated[list[LanguageCode], Field(max_length=30)] | None = None
    ecosystems: Annotated[list[Ecosystem], Field(max_length=14)] | None = None
    nace_codes: Annotated[list[NaceCode], Field(max_length=50)] | None = None
    competences: Phrases | None = None
    technologies: Phrases | None = None
    offers: Phrases | None = None
    needs: Phrases | None = None
    target_countries: Countries | None = None
    members: Members | None = None
    label: Label | None = None
    contact_email: EmailStr | None = None
    external_id: Line | None = None
    verified: bool | None = None


class ClusterOut(ClusterPublic):
    """The public profile (the same type the registry's events carry), and the contact
    e-mail for the owning tenant."""

    label: LabelView = LabelView()

    contact_email: str | None = Field(
        default=None, description="Present only when the caller's tenant owns the profile."
    )


class ClusterPage(BaseModel):
    items: list[ClusterOut]
    next_cursor: str | None


class TenantOut(BaseModel):
    code: str
    name: str
    countries: list[str]
    timezone: str
    language: str


class TenantCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    code: Annotated[str, Field(pattern=r"^[a-z][a-z0-9-]{1,15}$")]
    name: Line
    countries: Annotated[list[CountryCode], Field(min_length=1, max_length=250)]
    timezone: Line
    language: LanguageCode

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, v: str) -> str:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(v)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"'{v}' is not an IANA time zone") from exc
        return v


class ImportRowError(BaseModel):
    line: int
    external_id: str | None
    field: str | None
    message: str


class ImportReport(BaseModel):
    id: uuid.UUID
    tenant: str
    format: str
    status: str
    rows_seen: int
    created: int
    updated: int
    unchanged: int
    refused: int
    errors: list[ImportRowError]
    errors_truncated: bool = False
    started_at: datetime
    finished_at: datetime | None


class CountsRow(BaseModel):
    ecosystem: str
    area: str = Field(description="A country (ISO 3166-1) or a region (ISO 3166-2) code.")
    area_name: str | None = None
    clusters: int
    members_smes: int
    members_large_firms: int
    members_research_education: int
    members_other: int
    labels_bronze: int = Field(description="Current labels only: expired ones do not count.")
    labels_silver: int
    labels_gold: int


class CountsTable(BaseModel):
    by: Literal["country", "region"]
    as_of: date = Field(description="The day labels were judged current on.")
    rows: list[CountsRow]


class SpecialisationRow(BaseModel):
    area: str
    area_name: str | None = None
    ecosystem: str
    entries: float = Field(description="n_re: the area's entries in the ecosystem.")
    area_entries: float = Field(description="n_r: the area's entries in every ecosystem.")
    ecosystem_entries: float = Field(description="n_e: the ecosystem's entries registry-wide.")
    all_entries: float = Field(description="n: all entries of the registry.")
    index: float = Field(description="(n_re / n_r) / (n_e / n); above 1: specialised.")


class SpecialisationTable(BaseModel):
    by: Literal["country", "region"]
    measure: Literal["clusters", "smes"]
    rows: list[SpecialisationRow]


class TrendRow(BaseModel):
    month: date = Field(description="First day of the month (UTC).")
    profiles_created: int
    labels_bronze: int
    labels_silver: int
    labels_gold: int


class TrendTable(BaseModel):
    months: int
    region_code: str | None = Field(
        default=None, description="The ISO 3166-2 region counted; null: the whole registry."
    )
    rows: list[TrendRow]


def _year_not_future(value: int) -> int:
    if value > date.today().year:
        raise ValueError("the reference year cannot be in the future")
    return value


Share = Annotated[float, Field(ge=0, le=100, allow_inf_nan=False)]
Count = Annotated[int, Field(ge=0, le=100_000)]


class SelfAssessmentIn(BaseModel):
    """A cluster organisation's own figures for one reference year; see
    `services/registry/benchmarking.py` for where the indicator set comes from."""

    model_config = ConfigDict(extra="forbid")

    reference_year: Annotated[int, Field(ge=2000), AfterValidator(_year_not_future)]
    staff_fte: Annotated[float, Field(ge=0, le=10_000, allow_inf_nan=False)] = Field(
        description="Cluster management staff in full-time equivalents."
    )
    budget_eur: Annotated[float, Field(ge=0, le=1e10, allow_inf_nan=False)] = Field(
        description="Annual budget of the cluster organisation, in euro."
    )
    private_funding_pct: Share = Field(
        description="Share of the budget from private sources (fees, paid services), %."
    )
    international_members_pct: Share = Field(description="Share of members from abroad, %.")
    services_offered: Count = Field(description="Distinct services offered to members.")
    projects_2y: Count = Field(description="Collaborative projects in the last two years.")
    cooperation_agreements_2y: Count = Field(
        description="Cooperation agreements with other clusters in the last two years."
    )


class SelfAssessmentOut(SelfAssessmentIn):
    cluster_id: uuid.UUID
    updated_at: datetime


class IndicatorStanding(BaseModel):
    indicator: str
    value: float = Field(description="Your own figure.")
    percentile: int = Field(
        description="Share of peers below you (ties count half), 0-100; never a peer's figure."
    )


class PeerGroup(BaseModel):
    ecosystem: str
    enough_peers: bool = Field(description="False when fewer peers than `min_peers`: no figures.")
    peers: int | None = Field(description="Peers compared with; null when too few.")
    standings: list[IndicatorStanding]


class Benchmark(BaseModel):
    cluster_id: uuid.UUID
    reference_year: int
    min_peers: int
    groups: list[PeerGroup]


# ---- strategic partnerships -------------------------------------------------------

ActivityKind = Literal["mission", "event", "call"]
MemberStatus = Literal["invited", "accepted", "declined"]


class SuggestedMember(BaseModel):
    """A member of a consortium suggestion, as `POST /v1/matching/consortia` returns it
    (its other fields are ignored)."""

    model_config = ConfigDict(extra="ignore")

    id: uuid.UUID


class SuggestedCoverage(BaseModel):
    model_config = ConfigDict(extra="ignore")

    competence: Annotated[ShortText, Field(max_length=200)]
    covered: bool = True


class ConsortiumSuggestion(BaseModel):
    """One consortium of the matching service's answer, passed on as it came."""

    model_config = ConfigDict(extra="ignore")

    members: Annotated[list[SuggestedMember], Field(min_length=1, max_length=20)]
    coverage: Annotated[list[SuggestedCoverage], Field(max_length=20)] = []


Competence = Annotated[ShortText, Field(max_length=200)]


class PartnershipCreate(Input):
    name: Line
    field: Annotated[Line, Field(description="the emerging field, e.g. 'circular batteries'")]
    description: Annotated[LongText, Field(max_length=5000)] = ""
    lead_cluster_id: uuid.UUID
    members: Annotated[
        list[uuid.UUID],
        Field(max_length=30, description="clusters to invite (besides the lead)"),
    ] = []
    consortium: ConsortiumSuggestion | None = Field(
        default=None,
        description="a consortium from POST /v1/matching/consortia: its members are invited "
        "and its covered competences become the shared competences unless you give them",
    )
    target_markets: Annotated[list[CountryCode], Field(max_length=50)] = []
    competences: Annotated[list[Competence], Field(max_length=50)] = []
    strategy: Annotated[LongText, Field(max_length=50_000)] = ""


class PartnershipPatch(Input):
    name: Line | None = None
    field: Line | None = None
    description: Annotated[LongText | None, Field(max_length=5000)] = None
    target_markets: Annotated[list[CountryCode] | None, Field(max_length=50)] = None
    competences: Annotated[list[Competence] | None, Field(max_length=50)] = None


class InviteIn(Input):
    cluster_id: uuid.UUID


class MemberOut(BaseModel):
    cluster_id: uuid.UUID
    name: str
    tenant: str
    country: str
    lead: bool
    status: MemberStatus
    invited_at: datetime
    answered_at: datetime | None


class PartnershipOut(BaseModel):
    id: uuid.UUID
    tenant: str = Field(description="the lead cluster's tenant")
    lead_cluster_id: uuid.UUID
    name: str
    field: str
    description: str
    target_markets: list[str]
    competences: list[str]
    source: str = Field(description="consortium (from a suggestion) or scratch")
    members: list[MemberOut]
    countries_accepted: list[str]
    min_countries: int
    formed: bool = Field(description="members of at least min_countries countries accepted")
    strategy_version: int
    created_at: datetime


class PartnershipPage(BaseModel):
    items: list[PartnershipOut]
    next_cursor: str | None


class StrategyIn(Input):
    text: Annotated[LongText, Field(max_length=50_000)]
    cluster_id: uuid.UUID | None = Field(
        default=None, description="the member you speak for (if you speak for several)"
    )


class StrategyOut(BaseModel):
    partnership_id: uuid.UUID
    version: int
    text: str
    cluster_id: uuid.UUID | None = Field(description="the member whose manager wrote it")
    created_at: datetime | None


class StrategyHistory(BaseModel):
    items: list[StrategyOut]


class ActivityIn(Input):
    kind: ActivityKind
    title: Line
    description: Annotated[LongText, Field(max_length=5000)] = ""
    starts_on: date
    ends_on: date
    country: CountryCode | None = None
    event_id: uuid.UUID | None = Field(
        default=None, description="a matchmaking event (events service) held under its name"
    )
    cluster_id: uuid.UUID | None = Field(
        default=None, description="the member you speak for (if you speak for several)"
    )

    @field_validator("starts_on", "ends_on")
    @classmethod
    def _plausible(cls, value: date) -> date:
        if not date(2000, 1, 1) <= value <= date(2199, 12, 31):
            raise ValueError("must be between 2000-01-01 and 2199-12-31")
        return value


class ActivityOut(BaseModel):
    id: uuid.UUID
    partnership_id: uuid.UUID
    kind: ActivityKind
    title: str
    description: str
    starts_on: date
    ends_on: date
    country: str | None
    event_id: uuid.UUID | None
    cluster_id: uuid.UUID
    created_at: datetime


class ActivityList(BaseModel):
    items: list[ActivityOut]


class PartnershipMatch(BaseModel):
    partnership: PartnershipOut
    score: float
    reasons: list[str]


class PartnershipMatches(BaseModel):
    cluster_id: uuid.UUID
    items: list[PartnershipMatch]
