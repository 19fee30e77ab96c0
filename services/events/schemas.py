"""Request and response models of the events API."""

from __future__ import annotations

import uuid
import zoneinfo
from datetime import date, datetime, time
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator

from services.events.lifecycle import Status
from shared.validation import Line, LongText, ShortText


def _timezone(value: str) -> str:
    try:
        zoneinfo.ZoneInfo(value)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"'{value}' is not an IANA time zone (e.g. Europe/Brussels)") from exc
    return value


def _aware(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise ValueError("give a time zone offset (e.g. 2027-03-01T18:00:00+01:00)")
    return value


TimeZone = Annotated[str, AfterValidator(_timezone)]
AwareDateTime = Annotated[datetime, AfterValidator(_aware)]
MeetingMinutes = Annotated[int, Field(ge=5, le=240)]
BreakMinutes = Annotated[int, Field(ge=0, le=120)]
Message = Annotated[LongText, Field(max_length=2000)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class SessionIn(Strict):
    date: date
    start: time
    end: time


class EventFields(Strict):
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

    @field_validator("table_names")
    @classmethod
    def _distinct(cls, names: list[str]) -> list[str]:
        if len(set(names)) != len(names):
            raise ValueError("table names must be distinct")
        return names


class EventCreate(EventFields):
    pass


class EventPatch(Strict):
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


class Transition(Strict):
    status: Status


class ParticipantCreate(Strict):
    cluster_id: uuid.UUID
    role: Literal["host", "guest"] = "guest"
    max_meetings: Annotated[int | None, Field(ge=0, le=200)] = None
    sessions: Annotated[list[Annotated[int, Field(ge=0)]] | None, Field(max_length=20)] = None
    unavailable_slots: Annotated[list[Annotated[int, Field(ge=0)]], Field(max_length=1000)] = []


class ParticipantPatch(Strict):
    role: Literal["host", "guest"] | None = None
    max_meetings: Annotated[int | None, Field(ge=0, le=200)] = None
    sessions: Annotated[list[Annotated[int, Field(ge=0)]] | None, Field(max_length=20)] = None
    unavailable_slots: Annotated[
        list[Annotated[int, Field(ge=0)]] | None, Field(max_length=1000)
    ] = None


class RequestCreate(Strict):
    sender: uuid.UUID = Field(description="cluster id of the requesting participant")
    receiver: uuid.UUID = Field(description="cluster id of the requested participant")
    message: Message = ""
    priority: Literal["must", "like"] = "like"


class ScheduleRun(Strict):
    fairness: Annotated[int | None, Field(ge=0, le=100)] = 2
    time_limit: Annotated[float, Field(gt=0, le=30)] = 5.0
    seed: Annotated[int, Field(ge=0, le=2**31 - 1)] = 0


class OutcomeIn(Strict):
    outcome: Literal["held", "no_show"]
    absent: Annotated[list[uuid.UUID], Field(max_length=2)] = []


class FeedbackIn(Strict):
    cluster_id: uuid.UUID = Field(description="the party giving feedback")
    rating: Annotated[int, Field(ge=1, le=5)]
    comment: Annotated[ShortText | None, Field(max_length=1000)] = None


class Page(BaseModel):
    items: list[dict[str, Any]]
    next_cursor: str | None
