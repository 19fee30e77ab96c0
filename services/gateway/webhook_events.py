"""The event types a webhook may subscribe to: which bus fact each comes from, which
tenants may hear it, what its order is kept for, and the scope it needs.

Only what the bus carries can be pushed. It carries a cluster's own changes, meeting
requests (with both parties' tenants) and published agendas; matches are computed on
demand and imports report by polling, so neither is an event here.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from shared.contracts import events, registry
from shared.messaging.envelope import Envelope


@dataclass(frozen=True)
class EventType:
    name: str
    subject: str  # the bus subject it comes from
    scope: str  # a subscriber must hold it (or be the operator)
    description: str


@dataclass(frozen=True)
class Recipient:
    tenant: str
    event_type: str
    subject: str  # deliveries with the same subject go out in order


_REQUEST = "A meeting request between clusters of a B2B event, to either party's tenant"

CATALOGUE: tuple[EventType, ...] = (
    EventType(
        "cluster.upserted",
        registry.CLUSTER_UPSERTED,
        "registry:read",
        "One of your tenant's cluster profiles was created or changed (the public profile).",
    ),
    EventType(
        "cluster.deleted",
        registry.CLUSTER_DELETED,
        "registry:read",
        "One of your tenant's cluster profiles was deleted.",
    ),
    EventType("meeting_request.sent", events.REQUEST_SENT, "events:read", f"{_REQUEST}: sent."),
    EventType(
        "meeting_request.accepted", events.REQUEST_ACCEPTED, "events:read", f"{_REQUEST}: accepted."
    ),
    EventType(
        "meeting_request.declined", events.REQUEST_DECLINED, "events:read", f"{_REQUEST}: declined."
    ),
    EventType(
        "meeting_request.cancelled",
        events.REQUEST_CANCELLED,
        "events:read",
        f"{_REQUEST}: cancelled.",
    ),
    EventType(
        "meeting_request.expired", events.REQUEST_EXPIRED, "events:read", f"{_REQUEST}: expired."
    ),
    EventType(
        "agenda.published",
        events.SCHEDULE_PUBLISHED,
        "events:read",
        "The agenda of a B2B event was published: to the organiser's tenant and to the "
        "tenants of its participating clusters.",
    ),
)
BY_NAME = {t.name: t for t in CATALOGUE}
BY_SUBJECT = {t.subject: t for t in CATALOGUE}

# Facts that only keep the gateway's list of each event's tenants (for agendas).
PARTICIPANT_SUBJECTS = frozenset(
    {events.PARTICIPANT_INVITED, events.PARTICIPANT_JOINED, events.PARTICIPANT_DECLINED}
)

EventTenants = Callable[[uuid.UUID], Awaitable[Sequence[str]]]


async def recipients(envelope: Envelope, event_tenants: EventTenants) -> list[Recipient]:
    """Who may hear this fact, as which webhook type (nothing for facts not offered)."""
    kind = BY_SUBJECT.get(envelope.type)
    if kind is None:
        return []
    if kind.subject in (registry.CLUSTER_UPSERTED, registry.CLUSTER_DELETED):
        cluster: registry.ClusterPublic | registry.ClusterDeleted = (
            envelope.payload(registry.ClusterPublic)
            if kind.subject == registry.CLUSTER_UPSERTED
            else envelope.payload(registry.ClusterDeleted)
        )
        # The cluster's own tenant only: its profile's changes are its agency's news.
        return [Recipient(cluster.tenant, kind.name, f"cluster:{cluster.id}")]
    if kind.subject == events.SCHEDULE_PUBLISHED:
        fact = envelope.payload(events.SchedulePublished)
        tenants = {envelope.tenant, *await event_tenants(fact.event_id)}
        return [Recipient(t, kind.name, f"event:{fact.event_id}") for t in sorted(tenants)]
    request = envelope.payload(events.RequestFact)
    parties = sorted({request.sender_tenant, request.receiver_tenant})
    return [Recipient(t, kind.name, f"meeting-request:{request.id}") for t in parties]


def body(envelope: Envelope, event_type: str) -> dict[str, object]:
    """What the receiver gets, in the Standard Webhooks shape: type, timestamp, data."""
    return {
        "type": event_type,
        "timestamp": envelope.occurred_at.isoformat(),
        "data": envelope.data,
    }
