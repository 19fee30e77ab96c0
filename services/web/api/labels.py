"""Pages: a cluster's excellence label on its profile (level, body, benchmarking date,
validity, expired or not, its history) and the form a verifier sets it with. Only a
person whose role carries `registry:verify` sees the form; the API refuses everyone
else's POST, and the page says so."""

from __future__ import annotations

import asyncio
import uuid
from datetime import date
from typing import Any

from fastapi import Response

from services.web.pages import Page, Refused, SignedInDep
from services.web.wording import Errors, explain
from shared.routing import api_router

router = api_router(include_in_schema=False, tags=["pages"])

VERIFY_SCOPE = "registry:verify"
FIELDS = {
    "level": "Level",
    "issuer": "Awarded by",
    "benchmarked_on": "Benchmarking date",
    "valid_until": "Valid until",
}
LEVELS = [
    ("none", "No label (withdraw)"),
    ("bronze", "Bronze"),
    ("silver", "Silver"),
    ("gold", "Gold"),
]


def may_set_label(p: Page, cluster: dict[str, Any]) -> bool:
    """Offer the form only to whom the API would let set it: a verifier of the
    cluster's own tenant (the API checks it again on the POST)."""
    assert p.me is not None
    return VERIFY_SCOPE in p.me.scopes and str(cluster.get("tenant")) == p.me.tenant


def label_values(cluster: dict[str, Any]) -> dict[str, str]:
    label = cluster.get("label") or {}
    return {k: str(label.get(k) or "") for k in FIELDS} | {"level": str(label.get("level", "none"))}


async def profile_with_labels(
    p: Page,
    cluster_id: uuid.UUID,
    *,
    values: dict[str, str] | None = None,
    errors: Errors | None = None,
    status: int = 200,
) -> Response:
    """The profile page with its label section (and, for a verifier, the form)."""
    cluster, history = await asyncio.gather(
        p.read(f"/v1/clusters/{cluster_id}"), p.read(f"/v1/clusters/{cluster_id}/labels")
    )
    assert p.me is not None
    return p.render(
        "profile.html",
        status=status,
        cluster=cluster,
        mine=p.me.speaks_for(cluster),
        label_history=history["history"],
        label_form=may_set_label(p, cluster),
        label_values=values if values is not None else label_values(cluster),
        label_errors=errors or Errors(),
        label_levels=LEVELS,
    )


def check_form(values: dict[str, str]) -> Errors:
    """What the form can tell before asking the API: a real label needs its body and
    both dates, the end not before the benchmarking."""
    errors = Errors()
    if values["level"] == "none":
        return errors
    for name in ("issuer", "benchmarked_on", "valid_until"):
        if not values[name].strip():
            errors.add(name, f"Needed for a {values['level']} label.")
    try:
        start = date.fromisoformat(values["benchmarked_on"]) if values["benchmarked_on"] else None
        end = date.fromisoformat(values["valid_until"]) if values["valid_until"] else None
    except ValueError:
        return errors  # the API says which date it cannot read
    if start and end and end < start:
        errors.add("valid_until", "The label cannot end before its benchmarking date.")
    return errors


@router.post("/clusters/{cluster_id}/label")
async def set_label(cluster_id: uuid.UUID, p: SignedInDep) -> Response:
    form = await p.form()
    values = {name: form.get(name).strip() for name in FIELDS}
    errors = check_form(values)
    if errors:
        return await profile_with_labels(p, cluster_id, values=values, errors=errors, status=422)
    body: dict[str, Any] = {"level": values["level"] or "none"}
    if body["level"] != "none":
        body |= {k: values[k] for k in ("issuer", "benchmarked_on", "valid_until")}
    r = await p.call("PUT", f"/v1/clusters/{cluster_id}/label", json=body)
    if r.status_code == 200:
        return p.redirect(f"/clusters/{cluster_id}", notice="saved")
    if r.status_code in (401, 403, 404):
        reason = explain(r, {}).general[0] if r.status_code != 404 else "There is no such cluster."
        raise Refused(
            r.status_code if r.status_code != 401 else 403,
            "Label not changed",
            f"{reason} Only an agency admin of the cluster's own tenant sets or changes its "
            "label. Nothing was changed.",
        )
    return await profile_with_labels(
        p, cluster_id, values=values, errors=explain(r, FIELDS), status=422
    )
