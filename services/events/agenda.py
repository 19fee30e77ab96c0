"""Each participant's day, and the organiser's grid (slots x tables)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from services.events.lifecycle import RequestStatus
from services.events.models import DirectoryCluster, Event, MeetingRequest, Placement, Schedule
from services.events.organising import event_slots, table_count, table_label
from services.events.repository import EventsRepository
from services.events.schemas import (
    AgendaMeeting,
    AgendaOut,
    GridCell,
    GridMeeting,
    GridOut,
    GridParty,
    GridRow,
    PartyOut,
)
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
    requests = {r.id: r for r in await repo.requests(event.id, status=RequestStatus.ACCEPTED)}
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


def agenda_json(agenda: Agenda, reader_zone: ZoneInfo | None = None) -> AgendaOut:
    """The agenda in the event's zone; with `reader_zone`, each time also in the reader's
    own (people joining from another continent misread times more than anything)."""

    def local(moment: datetime) -> datetime | None:
        return moment.astimezone(reader_zone) if reader_zone else None

    return AgendaOut(
        event_id=agenda.event.id,
        cluster_id=agenda.cluster_id,
        name=agenda.name,
        timezone=agenda.event.timezone,
        reader_timezone=reader_zone.key if reader_zone else None,
        schedule_id=agenda.schedule.id,
        published_at=agenda.schedule.published_at,
        meetings=[
            AgendaMeeting(
                meeting_id=i.meeting_id,
                slot=i.slot,
                start=i.start,
                end=i.end,
                reader_start=local(i.start),
                reader_end=local(i.end),
                table=i.table,
                location=i.location,
                counterpart=PartyOut(
                    cluster_id=i.counterpart,
                    name=i.counterpart_name,
                    country=i.counterpart_country,
                ),
                priority="must" if i.priority == "must" else "like",
                outcome=i.outcome,
            )
            for i in agenda.items
        ],
    )


async def grid(session: AsyncSession, event: Event, schedule: Schedule) -> GridOut:
    placements, requests, directory = await _placed(session, event, schedule)
    at = {(p.slot, p.table_no): p for p in placements}

    def who(cid: uuid.UUID) -> GridParty:
        c = directory.get(cid)
        return GridParty(cluster_id=cid, name=c.name if c and not c.deleted else None)

    def meeting(slot: int, table: int) -> GridMeeting | None:
        p = at.get((slot, table))
        if p is None:
            return None
        r = requests[p.request_id]
        return GridMeeting(
            meeting_id=r.id, a=who(r.sender_cluster), b=who(r.receiver_cluster), outcome=r.outcome
        )

    return GridOut(
        event_id=event.id,
        schedule_id=schedule.id,
        status=schedule.status,
        timezone=event.timezone,
        slots=[
            GridRow(
                slot=s.index,
                start=s.start,
                end=s.end,
                tables=[
                    GridCell(table=t, location=table_label(event, t), meeting=meeting(s.index, t))
                    for t in range(table_count(event))
                ],
            )
            for s in event_slots(event)
        ],
    )
