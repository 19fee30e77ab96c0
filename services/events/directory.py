"""The local directory of registry clusters: names and countries of participants.

Fed by registry events; each upsert carries the profile's `version`, and only a newer
version changes the row, so a redelivered or out-of-order message changes nothing.
A deletion is remembered (with its version) so an older upsert arriving late cannot
bring the cluster back.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncSession

from services.events.repository import EventsRepository
from shared.contracts.registry import (
    CLUSTER_DELETED,
    CLUSTER_UPSERTED,
    ClusterDeleted,
    ClusterPublic,
)
from shared.db.session import ANY_TENANT, scope_to_tenant
from shared.messaging.envelope import Envelope


async def apply(session: AsyncSession, envelope: Envelope) -> None:
    """Handler of the directory consumer (runs in the consumer's transaction)."""
    if envelope.type not in (CLUSTER_UPSERTED, CLUSTER_DELETED):
        return
    # The consumer's session is not a request's: it writes as the service itself.
    await scope_to_tenant(session, ANY_TENANT)
    deleted = envelope.type == CLUSTER_DELETED
    fact: ClusterDeleted | ClusterPublic = (
        envelope.payload(ClusterDeleted) if deleted else envelope.payload(ClusterPublic)
    )
    values: dict[str, object] = {
        "id": fact.id,
        "tenant": fact.tenant,
        "version": fact.version,
        "deleted": deleted,
        "updated_at": datetime.now(UTC),
    }
    if isinstance(fact, ClusterPublic):
        values["name"] = fact.name
        values["country"] = fact.country
    else:
        # A deletion of a cluster we never saw still records its version (and a name
        # nobody will show, since the row is marked deleted).
        values.setdefault("name", "")
        values.setdefault("country", "")
    await EventsRepository(session).upsert_directory(values, keep_name=deleted)
