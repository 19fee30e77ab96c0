"""Typed dependencies of the events routes: the runtime, and the event a path names.

`EventDep` loads the event or answers 404 (also for another tenant's draft, which is
not public yet); `OrganisedEventDep` also checks that the caller organises it (403
otherwise: events are public, so "not found" would be a lie) and re-reads it locked
for the rest of the transaction.
"""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import Depends, Request

from services.events import access
from services.events.models import Event
from services.events.repository import EventsRepository
from services.events.settings import EventsSettings
from services.events.state import EventsState
from shared.identity import CallerDep
from shared.problems import not_found
from shared.runtime import Runtime, SessionDep, runtime_of

EventsRuntime = Runtime[EventsSettings, EventsState]


async def events_runtime(request: Request) -> EventsRuntime:
    return runtime_of(request, EventsSettings, EventsState)


EventsDep = Annotated[EventsRuntime, Depends(events_runtime)]


async def event(event_id: uuid.UUID, session: SessionDep, caller: CallerDep) -> Event:
    found = await EventsRepository(session).event(event_id)
    if found is None or not access.may_see(caller, found):
        # Another tenant's draft does not exist for the caller yet.
        raise not_found("event")
    return found


EventDep = Annotated[Event, Depends(event)]


async def organised_event(event: EventDep, caller: CallerDep, session: SessionDep) -> Event:
    access.require_organiser(caller, event)
    # Row-level security hides other tenants' rows from FOR UPDATE, so the organiser
    # check comes first, on the plain read.
    locked = await EventsRepository(session).event(event.id, lock=True)
    if locked is None:
        raise not_found("event")
    return locked


OrganisedEventDep = Annotated[Event, Depends(organised_event)]
