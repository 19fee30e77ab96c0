"""Participants: registry clusters registered to an event, their availability and role.

Nobody is put into another tenant's event without consent: when an organiser registers
a cluster of another tenant, the cluster is *invited*, and takes part (sends and
receives requests, is scheduled) only once its own tenant accepts.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncSession

from services.events import access, lifecycle, messaging
from services.events.lifecycle import ParticipantStatus, Status
from services.events.models import DirectoryCluster, Event, Participant
from services.events.organising import event_slots, table_count
from services.events.repository import EventsRepository
from services.events.schemas import ParticipantCreate, ParticipantOut, ParticipantPatch
from shared.contracts import events as contract
from shared.identity import Caller
from shared.problems import Problem


async def known_cluster(repo: EventsRepository, cluster_id: uuid.UUID) -> DirectoryCluster:
    cluster = await repo.cluster(cluster_id)
    if cluster is None or cluster.deleted:
        raise Problem(
            422,
            "No such cluster in the registry (or not yet known to the events service).",
            field="cluster_id",
            slug="unknown-cluster",
        )
    return cluster


def _check_availability(
    event: Event, sessions: list[int] | None, unavailable: list[int], field_prefix: str = ""
) -> None:
    n_sessions = len(event.sessions)
    n_slots = len(event_slots(event))
    for s in sessions or []:
        if s >= n_sessions:
            raise Problem(
                422, f"Session {s} does not exist (the event has {n_sessions}).",
                field=f"{field_prefix}sessions",
            )  # fmt: skip
    for s in unavailable:
        if s >= n_slots:
            raise Problem(
                422, f"Slot {s} does not exist (the event has {n_slots}).",
                field=f"{field_prefix}unavailable_slots",
            )  # fmt: skip


async def _check_hosts(repo: EventsRepository, event: Event, extra: int) -> None:
    hosts = sum(1 for p in await repo.participants(event.id) if p.role == "host") + extra
    if hosts > table_count(event):
        raise Problem(
            409, f"{hosts} hosts would need more than the event's {table_count(event)} tables.",
            field="role",
        )  # fmt: skip


async def register(
    session: AsyncSession, caller: Caller, event: Event, body: ParticipantCreate
) -> Participant:
    repo = EventsRepository(session)
    cluster = await known_cluster(repo, body.cluster_id)
    status = ParticipantStatus.REGISTERED
    if access.is_organiser(caller, event) and caller.has(access.ORGANISE):
        lifecycle.require(event.status, lifecycle.ORGANISER_REGISTERS, "register participants")
        if not access.speaks_for(caller, cluster.tenant, cluster.id):
            status = ParticipantStatus.INVITED  # whoever speaks for the cluster decides
    elif access.speaks_for(caller, cluster.tenant, cluster.id):
        caller.require(access.PARTICIPATE)
        if event.status != Status.REGISTRATION:
            raise Problem(409, "Registration is not open; ask the organiser.", slug="wrong-status")
    else:
        raise Problem(
            403, "An agency registers only its own tenant's clusters.", slug="tenant-forbidden"
        )
    if await repo.participant(event.id, cluster.id) is not None:
        raise Problem(409, "This cluster is already registered.", field="cluster_id")
    _check_availability(event, body.sessions, body.unavailable_slots)
    if body.role == "host":
        await _check_hosts(repo, event, 1)
    participant = Participant(
        id=uuid.uuid4(), event_id=event.id, cluster_id=cluster.id, tenant=cluster.tenant,
        organiser_tenant=event.tenant, role=body.role, max_meetings=body.max_meetings,
        sessions=sorted(set(body.sessions)) if body.sessions is not None else None,
        unavailable_slots=sorted(set(body.unavailable_slots)),
        registered_by=caller.tenant, status=status.value, created_at=datetime.now(UTC),
    )  # fmt: skip
    session.add(participant)
    fact = (
        contract.PARTICIPANT_INVITED
        if status == ParticipantStatus.INVITED
        else contract.PARTICIPANT_JOINED
    )
    messaging.announce(session, fact, cluster.tenant, messaging.participant_fact(participant))
    return participant


async def answer_invitation(
    session: AsyncSession, caller: Caller, event: Event, participant: Participant, accept: bool
) -> None:
    """The invited cluster's own tenant accepts (it then takes part) or declines."""
    access.require_party(caller, participant)
    if participant.status != ParticipantStatus.INVITED:
        raise Problem(
            409,
            f"This cluster is {participant.status}; only an invitation can be answered.",
            slug="not-invited",
        )
    if event.status == Status.CLOSED:
        raise Problem(409, "The event is closed.", slug="wrong-status")
    participant.status = (
        ParticipantStatus.REGISTERED if accept else ParticipantStatus.DECLINED
    ).value
    participant.answered_at = datetime.now(UTC)
    messaging.announce(
        session,
        contract.PARTICIPANT_JOINED if accept else contract.PARTICIPANT_DECLINED,
        participant.tenant,
        messaging.participant_fact(participant),
    )


def require_taking_part(participant: Participant, field: str) -> None:
    """Requests are between clusters that agreed to be in the event."""
    if participant.status != ParticipantStatus.REGISTERED:
        raise Problem(
            422,
            "This cluster has not accepted its invitation to the event"
            if participant.status == ParticipantStatus.INVITED
            else "This cluster declined the event",
            field=field,
            slug="not-taking-part",
        )


async def change(
    session: AsyncSession, caller: Caller, event: Event, participant: Participant,
    body: ParticipantPatch,
) -> None:  # fmt: skip
    if not (access.is_organiser(caller, event) and caller.has(access.ORGANISE)):
        access.require_party(caller, participant)
    if event.status == Status.CLOSED:
        raise Problem(409, "A closed event does not change.", slug="wrong-status")
    changes = body.model_dump(exclude_unset=True)
    sessions = changes.get("sessions", participant.sessions)
    unavailable = changes.get("unavailable_slots", participant.unavailable_slots) or []
    _check_availability(event, sessions, unavailable)
    if changes.get("role") == "host" and participant.role != "host":
        await _check_hosts(EventsRepository(session), event, 1)
    if "sessions" in changes:
        participant.sessions = sorted(set(sessions)) if sessions is not None else None
    if "unavailable_slots" in changes:
        participant.unavailable_slots = sorted(set(unavailable))
    if "role" in changes and changes["role"] is not None:
        participant.role = changes["role"]
    if "max_meetings" in changes:
        participant.max_meetings = changes["max_meetings"]


def present(
    participant: Participant, cluster: DirectoryCluster | None, private: bool
) -> ParticipantOut:
    """The participant as the caller may see it: private fields (availability, cap,
    check-in) only for the organiser and the cluster's own tenant, and absent, not
    null, for everyone else (routes answer with `response_model_exclude_unset`)."""
    shown = cluster is not None and not cluster.deleted
    fields: dict[str, object] = {
        "cluster_id": participant.cluster_id,
        "tenant": participant.tenant,
        "name": cluster.name if shown and cluster else None,
        "country": cluster.country if shown and cluster else None,
        "role": "host" if participant.role == "host" else "guest",
        "status": ParticipantStatus(participant.status),
        "registered_at": participant.created_at,
    }
    if private:
        fields.update(
            max_meetings=participant.max_meetings,
            sessions=participant.sessions,
            unavailable_slots=participant.unavailable_slots,
            checked_in_at=participant.checked_in_at,
        )
    return ParticipantOut.model_validate(fields)
