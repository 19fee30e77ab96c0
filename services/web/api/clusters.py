"""Pages: my clusters, editing a profile with If-Match (a conflict shows both versions
and keeps what was typed), the matching hints, and a new profile for agency admins."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import Response

from services.web import profile_form
from services.web.pages import Page, Refused, SignedInDep
from services.web.wording import Errors, explain
from shared.routing import api_router

router = api_router(include_in_schema=False, tags=["pages"])


async def my_clusters(p: Page) -> list[dict[str, Any]]:
    """The clusters this person may change: a manager's own, an admin's tenant's."""
    assert p.me is not None
    if p.me.is_admin:
        r = await p.call("GET", "/v1/clusters", params={"tenant": p.me.tenant, "limit": 200})
        return list(r.json()["items"]) if r.status_code == 200 else []
    out = []
    for cluster_id in p.me.clusters:
        r = await p.call("GET", f"/v1/clusters/{cluster_id}")
        if r.status_code == 200:
            out.append(r.json())
    return out


async def hints(p: Page, cluster_id: str) -> list[str]:
    r = await p.call("GET", f"/v1/matching/clusters/{cluster_id}/matches", params={"limit": 1})
    return list(r.json().get("hints", [])) if r.status_code == 200 else []


@router.get("/my-clusters")
async def my_clusters_page(p: SignedInDep) -> Response:
    return p.render("my_clusters.html", clusters=await my_clusters(p))


async def _editable(p: Page, cluster_id: uuid.UUID) -> tuple[dict[str, Any], str]:
    """The profile and its ETag, or a refusal when this person may not change it (the
    API would refuse the change too; the page says so before anything is typed)."""
    r = await p.call("GET", f"/v1/clusters/{cluster_id}")
    if r.status_code != 200:
        raise Refused(404, "Not found", "There is no such cluster profile.")
    cluster = r.json()
    assert p.me is not None
    if not p.me.speaks_for(cluster):
        raise Refused(
            403,
            "Not your cluster",
            f"You do not manage “{cluster['name']}”, so you cannot edit its profile. "
            "Nothing was changed.",
        )
    return cluster, r.headers.get("etag", "")


def _edit_page(
    p: Page,
    cluster: dict[str, Any],
    etag: str,
    values: dict[str, str],
    errors: Errors,
    status: int = 200,
    conflict: list[tuple[str, str, str]] | None = None,
    profile_hints: list[str] | None = None,
) -> Response:
    assert p.me is not None
    return p.render(
        "edit_cluster.html",
        status=status,
        cluster=cluster,
        etag=etag,
        values=values,
        errors=errors,
        conflict=conflict,
        hints=profile_hints or [],
        with_label=p.me.is_admin,
        action=f"/clusters/{cluster['id']}/edit",
    )


@router.get("/clusters/{cluster_id}/edit")
async def edit_page(cluster_id: uuid.UUID, p: SignedInDep) -> Response:
    cluster, etag = await _editable(p, cluster_id)
    return _edit_page(
        p,
        cluster,
        etag,
        profile_form.values_of(cluster),
        Errors(),
        profile_hints=await hints(p, str(cluster_id)),
    )


@router.post("/clusters/{cluster_id}/edit")
async def edit(cluster_id: uuid.UUID, p: SignedInDep) -> Response:
    form = await p.form()
    assert p.me is not None
    typed = profile_form.typed_values(form)
    body = profile_form.body_of(form, with_label=p.me.is_admin)
    etag = form.get("etag") or "*"
    r = await p.call("PATCH", f"/v1/clusters/{cluster_id}", json=body, headers={"if-match": etag})
    if r.status_code == 200:
        return p.redirect(f"/clusters/{cluster_id}", notice="saved")
    if r.status_code == 412:
        # Someone saved meanwhile: show theirs beside what was typed; saving again with
        # the fresh ETag puts these values over theirs, knowingly.
        fresh = await p.call("GET", f"/v1/clusters/{cluster_id}")
        if fresh.status_code != 200:
            raise Refused(404, "Not found", "This cluster profile no longer exists.")
        current = fresh.json()
        conflict = profile_form.differences(profile_form.values_of(current), typed)
        errors = Errors(
            general=[
                "Someone else saved this profile after you opened it. Nothing of yours was "
                "saved yet and nothing is lost: compare the two versions below, then save "
                "again to keep yours."
            ]
        )
        return _edit_page(
            p, current, fresh.headers.get("etag", ""), typed, errors, 409, conflict=conflict
        )
    if r.status_code in (403, 404):
        raise Refused(r.status_code, "Not saved", explain(r, {}).general[0])
    cluster = {"id": str(cluster_id), "name": typed.get("name", "")}
    errors = explain(r, profile_form.FIELDS, profile_form.ALIASES)
    return _edit_page(p, cluster, etag, typed, errors, 422)


@router.get("/clusters-new")
async def new_page(p: SignedInDep) -> Response:
    assert p.me is not None
    if not p.me.is_admin:
        raise Refused(403, "Not allowed", "Only an agency admin creates cluster profiles.")
    return p.render(
        "edit_cluster.html",
        cluster=None,
        etag="",
        values={},
        errors=Errors(),
        conflict=None,
        hints=[],
        with_label=True,
        action="/clusters-new",
    )


@router.post("/clusters-new")
async def create(p: SignedInDep) -> Response:
    form = await p.form()
    body = profile_form.body_of(form, with_label=True)
    r = await p.call("POST", "/v1/clusters", json=body)
    if r.status_code == 201:
        return p.redirect(f"/clusters/{r.json()['id']}", notice="created")
    return p.render(
        "edit_cluster.html",
        status=422 if r.status_code < 500 else 503,
        cluster=None,
        etag="",
        values=profile_form.typed_values(form),
        errors=explain(r, profile_form.FIELDS, profile_form.ALIASES),
        conflict=None,
        hints=[],
        with_label=True,
        action="/clusters-new",
    )
