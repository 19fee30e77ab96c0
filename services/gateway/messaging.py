"""What the gateway publishes (through its outbox, on the GATEWAY stream) and consumes
(registry and events facts, fanned out into webhook deliveries)."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy.ext.asyncio import AsyncSession

from services.gateway import webhooks
from services.gateway.models import ApiClient, Inbox, Outbox
from shared.contracts import events, registry
from shared.contracts import gateway as contract
from shared.db.session import ANY_TENANT, scope_to_tenant
from shared.messaging.consumer import DurableConsumer
from shared.messaging.envelope import Envelope
from shared.messaging.outbox import record_event
from shared.runtime import AnyRuntime

WEBHOOK_CONSUMERS = {
    "gateway-webhooks-registry": (registry.STREAM, registry.CLUSTER_ALL),
    "gateway-webhooks-events": (events.STREAM, events.SUBJECTS[0]),
}


def client_created(session: AsyncSession, client: ApiClient) -> None:
    payload = contract.ClientCreated(
        id=client.id, tenant=client.tenant, name=client.name, scopes=list(client.scopes)
    )
    record_event(session, Outbox, contract.CLIENT_CREATED, client.tenant, payload)


def client_revoked(session: AsyncSession, client: ApiClient) -> None:
    payload = contract.ClientRevoked(id=client.id, tenant=client.tenant)
    record_event(session, Outbox, contract.CLIENT_REVOKED, client.tenant, payload)


async def _fan_out(session: AsyncSession, envelope: Envelope) -> None:
    # Deliveries of every tenant are written here; row-level security wants that said.
    await scope_to_tenant(session, ANY_TENANT)
    await webhooks.fan_out(session, envelope)


def webhook_consumers(rt: AnyRuntime, wake: Callable[[], None]) -> list[DurableConsumer]:
    """Durable consumers that turn facts into webhook deliveries, waking the dispatcher
    after each commit."""
    return [
        DurableConsumer(
            name=name,
            stream=stream,
            subject=subject,
            js=rt.jetstream,
            sessionmaker=rt.sessionmaker,
            inbox=Inbox,
            handler=_fan_out,
            on_committed=lambda _envelopes: wake(),
        )
        for name, (stream, subject) in WEBHOOK_CONSUMERS.items()
    ]
