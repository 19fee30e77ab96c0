"""Routes: a cluster's excellence label (set by a verifier) and its history."""

from __future__ import annotations

import uuid

from fastapi import Response

from services.registry import labels, profiles
from services.registry.api.clusters import _load, _load_for_change, cluster_response
from services.registry.api.scopes import READ
from services.registry.presenting import label_view
from services.registry.repository import LabelRepository, TenantRepository
from services.registry.schemas import ClusterOut, LabelAwardOut, LabelHistory, LabelSet
from shared.identity import CallerDep, require_scope
from shared.routing import api_router
from shared.runtime import SessionDep

router = api_router(prefix="/v1/clusters", tags=["labels"])

VERIFY = require_scope(labels.VERIFY_SCOPE)


@router.put(
    "/{cluster_id:uuid}/label",
    response_model=ClusterOut,
    dependencies=[VERIFY],
    responses={403: {"description": "not an agency admin or registry:verify key of its tenant"}},
)
async def set_label(
    cluster_id: uuid.UUID, body: LabelSet, caller: CallerDep, session: SessionDep
) -> Response:
    """Set or change (or, with level `none`, withdraw) a cluster's label; the change
    is kept in its history."""
    cluster = await _load_for_change(session, cluster_id, caller)
    tenant = await TenantRepository(session).get(cluster.tenant)
    assert tenant is not None  # a cluster's tenant is a foreign key
    await profiles.change(
        session, tenant, cluster, {"label": body.model_dump(mode="python")}, caller
    )
    return cluster_response(cluster, caller)


@router.get("/{cluster_id:uuid}/labels", response_model=LabelHistory, dependencies=[READ])
async def label_history(cluster_id: uuid.UUID, session: SessionDep) -> LabelHistory:
    """The cluster's current label (judged today) and every label it had, newest first."""
    cluster = await _load(session, cluster_id)
    on = labels.today()
    rows = await LabelRepository(session).history(cluster.id)
    return LabelHistory(
        cluster_id=cluster.id,
        current=label_view(cluster, on),
        history=[
            LabelAwardOut(
                level=r.level,
                issuer=r.issuer,
                benchmarked_on=r.benchmarked_on,
                valid_until=r.valid_until,
                status=labels.status(r.level, r.valid_until, on),
                recorded_at=r.recorded_at,
            )
            for r in rows
        ],
    )
