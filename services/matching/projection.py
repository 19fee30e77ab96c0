"""The matching service's copy of public profiles, fed by registry events.

Each event is applied to the `profiles` table only if its version is newer than what is
stored (a tombstone keeps the version of a deletion), in the same transaction as the
inbox claim. The in-memory index is updated after the commit; if the process dies in
between, the index is rebuilt from the table at the next start.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.matching.engine.documents import Profile
from services.matching.models import ProfileRow
from shared.messaging.envelope import Envelope

UPSERTED = "registry.cluster.upserted"
DELETED = "registry.cluster.deleted"


async def apply_event(session: AsyncSession, envelope: Envelope) -> bool:
    """Store the event's effect; True if it changed the projection."""
    data = envelope.data
    try:
        cluster_id = uuid.UUID(str(data["id"]))
        version = int(data["version"])
        tenant = str(data["tenant"])
    except (KeyError, ValueError, TypeError) as exc:
        raise ValueError(f"registry event without id/version/tenant: {exc}") from exc
    deleted = envelope.type == DELETED
    if not deleted and envelope.type != UPSERTED:
        return False
    if not deleted:
        Profile.from_event_data(data)  # refuse data the index could not use, before storing
    stmt = insert(ProfileRow).values(
        id=cluster_id,
        tenant=tenant,
        version=version,
        deleted=deleted,
        data={} if deleted else dict(data),
        updated_at=datetime.now(UTC),
    )
    upsert = stmt.on_conflict_do_update(
        index_elements=[ProfileRow.id],
        set_={
            "tenant": stmt.excluded.tenant,
            "version": stmt.excluded.version,
            "deleted": stmt.excluded.deleted,
            "data": stmt.excluded.data,
            "updated_at": stmt.excluded.updated_at,
        },
        where=ProfileRow.version < stmt.excluded.version,
    ).returning(ProfileRow.id)
    return (await session.execute(upsert)).first() is not None


async def live_profiles(session: AsyncSession) -> list[Profile]:
    rows = await session.scalars(select(ProfileRow).where(ProfileRow.deleted.is_(False)))
    return [Profile.from_event_data(r.data) for r in rows]


async def replace_all(session: AsyncSession, profiles: list[dict[str, Any]]) -> int:
    """Make the projection equal to `profiles` (a full read of the registry).

    Rows newer than what was read (an event that raced the read) are kept.
    """
    seen: set[uuid.UUID] = set()
    for data in profiles:
        seen.add(uuid.UUID(str(data["id"])))
        await apply_event(session, Envelope(type=UPSERTED, tenant=str(data["tenant"]), data=data))
    stale = await session.scalars(
        select(ProfileRow).where(ProfileRow.deleted.is_(False), ProfileRow.id.not_in(seen))
        if seen
        else select(ProfileRow).where(ProfileRow.deleted.is_(False))
    )
    removed = 0
    for row in stale:
        row.deleted = True
        row.data = {}
        row.version += 1
        removed += 1
    return removed
