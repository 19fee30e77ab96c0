"""All SQL of the registry: cluster profiles and tenants."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import Select, func, or_, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.registry.models import (
    Cluster,
    ImportJob,
    LabelAward,
    Partnership,
    PartnershipActivity,
    PartnershipMember,
    SelfAssessment,
    StrategyVersion,
    Tenant,
)
from shared.db.text_search import contains
from shared.pagination import keyset_page
from shared.taxonomy import LabelLevel

# Which label levels satisfy a "minimum label" filter.
_LEVELS_AT_LEAST = {
    level: [lv.value for lv in LabelLevel if lv.rank >= level.rank] for level in LabelLevel
}


@dataclass(frozen=True)
class ClusterFilter:
    countries: Sequence[str] = ()
    regions: Sequence[str] = ()
    tenants: Sequence[str] = ()
    ecosystems: Sequence[str] = ()
    label_min: LabelLevel | None = None
    text: str | None = None
    verified: bool | None = None
    # The day labels are judged on: an expired label satisfies no minimum.
    label_on: date | None = None


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
        if f.regions:
            stmt = stmt.where(Cluster.region_code.in_(f.regions))
        if f.tenants:
            stmt = stmt.where(Cluster.tenant.in_(f.tenants))
        if f.ecosystems:
            stmt = stmt.where(Cluster.ecosystems.overlap(list(f.ecosystems)))
        if f.label_min is not None and f.label_min is not LabelLevel.NONE:
            stmt = stmt.where(Cluster.label_level.in_(_LEVELS_AT_LEAST[f.label_min]))
            if f.label_on is not None:
                stmt = stmt.where(
                    or_(
                        Cluster.label_valid_until.is_(None), Cluster.label_valid_until >= f.label_on
                    )
                )
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


class LabelRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    def add(self, award: LabelAward) -> None:
        self.session.add(award)

    async def history(self, cluster_id: uuid.UUID, limit: int = 200) -> Sequence[LabelAward]:
        return (
            await self.session.scalars(
                select(LabelAward)
                .where(LabelAward.cluster_id == cluster_id)
                .order_by(LabelAward.recorded_at.desc(), LabelAward.id)
                .limit(limit)
            )
        ).all()


class AssessmentRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, cluster_id: uuid.UUID) -> SelfAssessment | None:
        return await self.session.get(SelfAssessment, cluster_id)

    def add(self, assessment: SelfAssessment) -> None:
        self.session.add(assessment)

    async def peers(self, cluster_id: uuid.UUID, ecosystem: str) -> list[dict[str, float]]:
        """Every other assessed cluster's figures in the ecosystem (the assessment and
        the profile's member counts); the caller turns them into percentiles and never
        passes them on."""
        a = SelfAssessment.__table__.c
        rows = (
            await self.session.execute(
                select(
                    *[col for col in a if col.key not in ("cluster_id", "tenant", "updated_at")],
                    Cluster.members_smes,
                    Cluster.members_large_firms,
                    Cluster.members_research_education,
                )
                .select_from(SelfAssessment)
                .join(Cluster, Cluster.id == SelfAssessment.cluster_id)
                .where(
                    SelfAssessment.cluster_id != cluster_id,
                    Cluster.ecosystems.contains([ecosystem]),
                )
            )
        ).all()
        return [{k: float(v) for k, v in r._mapping.items()} for r in rows]


# Aggregates of the observatory. Each cluster counts once in each of its ecosystems;
# a label counts only while current on the day given (checked here, at read time).
_AREA = {"country": "c.country", "region": "c.region_code"}

_COUNTS = """
SELECT e AS ecosystem, {area} AS area, count(*) AS clusters,
       sum(c.members_smes) AS members_smes,
       sum(c.members_large_firms) AS members_large_firms,
       sum(c.members_research_education) AS members_research_education,
       sum(c.members_other) AS members_other,
       count(*) FILTER (WHERE c.label_level = 'bronze' AND {current}) AS labels_bronze,
       count(*) FILTER (WHERE c.label_level = 'silver' AND {current}) AS labels_silver,
       count(*) FILTER (WHERE c.label_level = 'gold' AND {current}) AS labels_gold
FROM registry.clusters c CROSS JOIN LATERAL unnest(c.ecosystems) AS e
WHERE {area} IS NOT NULL {filters}
GROUP BY 1, 2
ORDER BY 1, 2
"""

_CURRENT = "(c.label_valid_until IS NULL OR c.label_valid_until >= :on)"

# Location quotient LQ(r, e) = (n_re / n_r) / (n_e / n) over cluster-ecosystem entries
# (weighted by SME members for the SME measure); n_e and n are over the whole registry,
# also the clusters whose region is not coded yet.
_SPECIALISATION = """
WITH cells AS (
    SELECT {area} AS area, e AS ecosystem, sum({weight})::float8 AS n
    FROM registry.clusters c CROSS JOIN LATERAL unnest(c.ecosystems) AS e
    GROUP BY 1, 2
),
eco AS (SELECT ecosystem, sum(n) AS n_e FROM cells GROUP BY ecosystem),
areas AS (SELECT area, sum(n) AS n_r FROM cells WHERE area IS NOT NULL GROUP BY area),
total AS (SELECT sum(n) AS n FROM cells)
SELECT cells.area, cells.ecosystem, cells.n, areas.n_r, eco.n_e, total.n AS n_all,
       (cells.n / areas.n_r) / (eco.n_e / total.n) AS lq
FROM cells
JOIN areas ON areas.area = cells.area
JOIN eco ON eco.ecosystem = cells.ecosystem
CROSS JOIN total
WHERE cells.n > 0 AND areas.n_r > 0 AND eco.n_e > 0 {filters}
ORDER BY cells.area, cells.ecosystem
"""

_WEIGHT = {"clusters": "1", "smes": "c.members_smes"}


class ObservatoryRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def counts(
        self, by: str, on: date, ecosystem: str | None, country: str | None, labelled: bool = False
    ) -> list[dict[str, Any]]:
        filters, params = self._filters(ecosystem, country, eco="e", country_col="c.country")
        if labelled:
            filters += f" AND c.label_level <> 'none' AND {_CURRENT}"
        sql = _COUNTS.format(area=_AREA[by], current=_CURRENT, filters=filters)
        rows = await self.session.execute(text(sql), {"on": on, **params})
        return [dict(r._mapping) for r in rows]

    async def specialisation(
        self, by: str, measure: str, ecosystem: str | None, country: str | None
    ) -> list[dict[str, Any]]:
        filters, params = self._filters(
            ecosystem, country, eco="cells.ecosystem", country_col="left(cells.area, 2)"
        )
        sql = _SPECIALISATION.format(area=_AREA[by], weight=_WEIGHT[measure], filters=filters)
        rows = await self.session.execute(text(sql), params)
        return [dict(r._mapping) for r in rows]

    async def profiles_created(self, since: date, region: str | None = None) -> dict[date, int]:
        rows = await self.session.execute(
            text(
                "SELECT date_trunc('month', created_at AT TIME ZONE 'UTC')::date AS m, "
                "count(*) FROM registry.clusters WHERE created_at >= :since "
                "AND (CAST(:region AS text) IS NULL OR region_code = :region) GROUP BY 1"
            ),
            {"since": since, "region": region},
        )
        return {r[0]: int(r[1]) for r in rows}

    async def labels_gained(
        self, since: date, region: str | None = None
    ) -> dict[tuple[date, str], int]:
        # A region's labels are those of the clusters in it now (a label follows its
        # cluster when the cluster moves).
        rows = await self.session.execute(
            text(
                "SELECT date_trunc('month', a.recorded_at AT TIME ZONE 'UTC')::date AS m, "
                "a.level, count(*) FROM registry.label_awards a "
                "WHERE a.recorded_at >= :since AND a.level <> 'none' "
                "AND (CAST(:region AS text) IS NULL OR a.cluster_id IN "
                "(SELECT id FROM registry.clusters WHERE region_code = :region)) GROUP BY 1, 2"
            ),
            {"since": since, "region": region},
        )
        return {(r[0], str(r[1])): int(r[2]) for r in rows}

    @staticmethod
    def _filters(
        ecosystem: str | None, country: str | None, *, eco: str, country_col: str
    ) -> tuple[str, dict[str, Any]]:
        parts, params = [], {}
        if ecosystem is not None:
            parts.append(f"AND {eco} = :ecosystem")
            params["ecosystem"] = ecosystem
        if country is not None:
            parts.append(f"AND {country_col} = :country")
            params["country"] = country
        return " ".join(parts), params


class PartnershipRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    def add(
        self, row: Partnership | PartnershipMember | StrategyVersion | PartnershipActivity
    ) -> None:
        self.session.add(row)

    async def get(self, partnership_id: uuid.UUID) -> Partnership | None:
        return await self.session.get(Partnership, partnership_id)

    async def lock(self, partnership_id: uuid.UUID) -> None:
        """Serialise changes of one partnership's membership and strategy until commit.

        An advisory lock, not FOR UPDATE on the partnership: row-level security lets
        only the lead's tenant lock that row, and members of every tenant answer.
        """
        await self.session.execute(
            text("SELECT pg_advisory_xact_lock(hashtextextended(:key, 0))"),
            {"key": f"registry.partnership:{partnership_id}"},
        )

    async def clusters(self, ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, Cluster]:
        if not ids:
            return {}
        rows = await self.session.scalars(select(Cluster).where(Cluster.id.in_(list(ids))))
        return {c.id: c for c in rows}

    async def members(self, partnership_ids: Sequence[uuid.UUID]) -> list[PartnershipMember]:
        if not partnership_ids:
            return []
        stmt = (
            select(PartnershipMember)
            .where(PartnershipMember.partnership_id.in_(list(partnership_ids)))
            .order_by(PartnershipMember.invited_at, PartnershipMember.cluster_id)
        )
        return list((await self.session.scalars(stmt)).all())

    async def member(
        self, partnership_id: uuid.UUID, cluster_id: uuid.UUID
    ) -> PartnershipMember | None:
        return await self.session.get(PartnershipMember, (partnership_id, cluster_id))

    async def strategy(self, partnership_id: uuid.UUID) -> StrategyVersion | None:
        stmt = (
            select(StrategyVersion)
            .where(StrategyVersion.partnership_id == partnership_id)
            .order_by(StrategyVersion.version.desc())
            .limit(1)
        )
        return (await self.session.scalars(stmt)).first()

    async def strategy_versions(self, partnership_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, int]:
        if not partnership_ids:
            return {}
        stmt = (
            select(StrategyVersion.partnership_id, func.max(StrategyVersion.version))
            .where(StrategyVersion.partnership_id.in_(list(partnership_ids)))
            .group_by(StrategyVersion.partnership_id)
        )
        return {row[0]: int(row[1]) for row in (await self.session.execute(stmt)).all()}

    async def history(self, partnership_id: uuid.UUID) -> list[StrategyVersion]:
        stmt = (
            select(StrategyVersion)
            .where(StrategyVersion.partnership_id == partnership_id)
            .order_by(StrategyVersion.version.desc())
        )
        return list((await self.session.scalars(stmt)).all())

    async def activities(self, partnership_id: uuid.UUID) -> list[PartnershipActivity]:
        stmt = (
            select(PartnershipActivity)
            .where(PartnershipActivity.partnership_id == partnership_id)
            .order_by(PartnershipActivity.starts_on, PartnershipActivity.id)
        )
        return list((await self.session.scalars(stmt)).all())

    async def page(
        self,
        limit: int,
        cursor: str | None,
        *,
        cluster_id: uuid.UUID | None = None,
        market: str | None = None,
        text_query: str | None = None,
        formed: bool | None = None,
        country: str | None = None,
    ) -> tuple[list[Partnership], str | None]:
        stmt = select(Partnership)
        if country is not None:
            # A member from that country that has not declined (invited or accepted).
            stmt = stmt.where(
                Partnership.id.in_(
                    select(PartnershipMember.partnership_id).where(
                        PartnershipMember.country == country,
                        PartnershipMember.status != "declined",
                    )
                )
            )
        if formed is not None:
            accepted_countries = (
                select(func.count(func.distinct(PartnershipMember.country)))
                .where(
                    PartnershipMember.partnership_id == Partnership.id,
                    PartnershipMember.status == "accepted",
                )
                .scalar_subquery()
            )
            is_formed = accepted_countries >= Partnership.min_countries
            stmt = stmt.where(is_formed if formed else ~is_formed)
        if cluster_id is not None:
            stmt = stmt.where(
                Partnership.id.in_(
                    select(PartnershipMember.partnership_id).where(
                        PartnershipMember.cluster_id == cluster_id
                    )
                )
            )
        if market:
            stmt = stmt.where(Partnership.target_markets.contains([market]))
        if text_query:
            stmt = stmt.where(
                contains(Partnership.name, text_query)
                | contains(Partnership.field, text_query)
                | contains(func.array_to_string(Partnership.competences, " "), text_query)
            )
        return await keyset_page(
            self.session, stmt, Partnership.created_at, Partnership.id, limit, cursor
        )

    async def names_with_member(self, cluster_id: uuid.UUID) -> list[str]:
        """Partnerships the cluster leads or was invited to (whatever it answered)."""
        stmt = (
            select(Partnership.name)
            .join(PartnershipMember, PartnershipMember.partnership_id == Partnership.id)
            .where(PartnershipMember.cluster_id == cluster_id)
            .order_by(Partnership.name)
        )
        return list((await self.session.scalars(stmt)).all())

    async def all_except_of(self, cluster_id: uuid.UUID, limit: int) -> list[Partnership]:
        """Partnerships the cluster is not in, newest first (candidates for search)."""
        stmt = (
            select(Partnership)
            .where(
                Partnership.id.not_in(
                    select(PartnershipMember.partnership_id).where(
                        PartnershipMember.cluster_id == cluster_id
                    )
                )
            )
            .order_by(Partnership.created_at.desc())
            .limit(limit)
        )
        return list((await self.session.scalars(stmt)).all())
