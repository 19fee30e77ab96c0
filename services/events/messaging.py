"""What the events service publishes (through its outbox, on the EVENTS stream) and
consumes (registry cluster events, for its directory)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.events import directory
from services.events.models import Event, Inbox, MeetingRequest, Outbox, Participant
from shared.contracts import events as contract
from shared.contracts import registry
from shared.contracts.base import Payload
from shared.messaging.consumer import DurableConsumer
from shared.messaging.outbox import record_event
from shared.runtime import AnyRuntime

DIRECTORY_CONSUMER = "events-directory"


def announce(session: AsyncSession, event_type: str, tenant: str, payload: Payload) -> None:
    record_event(session, Outbox, event_type, tenant, payload)


def request_fact(request: MeetingRequest) -> contract.RequestFact:
    # The message is private to the parties: it never travels on the bus.
    return contract.RequestFact(
        id=request.id,
        event_id=request.event_id,
        sender=request.sender_cluster,
        receiver=request.receiver_cluster,
        sender_tenant=request.sender_tenant,
        receiver_tenant=request.receiver_tenant,
        priority=request.priority,
        status=request.status,
    )


def event_fact(event: Event) -> contract.EventFact:
    return contract.EventFact(
        id=event.id,
        tenant=event.tenant,
        title=event.title,
        status=event.status,
        timezone=event.timezone,
        version=event.version,
    )


def status_changed(event: Event, before: str) -> contract.EventStatusChanged:
    return contract.EventStatusChanged(
        **event_fact(event).model_dump(), from_status=before, to=event.status
    )


def participant_fact(participant: Participant) -> contract.ParticipantFact:
    return contract.ParticipantFact(
        event_id=participant.event_id,
        cluster_id=participant.cluster_id,
        tenant=participant.tenant,
        organiser_tenant=participant.organiser_tenant,
        status=participant.status,
    )


def directory_consumer(
    rt: AnyRuntime, sessionmaker: async_sessionmaker[AsyncSession]
) -> DurableConsumer:
    """Registry cluster events into the directory (names and countries of clusters)."""
    return DurableConsumer(
        name=DIRECTORY_CONSUMER,
        stream=registry.STREAM,
        subject=registry.CLUSTER_ALL,
        js=rt.jetstream,
        telemetry=rt.telemetry,
        sessionmaker=sessionmaker,
        inbox=Inbox,
        handler=directory.apply,
    )
