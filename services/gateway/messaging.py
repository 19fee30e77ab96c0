"""What the gateway publishes (through its outbox, on the GATEWAY stream) and consumes
(mail to people that other services ask for)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.gateway import people_mail
from services.gateway.models import ApiClient, Inbox, Outbox
from shared.contracts import events
from shared.contracts import gateway as contract
from shared.messaging.consumer import Committed, DurableConsumer
from shared.messaging.outbox import record_event
from shared.runtime import AnyRuntime

PEOPLE_MAIL_CONSUMER = "gateway-people-mail"


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
