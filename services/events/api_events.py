"""Routes: events, their lifecycle, participants, and the cluster directory."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated

from fastapi import Query, Response

from services.events import access, lookups, organising, planning, registration
from services.events.lifecycle import Status
from services.events.repository import EventsRepository
from services.events.schemas import (
    EventCreate,
    EventPatch,
    ParticipantCreate,
    ParticipantPatch,
    Transition,
)
from shared.identity import CallerDep, require_scope
from shared.problems import Problem, json_response, not_found
from shared.routing import api_router
from shared.runtime import SessionDep

router = api_router(prefix="/v1/events", tags=["events"])

READ = require_scope(access.READ)
ORGANISE = require_scope(access.ORGANISE)


@router.post("", status_code=201, dependencies=[ORGANISE])
async def create_event(body: EventCreate, caller: CallerDep, session: SessionDep) -> Response:
    """Create an event in draft; the caller's tenant organises it."""
    event = organising.create(session, caller.tenant, body)
    await session.flush()
    return json_response(
        organising.present(event), 201, headers={"Location": f"/v1/events/{event.id}"}
    )


@router.get("", dependencies=[READ])
async def list_events(
    session: SessionDep,
    status: Status | None = None,
    tenant: Annotated[str | None, Query(max_length=16)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(max_length=500)] = None,
) -> Response:
    """Every tenant's events (the public listing), oldest first."""
    rows, next_cursor = await EventsRepository(session).events_page(
        limit, cursor, status.value if status else None, tenant
    )
    return json_response(
        {"items": [organising.present(e) for e in rows], "next_cursor": next_cursor}
    )


@router.get("/clusters/{cluster_id}", dependencies=[READ])
async def directory_entry(cluster_id: uuid.UUID, session: SessionDep) -> Response:
    """A registry cluster as this service knows it (fed by registry events)."""
    cluster = await EventsRepository(session).cluster(cluster_id)
    if cluster is None or cluster.deleted:
        raise not_found("cluster")
    return json_response(
        {"id": str(cluster.id), "tenant": cluster.tenant, "name": cluster.name,
         "country": cluster.country, "version": cluster.version}
    )  # fmt: skip


@router.get("/{event_id}", dependencies=[READ])
async def get_event(event_id: uuid.UUID, session: SessionDep) -> Response:
    return json_response(organising.present(await lookups.event(session, event_id)))


@router.patch("/{event_id}", dependencies=[ORGANISE])
async def patch_event(
    event_id: uuid.UUID, body: EventPatch, caller: CallerDep, session: SessionDep
) -> Response:
    event = await lookups.event(session, event_id)
    access.require_organiser(caller, event)
    event = await lookups.event(session, event_id, lock=True)
    organising.patch(event, body)
    await session.flush()
    return json_response(organising.present(event))


@router.post("/{event_id}/transitions", dependencies=[ORGANISE])
async def transition_event(
    event_id: uuid.UUID, body: Transition, caller: CallerDep, session: SessionDep
) -> Response:
    """Move the event along draft → registration → requests → scheduling → published →
    closed. Moving to `published` publishes the newest draft schedule."""
    event = await lookups.event(session, event_id)
    access.require_organiser(caller, event)
    event = await lookups.event(session, event_id, lock=True)
    if body.status == Status.PUBLISHED and event.status == Status.SCHEDULING:
        await planning.publish(session, event)
    else:
        organising.transition(session, event, body.status)
    await session.flush()
    return json_response(organising.present(event))


# ---- participants --------------------------------------------------------------------


@router.post("/{event_id}/participants", status_code=201)
async def register_participant(
    event_id: uuid.UUID, body: ParticipantCreate, caller: CallerDep, session: SessionDep
) -> Response:
    """Register a cluster: the organiser any time before closing; a cluster's own
    tenant while registration is open."""
    event = await lookups.event(session, event_id)
    participant = await registration.register(session, caller, event, body)
    await session.flush()
    cluster = await EventsRepository(session).cluster(participant.cluster_id)
    return json_response(registration.present(participant, cluster, private=True), 201)


@router.get("/{event_id}/participants", dependencies=[READ])
async def list_participants(
    event_id: uuid.UUID, caller: CallerDep, session: SessionDep
) -> Response:
    event = await lookups.event(session, event_id)
    repo = EventsRepository(session)
    rows = await repo.participants(event.id)
    directory = await repo.clusters([p.cluster_id for p in rows])
    return json_response(
        {"items": [
            registration.present(p, directory.get(p.cluster_id),
                                 private=access.may_see_private(caller, event, p))
            for p in rows
        ]}
    )  # fmt: skip


@router.get("/{event_id}/participants/{cluster_id}", dependencies=[READ])
async def get_participant(
    event_id: uuid.UUID, cluster_id: uuid.UUID, caller: CallerDep, session: SessionDep
) -> Response:
    event = await lookups.event(session, event_id)
    p = await lookups.participant(session, event.id, cluster_id)
    cluster = await EventsRepository(session).cluster(cluster_id)
    return json_response(
        registration.present(p, cluster, private=access.may_see_private(caller, event, p))
    )


@router.patch("/{event_id}/participants/{cluster_id}")
async def patch_participant(
    event_id: uuid.UUID,
    cluster_id: uuid.UUID,
    body: ParticipantPatch,
    caller: CallerDep,
    session: SessionDep,
) -> Response:
    """Availability (sessions, slots), role and cap; by the organiser or the cluster's tenant."""
    event = await lookups.event(session, event_id)
    p = await lookups.participant(session, event.id, cluster_id)
    if not access.may_see_private(caller, event, p):
        raise Problem(403, "An agency acts only for its own clusters.", slug="tenant-forbidden")
    p = await lookups.participant(session, event.id, cluster_id, lock=True)
    await registration.change(session, caller, event, p, body)
    await session.flush()
    cluster = await EventsRepository(session).cluster(cluster_id)
    return json_response(registration.present(p, cluster, private=True))


@router.post("/{event_id}/participants/{cluster_id}/check-in", dependencies=[ORGANISE])
async def check_in(
    event_id: uuid.UUID, cluster_id: uuid.UUID, caller: CallerDep, session: SessionDep
) -> Response:
    """The organiser's desk marks the participant present (idempotent)."""
    event = await lookups.event(session, event_id)
    access.require_organiser(caller, event)
    p = await lookups.participant(session, event.id, cluster_id, lock=True)
    if p.checked_in_at is None:
        p.checked_in_at = datetime.now(UTC)
    await session.flush()
    cluster = await EventsRepository(session).cluster(cluster_id)
    return json_response(registration.present(p, cluster, private=True))
