"""Registry routes: thin; the work is in profiles, importer and the repositories."""

from __future__ import annotations

import uuid
from typing import Annotated, Any, Literal

from fastapi import Header, Query, Request, Response
from sqlalchemy import select

from services.registry import profiles
from services.registry.importer import Importer
from services.registry.models import Cluster, ImportJob, Tenant
from services.registry.repository import (
    ClusterFilter,
    ClusterRepository,
    TenantRepository,
    cluster_public_dict,
)
from services.registry.schemas import (
    ClusterCreate,
    ClusterOut,
    ClusterPage,
    ClusterPatch,
    ImportReport,
    TenantCreate,
    TenantOut,
)
from shared.db.session import ANY_TENANT, tenant_session
from shared.identity import Caller, CallerDep, require_scope
from shared.problems import Problem, json_response, not_found
from shared.routing import api_router
from shared.runtime import RuntimeDep, SessionDep
from shared.taxonomy import ECOSYSTEMS, LabelLevel
from shared.validation import CountryCode

router = api_router(prefix="/v1")

READ = require_scope("registry:read")
WRITE = require_scope("registry:write")
ADMIN = require_scope("admin")


def _scope(caller: Caller) -> str:
    return ANY_TENANT if caller.is_admin else caller.tenant


def etag_of(cluster: Cluster) -> str:
    return f'"{cluster.id.hex}.{cluster.version}"'


def present(cluster: Cluster, caller: Caller) -> dict[str, Any]:
    body = cluster_public_dict(cluster)
    if caller.is_admin or caller.tenant == cluster.tenant:
        body["contact_email"] = cluster.contact_email
    return body


def cluster_response(cluster: Cluster, caller: Caller, status: int = 200) -> Response:
    return json_response(
        present(cluster, caller), status=status, headers={"ETag": etag_of(cluster)}
    )


async def _tenant(session: SessionDep, code: str) -> Tenant:
    tenant = await TenantRepository(session).get(code)
    if tenant is None:
        raise Problem(422, f"Unknown tenant '{code}'.", field="tenant")
    return tenant


def _target_tenant(caller: Caller, requested: str | None) -> str:
    if requested is None or requested == caller.tenant:
        return caller.tenant
    if not caller.is_admin:
        raise Problem(
            403, "An agency creates clusters only in its own tenant.", field="tenant",
            slug="tenant-forbidden",
        )  # fmt: skip
    return requested


# ---- tenants -------------------------------------------------------------------------


@router.get("/tenants", response_model=list[TenantOut], dependencies=[READ], tags=["tenants"])
async def list_tenants(session: SessionDep) -> list[Tenant]:
    return await TenantRepository(session).all()


@router.get("/tenants/{code}", response_model=TenantOut, dependencies=[READ], tags=["tenants"])
async def get_tenant(code: str, session: SessionDep) -> Tenant:
    tenant = await TenantRepository(session).get(code)
    if tenant is None:
        raise not_found("tenant")
    return tenant


@router.post(
    "/tenants", response_model=TenantOut, status_code=201, dependencies=[ADMIN], tags=["tenants"]
)
async def create_tenant(body: TenantCreate, session: SessionDep) -> Tenant:
    repo = TenantRepository(session)
    if await repo.get(body.code) is not None:
        raise Problem(409, f"Tenant '{body.code}' exists.", field="code")
    tenant = Tenant(
        code=body.code, name=body.name, countries=sorted(set(body.countries)),
        timezone=body.timezone, language=body.language,
    )  # fmt: skip
    repo.add(tenant)
    await session.flush()
    return tenant


# ---- clusters ------------------------------------------------------------------------


@router.post(
    "/clusters",
    status_code=201,
    response_model=ClusterOut,
    dependencies=[WRITE],
    tags=["clusters"],
    responses={409: {"description": "external_id already used in this tenant"}},
)
async def create_cluster(body: ClusterCreate, caller: CallerDep, session: SessionDep) -> Response:
    tenant = await _tenant(session, _target_tenant(caller, body.tenant))
    cluster = await profiles.create(session, tenant, body)
    response = cluster_response(cluster, caller, status=201)
    response.headers["Location"] = f"/v1/clusters/{cluster.id}"
    return response


@router.get("/clusters", response_model=ClusterPage, dependencies=[READ], tags=["clusters"])
async def list_clusters(
    caller: CallerDep,
    session: SessionDep,
    country: Annotated[list[CountryCode], Query(max_length=50)] = [],  # noqa: B006
    tenant: Annotated[list[str], Query(max_length=20)] = [],  # noqa: B006
    ecosystem: Annotated[list[str], Query(max_length=14)] = [],  # noqa: B006
    label: Annotated[LabelLevel | None, Query(description="minimum label level")] = None,
    verified: bool | None = None,
    q: Annotated[str | None, Query(max_length=200)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(max_length=500)] = None,
) -> Response:
    for code in ecosystem:
        if code not in ECOSYSTEMS:
            raise Problem(422, f"Unknown ecosystem '{code}'.", field="ecosystem")
    if q is not None and "\x00" in q:
        raise Problem(422, "q must not contain NUL.", field="q")
    f = ClusterFilter(
        countries=[c.upper() for c in country], tenants=tenant, ecosystems=ecosystem,
        label_min=label, text=q or None, verified=verified,
    )  # fmt: skip
    rows, next_cursor = await ClusterRepository(session).page(f, limit, cursor)
    return json_response({"items": [present(c, caller) for c in rows], "next_cursor": next_cursor})


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
    _writable(cluster, caller)
    locked = await ClusterRepository(session).get_for_update(cluster_id)
    if locked is None:
        raise not_found("cluster")
    return locked


def _writable(cluster: Cluster, caller: Caller) -> None:
    # Another tenant's profile is readable, so refusing with 404 would be a lie; but it
    # must never be changed: 403 says exactly that.
    if not caller.may_write_tenant(cluster.tenant):
        raise Problem(403, "This cluster belongs to another tenant.", slug="tenant-forbidden")


@router.get(
    "/clusters/{cluster_id}", response_model=ClusterOut, dependencies=[READ], tags=["clusters"]
)
async def get_cluster(
    cluster_id: uuid.UUID,
    caller: CallerDep,
    session: SessionDep,
    if_none_match: Annotated[str | None, Header()] = None,
) -> Response:
    cluster = await _load(session, cluster_id)
    etag = etag_of(cluster)
    if if_none_match and etag in {t.strip() for t in if_none_match.split(",")}:
        return Response(status_code=304, headers={"ETag": etag})
    return cluster_response(cluster, caller)


@router.patch(
    "/clusters/{cluster_id}",
    response_model=ClusterOut,
    dependencies=[WRITE],
    tags=["clusters"],
    responses={
        412: {"description": "If-Match does not match"},
        428: {"description": "If-Match missing"},
    },
)
async def patch_cluster(
    cluster_id: uuid.UUID,
    body: ClusterPatch,
    caller: CallerDep,
    session: SessionDep,
    if_match: Annotated[str | None, Header()] = None,
) -> Response:
    cluster = await _load_for_change(session, cluster_id, caller)
    if not if_match:
        raise Problem(
            428, "Send If-Match with the ETag you read, so no change is lost.",
            field="If-Match",
        )  # fmt: skip
    if if_match.strip() != "*" and etag_of(cluster) not in {t.strip() for t in if_match.split(",")}:
        raise Problem(
            412, "The cluster changed since you read it; read it again and retry.",
            field="If-Match",
        )  # fmt: skip
    changes = profiles.patch_changes(body)
    if "verified" in changes and not caller.is_admin and "registry:verify" not in caller.scopes:
        raise Problem(403, "Marking a profile verified needs the registry:verify scope.",
                      field="verified", slug="insufficient-scope")  # fmt: skip
    repo = ClusterRepository(session)
    ext = changes.get("external_id")
    if ext and await repo.external_id_taken(cluster.tenant, ext, other_than=cluster.id):
        raise Problem(409, f"external_id '{ext}' is used by another cluster.", field="external_id")
    tenant = await _tenant(session, cluster.tenant)
    if profiles.apply_changes(tenant, cluster, changes):
        await session.flush()
        profiles.announce_upsert(session, cluster)
    return cluster_response(cluster, caller)


@router.delete("/clusters/{cluster_id}", status_code=204, dependencies=[WRITE], tags=["clusters"])
async def delete_cluster(
    cluster_id: uuid.UUID,
    caller: CallerDep,
    session: SessionDep,
    if_match: Annotated[str | None, Header()] = None,
) -> Response:
    cluster = await _load_for_change(session, cluster_id, caller)
    if (
        if_match
        and if_match.strip() != "*"
        and etag_of(cluster) not in {t.strip() for t in if_match.split(",")}
    ):
        raise Problem(412, "The cluster changed since you read it.", field="If-Match")
    await profiles.delete(session, cluster)
    return Response(status_code=204)


# ---- bulk import ---------------------------------------------------------------------

FORMATS = {
    "application/x-ndjson": "jsonl",
    "application/jsonl": "jsonl",
    "application/json-lines": "jsonl",
    "text/csv": "csv",
}


@router.post(
    "/clusters/import",
    response_model=ImportReport,
    dependencies=[WRITE],
    tags=["clusters"],
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/x-ndjson": {"schema": {"type": "string", "format": "binary"}},
                "text/csv": {"schema": {"type": "string", "format": "binary"}},
            },
        }
    },
)
async def import_clusters(
    request: Request,
    caller: CallerDep,
    rt: RuntimeDep,
    format: Annotated[Literal["jsonl", "csv"] | None, Query()] = None,
    tenant: Annotated[str | None, Query(max_length=16)] = None,
) -> ImportReport:
    """Create or update many profiles at once, matched on `external_id`.

    Send the file as the body (`Content-Type: application/x-ndjson` or `text/csv`). CSV
    columns are the profile fields; list fields are `;`-separated; members are
    `members_smes`, `members_large_firms`, `members_research_education`, `members_other`;
    the label is `label_level` and `label_valid_until`. The answer reports every refused
    row; `GET /v1/imports/{id}` shows progress while it runs.
    """
    media = (request.headers.get("content-type") or "").split(";")[0].strip().lower()
    fmt = format or FORMATS.get(media)
    if fmt is None:
        raise Problem(
            415, "Send application/x-ndjson or text/csv (or say ?format=jsonl|csv).",
            field="Content-Type",
        )  # fmt: skip
    code = _target_tenant(caller, tenant)
    async with rt.sessionmaker() as s:
        tenant_row = await s.get(Tenant, code)
    if tenant_row is None:
        raise Problem(422, f"Unknown tenant '{code}'.", field="tenant")
    importer = Importer(rt.sessionmaker, tenant_row, fmt, _scope(caller))
    job_id = await importer.run(request.stream())
    if rt.relay is not None:
        rt.relay.wake()
    return await _report(rt, caller, job_id)


def _as_report(job: ImportJob) -> ImportReport:
    return ImportReport(
        id=job.id, tenant=job.tenant, format=job.format, status=job.status,
        rows_seen=job.rows_seen, created=job.created, updated=job.updated,
        unchanged=job.unchanged, refused=job.refused,
        errors=job.errors,
        errors_truncated=job.refused > len(job.errors),
        started_at=job.started_at, finished_at=job.finished_at,
    )  # fmt: skip


async def _report(rt: RuntimeDep, caller: Caller, job_id: uuid.UUID) -> ImportReport:
    async with tenant_session(rt.sessionmaker, _scope(caller)) as s:
        job = await s.get(ImportJob, job_id)
    if job is None or not caller.may_write_tenant(job.tenant):
        raise not_found("import")
    return _as_report(job)


@router.get(
    "/imports/{import_id}",
    response_model=ImportReport,
    dependencies=[WRITE],
    tags=["clusters"],
)
async def get_import(import_id: uuid.UUID, caller: CallerDep, rt: RuntimeDep) -> ImportReport:
    return await _report(rt, caller, import_id)


@router.get(
    "/imports",
    response_model=list[ImportReport],
    dependencies=[WRITE],
    tags=["clusters"],
)
async def list_imports(caller: CallerDep, rt: RuntimeDep) -> list[ImportReport]:
    async with tenant_session(rt.sessionmaker, _scope(caller)) as s:
        stmt = select(ImportJob).order_by(ImportJob.started_at.desc()).limit(50)
        if not caller.is_admin:
            stmt = stmt.where(ImportJob.tenant == caller.tenant)
        jobs = list((await s.scalars(stmt)).all())
    return [_as_report(job) for job in jobs]
