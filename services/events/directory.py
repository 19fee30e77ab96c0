"""The local directory of registry clusters: names and countries of participants.

Fed by registry events; each upsert carries the profile's `version`, and only a newer
version changes the row, so a redelivered or out-of-order message changes nothing.
A deletion is remembered (with its version) so an older upsert arriving late cannot
bring the cluster back.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.events.models import DirectoryCluster
from shared.db.session import ANY_TENANT, scope_to_tenant
from shared.messaging.envelope import Envelope

UPSERTED = "registry.cluster.upserted"
DELETED = "registry.cluster.deleted"


async def apply(session: AsyncSession, envelope: Envelope) -> None:
    """Handler of the directory consumer (runs in the consumer's transaction)."""
    if envelope.type not in (UPSERTED, DELETED):
        return
    data = envelope.data
    # The consumer's session is not a request's: it writes as the service itself.
    await scope_to_tenant(session, ANY_TENANT)
    cluster_id = uuid.UUID(str(data["id"]))
    version = int(data["version"])
    deleted = envelope.type == DELETED
    values = {
        "id": cluster_id,
        "tenant": str(data.get("tenant") or envelope.tenant),
        "version": version,
        "deleted": deleted,
        "updated_at": datetime.now(UTC),
    }
    if not deleted:
        values["name"] = str(data["name"])
        values["country"] = str(data["country"])
    else:
        # A deletion of a cluster we never saw still records its version (and a name
        # nobody will show, since the row is marked deleted).
        values.setdefault("name", "")
        values.setdefault("country", "")
    stmt = insert(DirectoryCluster).values(**values)
    update = {
        k: stmt.excluded[k]
        for k in values
        if k != "id" and (not deleted or k not in ("name", "country"))
    }
    stmt = stmt.on_conflict_do_update(
        index_elements=[DirectoryCluster.id],
        set_=update,
        where=DirectoryCluster.version < stmt.excluded.version,
    )
    await session.execute(stmt)
