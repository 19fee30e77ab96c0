"""Loading what a route names below its event, with the answers the API promises."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncSession

from services.events.meeting_requests import expire_overdue
from services.events.models import Event, MeetingRequest, Participant
from services.events.repository import EventsRepository
from shared.problems import not_found


async def participant(
    session: AsyncSession, event_id: uuid.UUID, cluster_id: uuid.UUID, *, lock: bool = False
) -> Participant:
    found = await EventsRepository(session).participant(event_id, cluster_id, lock=lock)
    if found is None:
        raise not_found("participant")
    return found


async def request(
    session: AsyncSession, ev: Event, request_id: uuid.UUID, *, lock: bool = False
) -> MeetingRequest:
    """A request the caller may see; row-level security hides the others (404)."""
    await expire_if_due(session, ev)
    found = await EventsRepository(session).request(ev.id, request_id, lock=lock)
    if found is None:
        raise not_found("request")
    return found


async def expire_if_due(session: AsyncSession, ev: Event) -> None:
    now = datetime.now(UTC)
    if now >= ev.request_deadline:
        await expire_overdue(session, now, ev.id)
