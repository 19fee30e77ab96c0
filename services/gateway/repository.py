"""All SQL of the gateway: API clients and idempotency records."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import delete, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.gateway.models import (
    ApiClient,
    IdempotencyRecord,
    OutgoingMail,
    Person,
    PersonSession,
    PersonToken,
)


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


class PeopleRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    def add(self, row: Person | PersonToken | PersonSession) -> None:
        self.session.add(row)

    async def get(self, person_id: uuid.UUID, *, lock: bool = False) -> Person | None:
        stmt = select(Person).where(Person.id == person_id)
        if lock:
            stmt = stmt.with_for_update()
        return (await self.session.scalars(stmt)).first()

    async def by_email(self, email: str, *, lock: bool = False) -> Person | None:
        stmt = select(Person).where(Person.email == email)
        if lock:
            stmt = stmt.with_for_update()
        return (await self.session.scalars(stmt)).first()

    async def active_among(self, person_ids: Sequence[uuid.UUID]) -> Sequence[Person]:
        if not person_ids:
            return []
        stmt = (
            select(Person)
            .where(Person.id.in_(person_ids), Person.status == "active")
            .order_by(Person.id)
        )
        return (await self.session.scalars(stmt)).all()

    async def speaking_for(self, tenant: str, cluster_id: uuid.UUID) -> Sequence[Person]:
        """Who hears about a cluster: its active managers, or if it has none, the active
        agency admins of its tenant."""
        active = (Person.status == "active") & (Person.tenant == tenant)
        managers = await self.session.scalars(
            select(Person)
            .where(active, Person.roles.contains(["cluster-manager"]))
            .where(Person.clusters.contains([cluster_id]))
            .order_by(Person.id)
        )
        found = managers.all()
        if found:
            return found
        admins = await self.session.scalars(
            select(Person)
            .where(active, Person.roles.contains(["agency-admin"]))
            .order_by(Person.id)
        )
        return admins.all()

    async def of_tenant(self, tenant: str | None) -> Sequence[Person]:
        stmt = select(Person).order_by(Person.created_at, Person.id)
        if tenant is not None:
            stmt = stmt.where(Person.tenant == tenant)
        return (await self.session.scalars(stmt)).all()

    async def token(self, digest: bytes, purpose: str) -> PersonToken | None:
        stmt = (
            select(PersonToken)
            .where(PersonToken.digest == digest, PersonToken.purpose == purpose)
            .with_for_update()
        )
        return (await self.session.scalars(stmt)).first()

    async def retire_tokens(self, person_id: uuid.UUID, purpose: str, now: datetime) -> None:
        """Older links of this kind stop working when a new one is sent."""
        await self.session.execute(
            update(PersonToken)
            .where(
                PersonToken.person_id == person_id,
                PersonToken.purpose == purpose,
                PersonToken.used_at.is_(None),
            )
            .values(used_at=now)
        )

    async def live_session(
        self, digest: bytes, now: datetime
    ) -> tuple[PersonSession, Person] | None:
        stmt = (
            select(PersonSession, Person)
            .join(Person, Person.id == PersonSession.person_id)
            .where(
                PersonSession.digest == digest,
                PersonSession.revoked_at.is_(None),
                PersonSession.expires_at > now,
            )
        )
        row = (await self.session.execute(stmt)).first()
        return (row[0], row[1]) if row is not None else None

    async def touch_session(self, digest: bytes, now: datetime) -> None:
        await self.session.execute(
            update(PersonSession).where(PersonSession.digest == digest).values(last_seen_at=now)
        )

    async def revoke_sessions(
        self, person_id: uuid.UUID, now: datetime, digest: bytes | None = None
    ) -> None:
        stmt = update(PersonSession).where(
            PersonSession.person_id == person_id, PersonSession.revoked_at.is_(None)
        )
        if digest is not None:
            stmt = stmt.where(PersonSession.digest == digest)
        await self.session.execute(stmt.values(revoked_at=now))


class MailRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    def add(self, mail: OutgoingMail) -> None:
        self.session.add(mail)

    async def next_due(self, now: datetime) -> OutgoingMail | None:
        stmt = (
            select(OutgoingMail)
            .where(OutgoingMail.sent_at.is_(None), OutgoingMail.next_attempt_at <= now)
            .order_by(OutgoingMail.next_attempt_at)
            .limit(1)
            .with_for_update(skip_locked=True)
        )
        return (await self.session.scalars(stmt)).first()
