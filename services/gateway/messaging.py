"""What the gateway publishes (through its outbox, on the GATEWAY stream) and consumes
(registry and events facts, fanned out into webhook deliveries; its own revocations,
heard by every replica; mail to people that other services ask for; invitations to
partnerships)."""

from __future__ import annotations

import uuid
from collections.abc import Callable

import structlog
from nats.aio.msg import Msg
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.gateway import partnership_mail, people_mail, webhooks
from services.gateway.models import ApiClient, Inbox, Outbox
from shared.contracts import events, registry
from shared.contracts import gateway as contract
from shared.db.session import ANY_TENANT, scope_to_tenant
from shared.messaging.consumer import Committed, DurableConsumer
from shared.messaging.envelope import Envelope
from shared.messaging.outbox import record_event
from shared.runtime import AnyRuntime

_log = structlog.get_logger("gateway.messaging")

WEBHOOK_CONSUMERS = {
    "gateway-webhooks-registry": (registry.STREAM, registry.CLUSTER_ALL),
    "gateway-webhooks-events": (events.STREAM, events.SUBJECTS[0]),
}
PEOPLE_MAIL_CONSUMER = "gateway-people-mail"
PARTNERSHIP_MAIL_CONSUMER = "gateway-partnership-mail"


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
            telemetry=rt.telemetry,
            sessionmaker=rt.sessionmaker,
            inbox=Inbox,
            handler=_fan_out,
            on_committed=lambda _envelopes: wake(),
            # Deliveries of one subject go out in the order they were created here.
            in_order=True,
        )
        for name, (stream, subject) in WEBHOOK_CONSUMERS.items()
    ]


async def hear_revocations(rt: AnyRuntime, evict: Callable[[uuid.UUID], None]) -> None:
    """Every replica drops a revoked key from its cache the moment the fact is
    published, not when its cache entry runs out. A plain (not durable) subscription:
    JetStream also hands each published message to the subject's live subscribers. A
    revocation missed while this replica was disconnected still ends with the cache
    entry's short life (auth_cache_seconds)."""

    async def on_revoked(msg: Msg) -> None:
        try:
            fact = Envelope.from_bytes(msg.data).payload(contract.ClientRevoked)
        except ValidationError as exc:
            _log.warning("revocation off its contract; ignored", error=str(exc))
            return
        evict(fact.id)

    await rt.nats.subscribe(contract.CLIENT_REVOKED, cb=on_revoked)


def people_mail_consumer(
    rt: AnyRuntime, sessionmaker: async_sessionmaker[AsyncSession], on_committed: Committed
) -> DurableConsumer:
    """Mail requests from the events service into the mail outbox."""
    return DurableConsumer(
        name=PEOPLE_MAIL_CONSUMER,
        stream=events.STREAM,
        subject=events.PEOPLE_MAIL_REQUESTED,
        js=rt.jetstream,
        telemetry=rt.telemetry,
        sessionmaker=sessionmaker,
        inbox=Inbox,
        handler=people_mail.apply,
        on_committed=on_committed,
    )


def partnership_mail_consumer(
    rt: AnyRuntime,
    sessionmaker: async_sessionmaker[AsyncSession],
    public_url: str,
    on_committed: Committed,
) -> DurableConsumer:
    """Partnership invitations from the registry, mailed to the invited clusters."""
    return DurableConsumer(
        name=PARTNERSHIP_MAIL_CONSUMER,
        stream=registry.STREAM,
        subject=registry.PARTNERSHIP_ALL,
        js=rt.jetstream,
        telemetry=rt.telemetry,
        sessionmaker=sessionmaker,
        inbox=Inbox,
        handler=partnership_mail.handler(public_url),
        on_committed=on_committed,
    )
