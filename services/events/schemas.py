"""Request and response models of the events API."""

from __future__ import annotations

import uuid
import zoneinfo
from datetime import date, datetime, time
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, Field, field_validator

from services.events.lifecycle import ParticipantStatus, RequestStatus, Status
from shared.schemas import Input
from shared.validation import Line, LongText, ShortText


def _timezone(value: str) -> str:
    try:
        zoneinfo.ZoneInfo(value)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"'{value}' is not an IANA time zone (e.g. Europe/Brussels)") from exc
    return value


# Events happen in this century and the next: far dates are typing mistakes, and dates
# near the ends of the calendar overflow when moved between time zones (year 1 was a 500).
EARLIEST = date(2000, 1, 1)
LATEST = date(2199, 12, 31)


def _plausible_date(value: date) -> date:
    if not EARLIEST <= value <= LATEST:
        raise ValueError(f"must be between {EARLIEST} and {LATEST}")
    return value


def _aware(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise ValueError("give a time zone offset (e.g. 2027-03-01T18:00:00+01:00)")
    _plausible_date(value.date())
    return value


TimeZone = Annotated[str, AfterValidator(_timezone)]
EventDate = Annotated[date, AfterValidator(_plausible_date)]
AwareDateTime = Annotated[datetime, AfterValidator(_aware)]
MeetingMinutes = Annotated[int, Field(ge=5, le=240)]
BreakMinutes = Annotated[int, Field(ge=0, le=120)]
Message = Annotated[LongText, Field(max_length=2000)]
# Who records a meeting's outcome (held, or a no-show of the other side): the organiser
# alone, or also each side about its counterpart. The organiser decides per event.
OutcomesBy = Literal["organiser", "organiser_and_parties"]


class SessionIn(Input):
    date: EventDate
    start: time
    end: time


class EventFields(Input):
    title: Line
    venue: ShortText | None = None
    online: bool = False
    timezone: TimeZone
    sessions: Annotated[list[SessionIn], Field(min_length=1, max_length=20)]
    meeting_minutes: MeetingMinutes = 30
    break_minutes: BreakMinutes = 0
    tables: Annotated[int | None, Field(ge=1, le=1000)] = None
    table_names: Annotated[list[Line], Field(max_length=1000)] = []
    request_deadline: AwareDateTime
    max_meetings: Annotated[int | None, Field(ge=1, le=200)] = None
    outcomes_by: OutcomesBy = "organiser_and_parties"

    @field_validator("table_names")
    @classmethod
    def _distinct(cls, names: list[str]) -> list[str]:
        if len(set(names)) != len(names):
            raise ValueError("table names must be distinct")
        return names


class EventCreate(EventFields):
    pass


class EventPatch(Input):
    title: Line | None = None
    venue: ShortText | None = None
    online: bool | None = None
    timezone: TimeZone | None = None
    sessions: Annotated[list[SessionIn] | None, Field(min_length=1, max_length=20)] = None
    meeting_minutes: MeetingMinutes | None = None
    break_minutes: BreakMinutes | None = None
    tables: Annotated[int | None, Field(ge=1, le=1000)] = None
    table_names: Annotated[list[Line] | None, Field(max_length=1000)] = None
    request_deadline: AwareDateTime | None = None
    max_meetings: Annotated[int | None, Field(ge=1, le=200)] = None
    outcomes_by: OutcomesBy | None = None


class Transition(Input):
    status: Status


class ParticipantCreate(Input):
    cluster_id: uuid.UUID
    role: Literal["host", "guest"] = "guest"
    max_meetings: Annotated[int | None, Field(ge=0, le=200)] = None
    sessions: Annotated[list[Annotated[int, Field(ge=0)]] | None, Field(max_length=20)] = None
    unavailable_slots: Annotated[list[Annotated[int, Field(ge=0)]], Field(max_length=1000)] = []


class ParticipantPatch(Input):
    role: Literal["host", "guest"] | None = None
    max_meetings: Annotated[int | None, Field(ge=0, le=200)] = None
    sessions: Annotated[list[Annotated[int, Field(ge=0)]] | None, Field(max_length=20)] = None
    unavailable_slots: Annotated[
        list[Annotated[int, Field(ge=0)]] | None, Field(max_length=1000)
    ] = None


class RequestCreate(Input):
    sender: uuid.UUID = Field(description="cluster id of the requesting participant")
    receiver: uuid.UUID = Field(description="cluster id of the requested participant")
    message: Message = ""
    priority: Literal["must", "like"] = "like"


class ScheduleRun(Input):
    fairness: Annotated[int | None, Field(ge=0, le=100)] = 2
    # hard: the spread of breaks never exceeds `fairness`; preference: place all that
    # can be placed, then keep the spread as small as possible.
    fairness_mode: Literal["hard", "preference"] = "hard"
    time_limit: Annotated[float, Field(gt=0, le=30)] = 5.0
    seed: Annotated[int, Field(ge=0, le=2**31 - 1)] = 0


class MeetingOutcome(Input):
    outcome: Literal["held", "no_show"]
    absent: Annotated[list[uuid.UUID], Field(max_length=2)] = []


class MeetingFeedback(Input):
    cluster_id: uuid.UUID = Field(description="the party giving feedback")
    rating: Annotated[int, Field(ge=1, le=5)]
    comment: Annotated[ShortText | None, Field(max_length=1000)] = None


# ---- answers ---------------------------------------------------------------------------


class SessionOut(BaseModel):
    date: date
    start: str
    end: str


class SlotOut(BaseModel):
    slot: int
    session: int
    start: datetime
    end: datetime


class EventSummary(BaseModel):
    """An event as listings show it: what it is and when, without its slot grid."""

    id: uuid.UUID
    tenant: str = Field(description="the organiser's tenant")
    title: str
    venue: str | None
    online: bool
    timezone: str
    sessions: list[SessionOut]
    meeting_minutes: int
    break_minutes: int
    tables: int
    slot_count: int
    request_deadline: datetime
    max_meetings: int | None
    outcomes_by: OutcomesBy
    status: Status
    version: int
    created_at: datetime
    updated_at: datetime


class EventOut(EventSummary):
    table_names: list[str]
    slots: list[SlotOut]


class EventPage(BaseModel):
    items: list[EventSummary]
    next_cursor: str | None


class DirectoryEntry(BaseModel):
    id: uuid.UUID
    tenant: str
    name: str
    country: str
    version: int


class ParticipantOut(BaseModel):
    cluster_id: uuid.UUID
    tenant: str
    name: str | None
    country: str | None
    role: Literal["host", "guest"]
    status: ParticipantStatus = Field(
        description="invited: registered by another tenant's organiser, awaiting its consent"
    )
    registered_at: datetime
    max_meetings: int | None = Field(default=None, description="private")
    sessions: list[int] | None = Field(default=None, description="private")
    unavailable_slots: list[int] | None = Field(default=None, description="private")
    checked_in_at: datetime | None = Field(default=None, description="private")


class ParticipantList(BaseModel):
    items: list[ParticipantOut]


class PartyOut(BaseModel):
    cluster_id: uuid.UUID
    name: str | None
    country: str | None


class RequestOut(BaseModel):
    id: uuid.UUID
    event_id: uuid.UUID
    sender: PartyOut
    receiver: PartyOut
    message: str
    priority: Literal["must", "like"]
    status: RequestStatus
    created_at: datetime
    answered_at: datetime | None


class RequestList(BaseModel):
    items: list[RequestOut]


class SuggestedPairOut(BaseModel):
    a: uuid.UUID
    b: uuid.UUID
    score: float
    reasons: list[str]


class SuggestionsOut(BaseModel):
    available: bool = Field(description="false when the matching service did not answer")
    pairs: list[SuggestedPairOut]


class ScheduledMeetingOut(BaseModel):
    meeting_id: uuid.UUID
    slot: int
    start: datetime
    end: datetime
    table: int
    location: str
    a: uuid.UUID
    b: uuid.UUID
    priority: Literal["must", "like"]


class ScheduleSummary(BaseModel):
    id: uuid.UUID
    status: Literal["draft", "published", "superseded"]
    created_at: datetime
    placed_weight: int
    placed_weight_bound: int
    total_breaks: int


class ScheduleList(BaseModel):
    items: list[ScheduleSummary]


class DisplacedOut(BaseModel):
    """A published meeting that could not stay where it was."""

    meeting_id: uuid.UUID
    slot: int = Field(description="its published slot")
    table: int = Field(description="its published table")
    reason: str


class ScheduleOut(BaseModel):
    id: uuid.UUID
    event_id: uuid.UUID
    status: Literal["draft", "published", "superseded"]
    params: dict[str, Any]
    placed: int
    unplaced: list[uuid.UUID]
    reasons: dict[str, str] = Field(description="unplaced meeting id -> why")
    displaced: list[DisplacedOut]
    kept: int
    placed_weight: int
    placed_weight_bound: int
    total_breaks: int
    breaks_bound: int | None
    breaks_by_participant: dict[str, int]
    optimal: bool
    fairness_met: bool
    spread: int | None = Field(description="largest difference of breaks between two participants")
    method: str
    seconds: float
    created_at: datetime
    published_at: datetime | None
    meetings: list[ScheduledMeetingOut]


class GridParty(BaseModel):
    cluster_id: uuid.UUID
    name: str | None


class GridMeeting(BaseModel):
    meeting_id: uuid.UUID
    a: GridParty
    b: GridParty
    outcome: str | None


class GridCell(BaseModel):
    table: int
    location: str
    meeting: GridMeeting | None


class GridRow(BaseModel):
    slot: int
    start: datetime
    end: datetime
    tables: list[GridCell]


class GridOut(BaseModel):
    event_id: uuid.UUID
    schedule_id: uuid.UUID
    status: str
    timezone: str
    slots: list[GridRow]


class AgendaMeeting(BaseModel):
    meeting_id: uuid.UUID
    slot: int
    start: datetime
    end: datetime
    reader_start: datetime | None
    reader_end: datetime | None
    table: int
    location: str
    counterpart: PartyOut
    priority: Literal["must", "like"]
    outcome: str | None


class AgendaOut(BaseModel):
    event_id: uuid.UUID
    cluster_id: uuid.UUID
    name: str | None
    timezone: str
    reader_timezone: str | None
    schedule_id: uuid.UUID
    published_at: datetime | None
    meetings: list[AgendaMeeting]


class MeetingFeedbackOut(BaseModel):
    rating: int
    comment: str | None


class MeetingOut(BaseModel):
    meeting_id: uuid.UUID
    slot: int
    a: uuid.UUID
    b: uuid.UUID
    outcome: Literal["held", "no_show"] | None
    absent: list[uuid.UUID]
    feedback: dict[str, MeetingFeedbackOut] = Field(
        description="each side reads its own; the organiser both"
    )


class RequestCounts(BaseModel):
    requested: int
    pending: int
    accepted: int
    declined: int
    cancelled: int
    expired: int


class BreaksOut(BaseModel):
    total: int
    by_participant: dict[str, int]


class StatisticsOut(BaseModel):
    event_id: uuid.UUID
    status: Status
    participants: int
    invited: int
    checked_in: int
    requests: RequestCounts
    published: bool
    placed: int
    unplaced: int
    held: int
    no_shows: int
    meetings_per_participant: dict[str, int]
    meetings_per_participant_mean: float
    breaks: BreaksOut


# ---- trainings --------------------------------------------------------------------


class TrainingCreate(Input):
    title: Line
    description: Annotated[LongText, Field(max_length=5000)] = ""
    venue: ShortText | None = None
    online: bool = False
    timezone: TimeZone
    sessions: Annotated[list[SessionIn], Field(min_length=1, max_length=50)]
    capacity: Annotated[int, Field(ge=1, le=10_000)]


class TrainingOut(BaseModel):
    id: uuid.UUID
    tenant: str = Field(description="the organiser's tenant")
    title: str
    description: str
    venue: str | None
    online: bool
    timezone: str
    sessions: list[SessionOut]
    capacity: int
    registered: int = Field(description="seats taken")
    waiting: int = Field(description="people on the waiting list")
    version: int
    created_at: datetime


class TrainingPage(BaseModel):
    items: list[TrainingOut]
    next_cursor: str | None


class RegistrationCreate(Input):
    name: Annotated[Line, Field(description="your name as it should read on the certificate")]


RegistrationStatus = Literal["registered", "waiting", "cancelled"]


class RegistrationOut(BaseModel):
    id: uuid.UUID
    training_id: uuid.UUID
    person_id: uuid.UUID
    person_tenant: str
    name: str
    status: RegistrationStatus
    waiting_position: int | None = Field(
        description="1 for the first on the waiting list; null unless waiting"
    )
    attended: bool
    created_at: datetime
    cancelled_at: datetime | None
    attended_at: datetime | None


class RegistrationList(BaseModel):
    items: list[RegistrationOut]
    capacity: int
    registered: int
    waiting: int
    attended: int


class AttendanceIn(Input):
    attended: bool = True


Audience = Literal["registered", "waiting", "all"]


class TrainingMessageIn(Input):
    subject: Line
    body: Annotated[LongText, Field(min_length=1, max_length=5000)]
    to: Audience = "registered"


class TrainingMessageOut(BaseModel):
    recipients: int
