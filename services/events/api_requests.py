"""Routes: meeting requests between participants, and suggested partners."""

from __future__ import annotations

import uuid
from typing import Annotated, Literal

from fastapi import Query, Response

from services.events import access, lookups, requests
from services.events.models import MeetingRequest
from services.events.repository import EventsRepository
from services.events.schemas import RequestCreate
from services.events.suggestions import suggest
from shared.identity import CallerDep, require_scope
from shared.problems import json_response, not_found
from shared.routing import api_router
from shared.runtime import RuntimeDep, SessionDep

router = api_router(prefix="/v1/events/{event_id}", tags=["requests"])

READ = require_scope(access.READ)
PARTICIPATE = require_scope(access.PARTICIPATE)

RequestStatus = Literal["pending", "accepted", "declined", "cancelled", "expired"]


async def _present(session: SessionDep, request: MeetingRequest) -> Response:
    directory = await EventsRepository(session).clusters(
        [request.sender_cluster, request.receiver_cluster]
    )
    return json_response(requests.present(request, directory))


@router.post("/requests", status_code=201, dependencies=[PARTICIPATE])
async def send_request(
    event_id: uuid.UUID, body: RequestCreate, caller: CallerDep, session: SessionDep
) -> Response:
    """Ask another participant for a meeting, on behalf of one of your own clusters."""
    event = await lookups.event(session, event_id)
    request = await requests.send(session, caller, event, body)
    await session.flush()
    response = await _present(session, request)
    response.status_code = 201
    return response


@router.get("/requests", dependencies=[READ])
async def list_requests(
    event_id: uuid.UUID,
    session: SessionDep,
    status: RequestStatus | None = None,
    cluster_id: uuid.UUID | None = None,
) -> Response:
    """The requests you may see: those of your tenant's clusters (all, for the organiser)."""
    event = await lookups.event(session, event_id)
    await lookups.expire_if_due(session, event)
    repo = EventsRepository(session)
    rows = await repo.requests(event.id, status=status, cluster=cluster_id)
    directory = await repo.clusters(
        list({c for r in rows for c in (r.sender_cluster, r.receiver_cluster)})
    )
    return json_response({"items": [requests.present(r, directory) for r in rows]})


@router.get("/requests/{request_id}", dependencies=[READ])
async def get_request(
    event_id: uuid.UUID, request_id: uuid.UUID, caller: CallerDep, session: SessionDep
) -> Response:
    event = await lookups.event(session, event_id)
    request = await lookups.request(session, event, request_id)
    if not access.request_visible(caller, request):
        raise not_found("request")
    return await _present(session, request)


async def _act(
    event_id: uuid.UUID, request_id: uuid.UUID, caller: CallerDep, session: SessionDep,
    action: Literal["accept", "decline", "cancel"],
) -> Response:  # fmt: skip
    event = await lookups.event(session, event_id)
    request = await lookups.request(session, event, request_id, lock=True)
    if not access.request_visible(caller, request):
        raise not_found("request")
    if action == "cancel":
        repo = EventsRepository(session)
        published = await repo.schedule_in(event.id, "published")
        placed = await repo.placement_of(published.id, request.id) if published else None
        await requests.cancel(session, caller, event, request, placed.slot if placed else None)
    else:
        await requests.answer(session, caller, event, request, accept=action == "accept")
    await session.flush()
    return await _present(session, request)


@router.post("/requests/{request_id}/accept", dependencies=[PARTICIPATE])
async def accept_request(
    event_id: uuid.UUID, request_id: uuid.UUID, caller: CallerDep, session: SessionDep
) -> Response:
    """The receiver's agency accepts: the meeting may now be scheduled."""
    return await _act(event_id, request_id, caller, session, "accept")


@router.post("/requests/{request_id}/decline", dependencies=[PARTICIPATE])
async def decline_request(
    event_id: uuid.UUID, request_id: uuid.UUID, caller: CallerDep, session: SessionDep
) -> Response:
    """The receiver's agency declines; no reason is asked."""
    return await _act(event_id, request_id, caller, session, "decline")


@router.post("/requests/{request_id}/cancel", dependencies=[PARTICIPATE])
async def cancel_request(
    event_id: uuid.UUID, request_id: uuid.UUID, caller: CallerDep, session: SessionDep
) -> Response:
    """The sender withdraws; either side may call off an accepted (even published) meeting."""
    return await _act(event_id, request_id, caller, session, "cancel")


@router.get("/suggestions", dependencies=[READ])
async def suggestions(
    event_id: uuid.UUID,
    caller: CallerDep,
    session: SessionDep,
    rt: RuntimeDep,
    limit: Annotated[int, Query(ge=1, le=200)] = 20,
    cluster_id: uuid.UUID | None = None,
) -> Response:
    """Pairs of participants worth a meeting, from the matching service when it runs."""
    event = await lookups.event(session, event_id)
    participants = await EventsRepository(session).participants(event.id)
    mine = [p for p in participants if access.may_see_private(caller, event, p)]
    if not mine and not access.is_organiser(caller, event):
        raise not_found("suggestions")  # for the organiser and participants' agencies only
    answer = await suggest(rt.nc, [p.cluster_id for p in participants], limit)
    if cluster_id is not None:
        wanted = str(cluster_id)
        answer["pairs"] = [p for p in answer["pairs"] if wanted in (p["a"], p["b"])]
    return json_response(answer)
