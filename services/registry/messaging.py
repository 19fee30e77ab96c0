"""What the registry publishes (through its outbox, on the REGISTRY stream)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from services.registry.models import Cluster, Outbox
from services.registry.presenting import public_profile
from shared.contracts import registry as contract
from shared.messaging.outbox import record_event


def announce_upsert(session: AsyncSession, cluster: Cluster) -> None:
    record_event(
        session, Outbox, contract.CLUSTER_UPSERTED, cluster.tenant, public_profile(cluster)
    )


def announce_delete(session: AsyncSession, cluster: Cluster) -> None:
    # The deletion is one version past the last change, so a late upsert cannot revive it.
    payload = contract.ClusterDeleted(
        id=cluster.id, tenant=cluster.tenant, version=cluster.version + 1
    )
    record_event(session, Outbox, contract.CLUSTER_DELETED, cluster.tenant, payload)


def announce_partnership(
    session: AsyncSession, subject: str, tenant: str, fact: contract.PartnershipFact
) -> None:
    record_event(session, Outbox, subject, tenant, fact)
