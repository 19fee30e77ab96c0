"""All SQL of the gateway: API clients, idempotency records, people, mail, webhooks."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, delete, func, select, text, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession
from sqlalchemy.orm import aliased

from services.gateway.models import (
    ApiClient,
    EventTenant,
    IdempotencyRecord,
    OutgoingMail,
    Person,
    PersonSession,
    PersonToken,
    WebhookAttempt,
    WebhookDelivery,
    WebhookSubscription,
)
from shared.pagination import keyset_page


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


@dataclass(frozen=True)
class DueDelivery:
    """A delivery leased to this dispatcher, with what it needs of its subscription."""

    delivery: WebhookDelivery
    url: str
    secrets: list[str]


class WebhookRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    def add(self, row: WebhookSubscription | WebhookDelivery | WebhookAttempt) -> None:
        self.session.add(row)

    async def subscription(
        self, subscription_id: uuid.UUID, tenant: str, *, lock: bool = False
    ) -> WebhookSubscription | None:
        stmt = select(WebhookSubscription).where(
            WebhookSubscription.id == subscription_id, WebhookSubscription.tenant == tenant
        )
        if lock:
            stmt = stmt.with_for_update()
        return (await self.session.scalars(stmt)).first()

    async def subscriptions_of(self, tenant: str) -> Sequence[WebhookSubscription]:
        stmt = (
            select(WebhookSubscription)
            .where(WebhookSubscription.tenant == tenant)
            .order_by(WebhookSubscription.created_at, WebhookSubscription.id)
        )
        return (await self.session.scalars(stmt)).all()

    async def delete_subscription(self, subscription: WebhookSubscription) -> None:
        await self.session.delete(subscription)

    async def subscribers(self, tenant: str, event_type: str) -> Sequence[WebhookSubscription]:
        """Every subscription of the tenant to this type, paused ones too: what a paused
        endpoint misses waits for it to be resumed."""
        stmt = select(WebhookSubscription).where(
            WebhookSubscription.tenant == tenant,
            WebhookSubscription.event_types.contains([event_type]),
        )
        return (await self.session.scalars(stmt)).all()

    async def add_delivery(self, values: dict[str, Any]) -> None:
        """A new delivery, unless this event already has one for this subscription."""
        stmt = (
            insert(WebhookDelivery)
            .values(**values)
            .on_conflict_do_nothing(
                index_elements=["subscription_id", "event_id"],
                index_where=WebhookDelivery.replay_of.is_(None),
            )
        )
        await self.session.execute(stmt)

    async def delivery(
        self, delivery_id: uuid.UUID, subscription_id: uuid.UUID, *, lock: bool = False
    ) -> WebhookDelivery | None:
        stmt = select(WebhookDelivery).where(
            WebhookDelivery.id == delivery_id, WebhookDelivery.subscription_id == subscription_id
        )
        if lock:
            stmt = stmt.with_for_update()
        return (await self.session.scalars(stmt)).first()

    async def deliveries_page(
        self, subscription_id: uuid.UUID, state: str | None, limit: int, cursor: str | None
    ) -> tuple[list[WebhookDelivery], str | None]:
        stmt = select(WebhookDelivery).where(WebhookDelivery.subscription_id == subscription_id)
        if state is not None:
            stmt = stmt.where(WebhookDelivery.state == state)
        return await keyset_page(
            self.session, stmt, WebhookDelivery.created_at, WebhookDelivery.id, limit, cursor
        )

    async def attempts(self, delivery_id: uuid.UUID) -> Sequence[WebhookAttempt]:
        stmt = (
            select(WebhookAttempt)
            .where(WebhookAttempt.delivery_id == delivery_id)
            .order_by(WebhookAttempt.id)
        )
        return (await self.session.scalars(stmt)).all()

    @staticmethod
    def _first_in_line() -> Any:
        """Pending, of an active subscription, and no earlier delivery of its subject
        still waiting."""
        earlier = aliased(WebhookDelivery)
        waiting_before = (
            select(earlier.id)
            .where(
                earlier.subscription_id == WebhookDelivery.subscription_id,
                earlier.subject == WebhookDelivery.subject,
                earlier.state == "pending",
                earlier.seq < WebhookDelivery.seq,
            )
            .exists()
        )
        return and_(
            WebhookDelivery.state == "pending",
            WebhookSubscription.status == "active",
            ~waiting_before,
        )

    async def lease_due(self, now: datetime, until: datetime, limit: int) -> list[DueDelivery]:
        """Take the due deliveries that are first in line for their subject, and hold
        them until `until` (another replica skips them; if this one dies, they fall due
        again)."""
        stmt = (
            select(WebhookDelivery, WebhookSubscription)
            .join(WebhookSubscription, WebhookSubscription.id == WebhookDelivery.subscription_id)
            .where(self._first_in_line(), WebhookDelivery.next_attempt_at <= now)
            .order_by(WebhookDelivery.next_attempt_at, WebhookDelivery.seq)
            .limit(limit)
            .with_for_update(of=WebhookDelivery, skip_locked=True)
        )
        out = []
        rows = (await self.session.execute(stmt)).all()
        if rows:
            # One statement for the whole batch, not one per row at flush.
            await self.session.execute(
                update(WebhookDelivery)
                .where(WebhookDelivery.id.in_([d.id for d, _ in rows]))
                .values(next_attempt_at=until)
                .execution_options(synchronize_session=False)
            )
        for delivery, sub in rows:
            keys = [sub.secret]
            if (
                sub.previous_secret
                and sub.previous_secret_until
                and sub.previous_secret_until > now
            ):
                keys.append(sub.previous_secret)
            out.append(DueDelivery(delivery, sub.url, keys))
        return out

    async def next_due_at(self) -> datetime | None:
        stmt = (
            select(func.min(WebhookDelivery.next_attempt_at))
            .join(WebhookSubscription, WebhookSubscription.id == WebhookDelivery.subscription_id)
            .where(self._first_in_line())
        )
        return await self.session.scalar(stmt)

    async def reschedule_pending(self, subscription_id: uuid.UUID, now: datetime) -> None:
        await self.session.execute(
            update(WebhookDelivery)
            .where(
                WebhookDelivery.subscription_id == subscription_id,
                WebhookDelivery.state == "pending",
            )
            .values(next_attempt_at=now)
        )

    async def locked_delivery(self, delivery_id: uuid.UUID) -> WebhookDelivery | None:
        stmt = select(WebhookDelivery).where(WebhookDelivery.id == delivery_id).with_for_update()
        return (await self.session.scalars(stmt)).first()

    async def locked_subscription(self, subscription_id: uuid.UUID) -> WebhookSubscription | None:
        stmt = (
            select(WebhookSubscription)
            .where(WebhookSubscription.id == subscription_id)
            .with_for_update()
        )
        return (await self.session.scalars(stmt)).first()

    async def event_tenants(self, event_id: uuid.UUID) -> Sequence[str]:
        stmt = select(EventTenant.tenant).where(EventTenant.event_id == event_id)
        return (await self.session.scalars(stmt)).all()

    async def set_event_tenant(self, event_id: uuid.UUID, tenant: str, taking_part: bool) -> None:
        if taking_part:
            await self.session.execute(
                insert(EventTenant)
                .values(event_id=event_id, tenant=tenant)
                .on_conflict_do_nothing()
            )
        else:
            await self.session.execute(
                delete(EventTenant).where(
                    EventTenant.event_id == event_id, EventTenant.tenant == tenant
                )
            )


# One statement, one round trip: refill by the time since the last request (measured by
# the database's clock, the one clock every replica shares), take a token if there is
# one, and say whether it was taken. The row lock serialises one client's requests
# across replicas; other clients never wait on each other.
_TAKE_TOKEN = text(
    """
    INSERT INTO gateway.rate_buckets AS b (client_id, tokens, allowed, updated_at)
    VALUES (:client_id, :burst - 1, true, clock_timestamp())
    ON CONFLICT (client_id) DO UPDATE SET
      tokens = LEAST(:burst, b.tokens
                 + EXTRACT(EPOCH FROM clock_timestamp() - b.updated_at) * :rate)
               - CASE WHEN LEAST(:burst, b.tokens
                 + EXTRACT(EPOCH FROM clock_timestamp() - b.updated_at) * :rate) >= 1
                 THEN 1 ELSE 0 END,
      allowed = LEAST(:burst, b.tokens
                 + EXTRACT(EPOCH FROM clock_timestamp() - b.updated_at) * :rate) >= 1,
      updated_at = clock_timestamp()
    RETURNING tokens, allowed
    """
)


class RateBuckets:
    """The shared token buckets, on an autocommit engine (no BEGIN/COMMIT round trips)."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine.execution_options(isolation_level="AUTOCOMMIT")

    async def take(self, client_id: uuid.UUID, rate: int, burst: int) -> tuple[bool, float]:
        async with self.engine.connect() as conn:
            row = (
                await conn.execute(
                    _TAKE_TOKEN,
                    {"client_id": client_id, "rate": float(rate), "burst": float(burst)},
                )
            ).one()
        return bool(row.allowed), float(row.tokens)
