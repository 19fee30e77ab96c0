"""All SQL of the registry: cluster profiles and tenants."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, func, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.registry.models import Cluster, ImportJob, Tenant
from shared.pagination import keyset_page
from shared.taxonomy import LabelLevel

# Which label levels satisfy a "minimum label" filter.
_LEVELS_AT_LEAST = {
    level: [lv.value for lv in LabelLevel if lv.rank >= level.rank] for level in LabelLevel
}


@dataclass(frozen=True)
class ClusterFilter:
    countries: Sequence[str] = ()
    tenants: Sequence[str] = ()
    ecosystems: Sequence[str] = ()
    label_min: LabelLevel | None = None
    text: str | None = None
    verified: bool | None = None


class ClusterRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, cluster_id: uuid.UUID) -> Cluster | None:
        return await self.session.get(Cluster, cluster_id)

    async def get_for_update(self, cluster_id: uuid.UUID) -> Cluster | None:
        return (
            await self.session.scalars(
                select(Cluster).where(Cluster.id == cluster_id).with_for_update()
            )
        ).first()

    async def by_external_ids(self, tenant: str, external_ids: Sequence[str]) -> dict[str, Cluster]:
        if not external_ids:
            return {}
        rows = await self.session.scalars(
            select(Cluster)
            .where(Cluster.tenant == tenant, Cluster.external_id.in_(external_ids))
            .with_for_update()
        )
        return {c.external_id: c for c in rows if c.external_id is not None}

    async def external_id_taken(
        self, tenant: str, external_id: str, other_than: uuid.UUID | None = None
    ) -> bool:
        stmt = select(func.count()).where(
            Cluster.tenant == tenant, Cluster.external_id == external_id
        )
        if other_than is not None:
            stmt = stmt.where(Cluster.id != other_than)
        return bool(await self.session.scalar(stmt))

    def add(self, cluster: Cluster) -> None:
        self.session.add(cluster)

    async def delete(self, cluster: Cluster) -> None:
        await self.session.delete(cluster)

    def _filtered(self, f: ClusterFilter) -> Select[Cluster]:
        stmt = select(Cluster)
        if f.countries:
            stmt = stmt.where(Cluster.country.in_(f.countries))
        if f.tenants:
            stmt = stmt.where(Cluster.tenant.in_(f.tenants))
        if f.ecosystems:
            stmt = stmt.where(Cluster.ecosystems.overlap(list(f.ecosystems)))
        if f.label_min is not None and f.label_min is not LabelLevel.NONE:
            stmt = stmt.where(Cluster.label_level.in_(_LEVELS_AT_LEAST[f.label_min]))
        if f.verified is not None:
            stmt = stmt.where(Cluster.verified.is_(f.verified))
        if f.text:
            stmt = stmt.where(
                text("search @@ websearch_to_tsquery('simple', :q)").bindparams(q=f.text)
            )
        return stmt

    async def page(
        self, f: ClusterFilter, limit: int, cursor: str | None
    ) -> tuple[list[Cluster], str | None]:
        return await keyset_page(
            self.session, self._filtered(f), Cluster.created_at, Cluster.id, limit, cursor
        )


class TenantRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, code: str) -> Tenant | None:
        return await self.session.get(Tenant, code)

    async def all(self) -> list[Tenant]:
        return list((await self.session.scalars(select(Tenant).order_by(Tenant.code))).all())

    def add(self, tenant: Tenant) -> None:
        self.session.add(tenant)


class ImportRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    def add(self, job: ImportJob) -> None:
        self.session.add(job)

    async def get(self, job_id: uuid.UUID) -> ImportJob | None:
        return await self.session.get(ImportJob, job_id)

    async def recent(self, tenant: str | None, limit: int = 50) -> Sequence[ImportJob]:
        stmt = select(ImportJob).order_by(ImportJob.started_at.desc()).limit(limit)
        if tenant is not None:
            stmt = stmt.where(ImportJob.tenant == tenant)
        return (await self.session.scalars(stmt)).all()

    async def save_progress(self, job_id: uuid.UUID, **values: Any) -> None:
        await self.session.execute(update(ImportJob).where(ImportJob.id == job_id).values(**values))
