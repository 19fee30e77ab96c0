"""Pages: a cluster's self-assessment (the ESCA benchmarking indicators, filled in by
its manager or its agency) and where it stands among peers of its ecosystems, as
percentiles only; a peer group too small to hide one peer's figure shows a sentence."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

from fastapi import Response

from services.web.pages import Page, Refused, SignedInDep, refusal
from services.web.wording import Errors, explain
from shared.routing import api_router

router = api_router(include_in_schema=False, tags=["pages"])

FIELDS = {
    "reference_year": "Reference year",
    "staff_fte": "Management staff (full-time equivalents)",
    "budget_eur": "Annual budget (EUR)",
    "private_funding_pct": "Private share of the budget (%)",
    "international_members_pct": "International members (%)",
    "services_offered": "Services offered to members",
    "projects_2y": "Collaborative projects, last two years",
    "cooperation_agreements_2y": "Cooperation agreements with other clusters, last two years",
}
# Indicators the benchmark also ranks, read from the public profile.
PROFILE_INDICATORS = {
    "members_smes": "SME members",
    "members_large_firms": "Large firm members",
    "members_research_education": "Research and education members",
}


async def _page(
    p: Page,
    cluster_id: uuid.UUID,
    *,
    values: dict[str, str] | None = None,
    errors: Errors | None = None,
    status: int = 200,
) -> Response:
    path = f"/v1/clusters/{cluster_id}"
    cluster_r, own_r, bench_r = await asyncio.gather(
        p.call("GET", path),
        p.call("GET", f"{path}/self-assessment"),
        p.call("GET", f"{path}/benchmark"),
    )
    if cluster_r.status_code != 200:
        raise refusal(cluster_r)
    cluster = cluster_r.json()
    if own_r.status_code == 403:
        raise Refused(
            403,
            "Not your cluster",
            f"You do not act for “{cluster['name']}”, so you can neither see nor fill in "
            "its benchmarking. Nothing was shown or changed.",
        )
    own: dict[str, Any] | None = own_r.json() if own_r.status_code == 200 else None
    if values is None:
        values = {k: _shown(own[k]) for k in FIELDS} if own else {}
    bench = bench_r.json() if bench_r.status_code == 200 else None
    return p.render(
        "observatory_benchmarking.html",
        status=status,
        cluster=cluster,
        own=own,
        bench=bench,
        values=values,
        errors=errors or Errors(),
        fields=FIELDS,
        labels=FIELDS | PROFILE_INDICATORS,
    )


def _shown(value: object) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


@router.get("/clusters/{cluster_id}/benchmarking")
async def benchmarking_page(cluster_id: uuid.UUID, p: SignedInDep) -> Response:
    return await _page(p, cluster_id)


@router.post("/clusters/{cluster_id}/benchmarking")
async def submit(cluster_id: uuid.UUID, p: SignedInDep) -> Response:
    form = await p.form()
    values = {name: form.get(name).strip() for name in FIELDS}
    # As typed: the API reads the numbers and says, per field, what it cannot accept;
    # an empty field is left out so the API names it as missing.
    body = {k: v for k, v in values.items() if v}
    r = await p.call("PUT", f"/v1/clusters/{cluster_id}/self-assessment", json=body)
    if r.status_code == 200:
        return p.redirect(f"/clusters/{cluster_id}/benchmarking", notice="saved")
    if r.status_code in (403, 404):
        raise Refused(
            r.status_code,
            "Not saved",
            f"{explain(r, {}).general[0]} Only the cluster's manager or its agency fills in "
            "its benchmarking. Nothing was changed.",
        )
    return await _page(p, cluster_id, values=values, errors=explain(r, FIELDS), status=422)
