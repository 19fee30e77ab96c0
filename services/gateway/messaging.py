"""What the gateway publishes (through its outbox, on the GATEWAY stream)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from services.gateway.models import ApiClient, Outbox
from shared.contracts import gateway as contract
from shared.messaging.outbox import record_event


def client_created(session: AsyncSession, client: ApiClient) -> None:
    payload = contract.ClientCreated(
        id=client.id, tenant=client.tenant, name=client.name, scopes=list(client.scopes)
    )
    record_event(session, Outbox, contract.CLIENT_CREATED, client.tenant, payload)


def client_revoked(session: AsyncSession, client: ApiClient) -> None:
    payload = contract.ClientRevoked(id=client.id, tenant=client.tenant)
    record_event(session, Outbox, contract.CLIENT_REVOKED, client.tenant, payload)
