"""All SQL of the gateway: API clients and idempotency records."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import delete, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.gateway.models import ApiClient, IdempotencyRecord


class ClientRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    def add(self, client: ApiClient) -> None:
        self.session.add(client)

    async def get(self, client_id: uuid.UUID) -> ApiClient | None:
        return await self.session.get(ApiClient, client_id)

    async def by_prefix(self, prefix: str) -> ApiClient | None:
        stmt = select(ApiClient).where(ApiClient.key_prefix == prefix)
        return (await self.session.scalars(stmt)).first()

    async def listed(self, tenant: str | None = None) -> Sequence[ApiClient]:
        stmt = select(ApiClient).order_by(ApiClient.created_at)
        if tenant:
            stmt = stmt.where(ApiClient.tenant == tenant)
        return (await self.session.scalars(stmt)).all()

    async def live_operator_exists(self) -> bool:
        stmt = (
            select(ApiClient.id)
            .where(ApiClient.scopes.contains(["admin"]), ApiClient.revoked_at.is_(None))
            .limit(1)
        )
        return await self.session.scalar(stmt) is not None


class IdempotencyRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def insert_pending(
        self,
        client_id: uuid.UUID,
        key: str,
        fingerprint: bytes,
        now: datetime,
        lease_until: datetime,
    ) -> bool:
        """Claim a fresh key; False when a record of it already exists."""
        stmt = (
            insert(IdempotencyRecord)
            .values(
                client_id=client_id,
                key=key,
                request_hash=fingerprint,
                state="pending",
                created_at=now,
                lease_until=lease_until,
            )
            .on_conflict_do_nothing()
            .returning(IdempotencyRecord.key)
        )
        return (await self.session.execute(stmt)).first() is not None

    async def locked(self, client_id: uuid.UUID, key: str) -> IdempotencyRecord:
        stmt = (
            select(IdempotencyRecord)
            .where(IdempotencyRecord.client_id == client_id, IdempotencyRecord.key == key)
            .with_for_update()
        )
        return (await self.session.scalars(stmt)).one()

    async def get(self, client_id: uuid.UUID, key: str) -> IdempotencyRecord | None:
        return await self.session.get(IdempotencyRecord, (client_id, key))

    async def set_state(self, client_id: uuid.UUID, key: str, state: str) -> None:
        await self.session.execute(
            update(IdempotencyRecord)
            .where(IdempotencyRecord.client_id == client_id, IdempotencyRecord.key == key)
            .values(state=state, lease_until=None)
        )

    async def delete_older_than(self, moment: datetime) -> None:
        await self.session.execute(
            delete(IdempotencyRecord).where(IdempotencyRecord.created_at < moment)
        )
