"""Routes: scheduling, publishing, agendas, the grid, the day itself, statistics."""

from __future__ import annotations

import asyncio
import uuid
from typing import Annotated
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from fastapi import Query, Response

from services.events import access, lifecycle, lookups, planning, stats
from services.events.agenda import agenda_json, agenda_of, grid
from services.events.calendar import to_ical
from services.events.models import Event
from services.events.repository import EventsRepository
from services.events.schemas import FeedbackIn, OutcomeIn, ScheduleRun
from shared.db.session import tenant_session
from shared.identity import Caller, CallerDep, require_scope
from shared.problems import Problem, json_response, not_found
from shared.routing import api_router
from shared.runtime import RuntimeDep, SessionDep

router = api_router(prefix="/v1/events/{event_id}", tags=["scheduling"])

READ = require_scope(access.READ)
ORGANISE = require_scope(access.ORGANISE)


def _private_to_organiser(caller: Caller, event: Event, what: str) -> None:
    if not access.is_organiser(caller, event):
        raise not_found(what)


async def _schedule_body(session: SessionDep, event: Event, schedule_id: uuid.UUID) -> Response:
    repo = EventsRepository(session)
    schedule = await repo.schedule(event.id, schedule_id)
    if schedule is None:
        raise not_found("schedule")
    placements = await repo.placements(schedule.id)
    reqs = {r.id: r for r in await repo.requests(event.id)}
    return json_response(planning.present_schedule(event, schedule, placements, reqs))


@router.post("/schedules", status_code=201, dependencies=[ORGANISE])
async def run_scheduler(
    event_id: uuid.UUID, caller: CallerDep, rt: RuntimeDep, body: ScheduleRun | None = None
) -> Response:
    """Schedule the accepted requests into a draft (published meetings stay put)."""
    params = body or ScheduleRun()
    scope = access.db_scope(caller)
    # No transaction is held open while the solver thinks (up to 30 s).
    async with tenant_session(rt.sessionmaker, scope) as session:
        event = await lookups.event(session, event_id)
        access.require_organiser(caller, event)
        lifecycle.require(event.status, lifecycle.SCHEDULABLE, "run the scheduler")
        plan = await planning.gather(session, event, params)
        version = event.version
    result = await asyncio.to_thread(planning.solve, plan, params)
    async with tenant_session(rt.sessionmaker, scope) as session:
        event = await lookups.event(session, event_id, lock=True)
        if event.version != version:
            raise Problem(409, "The event changed while scheduling; run it again.")
        row = await planning.store(session, event, plan, result, params)
        response = await _schedule_body(session, event, row.id)
    response.status_code = 201
    response.headers["Location"] = f"/v1/events/{event_id}/schedules/{row.id}"
    return response


@router.get("/schedules", dependencies=[READ])
async def list_schedules(event_id: uuid.UUID, caller: CallerDep, session: SessionDep) -> Response:
    event = await lookups.event(session, event_id)
    _private_to_organiser(caller, event, "schedules")
    rows = await EventsRepository(session).schedules(event.id)
    return json_response(
        {"items": [
            {"id": str(s.id), "status": s.status, "created_at": s.created_at.isoformat(),
             "placed_weight": s.placed_weight, "placed_weight_bound": s.placed_weight_bound,
             "total_breaks": s.total_breaks}
            for s in rows
        ]}
    )  # fmt: skip


@router.get("/schedules/{schedule_id}", dependencies=[READ])
async def get_schedule(
    event_id: uuid.UUID, schedule_id: uuid.UUID, caller: CallerDep, session: SessionDep
) -> Response:
    event = await lookups.event(session, event_id)
    _private_to_organiser(caller, event, "schedule")
    return await _schedule_body(session, event, schedule_id)


@router.get("/schedules/{schedule_id}/grid", dependencies=[READ])
async def get_grid(
    event_id: uuid.UUID, schedule_id: uuid.UUID, caller: CallerDep, session: SessionDep
) -> Response:
    """The organiser's grid: every slot by every table."""
    event = await lookups.event(session, event_id)
    _private_to_organiser(caller, event, "schedule")
    schedule = await EventsRepository(session).schedule(event.id, schedule_id)
    if schedule is None:
        raise not_found("schedule")
    return json_response(await grid(session, event, schedule))


@router.post("/publish", dependencies=[ORGANISE])
async def publish(event_id: uuid.UUID, caller: CallerDep, session: SessionDep) -> Response:
    """Publish the newest draft schedule: agendas now show it."""
    event = await lookups.event(session, event_id)
    access.require_organiser(caller, event)
    event = await lookups.event(session, event_id, lock=True)
    schedule = await planning.publish(session, event)
    await session.flush()
    return await _schedule_body(session, event, schedule.id)


# ---- agendas -------------------------------------------------------------------------


async def _agenda_target(
    session: SessionDep, caller: Caller, event_id: uuid.UUID, cluster_id: uuid.UUID
) -> Event:
    event = await lookups.event(session, event_id)
    p = await lookups.participant(session, event.id, cluster_id)
    access.require_private(caller, event, p, "agenda")
    return event


@router.get("/participants/{cluster_id}/agenda", dependencies=[READ])
async def agenda(
    event_id: uuid.UUID,
    cluster_id: uuid.UUID,
    caller: CallerDep,
    session: SessionDep,
    tz: Annotated[
        str | None,
        Query(max_length=64, description="Your IANA time zone: times are shown in it too"),
    ] = None,
) -> Response:
    reader_zone = None
    if tz:
        try:
            reader_zone = ZoneInfo(tz)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise Problem(422, f"'{tz}' is not an IANA time zone.", field="tz") from exc
    event = await _agenda_target(session, caller, event_id, cluster_id)
    return json_response(agenda_json(await agenda_of(session, event, cluster_id), reader_zone))


@router.get(
    "/participants/{cluster_id}/agenda.ics",
    dependencies=[READ],
    responses={200: {"content": {"text/calendar": {}}}},
)
async def agenda_ics(
    event_id: uuid.UUID, cluster_id: uuid.UUID, caller: CallerDep, session: SessionDep
) -> Response:
    """The agenda as iCalendar (RFC 5545), to import into any calendar program."""
    event = await _agenda_target(session, caller, event_id, cluster_id)
    body = to_ical(await agenda_of(session, event, cluster_id))
    return Response(
        body,
        media_type="text/calendar; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="agenda-{cluster_id}.ics"'},
    )


# ---- the day: meetings, outcomes, feedback, statistics -------------------------------


async def _meeting(
    session: SessionDep, caller: Caller, event_id: uuid.UUID, meeting_id: uuid.UUID
) -> tuple[Event, lookups.MeetingRequest, int]:
    """A published meeting the caller may see, with its slot."""
    event = await lookups.event(session, event_id)
    request = await lookups.request(session, event, meeting_id, lock=True)
    if not access.request_visible(caller, request):
        raise not_found("meeting")
    repo = EventsRepository(session)
    published = await repo.schedule_in(event.id, "published")
    placed = await repo.placement_of(published.id, request.id) if published else None
    if placed is None or request.status != "accepted":
        raise not_found("meeting")
    return event, request, placed.slot


def _meeting_body(
    request: lookups.MeetingRequest, slot: int, caller: Caller, event: Event
) -> dict[str, object]:
    body: dict[str, object] = {
        "meeting_id": str(request.id),
        "slot": slot,
        "a": str(request.sender_cluster),
        "b": str(request.receiver_cluster),
        "outcome": request.outcome,
        "absent": [str(a) for a in request.absent],
    }
    # Each side reads its own feedback; the organiser reads both.
    feedback = request.feedback or {}
    if access.is_organiser(caller, event):
        body["feedback"] = feedback
    else:
        body["feedback"] = {
            cid: f for cid, f in feedback.items()
            if (cid == str(request.sender_cluster) and caller.tenant == request.sender_tenant)
            or (cid == str(request.receiver_cluster) and caller.tenant == request.receiver_tenant)
        }  # fmt: skip
    return body


@router.get("/meetings/{meeting_id}", dependencies=[READ])
async def get_meeting(
    event_id: uuid.UUID, meeting_id: uuid.UUID, caller: CallerDep, session: SessionDep
) -> Response:
    event, request, slot = await _meeting(session, caller, event_id, meeting_id)
    return json_response(_meeting_body(request, slot, caller, event))


@router.post("/meetings/{meeting_id}/outcome", dependencies=[READ])
async def record_outcome(
    event_id: uuid.UUID,
    meeting_id: uuid.UUID,
    body: OutcomeIn,
    caller: CallerDep,
    session: SessionDep,
) -> Response:
    """Held, or a no-show of one side (or both); by the organiser or a party."""
    event, request, slot = await _meeting(session, caller, event_id, meeting_id)
    if access.is_organiser(caller, event):
        caller.require(access.ORGANISE)
    else:
        caller.require(access.PARTICIPATE)
    if event.status not in (lifecycle.Status.PUBLISHED, lifecycle.Status.CLOSED):
        raise Problem(409, "Outcomes are recorded once the schedule is published.")
    parties = {request.sender_cluster, request.receiver_cluster}
    if body.outcome == "held" and body.absent:
        raise Problem(422, "A held meeting has nobody absent.", field="absent")
    if body.outcome == "no_show" and (not body.absent or not set(body.absent) <= parties):
        raise Problem(422, "Name the absent side(s): cluster ids of this meeting.", field="absent")
    request.outcome = body.outcome
    request.absent = sorted(set(body.absent))
    await session.flush()
    return json_response(_meeting_body(request, slot, caller, event))


@router.post("/meetings/{meeting_id}/feedback", dependencies=[READ])
async def give_feedback(
    event_id: uuid.UUID,
    meeting_id: uuid.UUID,
    body: FeedbackIn,
    caller: CallerDep,
    session: SessionDep,
) -> Response:
    """A short rating and comment by one side of the meeting."""
    event, request, slot = await _meeting(session, caller, event_id, meeting_id)
    caller.require(access.PARTICIPATE)
    side_tenant = {
        request.sender_cluster: request.sender_tenant,
        request.receiver_cluster: request.receiver_tenant,
    }.get(body.cluster_id)
    if side_tenant is None:
        raise Problem(422, "cluster_id is not a side of this meeting.", field="cluster_id")
    if not access.acts_for(caller, side_tenant):
        raise Problem(403, "Feedback is given by the side's own agency.", slug="tenant-forbidden")
    request.feedback = {
        **(request.feedback or {}),
        str(body.cluster_id): {"rating": body.rating, "comment": body.comment},
    }
    await session.flush()
    return json_response(_meeting_body(request, slot, caller, event))


@router.get("/stats", dependencies=[READ])
async def statistics(event_id: uuid.UUID, caller: CallerDep, session: SessionDep) -> Response:
    """Requested, accepted, declined, expired, placed, held, no-shows, breaks."""
    event = await lookups.event(session, event_id)
    _private_to_organiser(caller, event, "statistics")
    await lookups.expire_if_due(session, event)
    return json_response(await stats.statistics(session, event))
