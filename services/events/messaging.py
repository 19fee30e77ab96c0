"""What the events service publishes (through its outbox, on the EVENTS stream) and
consumes (registry cluster events, for its directory)."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from services.events.models import Event, MeetingRequest, Outbox
from shared.messaging.outbox import record_event

EVENT_CREATED = "events.event.created"
EVENT_STATUS_CHANGED = "events.event.status_changed"
REQUEST_SENT = "events.request.sent"
REQUEST_ACCEPTED = "events.request.accepted"
REQUEST_DECLINED = "events.request.declined"
REQUEST_CANCELLED = "events.request.cancelled"
REQUEST_EXPIRED = "events.request.expired"
SCHEDULE_PUBLISHED = "events.schedule.published"
MEETING_CANCELLED = "events.meeting.cancelled"

DIRECTORY_CONSUMER = "events-directory"
REGISTRY_STREAM = "REGISTRY"
REGISTRY_CLUSTER_SUBJECT = "registry.cluster.>"


def announce(session: AsyncSession, event_type: str, tenant: str, data: dict[str, Any]) -> None:
    record_event(session, Outbox, event_type, tenant, data)


def request_data(request: MeetingRequest) -> dict[str, Any]:
    # The message is private to the parties: it never travels on the bus.
    return {
        "id": str(request.id),
        "event_id": str(request.event_id),
        "sender": str(request.sender_cluster),
        "receiver": str(request.receiver_cluster),
        "sender_tenant": request.sender_tenant,
        "receiver_tenant": request.receiver_tenant,
        "priority": request.priority,
        "status": request.status,
    }


def event_data(event: Event) -> dict[str, Any]:
    return {
        "id": str(event.id),
        "tenant": event.tenant,
        "title": event.title,
        "status": event.status,
        "timezone": event.timezone,
        "version": event.version,
    }
