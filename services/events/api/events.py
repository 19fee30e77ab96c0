"""Routes: events, their lifecycle, participants and invitations, the cluster directory."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated

from fastapi import Query, Response

from services.events import access, lookups, organising, planning, registration
from services.events.deps import EventDep, OrganisedEventDep
from services.events.lifecycle import Status
from services.events.repository import EventsRepository
from services.events.schemas import (
    DirectoryEntry,
    EventCreate,
    EventOut,
    EventPage,
    EventPatch,
    ParticipantCreate,
    ParticipantList,
    ParticipantOut,
    ParticipantPatch,
    Transition,
)
from shared.identity import CallerDep, require_scope
from shared.problems import not_found
from shared.routing import api_router
from shared.runtime import SessionDep

router = api_router(prefix="/v1/events", tags=["events"])

READ = require_scope(access.READ)
ORGANISE = require_scope(access.ORGANISE)
PARTICIPATE = require_scope(access.PARTICIPATE)


@router.post("", status_code=201, response_model=EventOut, dependencies=[ORGANISE])
async def create_event(
    body: EventCreate, caller: CallerDep, session: SessionDep, response: Response
) -> EventOut:
    """Create an event in draft; the caller's tenant organises it."""
    event = organising.create(session, caller.tenant, body)
    await session.flush()
    response.headers["Location"] = f"/v1/events/{event.id}"
    return organising.present(event)


@router.get("", response_model=EventPage, dependencies=[READ])
async def list_events(
    session: SessionDep,
    caller: CallerDep,
    status: Status | None = None,
    tenant: Annotated[str | None, Query(max_length=16)] = None,
    q: Annotated[str | None, Query(max_length=200, description="title or venue")] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(max_length=500)] = None,
) -> EventPage:
    """Every tenant's events (the public listing), oldest first, filtered by status,
    organising tenant and words of the title or venue; drafts only of the caller's own
    tenant. Items are summaries: read one event for its tables and slots."""
    rows, next_cursor = await EventsRepository(session).events_page(
        limit,
        cursor,
        status.value if status else None,
        tenant,
        (q or "").strip() or None,
        drafts_of=None if caller.is_admin else caller.tenant,
    )
    return EventPage(items=[organising.summary(e) for e in rows], next_cursor=next_cursor)


@router.get("/clusters/{cluster_id}", response_model=DirectoryEntry, dependencies=[READ])
async def directory_entry(cluster_id: uuid.UUID, session: SessionDep) -> DirectoryEntry:
    """A registry cluster as this service knows it (fed by registry events)."""
    cluster = await EventsRepository(session).cluster(cluster_id)
    if cluster is None or cluster.deleted:
        raise not_found("cluster")
    return DirectoryEntry(
        id=cluster.id,
        tenant=cluster.tenant,
        name=cluster.name,
        country=cluster.country,
        version=cluster.version,
    )


@router.get("/{event_id}", response_model=EventOut, dependencies=[READ])
async def get_event(event: EventDep) -> EventOut:
    return organising.present(event)


@router.patch("/{event_id}", response_model=EventOut, dependencies=[ORGANISE])
async def patch_event(event: OrganisedEventDep, body: EventPatch, session: SessionDep) -> EventOut:
    organising.patch(event, body)
    await session.flush()
    return organising.present(event)


@router.post("/{event_id}/transitions", response_model=EventOut, dependencies=[ORGANISE])
async def transition_event(
    event: OrganisedEventDep, body: Transition, session: SessionDep
) -> EventOut:
    """Move the event along draft → registration → requests → scheduling → published →
    closed. Moving to `published` publishes the newest draft schedule."""
    if body.status == Status.PUBLISHED and event.status == Status.SCHEDULING:
        await planning.publish(session, event)
    else:
        organising.transition(session, event, body.status)
    await session.flush()
    return organising.present(event)


# ---- participants --------------------------------------------------------------------


@router.post("/{event_id}/participants", status_code=201, response_model=ParticipantOut)
async def register_participant(
    event: EventDep, body: ParticipantCreate, caller: CallerDep, session: SessionDep
) -> ParticipantOut:
    """Register a cluster: its own tenant while registration is open; the organiser any
    time before closing. A cluster of another tenant registered by the organiser is
    invited, and takes part once its tenant accepts."""
    participant = await registration.register(session, caller, event, body)
    await session.flush()
    cluster = await EventsRepository(session).cluster(participant.cluster_id)
    return registration.present(participant, cluster, private=True)


@router.get(
    "/{event_id}/participants",
    response_model=ParticipantList,
    response_model_exclude_unset=True,
    dependencies=[READ],
)
async def list_participants(
    event: EventDep, caller: CallerDep, session: SessionDep
) -> ParticipantList:
    repo = EventsRepository(session)
    rows = await repo.participants(event.id)
    directory = await repo.clusters([p.cluster_id for p in rows])
    return ParticipantList(
        items=[
            registration.present(
                p, directory.get(p.cluster_id), private=access.may_see_private(caller, event, p)
            )
            for p in rows
        ]
    )


@router.get(
    "/{event_id}/participants/{cluster_id}",
    response_model=ParticipantOut,
    response_model_exclude_unset=True,
    dependencies=[READ],
)
async def get_participant(
    event: EventDep, cluster_id: uuid.UUID, caller: CallerDep, session: SessionDep
) -> ParticipantOut:
    p = await lookups.participant(session, event.id, cluster_id)
    cluster = await EventsRepository(session).cluster(cluster_id)
    return registration.present(p, cluster, private=access.may_see_private(caller, event, p))


@router.patch("/{event_id}/participants/{cluster_id}", response_model=ParticipantOut)
async def patch_participant(
    event: EventDep,
    cluster_id: uuid.UUID,
    body: ParticipantPatch,
    caller: CallerDep,
    session: SessionDep,
) -> ParticipantOut:
    """Availability (sessions, slots), role and cap; by the organiser or the cluster's tenant."""
    p = await lookups.participant(session, event.id, cluster_id)
    access.require_speaks_for(caller, event, p)
    p = await lookups.participant(session, event.id, cluster_id, lock=True)
    await registration.change(session, caller, event, p, body)
    await session.flush()
    cluster = await EventsRepository(session).cluster(cluster_id)
    return registration.present(p, cluster, private=True)


async def _answer_invitation(
    event: EventDep, cluster_id: uuid.UUID, caller: CallerDep, session: SessionDep, accept: bool
) -> ParticipantOut:
    p = await lookups.participant(session, event.id, cluster_id)
    access.require_speaks_for(caller, event, p)
    p = await lookups.participant(session, event.id, cluster_id, lock=True)
    await registration.answer_invitation(session, caller, event, p, accept)
    await session.flush()
    cluster = await EventsRepository(session).cluster(cluster_id)
    return registration.present(p, cluster, private=True)


@router.post(
    "/{event_id}/participants/{cluster_id}/accept",
    response_model=ParticipantOut,
    dependencies=[PARTICIPATE],
)
async def accept_invitation(
    event: EventDep, cluster_id: uuid.UUID, caller: CallerDep, session: SessionDep
) -> ParticipantOut:
    """The invited cluster's own tenant agrees to take part."""
    return await _answer_invitation(event, cluster_id, caller, session, accept=True)


@router.post(
    "/{event_id}/participants/{cluster_id}/decline",
    response_model=ParticipantOut,
    dependencies=[PARTICIPATE],
)
async def decline_invitation(
    event: EventDep, cluster_id: uuid.UUID, caller: CallerDep, session: SessionDep
) -> ParticipantOut:
    """The invited cluster's own tenant declines; no reason is asked."""
    return await _answer_invitation(event, cluster_id, caller, session, accept=False)


@router.post(
    "/{event_id}/participants/{cluster_id}/check-in",
    response_model=ParticipantOut,
    dependencies=[ORGANISE],
)
async def check_in(
    event: OrganisedEventDep, cluster_id: uuid.UUID, session: SessionDep
) -> ParticipantOut:
    """The organiser's desk marks the participant present (idempotent)."""
    p = await lookups.participant(session, event.id, cluster_id, lock=True)
    if p.checked_in_at is None:
        p.checked_in_at = datetime.now(UTC)
    await session.flush()
    cluster = await EventsRepository(session).cluster(cluster_id)
    return registration.present(p, cluster, private=True)
