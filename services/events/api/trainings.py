"""Routes: trainings for people, their registrations, attendance, certificates, messages."""

from __future__ import annotations

import asyncio
import uuid
from typing import Annotated

from fastapi import Depends, Query, Response

from services.events import access, trainings
from services.events.certificates import certificate_pdf
from services.events.deps import EventsDep
from services.events.models import Training
from services.events.repository import TrainingsRepository
from services.events.schemas import (
    AttendanceIn,
    RegistrationCreate,
    RegistrationList,
    RegistrationOut,
    TrainingCreate,
    TrainingMessageIn,
    TrainingMessageOut,
    TrainingOut,
    TrainingPage,
)
from shared.identity import CallerDep, require_scope
from shared.problems import Problem, not_found
from shared.routing import api_router
from shared.runtime import SessionDep

router = api_router(prefix="/v1/trainings", tags=["trainings"])

READ = require_scope(access.READ)
ORGANISE = require_scope(access.ORGANISE)


async def _training(training_id: uuid.UUID, session: SessionDep) -> Training:
    found = await TrainingsRepository(session).training(training_id)
    if found is None:
        raise not_found("training")
    return found


TrainingDep = Annotated[Training, Depends(_training)]


async def _out(session: SessionDep, training: Training) -> TrainingOut:
    live = await TrainingsRepository(session).live_counts([training.id])
    return trainings.present(training, live.get(training.id, 0))


@router.post("", status_code=201, response_model=TrainingOut, dependencies=[ORGANISE])
async def create_training(
    body: TrainingCreate, caller: CallerDep, session: SessionDep, response: Response
) -> TrainingOut:
    """A course for people: sessions and a number of seats; the caller's tenant organises."""
    training = trainings.create(session, caller.tenant, body)
    await session.flush()
    response.headers["Location"] = f"/v1/trainings/{training.id}"
    return trainings.present(training, 0)


@router.get("", response_model=TrainingPage, dependencies=[READ])
async def list_trainings(
    session: SessionDep,
    tenant: Annotated[str | None, Query(max_length=16)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(max_length=500)] = None,
) -> TrainingPage:
    """Every tenant's trainings, oldest first, with seats taken and waiting."""
    repo = TrainingsRepository(session)
    rows, next_cursor = await repo.page(limit, cursor, tenant)
    live = await repo.live_counts([t.id for t in rows])
    return TrainingPage(
        items=[trainings.present(t, live.get(t.id, 0)) for t in rows], next_cursor=next_cursor
    )


@router.get("/{training_id}", response_model=TrainingOut, dependencies=[READ])
async def get_training(training: TrainingDep, session: SessionDep) -> TrainingOut:
    return await _out(session, training)


@router.post(
    "/{training_id}/registrations",
    status_code=201,
    response_model=RegistrationOut,
    dependencies=[READ],
    responses={409: {"description": "already registered"}},
)
async def register(
    training: TrainingDep, body: RegistrationCreate, caller: CallerDep, session: SessionDep
) -> RegistrationOut:
    """Register yourself (a signed-in person of any tenant): a seat while there is one,
    else the end of the waiting list (`status: waiting`, with your position)."""
    row, place = await trainings.register(session, caller, training, body.name)
    return trainings.present_registration(row, place)


@router.get(
    "/{training_id}/registrations", response_model=RegistrationList, dependencies=[ORGANISE]
)
async def list_registrations(
    training: TrainingDep, caller: CallerDep, session: SessionDep
) -> RegistrationList:
    """The organiser's view: every registration in order, seats, waiting list, attendance."""
    trainings.require_organiser(caller, training)
    repo = TrainingsRepository(session)
    where = trainings.places(training, await repo.queue(training.id))
    rows = await repo.all_of(training.id)
    items = [trainings.present_registration(r, where.get(r.id)) for r in rows]
    return RegistrationList(
        items=items,
        capacity=training.capacity,
        registered=sum(1 for i in items if i.status == "registered"),
        waiting=sum(1 for i in items if i.status == "waiting"),
        attended=sum(1 for i in items if i.attended),
    )


async def _visible(
    session: SessionDep, caller: CallerDep, training: Training, registration_id: uuid.UUID
) -> RegistrationOut:
    repo = TrainingsRepository(session)
    row = await repo.registration(training.id, registration_id)
    # Someone else's registration does not exist for the caller.
    if row is None or not trainings.may_see(caller, training, row):
        raise not_found("registration")
    where = trainings.places(training, await repo.queue(training.id))
    return trainings.present_registration(row, where.get(row.id))


@router.get(
    "/{training_id}/registrations/{registration_id}",
    response_model=RegistrationOut,
    dependencies=[READ],
)
async def get_registration(
    training: TrainingDep, registration_id: uuid.UUID, caller: CallerDep, session: SessionDep
) -> RegistrationOut:
    """A registration: for its person and the organiser only."""
    return await _visible(session, caller, training, registration_id)


@router.post(
    "/{training_id}/registrations/{registration_id}/cancel",
    response_model=RegistrationOut,
    dependencies=[READ],
)
async def cancel_registration(
    training: TrainingDep, registration_id: uuid.UUID, caller: CallerDep, session: SessionDep
) -> RegistrationOut:
    """Give the place up (the person or the organiser); the first on the waiting list
    takes the seat and is told by mail."""
    row = await trainings.cancel(session, caller, training, registration_id)
    return trainings.present_registration(row, None)


@router.post(
    "/{training_id}/registrations/{registration_id}/attendance",
    response_model=RegistrationOut,
    dependencies=[ORGANISE],
)
async def record_attendance(
    training: TrainingDep,
    registration_id: uuid.UUID,
    body: AttendanceIn,
    caller: CallerDep,
    session: SessionDep,
) -> RegistrationOut:
    """On the day, the organiser marks who came (`attended: false` undoes it)."""
    trainings.require_organiser(caller, training)
    row, place = await trainings.mark_attendance(session, training, registration_id, body.attended)
    return trainings.present_registration(row, place)


@router.get(
    "/{training_id}/registrations/{registration_id}/certificate.pdf",
    response_class=Response,
    dependencies=[READ],
    responses={
        200: {
            "content": {"application/pdf": {"schema": {"type": "string", "format": "binary"}}},
            "description": "the certificate",
        },
        409: {"description": "the person did not attend"},
    },
)
async def certificate(
    training: TrainingDep,
    registration_id: uuid.UUID,
    caller: CallerDep,
    session: SessionDep,
    rt: EventsDep,
) -> Response:
    """A certificate of attendance (PDF), for a person who attended: to them and the
    organiser."""
    row = await TrainingsRepository(session).registration(training.id, registration_id)
    if row is None or not trainings.may_see(caller, training, row):
        raise not_found("registration")
    if row.attended_at is None:
        raise Problem(
            409,
            "There is no certificate: the organiser has not recorded this person's attendance.",
            slug="not-attended",
        )
    # Embedding a font takes a few hundred milliseconds of CPU: off the event loop.
    pdf = await asyncio.to_thread(
        certificate_pdf,
        training,
        row,
        f"the {training.tenant.upper()} agency",
        rt.settings.certificate_font,
        rt.settings.certificate_fallback_fonts,
    )
    return Response(
        pdf,
        media_type="application/pdf",
        headers={"Content-Disposition": f'attachment; filename="certificate-{row.id}.pdf"'},
    )


@router.post(
    "/{training_id}/messages",
    status_code=202,
    response_model=TrainingMessageOut,
    dependencies=[ORGANISE],
)
async def message_participants(
    training: TrainingDep, body: TrainingMessageIn, caller: CallerDep, session: SessionDep
) -> TrainingMessageOut:
    """Mail the participants (`to`: registered, waiting or all); the gateway sends it."""
    trainings.require_organiser(caller, training)
    n = await trainings.message(session, training, body.subject, body.body, body.to)
    return TrainingMessageOut(recipients=n)
