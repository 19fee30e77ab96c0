"""Routes: meeting requests between participants, and suggested partners."""

from __future__ import annotations

import uuid
from typing import Annotated, Literal

from fastapi import Query, Response

from services.events import access, lookups
from services.events import meeting_requests as requests
from services.events.deps import EventDep, EventsDep
from services.events.lifecycle import RequestStatus
from services.events.models import MeetingRequest
from services.events.repository import EventsRepository
from services.events.schemas import RequestCreate, RequestList, RequestOut, SuggestionsOut
from services.events.suggestions import suggest
from shared.identity import CallerDep, require_scope
from shared.problems import not_found
from shared.routing import api_router
from shared.runtime import SessionDep

router = api_router(prefix="/v1/events/{event_id}", tags=["requests"])

READ = require_scope(access.READ)
PARTICIPATE = require_scope(access.PARTICIPATE)


async def _present(session: SessionDep, request: MeetingRequest) -> RequestOut:
    directory = await EventsRepository(session).clusters(
        [request.sender_cluster, request.receiver_cluster]
    )
    return requests.present(request, directory)


@router.post("/requests", status_code=201, response_model=RequestOut, dependencies=[PARTICIPATE])
async def send_request(
    event: EventDep,
    body: RequestCreate,
    caller: CallerDep,
    session: SessionDep,
    response: Response,
) -> RequestOut:
    """Ask another participant for a meeting, on behalf of one of your own clusters."""
    request = await requests.send(session, caller, event, body)
    await session.flush()
    response.headers["Location"] = f"/v1/events/{event.id}/requests/{request.id}"
    return await _present(session, request)


@router.get("/requests", response_model=RequestList, dependencies=[READ])
async def list_requests(
    event: EventDep,
    caller: CallerDep,
    session: SessionDep,
    status: RequestStatus | None = None,
    cluster_id: uuid.UUID | None = None,
) -> RequestList:
    """The requests you may see: those of your tenant's clusters (all, for the organiser)."""
    await lookups.expire_if_due(session, event)
    repo = EventsRepository(session)
    # Row-level security keeps other tenants' requests out; a cluster manager also sees
    # only those of the clusters they manage.
    rows = [
        r
        for r in await repo.requests(event.id, status=status, cluster=cluster_id)
        if access.request_visible(caller, r)
    ]
    directory = await repo.clusters(
        list({c for r in rows for c in (r.sender_cluster, r.receiver_cluster)})
    )
    return RequestList(items=[requests.present(r, directory) for r in rows])


@router.get("/requests/{request_id}", response_model=RequestOut, dependencies=[READ])
async def get_request(
    event: EventDep, request_id: uuid.UUID, caller: CallerDep, session: SessionDep
) -> RequestOut:
    request = await lookups.request(session, event, request_id)
    if not access.request_visible(caller, request):
        raise not_found("request")
    return await _present(session, request)


async def _act(
    event: EventDep,
    request_id: uuid.UUID,
    caller: CallerDep,
    session: SessionDep,
    action: Literal["accept", "decline", "cancel"],
) -> RequestOut:
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


@router.post("/requests/{request_id}/accept", response_model=RequestOut, dependencies=[PARTICIPATE])
async def accept_request(
    event: EventDep, request_id: uuid.UUID, caller: CallerDep, session: SessionDep
) -> RequestOut:
    """The receiver's agency accepts: the meeting may now be scheduled."""
    return await _act(event, request_id, caller, session, "accept")


@router.post(
    "/requests/{request_id}/decline", response_model=RequestOut, dependencies=[PARTICIPATE]
)
async def decline_request(
    event: EventDep, request_id: uuid.UUID, caller: CallerDep, session: SessionDep
) -> RequestOut:
    """The receiver's agency declines; no reason is asked."""
    return await _act(event, request_id, caller, session, "decline")


@router.post("/requests/{request_id}/cancel", response_model=RequestOut, dependencies=[PARTICIPATE])
async def cancel_request(
    event: EventDep, request_id: uuid.UUID, caller: CallerDep, session: SessionDep
) -> RequestOut:
    """The sender withdraws; either side may call off an accepted (even published) meeting."""
    return await _act(event, request_id, caller, session, "cancel")


@router.get("/suggestions", response_model=SuggestionsOut, dependencies=[READ])
async def suggestions(
    event: EventDep,
    caller: CallerDep,
    session: SessionDep,
    rt: EventsDep,
    limit: Annotated[int, Query(ge=1, le=200)] = 20,
    cluster_id: uuid.UUID | None = None,
) -> SuggestionsOut:
    """Pairs of participants worth a meeting, from the matching service when it runs."""
    participants = await EventsRepository(session).participants(event.id)
    mine = [p for p in participants if access.may_see_private(caller, event, p)]
    if not mine and not access.is_organiser(caller, event):
        raise not_found("suggestions")  # for the organiser and participants' agencies only
    answer = await suggest(rt.nc, [p.cluster_id for p in participants], limit)
    if cluster_id is not None:
        answer = answer.model_copy(
            update={"pairs": [p for p in answer.pairs if cluster_id in (p.a, p.b)]}
        )
    return answer
