"""From the event's data to the scheduler and back: running, storing, publishing.

The scheduler (services.events.scheduling.solve) knows integers only: participants and
meetings are numbered here, in a stable order, and mapped back after the solve. Only
accepted requests become meetings. When a schedule was already published, every
published meeting that still stands (its request still accepted, both sides still
free in that slot) is passed as `keep`, so re-scheduling moves nobody's published day.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncSession

from services.events import lifecycle, messaging
from services.events.lifecycle import ParticipantStatus, RequestStatus, Status
from services.events.meeting_requests import WEIGHTS
from services.events.models import Event, MeetingRequest, Participant, Placement, Schedule
from services.events.organising import event_slots, table_count, table_label, transition
from services.events.repository import EventsRepository
from services.events.scheduling import solve as engine
from services.events.schemas import DisplacedOut, ScheduledMeetingOut, ScheduleOut, ScheduleRun
from services.events.slots import Slot
from shared.contracts import events as contract
from shared.problems import Problem


@dataclass(frozen=True)
class PlanInput:
    problem: engine.SchedulingProblem
    keep: tuple[engine.Placement, ...]
    requests: tuple[MeetingRequest, ...]  # meeting id m is requests[m]
    clusters: tuple[uuid.UUID, ...]  # participant id p is clusters[p]
    slots: tuple[Slot, ...]


def _unavailable(participant: Participant, slots: list[Slot]) -> frozenset[int]:
    blocked = set(participant.unavailable_slots)
    if participant.sessions is not None:
        attended = set(participant.sessions)
        blocked |= {s.index for s in slots if s.session not in attended}
    return frozenset(blocked)


def _cap(event: Event, participant: Participant) -> int | None:
    caps = [c for c in (event.max_meetings, participant.max_meetings) if c is not None]
    return min(caps) if caps else None


async def gather(session: AsyncSession, event: Event, params: ScheduleRun) -> PlanInput:
    repo = EventsRepository(session)
    slots = event_slots(event)
    # Only clusters taking part: an invitation not yet accepted schedules nothing.
    participants = [
        p for p in await repo.participants(event.id) if p.status == ParticipantStatus.REGISTERED
    ]
    index = {p.cluster_id: i for i, p in enumerate(participants)}
    accepted = [
        r for r in await repo.requests(event.id, status=RequestStatus.ACCEPTED)
        if r.sender_cluster in index and r.receiver_cluster in index
    ]  # fmt: skip
    unavailable = [_unavailable(p, slots) for p in participants]
    problem = engine.SchedulingProblem(
        n_slots=len(slots),
        session_of_slot=tuple(s.session for s in slots),
        n_tables=table_count(event),
        participants=tuple(
            engine.Participant(
                id=i, unavailable=unavailable[i], host=p.role == "host", max_meetings=_cap(event, p)
            )
            for i, p in enumerate(participants)
        ),
        meetings=tuple(
            engine.Meeting(
                id=m,
                a=index[r.sender_cluster],
                b=index[r.receiver_cluster],
                weight=WEIGHTS[r.priority],
            )
            for m, r in enumerate(accepted)
        ),
        fairness=params.fairness,
        fairness_mode=params.fairness_mode,
    )
    keep: list[engine.Placement] = []
    published = await repo.schedule_in(event.id, "published")
    if published is not None:
        meeting_of = {r.id: m for m, r in enumerate(accepted)}
        for pl in await repo.placements(published.id):
            m = meeting_of.get(pl.request_id)
            if m is None:
                continue  # cancelled since: it frees its slot and table
            # One that can no longer stay (a side now away then...) comes back displaced.
            keep.append(engine.Placement(m, pl.slot, pl.table_no))
    return PlanInput(
        problem, tuple(keep), tuple(accepted), tuple(p.cluster_id for p in participants),
        tuple(slots),
    )  # fmt: skip


def solve(plan: PlanInput, params: ScheduleRun) -> engine.Schedule:
    """CPU-bound; the API runs it in a worker thread."""
    try:
        return engine.solve(
            plan.problem, time_limit=params.time_limit, seed=params.seed, keep=plan.keep
        )
    except engine.SchedulingError as exc:
        raise Problem(
            409, f"The scheduler cannot place these meetings: {exc}", slug="scheduling-failed"
        ) from exc


async def store(
    session: AsyncSession, event: Event, plan: PlanInput, result: engine.Schedule,
    params: ScheduleRun,
) -> Schedule:  # fmt: skip
    repo = EventsRepository(session)
    old_draft = await repo.schedule_in(event.id, "draft", lock=True)
    if old_draft is not None:
        old_draft.status = "superseded"
    now = datetime.now(UTC)
    row = Schedule(
        id=uuid.uuid4(), event_id=event.id, tenant=event.tenant, status="draft",
        params=params.model_dump(), placed_weight=result.placed_weight,
        placed_weight_bound=result.placed_weight_bound, total_breaks=result.total_breaks,
        breaks_bound=result.breaks_bound,
        breaks_by_cluster={
            str(plan.clusters[p]): n for p, n in result.breaks_by_participant.items()
        },
        unplaced=[str(plan.requests[m].id) for m in result.unplaced],
        reasons={str(plan.requests[m].id): explain(why, plan)
                 for m, why in result.reasons.items()},
        displaced=[
            {"meeting_id": str(plan.requests[k.meeting_id].id), "slot": k.slot,
             "table": k.table, "reason": explain(result.displaced[k.meeting_id], plan)}
            for k in plan.keep if k.meeting_id in result.displaced
        ],
        spread=result.spread,
        kept=len(plan.keep) - len(result.displaced), optimal=result.optimal,
        fairness_met=result.fairness_met, method=result.method, seconds=result.seconds,
        created_at=now,
    )  # fmt: skip
    session.add(row)
    await session.flush()
    for pl in result.placements:
        r = plan.requests[pl.meeting_id]
        session.add(
            Placement(
                schedule_id=row.id, request_id=r.id, slot=pl.slot, table_no=pl.table,
                organiser_tenant=event.tenant, sender_tenant=r.sender_tenant,
                receiver_tenant=r.receiver_tenant,
            )
        )  # fmt: skip
    await session.flush()
    return row


_MENTION = re.compile(r"\b(participant|host|meeting|slot|table)s? (\d+(?:, \d+)*)")


def explain(reason: str, plan: PlanInput) -> str:
    """The scheduler's reason in the event's terms: clusters, request ids, 0-based slots
    and tables with the slot's start time (the scheduler counts slots from 1 in text)."""

    def one(kind: str, number: int) -> str:
        if kind in ("participant", "host") and number < len(plan.clusters):
            return str(plan.clusters[number])
        if kind == "meeting" and number < len(plan.requests):
            return str(plan.requests[number].id)
        if kind == "slot" and 1 <= number <= len(plan.slots):
            return f"{number - 1} ({plan.slots[number - 1].start.strftime('%H:%M')})"
        if kind == "table" and number >= 1:
            return str(number - 1)
        return str(number)

    def name(match: re.Match[str]) -> str:
        word = match.group(0).split(" ", 1)[0]
        numbers = [int(x) for x in match.group(2).split(", ")]
        return f"{word} " + ", ".join(one(match.group(1), x) for x in numbers)

    return _MENTION.sub(name, reason)


async def publish(session: AsyncSession, event: Event) -> Schedule:
    """Publish the newest draft: it replaces the published schedule, if any."""
    lifecycle.require(event.status, lifecycle.SCHEDULABLE, "publish a schedule")
    repo = EventsRepository(session)
    draft = await repo.schedule_in(event.id, "draft", lock=True)
    if draft is None:
        raise Problem(
            409, "There is no draft schedule to publish; run the scheduler first.",
            slug="no-schedule",
        )  # fmt: skip
    placements = await repo.placements(draft.id)
    accepted = {
        r.id for r in await repo.requests(event.id, status=RequestStatus.ACCEPTED, lock=True)
    }
    stale = [str(p.request_id) for p in placements if p.request_id not in accepted]
    if stale:
        # Publishing would schedule a meeting someone no longer wants: re-run first.
        raise Problem(
            409, f"{len(stale)} meeting(s) of this draft were cancelled since it was made; "
            "run the scheduler again.", slug="stale-schedule",
        )  # fmt: skip
    now = datetime.now(UTC)
    previous = await repo.schedule_in(event.id, "published", lock=True)
    if previous is not None:
        previous.status = "superseded"
        kept_ids = {p.request_id for p in placements}
        for old in await repo.placements(previous.id):
            if old.request_id in accepted and old.request_id not in kept_ids:
                cancelled = contract.MeetingCancelled(
                    event_id=event.id,
                    meeting_id=old.request_id,
                    slot=old.slot,
                    reason="rescheduled",
                    sender_tenant=old.sender_tenant,
                    receiver_tenant=old.receiver_tenant,
                )
                messaging.announce(session, contract.MEETING_CANCELLED, event.tenant, cancelled)
    draft.status = "published"
    draft.published_at = now
    if event.status != Status.PUBLISHED:
        transition(session, event, Status.PUBLISHED)
    published_fact = contract.SchedulePublished(
        event_id=event.id,
        schedule_id=draft.id,
        meetings=len(placements),
        unplaced=len(draft.unplaced),
    )
    messaging.announce(session, contract.SCHEDULE_PUBLISHED, event.tenant, published_fact)
    return draft


def present_schedule(
    event: Event,
    schedule: Schedule,
    placements: list[Placement],
    requests: dict[uuid.UUID, MeetingRequest],
) -> ScheduleOut:
    slots = event_slots(event)
    return ScheduleOut(
        id=schedule.id,
        event_id=event.id,
        status=schedule.status,
        params=schedule.params,
        placed=len(placements),
        unplaced=[uuid.UUID(m) for m in schedule.unplaced],
        # Why each unplaced meeting is unplaced; published meetings that could not stay
        # (where they were, why; where they are now is in "meetings", if placed).
        reasons=schedule.reasons,
        displaced=[DisplacedOut.model_validate(d) for d in schedule.displaced],
        kept=schedule.kept,
        placed_weight=schedule.placed_weight,
        placed_weight_bound=schedule.placed_weight_bound,
        total_breaks=schedule.total_breaks,
        breaks_bound=schedule.breaks_bound,
        breaks_by_participant=schedule.breaks_by_cluster,
        optimal=schedule.optimal,
        fairness_met=schedule.fairness_met,
        spread=schedule.spread,
        method=schedule.method,
        seconds=round(schedule.seconds, 3),
        created_at=schedule.created_at,
        published_at=schedule.published_at,
        meetings=[
            ScheduledMeetingOut(
                meeting_id=p.request_id,
                slot=p.slot,
                start=slots[p.slot].start,
                end=slots[p.slot].end,
                table=p.table_no,
                location=table_label(event, p.table_no),
                a=requests[p.request_id].sender_cluster,
                b=requests[p.request_id].receiver_cluster,
                priority="must" if requests[p.request_id].priority == "must" else "like",
            )
            for p in placements
            if p.request_id in requests
        ],
    )
