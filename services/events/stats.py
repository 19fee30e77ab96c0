"""What an organiser reads after (and during) the day."""

from __future__ import annotations

from collections import Counter
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from services.events.models import Event
from services.events.repository import EventsRepository


async def statistics(session: AsyncSession, event: Event) -> dict[str, Any]:
    repo = EventsRepository(session)
    by_status = await repo.count_requests(event.id)
    participants = await repo.participants(event.id)
    schedule = await repo.schedule_in(event.id, "published")
    accepted = {r.id: r for r in await repo.requests(event.id, status="accepted")}
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
    return {
        "event_id": str(event.id),
        "status": event.status,
        "participants": len(participants),
        "checked_in": sum(1 for p in participants if p.checked_in_at is not None),
        "requests": {
            # By current status: a meeting called off after acceptance counts as cancelled.
            "requested": sum(by_status.values()),
            "pending": by_status.get("pending", 0),
            "accepted": by_status.get("accepted", 0),
            "declined": by_status.get("declined", 0),
            "cancelled": by_status.get("cancelled", 0),
            "expired": by_status.get("expired", 0),
        },
        "published": schedule is not None,
        "placed": placed,
        "unplaced": len(schedule.unplaced) if schedule else 0,
        "held": held,
        "no_shows": no_shows,
        "meetings_per_participant": dict(per_participant),
        "meetings_per_participant_mean": round(sum(counts) / len(counts), 2) if counts else 0.0,
        "breaks": {
            "total": schedule.total_breaks if schedule else 0,
            "by_participant": schedule.breaks_by_cluster if schedule else {},
        },
    }
