"""Routes: scheduling, publishing, agendas, the grid, the day itself, statistics."""

from __future__ import annotations

import asyncio
import uuid
from typing import Annotated
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from fastapi import Query, Request, Response

from services.events import access, lifecycle, lookups, planning, stats
from services.events.agenda import agenda_json, agenda_of, grid
from services.events.deps import EventDep, EventsDep, OrganisedEventDep
from services.events.ical import to_ical
from services.events.lifecycle import RequestStatus
from services.events.models import Event, MeetingRequest
from services.events.repository import EventsRepository
from services.events.schemas import (
    AgendaOut,
    GridOut,
    MeetingFeedback,
    MeetingFeedbackOut,
    MeetingOut,
    MeetingOutcome,
    ScheduleList,
    ScheduleOut,
    ScheduleRun,
    ScheduleSummary,
    StatisticsOut,
)
from shared.identity import Caller, CallerDep, require_scope
from shared.problems import Problem, not_found
from shared.routing import api_router
from shared.runtime import SessionDep, claim_in, record_in, transaction

router = api_router(prefix="/v1/events/{event_id}", tags=["scheduling"])

READ = require_scope(access.READ)
ORGANISE = require_scope(access.ORGANISE)
PARTICIPATE = require_scope(access.PARTICIPATE)


def _private_to_organiser(caller: Caller, event: Event, what: str) -> None:
    if not access.is_organiser(caller, event):
        raise not_found(what)


async def _schedule_body(session: SessionDep, event: Event, schedule_id: uuid.UUID) -> ScheduleOut:
    repo = EventsRepository(session)
    schedule = await repo.schedule(event.id, schedule_id)
    if schedule is None:
        raise not_found("schedule")
    placements = await repo.placements(schedule.id)
    reqs = {r.id: r for r in await repo.requests(event.id)}
    return planning.present_schedule(event, schedule, placements, reqs)


@router.post("/schedules", status_code=201, response_model=ScheduleOut, dependencies=[ORGANISE])
async def run_scheduler(
    event_id: uuid.UUID,
    caller: CallerDep,
    rt: EventsDep,
    request: Request,
    body: ScheduleRun | None = None,
) -> Response:
    """Schedule the accepted requests into a draft (published meetings stay put). At
    most SCHEDULER_RUNS runs at once: beyond, 503 with Retry-After, nothing stored."""
    params = body or ScheduleRun()
    # No transaction is held open while the solver thinks (up to 30 s): one to read,
    # one to store; the second claims the Idempotency-Key, so a retry stores nothing twice.
    async with transaction(rt, caller.db_scope) as session:
        event = await EventsRepository(session).event(event_id)
        if event is None:
            raise not_found("event")
        access.require_organiser(caller, event)
        lifecycle.require(event.status, lifecycle.SCHEDULABLE, "run the scheduler")
        plan = await planning.gather(session, event, params)
        version = event.version
    # The organiser and the stage are checked first: a refusal for load says nothing
    # to whoever may not run it anyway.
    with rt.state.scheduler.slot(params.time_limit):
        result = await asyncio.to_thread(planning.solve, plan, params)
    async with transaction(rt, caller.db_scope) as session:
        forwarded = await claim_in(request, rt, session)
        event = await EventsRepository(session).event(event_id, lock=True)
        if event is None:
            raise not_found("event")
        if event.version != version:
            raise Problem(409, "The event changed while scheduling; run it again.")
        row = await planning.store(session, event, plan, result, params)
        out = await _schedule_body(session, event, row.id)
        body_bytes = out.model_dump_json().encode()
        headers = {
            "Location": f"/v1/events/{event_id}/schedules/{row.id}",
            "Content-Type": "application/json",
        }
        await record_in(rt, session, forwarded, 201, list(headers.items()), body_bytes)
    return Response(body_bytes, status_code=201, headers=headers)


@router.get("/schedules", response_model=ScheduleList, dependencies=[READ])
async def list_schedules(event: EventDep, caller: CallerDep, session: SessionDep) -> ScheduleList:
    _private_to_organiser(caller, event, "schedules")
    rows = await EventsRepository(session).schedules(event.id)
    return ScheduleList(
        items=[
            ScheduleSummary(
                id=s.id,
                status=s.status,
                created_at=s.created_at,
                placed_weight=s.placed_weight,
                placed_weight_bound=s.placed_weight_bound,
                total_breaks=s.total_breaks,
            )
            for s in rows
        ]
    )


@router.get("/schedules/{schedule_id}", response_model=ScheduleOut, dependencies=[READ])
async def get_schedule(
    event: EventDep, schedule_id: uuid.UUID, caller: CallerDep, session: SessionDep
) -> ScheduleOut:
    _private_to_organiser(caller, event, "schedule")
    return await _schedule_body(session, event, schedule_id)


@router.get("/schedules/{schedule_id}/grid", response_model=GridOut, dependencies=[READ])
async def get_grid(
    event: EventDep, schedule_id: uuid.UUID, caller: CallerDep, session: SessionDep
) -> GridOut:
    """The organiser's grid: every slot by every table."""
    _private_to_organiser(caller, event, "schedule")
    schedule = await EventsRepository(session).schedule(event.id, schedule_id)
    if schedule is None:
        raise not_found("schedule")
    return await grid(session, event, schedule)


@router.post("/publish", response_model=ScheduleOut, dependencies=[ORGANISE])
async def publish(event: OrganisedEventDep, session: SessionDep) -> ScheduleOut:
    """Publish the newest draft schedule: agendas now show it."""
    schedule = await planning.publish(session, event)
    await session.flush()
    return await _schedule_body(session, event, schedule.id)


# ---- agendas -------------------------------------------------------------------------


async def _agenda_target(
    session: SessionDep, caller: Caller, event: Event, cluster_id: uuid.UUID
) -> None:
    # One answer for "no such participant" and "not yours": the agenda's existence
    # tells nothing about another tenant's participant.
    found = await EventsRepository(session).participant(event.id, cluster_id)
    if found is None or not access.may_see_private(caller, event, found):
        raise not_found("agenda")


@router.get("/participants/{cluster_id}/agenda", response_model=AgendaOut, dependencies=[READ])
async def agenda(
    event: EventDep,
    cluster_id: uuid.UUID,
    caller: CallerDep,
    session: SessionDep,
    tz: Annotated[
        str | None,
        Query(max_length=64, description="Your IANA time zone: times are shown in it too"),
    ] = None,
) -> AgendaOut:
    reader_zone = None
    if tz:
        try:
            reader_zone = ZoneInfo(tz)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise Problem(422, f"'{tz}' is not an IANA time zone.", field="tz") from exc
    await _agenda_target(session, caller, event, cluster_id)
    return agenda_json(await agenda_of(session, event, cluster_id), reader_zone)


@router.get(
    "/participants/{cluster_id}/agenda.ics",
    dependencies=[READ],
    response_class=Response,
    responses={200: {"content": {"text/calendar": {"schema": {"type": "string"}}}}},
)
async def agenda_ics(
    event: EventDep, cluster_id: uuid.UUID, caller: CallerDep, session: SessionDep
) -> Response:
    """The agenda as iCalendar (RFC 5545), to import into any calendar program."""
    await _agenda_target(session, caller, event, cluster_id)
    body = to_ical(await agenda_of(session, event, cluster_id))
    return Response(
        body,
        media_type="text/calendar; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="agenda-{cluster_id}.ics"'},
    )


# ---- the day: meetings, outcomes, feedback, statistics -------------------------------


async def _meeting(
    session: SessionDep, caller: Caller, event: Event, meeting_id: uuid.UUID
) -> tuple[MeetingRequest, int]:
    """A published meeting the caller may see, with its slot."""
    request = await lookups.request(session, event, meeting_id, lock=True)
    if not access.request_visible(caller, request):
        raise not_found("meeting")
    repo = EventsRepository(session)
    published = await repo.schedule_in(event.id, "published")
    placed = await repo.placement_of(published.id, request.id) if published else None
    if placed is None or request.status != RequestStatus.ACCEPTED:
        raise not_found("meeting")
    return request, placed.slot


def _meeting_body(request: MeetingRequest, slot: int, caller: Caller, event: Event) -> MeetingOut:
    # Each side reads its own feedback; the organiser reads both.
    feedback = request.feedback or {}
    if not access.is_organiser(caller, event):
        own = {
            str(c)
            for c, tenant in (
                (request.sender_cluster, request.sender_tenant),
                (request.receiver_cluster, request.receiver_tenant),
            )
            if access.speaks_for(caller, tenant, c)
        }
        feedback = {cid: f for cid, f in feedback.items() if cid in own}
    return MeetingOut(
        meeting_id=request.id,
        slot=slot,
        a=request.sender_cluster,
        b=request.receiver_cluster,
        outcome=request.outcome,
        absent=list(request.absent),
        feedback={cid: MeetingFeedbackOut.model_validate(f) for cid, f in feedback.items()},
    )


@router.get("/meetings/{meeting_id}", response_model=MeetingOut, dependencies=[READ])
async def get_meeting(
    event: EventDep, meeting_id: uuid.UUID, caller: CallerDep, session: SessionDep
) -> MeetingOut:
    request, slot = await _meeting(session, caller, event, meeting_id)
    return _meeting_body(request, slot, caller, event)


def _check_outcome_rights(
    caller: Caller, event: Event, request: MeetingRequest, body: MeetingOutcome
) -> None:
    """The organiser records any outcome. Where the organiser lets parties do it, a side
    may say the meeting was held, or that its counterpart did not come: never that it
    was absent itself, nor speak for the other side's presence."""
    if access.is_organiser(caller, event):
        caller.require(access.ORGANISE)
        return
    caller.require(access.PARTICIPATE)
    if event.outcomes_by == "organiser":
        raise Problem(
            403,
            "The organiser of this event records meeting outcomes.",
            slug="outcomes-by-organiser",
        )
    speaks_for = {
        c
        for c, tenant in (
            (request.sender_cluster, request.sender_tenant),
            (request.receiver_cluster, request.receiver_tenant),
        )
        if access.speaks_for(caller, tenant, c)
    }
    if body.outcome == "no_show" and set(body.absent) & speaks_for:
        raise Problem(
            403,
            "A side reports its counterpart's absence, not its own; the organiser "
            "records the rest.",
            field="absent",
            slug="not-counterpart",
        )


@router.post("/meetings/{meeting_id}/outcome", response_model=MeetingOut, dependencies=[READ])
async def record_outcome(
    event: EventDep,
    meeting_id: uuid.UUID,
    body: MeetingOutcome,
    caller: CallerDep,
    session: SessionDep,
) -> MeetingOut:
    """Held, or a no-show: by the organiser, or (if the organiser allows it, see the
    event's `outcomes_by`) by a side about its counterpart."""
    request, slot = await _meeting(session, caller, event, meeting_id)
    if event.status not in (lifecycle.Status.PUBLISHED, lifecycle.Status.CLOSED):
        raise Problem(409, "Outcomes are recorded once the schedule is published.")
    parties = {request.sender_cluster, request.receiver_cluster}
    if body.outcome == "held" and body.absent:
        raise Problem(422, "A held meeting has nobody absent.", field="absent")
    if body.outcome == "no_show" and (not body.absent or not set(body.absent) <= parties):
        raise Problem(422, "Name the absent side(s): cluster ids of this meeting.", field="absent")
    _check_outcome_rights(caller, event, request, body)
    request.outcome = body.outcome
    request.absent = sorted(set(body.absent))
    await session.flush()
    return _meeting_body(request, slot, caller, event)


@router.post(
    "/meetings/{meeting_id}/feedback", response_model=MeetingOut, dependencies=[PARTICIPATE]
)
async def give_feedback(
    event: EventDep,
    meeting_id: uuid.UUID,
    body: MeetingFeedback,
    caller: CallerDep,
    session: SessionDep,
) -> MeetingOut:
    """A short rating and comment by one side of the meeting."""
    request, slot = await _meeting(session, caller, event, meeting_id)
    side_tenant = {
        request.sender_cluster: request.sender_tenant,
        request.receiver_cluster: request.receiver_tenant,
    }.get(body.cluster_id)
    if side_tenant is None:
        raise Problem(422, "cluster_id is not a side of this meeting.", field="cluster_id")
    if not access.speaks_for(caller, side_tenant, body.cluster_id):
        raise Problem(403, "Feedback is given by the side itself.", slug="tenant-forbidden")
    request.feedback = {
        **(request.feedback or {}),
        str(body.cluster_id): {"rating": body.rating, "comment": body.comment},
    }
    await session.flush()
    return _meeting_body(request, slot, caller, event)


@router.get("/stats", response_model=StatisticsOut, dependencies=[READ])
async def statistics(event: EventDep, caller: CallerDep, session: SessionDep) -> StatisticsOut:
    """Requested, accepted, declined, expired, placed, held, no-shows, breaks."""
    _private_to_organiser(caller, event, "statistics")
    await lookups.expire_if_due(session, event)
    return await stats.statistics(session, event)
