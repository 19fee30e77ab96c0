"""Routes: bulk import of profiles, and the imports' reports."""

from __future__ import annotations

import uuid
from typing import Annotated, Literal

from fastapi import Query, Request

from services.registry.api.scopes import WRITE, target_tenant
from services.registry.deps import RegistryDep, RegistryRuntime
from services.registry.importer import Importer
from services.registry.models import ImportJob
from services.registry.repository import ImportRepository, TenantRepository
from services.registry.schemas import ImportReport
from shared.identity import Caller, CallerDep
from shared.problems import Problem, not_found
from shared.routing import api_router
from shared.runtime import transaction

router = api_router(prefix="/v1", tags=["clusters"])

FORMATS = {
    "application/x-ndjson": "jsonl",
    "application/jsonl": "jsonl",
    "application/json-lines": "jsonl",
    "text/csv": "csv",
}
# The OpenAPI document declares the body as bytes: generated clients (which know JSON,
# forms and bytes, not JSON Lines or CSV) can then send the file; the Content-Type or
# `?format=` says which it is.
IMPORT_BODY = {
    "required": True,
    "description": "The file: JSON Lines (`Content-Type: application/x-ndjson`) or CSV "
    "(`text/csv`); sent as `application/octet-stream`, say `?format=jsonl|csv`.",
    "content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}},
}


@router.post(
    "/clusters/import",
    response_model=ImportReport,
    dependencies=[WRITE],
    openapi_extra={"requestBody": IMPORT_BODY},
)
async def import_clusters(
    request: Request,
    caller: CallerDep,
    rt: RegistryDep,
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
    caller.require_whole_tenant("import profiles")
    media = (request.headers.get("content-type") or "").split(";")[0].strip().lower()
    fmt = format or FORMATS.get(media)
    if fmt is None:
        raise Problem(
            415,
            "Send application/x-ndjson or text/csv (or say ?format=jsonl|csv).",
            field="Content-Type",
        )
    code = target_tenant(caller, tenant)
    async with transaction(rt, caller.db_scope) as s:
        tenant_row = await TenantRepository(s).get(code)
    if tenant_row is None:
        raise Problem(422, f"Unknown tenant '{code}'.", field="tenant")
    importer = Importer(lambda: transaction(rt, caller.db_scope), tenant_row, fmt, caller)
    job_id = await importer.run(request.stream())
    return await _report(rt, caller, job_id)


def _as_report(job: ImportJob) -> ImportReport:
    return ImportReport(
        id=job.id,
        tenant=job.tenant,
        format=job.format,
        status=job.status,
        rows_seen=job.rows_seen,
        created=job.created,
        updated=job.updated,
        unchanged=job.unchanged,
        refused=job.refused,
        errors=job.errors,
        errors_truncated=job.refused > len(job.errors),
        started_at=job.started_at,
        finished_at=job.finished_at,
    )


async def _report(rt: RegistryRuntime, caller: Caller, job_id: uuid.UUID) -> ImportReport:
    async with transaction(rt, caller.db_scope) as s:
        job = await ImportRepository(s).get(job_id)
    if job is None or not caller.may_write_tenant(job.tenant):
        raise not_found("import")
    return _as_report(job)


@router.get("/imports/{import_id}", response_model=ImportReport, dependencies=[WRITE])
async def get_import(import_id: uuid.UUID, caller: CallerDep, rt: RegistryDep) -> ImportReport:
    """An import's report, with its progress while it runs."""
    return await _report(rt, caller, import_id)


@router.get("/imports", response_model=list[ImportReport], dependencies=[WRITE])
async def list_imports(caller: CallerDep, rt: RegistryDep) -> list[ImportReport]:
    """Your tenant's 50 most recent imports."""
    async with transaction(rt, caller.db_scope) as s:
        jobs = await ImportRepository(s).recent(None if caller.is_admin else caller.tenant)
    return [_as_report(job) for job in jobs]
