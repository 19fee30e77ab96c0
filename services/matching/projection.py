"""The matching service's copy of public profiles, fed by registry events.

Each event is applied to the `profiles` table only if its version is newer than what is
stored (a tombstone keeps the version of a deletion), in the same transaction as the
inbox claim. The in-memory index is updated after the commit; if the process dies in
between, the index is rebuilt from the table at the next start.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Mapping
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from services.matching.engine.documents import Profile
from services.matching.engine.embeddings import Encoder, ProfileVectors, embed_profiles
from services.matching.repository import EmbeddingRepository, ProfileRepository
from shared.contracts import registry as registry_contract
from shared.messaging.envelope import Envelope

UPSERTED = registry_contract.CLUSTER_UPSERTED
DELETED = registry_contract.CLUSTER_DELETED


async def apply_event(
    session: AsyncSession, envelope: Envelope, encoder: Encoder | None = None
) -> bool:
    """Store the event's effect; True if it changed the projection.

    With an encoder, a stored profile's embeddings are computed here (in a thread, off
    the request path and off the event loop) and stored in the same transaction, so
    the index and a later restart find them ready."""
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
    profile = None if deleted else profile_of(data)  # refuse what the index cannot use
    stored = await ProfileRepository(session).upsert_if_newer(
        cluster_id, tenant, version, deleted, {} if deleted else dict(data)
    )
    if stored and encoder is not None:
        if profile is None:
            await EmbeddingRepository(session).delete(cluster_id)
        else:
            vectors = (await asyncio.to_thread(embed_profiles, encoder, [profile]))[0]
            await EmbeddingRepository(session).put(cluster_id, vectors, encoder.dim)
    return stored


def profile_of(data: Mapping[str, Any]) -> Profile:
    """The one place that reads a `registry.cluster.upserted` payload (ValueError if the
    engine cannot use it), so a typed contract for the payload swaps in here."""
    return Profile.from_event_data(data)


async def live_profiles(session: AsyncSession) -> tuple[list[Profile], dict[str, str]]:
    """Every live profile of the projection, and those that cannot be read, with why
    (one unreadable row must not keep the index from starting)."""
    profiles: list[Profile] = []
    refused: dict[str, str] = {}
    for r in await ProfileRepository(session).live():
        try:
            profiles.append(profile_of(r.data))
        except (ValueError, TypeError) as exc:
            refused[str(r.id)] = f"{type(exc).__name__}: {exc}"
    return profiles, refused


async def stored_embeddings(session: AsyncSession, model: str) -> dict[str, ProfileVectors]:
    """Stored embeddings of this model, by cluster id."""
    return await EmbeddingRepository(session).of_model(model)


async def store_embeddings(
    session: AsyncSession, vectors: list[tuple[str, ProfileVectors]], dim: int
) -> None:
    repo = EmbeddingRepository(session)
    for cluster_id, v in vectors:
        await repo.put(uuid.UUID(cluster_id), v, dim)


async def applied_versions(session: AsyncSession) -> dict[str, int | None]:
    """Per cluster id, the version the projection holds (None for a deletion)."""
    return await ProfileRepository(session).versions()


async def replace_all(
    session: AsyncSession, profiles: list[dict[str, Any]], encoder: Encoder | None = None
) -> int:
    """Make the projection equal to `profiles` (a full read of the registry).

    Rows newer than what was read (an event that raced the read) are kept.
    """
    seen: set[uuid.UUID] = set()
    for data in profiles:
        seen.add(uuid.UUID(str(data["id"])))
        envelope = Envelope(type=UPSERTED, tenant=str(data["tenant"]), data=data)
        await apply_event(session, envelope, encoder)
    stale = await ProfileRepository(session).live_except(seen)
    removed = 0
    for row in stale:
        row.deleted = True
        row.data = {}
        row.version += 1
        removed += 1
    return removed
