"""Each participant's day, and the organiser's grid (slots x tables)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from services.events.models import DirectoryCluster, Event, MeetingRequest, Placement, Schedule
from services.events.organising import event_slots, table_count, table_label
from services.events.repository import EventsRepository
from shared.problems import Problem


@dataclass(frozen=True)
class AgendaItem:
    meeting_id: uuid.UUID
    slot: int
    start: datetime
    end: datetime
    table: int
    location: str
    counterpart: uuid.UUID
    counterpart_name: str | None
    counterpart_country: str | None
    priority: str
    outcome: str | None


@dataclass(frozen=True)
class Agenda:
    event: Event
    cluster_id: uuid.UUID
    name: str | None
    schedule: Schedule
    items: list[AgendaItem]


async def published(session: AsyncSession, event: Event) -> Schedule:
    schedule = await EventsRepository(session).schedule_in(event.id, "published")
    if schedule is None:
        raise Problem(409, "No schedule has been published yet.", slug="not-published")
    return schedule


async def _placed(
    session: AsyncSession, event: Event, schedule: Schedule
) -> tuple[list[Placement], dict[uuid.UUID, MeetingRequest], dict[uuid.UUID, DirectoryCluster]]:
    repo = EventsRepository(session)
    placements = await repo.placements(schedule.id)
    # Cancelled after publication: off everyone's agenda, even before a re-schedule.
    requests = {r.id: r for r in await repo.requests(event.id, status="accepted")}
    placements = [p for p in placements if p.request_id in requests]
    ids = {c for r in requests.values() for c in (r.sender_cluster, r.receiver_cluster)}
    return placements, requests, await repo.clusters(list(ids))


async def agenda_of(session: AsyncSession, event: Event, cluster_id: uuid.UUID) -> Agenda:
    schedule = await published(session, event)
    placements, requests, directory = await _placed(session, event, schedule)
    slots = event_slots(event)
    items = []
    for p in placements:
        r = requests[p.request_id]
        if cluster_id not in (r.sender_cluster, r.receiver_cluster):
            continue
        other = r.receiver_cluster if r.sender_cluster == cluster_id else r.sender_cluster
        c = directory.get(other)
        items.append(
            AgendaItem(
                meeting_id=r.id, slot=p.slot, start=slots[p.slot].start, end=slots[p.slot].end,
                table=p.table_no, location=table_label(event, p.table_no), counterpart=other,
                counterpart_name=c.name if c and not c.deleted else None,
                counterpart_country=c.country if c and not c.deleted else None,
                priority=r.priority, outcome=r.outcome,
            )
        )  # fmt: skip
    me = (await EventsRepository(session).clusters([cluster_id])).get(cluster_id)
    return Agenda(event, cluster_id, me.name if me else None, schedule, items)


def agenda_json(agenda: Agenda, reader_zone: ZoneInfo | None = None) -> dict[str, Any]:
    """The agenda in the event's zone; with `reader_zone`, each time also in the reader's
    own (people joining from another continent misread times more than anything)."""

    def local(moment: datetime) -> str | None:
        return moment.astimezone(reader_zone).isoformat() if reader_zone else None

    return {
        "event_id": str(agenda.event.id),
        "cluster_id": str(agenda.cluster_id),
        "name": agenda.name,
        "timezone": agenda.event.timezone,
        "reader_timezone": reader_zone.key if reader_zone else None,
        "schedule_id": str(agenda.schedule.id),
        "published_at": agenda.schedule.published_at.isoformat()
        if agenda.schedule.published_at
        else None,
        "meetings": [
            {
                "meeting_id": str(i.meeting_id),
                "slot": i.slot,
                "start": i.start.isoformat(),
                "end": i.end.isoformat(),
                "reader_start": local(i.start),
                "reader_end": local(i.end),
                "table": i.table,
                "location": i.location,
                "counterpart": {
                    "cluster_id": str(i.counterpart),
                    "name": i.counterpart_name,
                    "country": i.counterpart_country,
                },
                "priority": i.priority,
                "outcome": i.outcome,
            }
            for i in agenda.items
        ],
    }


async def grid(session: AsyncSession, event: Event, schedule: Schedule) -> dict[str, Any]:
    placements, requests, directory = await _placed(session, event, schedule)
    at = {(p.slot, p.table_no): p for p in placements}

    def who(cid: uuid.UUID) -> dict[str, Any]:
        c = directory.get(cid)
        return {"cluster_id": str(cid), "name": c.name if c and not c.deleted else None}

    rows = []
    for s in event_slots(event):
        cells = []
        for t in range(table_count(event)):
            p = at.get((s.index, t))
            meeting = None
            if p is not None:
                r = requests[p.request_id]
                meeting = {
                    "meeting_id": str(r.id),
                    "a": who(r.sender_cluster),
                    "b": who(r.receiver_cluster),
                    "outcome": r.outcome,
                }
            cells.append({"table": t, "location": table_label(event, t), "meeting": meeting})
        rows.append(
            {"slot": s.index, "start": s.start.isoformat(), "end": s.end.isoformat(),
             "tables": cells}
        )  # fmt: skip
    return {
        "event_id": str(event.id),
        "schedule_id": str(schedule.id),
        "status": schedule.status,
        "timezone": event.timezone,
        "slots": rows,
    }
