"""Request and response models of the matching API."""

from __future__ import annotations

import uuid
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from shared.taxonomy import LabelLevel
from shared.validation import CountryCode, ShortText


class ReasonOut(BaseModel):
    component: str = Field(description="complementary, similar, ecosystems, nace, target, query")
    text: str = Field(description="The reason in words")
    your_field: str | None
    your_text: str | None
    their_field: str | None
    their_text: str | None
    shared_terms: list[str]
    score: float


class PartnerSummary(BaseModel):
    id: str
    name: str
    tenant: str
    country: str
    city: str | None
    ecosystems: list[str]
    label: str


class MatchOut(BaseModel):
    rank: int
    partner: PartnerSummary
    score: float
    components: dict[str, float] = Field(description="Score of each part before weighting")
    reasons: list[ReasonOut]


class MatchesOut(BaseModel):
    cluster_id: str
    mode: str
    matches: list[MatchOut]
    hints: list[str] = Field(
        default_factory=list, description="What would make this profile match better"
    )


class FilterIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    countries: Annotated[list[CountryCode], Field(max_length=50)] = []
    tenants: Annotated[list[Annotated[str, Field(max_length=16)]], Field(max_length=20)] = []
    ecosystems: Annotated[list[Annotated[str, Field(max_length=64)]], Field(max_length=14)] = []
    min_label: LabelLevel = LabelLevel.NONE
    verified_only: bool = False


class SearchIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    text: Annotated[ShortText, Field(max_length=500)]
    limit: Annotated[int, Field(ge=1, le=100)] = 10
    filters: FilterIn = FilterIn()


class SearchOut(BaseModel):
    query: str
    results: list[MatchOut]


class FeedbackIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    cluster_id: uuid.UUID = Field(description="Your cluster, the one the match was for")
    other_id: uuid.UUID = Field(description="The suggested partner")
    relevant: bool
    mode: Annotated[str, Field(pattern="^(complementary|similar|balanced)$")] = "balanced"
    rank: Annotated[int | None, Field(ge=1, le=100)] = None


class FeedbackOut(BaseModel):
    id: uuid.UUID
    cluster_id: uuid.UUID
    other_id: uuid.UUID
    relevant: bool
    mode: str
    rank: int | None


class PrecisionRow(BaseModel):
    judged: int
    relevant: int
    precision: float | None


class PrecisionOut(BaseModel):
    scope: str = Field(description="Whose feedback: your tenant's, or all (operator)")
    overall: PrecisionRow
    by_mode: dict[str, PrecisionRow]
    at_10: PrecisionRow = Field(description="Judgements of matches ranked 1 to 10")


class ConsortiumIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    cluster_id: uuid.UUID
    competences: Annotated[
        list[Annotated[ShortText, Field(max_length=200)]], Field(min_length=1, max_length=20)
    ]
    min_members: Annotated[int, Field(ge=3, le=5)] = 3
    max_members: Annotated[int, Field(ge=3, le=5)] = 5
    min_countries: Annotated[int, Field(ge=1, le=5)] = 3
    limit: Annotated[int, Field(ge=1, le=20)] = 5
    filters: FilterIn = FilterIn()


class CoverageOut(BaseModel):
    competence: str
    covered: bool
    score: float
    member_id: str | None
    field: str | None
    phrase: str | None


class ConsortiumOut(BaseModel):
    members: list[PartnerSummary]
    countries: list[str]
    covered: int
    wanted: int
    score: float
    coverage: list[CoverageOut]


class ConsortiaOut(BaseModel):
    cluster_id: str
    consortia: list[ConsortiumOut]


class StrengthenCandidate(BaseModel):
    partner: PartnerSummary
    score: float = Field(description="coverage gained over the members, plus a new country")
    gain: float
    new_country: bool
    improves: list[str] = Field(description="competences it covers better than every member")
    coverage: list[CoverageOut]


class StrengthenOut(BaseModel):
    partnership_id: str
    competences: list[str]
    candidates: list[StrengthenCandidate]
