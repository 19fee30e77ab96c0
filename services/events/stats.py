"""What an organiser reads after (and during) the day."""

from __future__ import annotations

from collections import Counter

from sqlalchemy.ext.asyncio import AsyncSession

from services.events.lifecycle import ParticipantStatus, RequestStatus
from services.events.models import Event
from services.events.repository import EventsRepository
from services.events.schemas import BreaksOut, RequestCounts, StatisticsOut


async def statistics(session: AsyncSession, event: Event) -> StatisticsOut:
    repo = EventsRepository(session)
    by_status = await repo.count_requests(event.id)
    everyone = await repo.participants(event.id)
    participants = [p for p in everyone if p.status == ParticipantStatus.REGISTERED]
    schedule = await repo.schedule_in(event.id, "published")
    accepted = {r.id: r for r in await repo.requests(event.id, status=RequestStatus.ACCEPTED)}
    per_participant: Counter[str] = Counter({str(p.cluster_id): 0 for p in participants})
    placed = held = no_shows = 0
    if schedule is not None:
        for pl in await repo.placements(schedule.id):
            r = accepted.get(pl.request_id)
            if r is None:
                continue
            placed += 1
            per_participant[str(r.sender_cluster)] += 1
            per_participant[str(r.receiver_cluster)] += 1
            held += r.outcome == "held"
            no_shows += r.outcome == "no_show"
    counts = list(per_participant.values())
    return StatisticsOut(
        event_id=event.id,
        status=event.status,
        participants=len(participants),
        invited=sum(1 for p in everyone if p.status == ParticipantStatus.INVITED),
        checked_in=sum(1 for p in participants if p.checked_in_at is not None),
        # By current status: a meeting called off after acceptance counts as cancelled.
        requests=RequestCounts(
            requested=sum(by_status.values()),
            **{s.value: by_status.get(s.value, 0) for s in RequestStatus},
        ),
        published=schedule is not None,
        placed=placed,
        unplaced=len(schedule.unplaced) if schedule else 0,
        held=held,
        no_shows=no_shows,
        meetings_per_participant=dict(per_participant),
        meetings_per_participant_mean=round(sum(counts) / len(counts), 2) if counts else 0.0,
        breaks=BreaksOut(
            total=schedule.total_breaks if schedule else 0,
            by_participant=schedule.breaks_by_cluster if schedule else {},
        ),
    )
