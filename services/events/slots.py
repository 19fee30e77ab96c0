"""Slots of an event: derived from its sessions, meeting length and break.

A session is a local time window on a date in the event's time zone. Slots start at the
session's start and follow each other every `meeting + break` minutes while a whole
meeting still fits before the session ends. Slot numbers run over the whole event from
0, session after session, which is the numbering the scheduler uses.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from shared.problems import Problem


@dataclass(frozen=True, slots=True)
class SessionWindow:
    day: date
    start: time
    end: time

    def bounds(self, tz: ZoneInfo) -> tuple[datetime, datetime]:
        return (
            datetime.combine(self.day, self.start, tzinfo=tz),
            datetime.combine(self.day, self.end, tzinfo=tz),
        )

    def as_json(self) -> dict[str, str]:
        return {
            "date": self.day.isoformat(),
            "start": self.start.strftime("%H:%M"),
            "end": self.end.strftime("%H:%M"),
        }

    @classmethod
    def from_json(cls, raw: dict[str, str]) -> SessionWindow:
        return cls(
            date.fromisoformat(raw["date"]),
            time.fromisoformat(raw["start"]),
            time.fromisoformat(raw["end"]),
        )


@dataclass(frozen=True, slots=True)
class Slot:
    index: int
    session: int
    start: datetime  # aware, in the event's time zone
    end: datetime


def slots_of(
    sessions: Sequence[SessionWindow], timezone: str, meeting_minutes: int, break_minutes: int
) -> list[Slot]:
    tz = ZoneInfo(timezone)
    length = timedelta(minutes=meeting_minutes)
    step = timedelta(minutes=meeting_minutes + break_minutes)
    out: list[Slot] = []
    for n, window in enumerate(sessions):
        # Arithmetic in UTC, so a session across a DST change keeps real durations.
        start, end = (t.astimezone(ZoneInfo("UTC")) for t in window.bounds(tz))
        at = start
        while at + length <= end:
            out.append(Slot(len(out), n, at.astimezone(tz), (at + length).astimezone(tz)))
            at += step
    return out


def check_sessions(
    sessions: Sequence[SessionWindow], timezone: str, meeting_minutes: int, break_minutes: int
) -> list[SessionWindow]:
    """Sessions in time order, or a 422 naming the session at fault."""
    tz = ZoneInfo(timezone)
    if not sessions:
        raise Problem(422, "An event needs at least one session.", field="sessions")
    ordered = sorted(sessions, key=lambda s: s.bounds(tz)[0])
    for n, window in enumerate(ordered):
        start, end = window.bounds(tz)
        if end <= start:
            raise Problem(422, f"Session {n} ends before it starts.", field=f"sessions.{n}")
        if end - start < timedelta(minutes=meeting_minutes):
            raise Problem(
                422,
                f"Session {n} ({window.as_json()['start']}-{window.as_json()['end']}) is "
                f"shorter than one {meeting_minutes}-minute meeting.",
                field=f"sessions.{n}",
            )
        if n and start < ordered[n - 1].bounds(tz)[1]:
            raise Problem(
                422, f"Session {n} overlaps the session before it.", field=f"sessions.{n}"
            )
    del break_minutes  # a break after the last slot of a session needs no room
    return ordered
