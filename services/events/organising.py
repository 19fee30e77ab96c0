"""Events as organisers set them up: creation, changes, presentation, transitions."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from services.events import lifecycle, messaging
from services.events.lifecycle import Status
from services.events.models import Event
from services.events.schemas import (
    EventCreate,
    EventOut,
    EventPatch,
    EventSummary,
    SessionIn,
    SessionOut,
    SlotOut,
)
from services.events.slots import SessionWindow, Slot, check_sessions, slots_of
from shared.contracts import events as contract
from shared.problems import Problem

# A brokerage day has a few dozen slots; a grid beyond this is a typing mistake, and
# every agenda, grid and schedule grows with it.
MAX_SLOTS = 500


def windows(event: Event) -> list[SessionWindow]:
    return [SessionWindow.from_json(s) for s in event.sessions]


def event_slots(event: Event) -> list[Slot]:
    return slots_of(windows(event), event.timezone, event.meeting_minutes, event.break_minutes)


def table_count(event: Event) -> int:
    return len(event.table_names) or event.tables


def table_label(event: Event, table: int) -> str:
    if event.table_names and table < len(event.table_names):
        return event.table_names[table]
    return f"Table {table + 1}"


def _shape(
    sessions: list[SessionIn],
    timezone: str,
    meeting_minutes: int,
    break_minutes: int,
    tables: int | None,
    table_names: list[str],
) -> tuple[list[dict[str, str]], int]:
    ordered = check_sessions(
        [SessionWindow(s.date, s.start, s.end) for s in sessions],
        timezone,
        meeting_minutes,
        break_minutes,
    )
    if table_names and tables is not None and tables != len(table_names):
        raise Problem(
            422,
            f"tables ({tables}) and the {len(table_names)} table_names disagree; give one.",
            field="tables",
        )
    count = len(table_names) or tables
    if not count:
        raise Problem(422, "Give the number of tables or their names.", field="tables")
    n_slots = len(slots_of(ordered, timezone, meeting_minutes, break_minutes))
    if n_slots > MAX_SLOTS:
        raise Problem(
            422,
            f"These sessions make {n_slots} meeting slots; an event has at most {MAX_SLOTS}. "
            "Shorten the sessions or lengthen the meetings.",
            field="sessions",
        )
    return [w.as_json() for w in ordered], count


def create(session: AsyncSession, tenant: str, body: EventCreate) -> Event:
    sessions, tables = _shape(
        body.sessions, body.timezone, body.meeting_minutes, body.break_minutes,
        body.tables, body.table_names,
    )  # fmt: skip
    if not body.online and not body.venue:
        raise Problem(422, "An event on site needs a venue (or say online: true).", field="venue")
    now = datetime.now(UTC)
    event = Event(
        id=uuid.uuid4(), tenant=tenant, title=body.title, venue=body.venue, online=body.online,
        timezone=body.timezone, sessions=sessions, meeting_minutes=body.meeting_minutes,
        break_minutes=body.break_minutes, tables=tables, table_names=list(body.table_names),
        request_deadline=body.request_deadline, max_meetings=body.max_meetings,
        outcomes_by=body.outcomes_by, status=Status.DRAFT.value, version=1, created_at=now,
        updated_at=now,
    )  # fmt: skip
    session.add(event)
    messaging.announce(session, contract.EVENT_CREATED, tenant, messaging.event_fact(event))
    return event


SHAPE_FIELDS = frozenset(
    {"timezone", "sessions", "meeting_minutes", "break_minutes", "tables", "table_names"}
)


def patch(event: Event, body: EventPatch) -> bool:
    """Apply a change; True when something changed."""
    changes: dict[str, Any] = body.model_dump(exclude_unset=True)
    if event.status == Status.CLOSED:
        raise Problem(409, "A closed event does not change.", slug="wrong-status")
    if SHAPE_FIELDS & changes.keys():
        lifecycle.require(event.status, lifecycle.SHAPE_EDITABLE, "change sessions or tables")
        sessions = body.sessions if body.sessions is not None else [
            SessionIn.model_validate(s) for s in event.sessions
        ]  # fmt: skip
        names = changes.get("table_names", event.table_names)
        tables = changes.get("tables", None if names else event.tables)
        shaped, count = _shape(
            sessions, changes.get("timezone", event.timezone),
            changes.get("meeting_minutes", event.meeting_minutes),
            changes.get("break_minutes", event.break_minutes), tables, names or [],
        )  # fmt: skip
        changes["sessions"] = shaped
        changes["tables"] = count
        changes["table_names"] = list(names or [])
    for required in (
        "title", "timezone", "meeting_minutes", "break_minutes", "request_deadline",
        "outcomes_by",
    ):  # fmt: skip
        if required in changes and changes[required] is None:
            raise Problem(422, f"{required} cannot be removed.", field=required)
    online = changes.get("online", event.online)
    if not online and not changes.get("venue", event.venue):
        raise Problem(422, "An event on site needs a venue (or say online: true).", field="venue")
    changed = False
    for key, value in changes.items():
        if getattr(event, key) != value:
            setattr(event, key, value)
            changed = True
    if changed:
        event.version += 1
        event.updated_at = datetime.now(UTC)
    return changed


def transition(session: AsyncSession, event: Event, target: Status) -> None:
    lifecycle.check_transition(event.status, target)
    before = event.status
    event.status = target.value
    event.version += 1
    event.updated_at = datetime.now(UTC)
    messaging.announce(
        session,
        contract.EVENT_STATUS_CHANGED,
        event.tenant,
        messaging.status_changed(event, before),
    )


def _summary_fields(event: Event) -> dict[str, Any]:
    return {
        "id": event.id,
        "tenant": event.tenant,
        "title": event.title,
        "venue": event.venue,
        "online": event.online,
        "timezone": event.timezone,
        "sessions": [SessionOut.model_validate(s) for s in event.sessions],
        "meeting_minutes": event.meeting_minutes,
        "break_minutes": event.break_minutes,
        "tables": table_count(event),
        "slot_count": len(event_slots(event)),
        "request_deadline": event.request_deadline,
        "max_meetings": event.max_meetings,
        "outcomes_by": event.outcomes_by,
        "status": event.status,
        "version": event.version,
        "created_at": event.created_at,
        "updated_at": event.updated_at,
    }


def summary(event: Event) -> EventSummary:
    """The event as listings show it: a few hundred bytes, whatever its grid."""
    return EventSummary(**_summary_fields(event))


def present(event: Event) -> EventOut:
    """The whole event: its tables and every slot with its times."""
    return EventOut(
        **_summary_fields(event),
        table_names=[table_label(event, t) for t in range(table_count(event))],
        slots=[
            SlotOut(slot=s.index, session=s.session, start=s.start, end=s.end)
            for s in event_slots(event)
        ],
    )
