"""Benchmarking a cluster organisation against its peers of the same ecosystem.

The indicator set follows the quantitative part of the cluster management benchmarking
of the European Secretariat for Cluster Analysis (ESCA), on which the European Cluster
Excellence labels (bronze, silver, gold) are awarded: management staff, budget and its
private share, members by type, international members, services, and the projects and
cooperation agreements of the last two years. Member counts come from the public
profile; the rest from the cluster's own self-assessment.

A manager sees only where their cluster stands (a percentile rank per indicator), and
nothing at all for a peer group smaller than MIN_PEERS, so no single peer's figure can be
read or worked out from a group of one or two.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncSession

from services.registry.models import Cluster, SelfAssessment
from services.registry.repository import AssessmentRepository
from services.registry.schemas import (
    Benchmark,
    IndicatorStanding,
    PeerGroup,
    SelfAssessmentIn,
    SelfAssessmentOut,
)
from shared.problems import Problem

MIN_PEERS = 5

ASSESSED = (
    "staff_fte", "budget_eur", "private_funding_pct", "international_members_pct",
    "services_offered", "projects_2y", "cooperation_agreements_2y",
)  # fmt: skip
FROM_PROFILE = ("members_smes", "members_large_firms", "members_research_education")
INDICATORS = ASSESSED + FROM_PROFILE


def percentile_rank(value: float, peers: list[float]) -> int:
    """Share of peers below `value`, ties counted half, as a whole percent."""
    below = sum(1 for p in peers if p < value)
    equal = sum(1 for p in peers if p == value)
    return round(100 * (below + 0.5 * equal) / len(peers))


async def submit(session: AsyncSession, cluster: Cluster, body: SelfAssessmentIn) -> SelfAssessment:
    repo = AssessmentRepository(session)
    row = await repo.get(cluster.id)
    if row is None:
        row = SelfAssessment(cluster_id=cluster.id, tenant=cluster.tenant)
        repo.add(row)
    for name, value in body.model_dump().items():
        setattr(row, name, value)
    row.updated_at = datetime.now(UTC)
    await session.flush()
    return row


def assessment_out(row: SelfAssessment) -> SelfAssessmentOut:
    return SelfAssessmentOut(
        cluster_id=row.cluster_id,
        updated_at=row.updated_at,
        reference_year=row.reference_year,
        **{name: getattr(row, name) for name in ASSESSED},
    )


async def own(session: AsyncSession, cluster: Cluster) -> SelfAssessment:
    row = await AssessmentRepository(session).get(cluster.id)
    if row is None:
        raise Problem(404, "This cluster has no self-assessment yet.", slug="not-found")
    return row


async def benchmark(session: AsyncSession, cluster: Cluster) -> Benchmark:
    mine = await own(session, cluster)
    values = {name: float(getattr(mine, name)) for name in ASSESSED}
    values |= {name: float(getattr(cluster, name)) for name in FROM_PROFILE}
    repo = AssessmentRepository(session)
    groups = []
    for ecosystem in cluster.ecosystems:
        peers = await repo.peers(cluster.id, ecosystem)
        if len(peers) < MIN_PEERS:
            groups.append(PeerGroup(ecosystem=ecosystem, enough_peers=False, peers=None,
                                    standings=[]))  # fmt: skip
            continue
        standings = [
            IndicatorStanding(
                indicator=name,
                value=values[name],
                percentile=percentile_rank(values[name], [p[name] for p in peers]),
            )
            for name in INDICATORS
        ]
        groups.append(
            PeerGroup(ecosystem=ecosystem, enough_peers=True, peers=len(peers), standings=standings)
        )
    return Benchmark(
        cluster_id=cluster.id, reference_year=mine.reference_year, min_peers=MIN_PEERS,
        groups=groups,
    )  # fmt: skip
