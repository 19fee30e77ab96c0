"""Trainings: courses for people, with seats, a waiting list that moves up in order, and
attendance on the day.

A place's status is its rank in the live queue against the capacity (see
`models.TrainingRegistration`); every change of a queue runs under the queue's lock
(`TrainingsRepository.lock_queue`), so concurrent registrations get true answers and
a training is never over capacity.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from services.events import access, messaging
from services.events.models import Training, TrainingRegistration
from services.events.repository import TrainingsRepository
from services.events.schemas import (
    Audience,
    RegistrationOut,
    RegistrationStatus,
    SessionOut,
    TrainingCreate,
    TrainingOut,
)
from services.events.slots import SessionWindow, check_sessions
from shared.contracts import events as contract
from shared.identity import Caller
from shared.problems import Problem, not_found


@dataclass(frozen=True)
class Place:
    status: RegistrationStatus
    waiting_position: int | None


def is_organiser(caller: Caller, training: Training) -> bool:
    if caller.is_admin:
        return True
    return caller.tenant == training.tenant and (
        not caller.is_person or caller.has(access.ORGANISE)
    )


def require_organiser(caller: Caller, training: Training) -> None:
    # The training is public, so "not found" would be a lie: 403 says it plainly.
    if not is_organiser(caller, training):
        raise Problem(403, "Only the organiser's tenant runs this training.", slug="not-organiser")
    caller.require(access.ORGANISE)


def ends_at(training: Training) -> datetime:
    """When the last session ends (sessions are stored in time order)."""
    return SessionWindow.from_json(training.sessions[-1]).bounds(ZoneInfo(training.timezone))[1]


def starts_at(training: Training) -> datetime:
    return SessionWindow.from_json(training.sessions[0]).bounds(ZoneInfo(training.timezone))[0]


def create(session: AsyncSession, tenant: str, body: TrainingCreate) -> Training:
    if not body.online and not body.venue:
        raise Problem(422, "A training on site needs a venue (or say online: true).", field="venue")
    # A session is at least a minute long, in time order, without overlaps.
    ordered = check_sessions(
        [SessionWindow(s.date, s.start, s.end) for s in body.sessions], body.timezone, 1, 0
    )
    training = Training(
        id=uuid.uuid4(), tenant=tenant, title=body.title, description=body.description,
        venue=body.venue, online=body.online, timezone=body.timezone,
        sessions=[w.as_json() for w in ordered], capacity=body.capacity, version=1,
        created_at=datetime.now(UTC),
    )  # fmt: skip
    TrainingsRepository(session).add(training)
    messaging.announce(
        session,
        contract.TRAINING_CREATED,
        tenant,
        contract.TrainingFact(
            id=training.id,
            tenant=tenant,
            title=training.title,
            capacity=training.capacity,
            version=training.version,
        ),
    )
    return training


def present(training: Training, live: int) -> TrainingOut:
    return TrainingOut(
        id=training.id,
        tenant=training.tenant,
        title=training.title,
        description=training.description,
        venue=training.venue,
        online=training.online,
        timezone=training.timezone,
        sessions=[SessionOut(**s) for s in training.sessions],
        capacity=training.capacity,
        registered=min(live, training.capacity),
        waiting=max(0, live - training.capacity),
        version=training.version,
        created_at=training.created_at,
    )


def places(training: Training, queue: list[TrainingRegistration]) -> dict[uuid.UUID, Place]:
    """Seat or waiting-list position of each live registration of `queue` (in order)."""
    out: dict[uuid.UUID, Place] = {}
    for rank, row in enumerate(queue):
        if rank < training.capacity:
            out[row.id] = Place("registered", None)
        else:
            out[row.id] = Place("waiting", rank - training.capacity + 1)
    return out


def present_registration(row: TrainingRegistration, place: Place | None) -> RegistrationOut:
    if row.cancelled_at is not None or place is None:
        place = Place("cancelled", None)
    return RegistrationOut(
        id=row.id,
        training_id=row.training_id,
        person_id=row.person_id,
        person_tenant=row.person_tenant,
        name=row.name,
        status=place.status,
        waiting_position=place.waiting_position,
        attended=row.attended_at is not None,
        created_at=row.created_at,
        cancelled_at=row.cancelled_at,
        attended_at=row.attended_at,
    )


def _fact(row: TrainingRegistration, change: str) -> contract.TrainingRegistrationFact:
    return contract.TrainingRegistrationFact(
        id=row.id,
        training_id=row.training_id,
        person_id=row.person_id,
        person_tenant=row.person_tenant,
        organiser_tenant=row.organiser_tenant,
        change=change,
    )


def may_see(caller: Caller, training: Training, row: TrainingRegistration) -> bool:
    return is_organiser(caller, training) or (
        caller.person_id is not None and caller.person_id == row.person_id
    )


async def register(
    session: AsyncSession, caller: Caller, training: Training, name: str
) -> tuple[TrainingRegistration, Place]:
    """Queue the calling person: a seat if one is free, else the end of the waiting list."""
    if caller.person_id is None:
        raise Problem(
            403,
            "Only a person registers for a training (sign in; an API key has no person).",
            slug="person-only",
        )
    if datetime.now(UTC) >= ends_at(training):
        raise Problem(409, "This training is over; registration is closed.", slug="training-over")
    repo = TrainingsRepository(session)
    await repo.lock_queue(training.id)
    if await repo.live_of_person(training.id, caller.person_id) is not None:
        raise Problem(
            409, "You are already registered for this training.", slug="already-registered"
        )
    row = TrainingRegistration(
        id=uuid.uuid4(), training_id=training.id, person_id=caller.person_id,
        person_tenant=caller.tenant, organiser_tenant=training.tenant, name=name,
        created_at=datetime.now(UTC),
    )  # fmt: skip
    repo.add(row)
    await session.flush()
    place = places(training, await repo.queue(training.id))[row.id]
    messaging.announce(
        session, contract.TRAINING_REGISTRATION, caller.tenant, _fact(row, place.status)
    )
    return row, place


async def cancel(
    session: AsyncSession, caller: Caller, training: Training, registration_id: uuid.UUID
) -> TrainingRegistration:
    """Give the place up (the person, or the organiser); the first waiting moves up."""
    repo = TrainingsRepository(session)
    await repo.lock_queue(training.id)
    row = await repo.registration(training.id, registration_id)
    if row is None or not may_see(caller, training, row):
        raise not_found("registration")
    if row.cancelled_at is not None:
        raise Problem(409, "This registration is already cancelled.", slug="already-cancelled")
    if row.attended_at is not None:
        raise Problem(409, "Attendance is recorded; the place cannot be given up now.")
    before = await repo.queue(training.id)
    row.cancelled_at = datetime.now(UTC)
    messaging.announce(
        session, contract.TRAINING_REGISTRATION, row.person_tenant, _fact(row, "cancelled")
    )
    rank = next(i for i, r in enumerate(before) if r.id == row.id)
    if rank < training.capacity and len(before) > training.capacity:
        promoted = before[training.capacity]
        messaging.announce(
            session, contract.TRAINING_REGISTRATION, promoted.person_tenant,
            _fact(promoted, "promoted"),
        )  # fmt: skip
        messaging.announce(
            session,
            contract.PEOPLE_MAIL_REQUESTED,
            training.tenant,
            contract.PeopleMailRequested(
                person_ids=[promoted.person_id],
                subject=f"You have a seat: {training.title}",
                body=(
                    f'A seat became free in "{training.title}" and it is yours: you moved '
                    "up from the waiting list. If you cannot come, please cancel so the "
                    "next person can take it."
                ),
                reason="training-promoted",
                reference=training.id,
            ),
        )
    await session.flush()
    return row


async def mark_attendance(
    session: AsyncSession, training: Training, registration_id: uuid.UUID, attended: bool
) -> tuple[TrainingRegistration, Place | None]:
    """The organiser, on the day: only a person holding a seat can have attended."""
    if attended and datetime.now(UTC) < starts_at(training):
        raise Problem(
            409,
            "The training has not started yet; attendance is taken on the day.",
            slug="training-not-started",
        )
    repo = TrainingsRepository(session)
    await repo.lock_queue(training.id)
    row = await repo.registration(training.id, registration_id)
    if row is None:
        raise not_found("registration")
    place = places(training, await repo.queue(training.id)).get(row.id)
    if place is None or place.status != "registered":
        status = "cancelled" if place is None else place.status
        raise Problem(
            409,
            f"This person holds no seat ({status}); only seat holders attend.",
            slug="not-a-seat-holder",
        )
    row.attended_at = datetime.now(UTC) if attended else None
    if attended:
        messaging.announce(
            session, contract.TRAINING_REGISTRATION, training.tenant, _fact(row, "attended")
        )
    await session.flush()
    return row, place


async def message(
    session: AsyncSession, training: Training, subject: str, body: str, to: Audience
) -> int:
    """Ask the gateway (over the bus) to mail the participants; returns how many."""
    repo = TrainingsRepository(session)
    queue = await repo.queue(training.id)
    where = places(training, queue)
    people = [r.person_id for r in queue if to == "all" or where[r.id].status == to]
    if not people:
        raise Problem(422, f"Nobody is {to} for this training.", field="to")
    messaging.announce(
        session,
        contract.PEOPLE_MAIL_REQUESTED,
        training.tenant,
        contract.PeopleMailRequested(
            person_ids=people,
            subject=f"[{training.title}] {subject}",
            body=body,
            reason="training-message",
            reference=training.id,
        ),
    )
    return len(people)
