"""Routes: a cluster's self-assessment, and where it stands among its peers."""

from __future__ import annotations

import uuid

from services.registry import benchmarking
from services.registry.api.clusters import _load
from services.registry.api.scopes import READ, WRITE
from services.registry.schemas import Benchmark, SelfAssessmentIn, SelfAssessmentOut
from shared.identity import CallerDep
from shared.routing import api_router
from shared.runtime import SessionDep

router = api_router(prefix="/v1/clusters", tags=["benchmarking"])


@router.put(
    "/{cluster_id:uuid}/self-assessment", response_model=SelfAssessmentOut, dependencies=[WRITE]
)
async def submit_self_assessment(
    cluster_id: uuid.UUID, body: SelfAssessmentIn, caller: CallerDep, session: SessionDep
) -> SelfAssessmentOut:
    """Fill in (or replace) the cluster's benchmarking indicators: its manager or its
    tenant's agency."""
    cluster = await _load(session, cluster_id)
    caller.require_cluster(cluster.tenant, cluster.id)
    return benchmarking.assessment_out(await benchmarking.submit(session, cluster, body))


@router.get(
    "/{cluster_id:uuid}/self-assessment", response_model=SelfAssessmentOut, dependencies=[READ]
)
async def get_self_assessment(
    cluster_id: uuid.UUID, caller: CallerDep, session: SessionDep
) -> SelfAssessmentOut:
    """The cluster's own figures: only for those who act for it."""
    cluster = await _load(session, cluster_id)
    caller.require_cluster(cluster.tenant, cluster.id)
    return benchmarking.assessment_out(await benchmarking.own(session, cluster))


@router.get("/{cluster_id:uuid}/benchmark", response_model=Benchmark, dependencies=[READ])
async def get_benchmark(cluster_id: uuid.UUID, caller: CallerDep, session: SessionDep) -> Benchmark:
    """Percentile ranks among assessed peers of each of the cluster's ecosystems; nothing
    for a group of fewer than 5 peers; never a peer's figure."""
    cluster = await _load(session, cluster_id)
    caller.require_cluster(cluster.tenant, cluster.id)
    return await benchmarking.benchmark(session, cluster)
