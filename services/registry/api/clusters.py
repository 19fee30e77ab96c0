"""Routes: cluster profiles. Thin: the work is in profiles and the repository."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import Header, Query, Response

from services.registry import labels, profiles
from services.registry.api.scopes import READ, WRITE, target_tenant
from services.registry.models import Cluster, Tenant
from services.registry.presenting import cluster_out
from services.registry.repository import ClusterFilter, ClusterRepository, TenantRepository
from services.registry.schemas import (
    ClusterCreate,
    ClusterOut,
    ClusterPage,
    ClusterPatch,
    RegionCode,
)
from shared.identity import Caller, CallerDep
from shared.problems import REQUIRED_HEADER, Problem, not_found
from shared.routing import api_router
from shared.runtime import SessionDep
from shared.taxonomy import ECOSYSTEMS, LabelLevel
from shared.validation import CountryCode

router = api_router(prefix="/v1/clusters", tags=["clusters"])

# Required, but checked in the handler after the cluster is found, so an unknown id is
# still a 404; the OpenAPI document marks it required (shared.problems.REQUIRED_HEADER).
IfMatch = Annotated[
    str | None,
    Header(
        description="The ETag you read (or `*`): a change made since then is refused "
        "with 412, so no edit is lost. Without it: 428.",
        json_schema_extra=REQUIRED_HEADER,
    ),
]


def etag_of(cluster: Cluster) -> str:
    return f'"{cluster.id.hex}.{cluster.version}"'


def _matches(cluster: Cluster, if_match: str) -> bool:
    return if_match.strip() == "*" or etag_of(cluster) in {t.strip() for t in if_match.split(",")}


def cluster_response(cluster: Cluster, caller: Caller, status: int = 200) -> Response:
    owner = caller.is_admin or caller.tenant == cluster.tenant
    body = cluster_out(cluster, with_contact=owner).model_dump_json(exclude_unset=True)
    return Response(
        body, status_code=status, media_type="application/json", headers={"ETag": etag_of(cluster)}
    )


async def _tenant(session: SessionDep, code: str) -> Tenant:
    tenant = await TenantRepository(session).get(code)
    if tenant is None:
        raise Problem(422, f"Unknown tenant '{code}'.", field="tenant")
    return tenant


@router.post(
    "",
    status_code=201,
    response_model=ClusterOut,
    dependencies=[WRITE],
    responses={409: {"description": "external_id already used in this tenant"}},
)
async def create_cluster(body: ClusterCreate, caller: CallerDep, session: SessionDep) -> Response:
    """Create a profile in your tenant (its country must be one of the tenant's)."""
    caller.require_whole_tenant("create cluster profiles")
    tenant = await _tenant(session, target_tenant(caller, body.tenant))
    cluster = await profiles.create(session, tenant, body, caller)
    response = cluster_response(cluster, caller, status=201)
    response.headers["Location"] = f"/v1/clusters/{cluster.id}"
    return response


@router.get("", response_model=ClusterPage, dependencies=[READ])
async def list_clusters(
    caller: CallerDep,
    session: SessionDep,
    country: Annotated[list[CountryCode], Query(max_length=50)] = [],  # noqa: B006
    region_code: Annotated[list[RegionCode], Query(max_length=50)] = [],  # noqa: B006
    tenant: Annotated[list[str], Query(max_length=20)] = [],  # noqa: B006
    ecosystem: Annotated[list[str], Query(max_length=14)] = [],  # noqa: B006
    label: Annotated[LabelLevel | None, Query(description="minimum label level")] = None,
    verified: bool | None = None,
    q: Annotated[str | None, Query(max_length=200)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(max_length=500)] = None,
) -> Response:
    """Every public profile, filtered, in a stable order, a page at a time."""
    for code in ecosystem:
        if code not in ECOSYSTEMS:
            raise Problem(422, f"Unknown ecosystem '{code}'.", field="ecosystem")
    f = ClusterFilter(
        countries=[c.upper() for c in country],
        regions=region_code,
        tenants=tenant,
        ecosystems=ecosystem,
        label_min=label,
        text=q or None,
        verified=verified,
        label_on=labels.today(),
    )
    rows, next_cursor = await ClusterRepository(session).page(f, limit, cursor)
    page = ClusterPage(
        items=[
            cluster_out(c, with_contact=caller.is_admin or caller.tenant == c.tenant) for c in rows
        ],
        next_cursor=next_cursor,
    )
    return Response(page.model_dump_json(exclude_unset=True), media_type="application/json")


async def _load(session: SessionDep, cluster_id: uuid.UUID) -> Cluster:
    cluster = await ClusterRepository(session).get(cluster_id)
    if cluster is None:
        raise not_found("cluster")
    return cluster


async def _load_for_change(session: SessionDep, cluster_id: uuid.UUID, caller: Caller) -> Cluster:
    """The cluster, locked for update, once we know the caller may change it.

    Row-level security hides other tenants' rows from FOR UPDATE, so the tenant check
    comes first, on the plain read, to answer 403 rather than a misleading 404.
    """
    cluster = await _load(session, cluster_id)
    # The profile is public, so refusing with 404 would be a lie; but only its tenant's
    # agency (or the person who manages it) changes it: 403 says exactly that.
    caller.require_cluster(cluster.tenant, cluster.id)
    locked = await ClusterRepository(session).get_for_update(cluster_id)
    if locked is None:
        raise not_found("cluster")
    return locked


@router.get("/{cluster_id:uuid}", response_model=ClusterOut, dependencies=[READ])
async def get_cluster(
    cluster_id: uuid.UUID,
    caller: CallerDep,
    session: SessionDep,
    if_none_match: Annotated[str | None, Header()] = None,
) -> Response:
    """A profile; `contact_email` only for the owning tenant. Its ETag guards edits."""
    cluster = await _load(session, cluster_id)
    etag = etag_of(cluster)
    if if_none_match and etag in {t.strip() for t in if_none_match.split(",")}:
        return Response(status_code=304, headers={"ETag": etag})
    return cluster_response(cluster, caller)


@router.patch(
    "/{cluster_id:uuid}",
    response_model=ClusterOut,
    dependencies=[WRITE],
    responses={
        412: {"description": "If-Match does not match: the profile changed since you read it"},
        428: {"description": "If-Match missing"},
    },
)
async def patch_cluster(
    cluster_id: uuid.UUID,
    body: ClusterPatch,
    caller: CallerDep,
    session: SessionDep,
    if_match: IfMatch = None,
) -> Response:
    """Change some fields (those present are replaced; null clears an optional one)."""
    cluster = await _load_for_change(session, cluster_id, caller)
    if not if_match:
        raise Problem(
            428, "Send If-Match with the ETag you read, so no change is lost.", field="If-Match"
        )
    if not _matches(cluster, if_match):
        raise Problem(
            412,
            "The cluster changed since you read it; read it again and retry.",
            field="If-Match",
        )
    changes = profiles.patch_changes(body)
    if "verified" in changes and not caller.is_admin and "registry:verify" not in caller.scopes:
        raise Problem(
            403,
            "Marking a profile verified needs the registry:verify scope.",
            field="verified",
            slug="insufficient-scope",
        )
    repo = ClusterRepository(session)
    ext = changes.get("external_id")
    if ext and await repo.external_id_taken(cluster.tenant, ext, other_than=cluster.id):
        raise Problem(409, f"external_id '{ext}' is used by another cluster.", field="external_id")
    tenant = await _tenant(session, cluster.tenant)
    await profiles.change(session, tenant, cluster, changes, caller)
    return cluster_response(cluster, caller)


@router.delete("/{cluster_id:uuid}", status_code=204, dependencies=[WRITE])
async def delete_cluster(
    cluster_id: uuid.UUID,
    caller: CallerDep,
    session: SessionDep,
    if_match: Annotated[str | None, Header(description="optional: refuse if it changed")] = None,
) -> Response:
    """Delete a profile (owner only); matching and events forget it."""
    cluster = await _load_for_change(session, cluster_id, caller)
    if if_match and not _matches(cluster, if_match):
        raise Problem(412, "The cluster changed since you read it.", field="If-Match")
    await profiles.delete(session, cluster)
    return Response(status_code=204)
