"""What the gateway publishes (through its outbox, on the GATEWAY stream) and consumes
(mail to people that other services ask for, invitations to partnerships)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.gateway import partnership_mail, people_mail
from services.gateway.models import ApiClient, Inbox, Outbox
from shared.contracts import events, registry
from shared.contracts import gateway as contract
from shared.messaging.consumer import Committed, DurableConsumer
from shared.messaging.outbox import record_event
from shared.runtime import AnyRuntime

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


def people_mail_consumer(
    rt: AnyRuntime, sessionmaker: async_sessionmaker[AsyncSession], on_committed: Committed
) -> DurableConsumer:
    """Mail requests from the events service into the mail outbox."""
    return DurableConsumer(
        name=PEOPLE_MAIL_CONSUMER,
        stream=events.STREAM,
        subject=events.PEOPLE_MAIL_REQUESTED,
        js=rt.jetstream,
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
        sessionmaker=sessionmaker,
        inbox=Inbox,
        handler=partnership_mail.handler(public_url),
        on_committed=on_committed,
    )
