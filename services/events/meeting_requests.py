"""Meeting requests: sent by one participant's agency, answered by the other's.

Nobody meets without consent: only requests the receiver accepted reach the scheduler.
Pending requests block slots in people's minds, so they expire at the event's request
deadline: lazily whenever the event's requests are read, and by a periodic sweep.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncSession

from services.events import access, lifecycle, messaging
from services.events.lifecycle import RequestStatus
from services.events.models import DirectoryCluster, Event, MeetingRequest, Participant
from services.events.registration import require_taking_part
from services.events.repository import EventsRepository
from services.events.schemas import PartyOut, RequestCreate, RequestOut
from shared.contracts import events as contract
from shared.identity import Caller
from shared.problems import Problem

# Scheduler weights: a "must meet" outweighs several "would like" meetings.
WEIGHTS = {"must": 4, "like": 1}


def _past_deadline(event: Event, now: datetime) -> bool:
    return now >= event.request_deadline


async def expire_overdue(
    session: AsyncSession, now: datetime, event_id: uuid.UUID | None = None
) -> int:
    """Mark pending requests past their deadline expired (those this transaction sees)."""
    overdue = await EventsRepository(session).overdue(now, event_id)
    for request in overdue:
        request.status = RequestStatus.EXPIRED
        request.answered_at = now
        messaging.announce(
            session, contract.REQUEST_EXPIRED, request.organiser_tenant,
            messaging.request_fact(request),
        )  # fmt: skip
    return len(overdue)


async def send(
    session: AsyncSession, caller: Caller, event: Event, body: RequestCreate
) -> MeetingRequest:
    repo = EventsRepository(session)
    if body.sender == body.receiver:
        raise Problem(422, "A participant cannot request a meeting with itself.", field="receiver")
    sender = await repo.participant(event.id, body.sender)
    if sender is None:
        raise Problem(422, "The sender is not a participant of this event.", field="sender")
    access.require_party(caller, sender)
    require_taking_part(sender, "sender")
    receiver = await repo.participant(event.id, body.receiver)
    if receiver is None:
        raise Problem(422, "The receiver is not a participant of this event.", field="receiver")
    require_taking_part(receiver, "receiver")
    lifecycle.require(event.status, lifecycle.REQUESTS_OPEN, "send requests")
    now = datetime.now(UTC)
    if _past_deadline(event, now):
        raise Problem(409, "The request deadline has passed.", slug="deadline-passed")
    if sender.role == "host" and receiver.role == "host":
        raise Problem(422, "Two hosts cannot meet: each keeps its own table.", field="receiver")
    if await repo.open_between(event.id, sender.cluster_id, receiver.cluster_id) is not None:
        raise Problem(
            409, "A pending or accepted request between these two already exists.",
            field="receiver", slug="duplicate-request",
        )  # fmt: skip
    request = MeetingRequest(
        id=uuid.uuid4(), event_id=event.id, sender_cluster=sender.cluster_id,
        receiver_cluster=receiver.cluster_id, sender_tenant=sender.tenant,
        receiver_tenant=receiver.tenant, organiser_tenant=event.tenant, message=body.message,
        priority=body.priority, status=RequestStatus.PENDING, created_at=now, absent=[],
        feedback={},
    )  # fmt: skip
    session.add(request)
    messaging.announce(
        session, contract.REQUEST_SENT, sender.tenant, messaging.request_fact(request)
    )
    return request


async def answer(
    session: AsyncSession, caller: Caller, event: Event, request: MeetingRequest, accept: bool
) -> None:
    """The receiver's agency accepts or declines; no reason is asked."""
    receiver = await EventsRepository(session).participant(event.id, request.receiver_cluster)
    if receiver is None:
        raise Problem(409, "The receiver has left the event.", slug="wrong-status")
    access.require_party(caller, receiver)
    now = datetime.now(UTC)
    if request.status == RequestStatus.PENDING and _past_deadline(event, now):
        await expire_overdue(session, now, event.id)
    if request.status != RequestStatus.PENDING:
        raise Problem(
            409, f"The request is {request.status}; only a pending request can be answered.",
            slug="wrong-request-status",
        )  # fmt: skip
    lifecycle.require(event.status, lifecycle.REQUESTS_OPEN, "answer requests")
    request.status = RequestStatus.ACCEPTED if accept else RequestStatus.DECLINED
    request.answered_at = now
    messaging.announce(
        session,
        contract.REQUEST_ACCEPTED if accept else contract.REQUEST_DECLINED,
        receiver.tenant,
        messaging.request_fact(request),
    )


async def cancel(
    session: AsyncSession,
    caller: Caller,
    event: Event,
    request: MeetingRequest,
    published_slot: int | None,
) -> None:
    """The sender withdraws a request; either side may call off an accepted meeting.

    `published_slot` is the meeting's slot in the published schedule, if it has one:
    then the other side (and the organiser) learn that the meeting is off.
    """
    if request.status not in lifecycle.OPEN_REQUESTS:
        raise Problem(409, f"The request is already {request.status}.", slug="wrong-request-status")
    repo = EventsRepository(session)
    sender = await repo.participant(event.id, request.sender_cluster)
    receiver = await repo.participant(event.id, request.receiver_cluster)
    as_sender = sender is not None and access.speaks_for_participant(caller, sender)
    as_receiver = receiver is not None and access.speaks_for_participant(caller, receiver)
    if not (as_sender or (request.status == RequestStatus.ACCEPTED and as_receiver)):
        raise Problem(
            403, "Only the sender cancels a pending request (the receiver declines it).",
            slug="tenant-forbidden",
        )  # fmt: skip
    caller.require(access.PARTICIPATE)
    if event.status == lifecycle.Status.CLOSED:
        raise Problem(409, "The event is closed.", slug="wrong-status")
    was_accepted = request.status == RequestStatus.ACCEPTED
    request.status = RequestStatus.CANCELLED
    request.cancelled_by = caller.tenant
    request.answered_at = request.answered_at or datetime.now(UTC)
    messaging.announce(
        session, contract.REQUEST_CANCELLED, caller.tenant, messaging.request_fact(request)
    )
    if was_accepted and published_slot is not None:
        cancelled = contract.MeetingCancelled(
            event_id=request.event_id,
            meeting_id=request.id,
            slot=published_slot,
            reason="cancelled",
            sender_tenant=request.sender_tenant,
            receiver_tenant=request.receiver_tenant,
        )
        messaging.announce(session, contract.MEETING_CANCELLED, caller.tenant, cancelled)


def present(request: MeetingRequest, directory: dict[uuid.UUID, DirectoryCluster]) -> RequestOut:
    def who(cluster_id: uuid.UUID) -> PartyOut:
        c = directory.get(cluster_id)
        shown = c is not None and not c.deleted
        return PartyOut(
            cluster_id=cluster_id,
            name=c.name if shown and c else None,
            country=c.country if shown and c else None,
        )

    return RequestOut(
        id=request.id,
        event_id=request.event_id,
        sender=who(request.sender_cluster),
        receiver=who(request.receiver_cluster),
        message=request.message,
        priority="must" if request.priority == "must" else "like",
        status=RequestStatus(request.status),
        created_at=request.created_at,
        answered_at=request.answered_at,
    )


def participant_ids(participants: list[Participant]) -> set[uuid.UUID]:
    return {p.cluster_id for p in participants}
