"""Pages: partners for my cluster in each mode with the reasons in words, feedback
buttons, free-text search, and the consortium builder."""

from __future__ import annotations

from typing import Any

from fastapi import Response

from services.web.api.clusters import my_clusters
from services.web.pages import Page, Refused, SignedInDep
from services.web.wording import Errors, explain
from shared.routing import api_router

router = api_router(include_in_schema=False, tags=["pages"])

MODES = [
    ("balanced", "Balanced"),
    ("complementary", "Complementary (trading partners)"),
    ("similar", "Similar (peers for joint projects)"),
]


async def _mine(p: Page, wanted: str | None) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
    assert p.me is not None
    clusters = [c for c in await my_clusters(p) if p.me.speaks_for(c)]
    chosen = next((c for c in clusters if str(c["id"]) == wanted), None)
    if wanted and chosen is None:
        raise Refused(403, "Not your cluster", "You can look for partners only for your clusters.")
    return clusters, chosen or (clusters[0] if clusters else None)


@router.get("/partners")
async def partners(
    p: SignedInDep, cluster: str | None = None, mode: str = "balanced", q: str = ""
) -> Response:
    clusters, chosen = await _mine(p, cluster)
    matches: list[dict[str, Any]] = []
    hints: list[str] = []
    errors = Errors()
    results: list[dict[str, Any]] = []
    if chosen is not None:
        r = await p.call(
            "GET",
            f"/v1/matching/clusters/{chosen['id']}/matches",
            params={"mode": mode, "limit": 10},
        )
        if r.status_code == 200:
            matches, hints = r.json()["matches"], r.json().get("hints", [])
        else:
            errors = explain(r, {"mode": "mode"})
    if q.strip():
        s = await p.call("GET", "/v1/matching/search", params={"q": q, "limit": 10})
        if s.status_code == 200:
            results = s.json()["results"]
        else:
            errors.fields.update(explain(s, {"q": "search"}, {"text": "q"}).fields)
    return p.render(
        "partners.html",
        clusters=clusters,
        chosen=chosen,
        mode=mode,
        modes=MODES,
        matches=matches,
        hints=hints,
        q=q,
        results=results,
        errors=errors,
        consortia=None,
        values={"q": q},
    )


@router.post("/partners/feedback")
async def feedback(p: SignedInDep) -> Response:
    form = await p.form()
    body = {
        "cluster_id": form.get("cluster_id"),
        "other_id": form.get("other_id"),
        "relevant": form.get("relevant") == "yes",
        "mode": form.get("mode") or "balanced",
        "rank": int(form.get("rank")) if form.get("rank").isdigit() else None,
    }
    r = await p.call("POST", "/v1/matching/feedback", json=body)
    if r.status_code != 201:
        raise Refused(r.status_code, "Not recorded", explain(r, {}).general[0])
    return p.redirect(
        "/partners", cluster=form.get("cluster_id"), mode=str(body["mode"]), notice="thanks"
    )


@router.post("/partners/consortia")
async def consortia(p: SignedInDep) -> Response:
    form = await p.form()
    clusters, chosen = await _mine(p, form.get("cluster_id") or None)
    wanted = [line.strip() for line in form.get("competences").splitlines() if line.strip()]
    result = None
    errors = Errors()
    if chosen is not None:
        body: dict[str, Any] = {"cluster_id": str(chosen["id"]), "competences": wanted}
        if form.get("ecosystem"):
            body["filters"] = {"ecosystems": [form.get("ecosystem")]}
        r = await p.call("POST", "/v1/matching/consortia", json=body)
        if r.status_code == 200:
            result = r.json()["consortia"]
        else:
            errors = explain(r, {"competences": "competences"})
    return p.render(
        "partners.html",
        status=200 if result is not None else 422,
        clusters=clusters,
        chosen=chosen,
        mode="balanced",
        modes=MODES,
        matches=[],
        hints=[],
        q="",
        results=[],
        errors=errors,
        consortia=result,
        values={"competences": form.get("competences"), "ecosystem": form.get("ecosystem")},
    )
