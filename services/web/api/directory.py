"""Pages: the directory of public profiles (filters, full-text search, pages) and a
profile page."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

from fastapi import Response

from services.web.api.labels import profile_with_labels
from services.web.pages import SignedInDep
from services.web.wording import Errors, explain
from shared.routing import api_router

router = api_router(include_in_schema=False, tags=["pages"])

FILTERS = {
    "q": "search",
    "country": "country",
    "tenant": "tenant",
    "ecosystem": "ecosystem",
    "label": "label",
    "verified": "verified",
    "cursor": "page",
}
LABELS = [("bronze", "Bronze or better"), ("silver", "Silver or better"), ("gold", "Gold")]


@router.get("/directory")
async def directory(p: SignedInDep) -> Response:
    query = p.request.query_params
    values = {k: query.get(k, "") for k in FILTERS}
    params: list[tuple[str, str]] = [("limit", str(p.rt.settings.page_size))]
    for key in ("q", "country", "tenant", "ecosystem", "label", "verified", "cursor"):
        if values[key]:
            params.append((key, values[key]))
    # Independent reads in parallel: the page waits for the slower, not for the sum.
    r, tenants = await asyncio.gather(p.call("GET", "/v1/clusters", params=params), p.tenants())
    errors = Errors()
    page: dict[str, Any] = {"items": [], "next_cursor": None}
    if r.status_code == 200:
        page = r.json()
    else:
        errors = explain(r, FILTERS)
    next_query = [(k, v) for k, v in params if k not in ("limit", "cursor")]
    return p.render(
        "directory.html",
        status=200 if r.status_code == 200 else 422,
        values=values,
        errors=errors,
        clusters=page["items"],
        next_cursor=page.get("next_cursor"),
        base_query=next_query,
        tenants=tenants,
        labels=LABELS,
    )


@router.get("/clusters/{cluster_id}")
async def profile(cluster_id: uuid.UUID, p: SignedInDep) -> Response:
    return await profile_with_labels(p, cluster_id)
