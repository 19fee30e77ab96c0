"""All SQL of the registry: cluster profiles and tenants."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from services.registry.models import Cluster, Tenant
from shared.pagination import decode_cursor, encode_cursor
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
        stmt = self._filtered(f)
        if cursor:
            created, cid = decode_cursor(cursor)
            stmt = stmt.where(
                (Cluster.created_at > created)
                | ((Cluster.created_at == created) & (Cluster.id > cid))
            )
        stmt = stmt.order_by(Cluster.created_at, Cluster.id).limit(limit + 1)
        rows = list((await self.session.scalars(stmt)).all())
        next_cursor = None
        if len(rows) > limit:
            rows = rows[:limit]
            last = rows[-1]
            next_cursor = encode_cursor(last.created_at, last.id)
        return rows, next_cursor


class TenantRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, code: str) -> Tenant | None:
        return await self.session.get(Tenant, code)

    async def all(self) -> list[Tenant]:
        return list((await self.session.scalars(select(Tenant).order_by(Tenant.code))).all())

    def add(self, tenant: Tenant) -> None:
        self.session.add(tenant)


def cluster_public_dict(c: Cluster) -> dict[str, Any]:
    """The public profile: what every tenant may read and what events carry."""
    return {
        "id": str(c.id),
        "tenant": c.tenant,
        "external_id": c.external_id,
        "name": c.name,
        "country": c.country,
        "region": c.region,
        "city": c.city,
        "website": c.website,
        "description": c.description,
        "languages": list(c.languages),
        "ecosystems": list(c.ecosystems),
        "nace_codes": list(c.nace_codes),
        "competences": list(c.competences),
        "technologies": list(c.technologies),
        "offers": list(c.offers),
        "needs": list(c.needs),
        "target_countries": list(c.target_countries),
        "members": {
            "smes": c.members_smes,
            "large_firms": c.members_large_firms,
            "research_education": c.members_research_education,
            "other": c.members_other,
        },
        "label": {
            "level": c.label_level,
            "valid_until": c.label_valid_until.isoformat() if c.label_valid_until else None,
        },
        "verified": c.verified,
        "version": c.version,
        "created_at": c.created_at.isoformat(),
        "updated_at": c.updated_at.isoformat(),
    }
