"""Pages: the agency desk: the tenant's people (invite, roles, deactivate), verifying
profiles, imports with their reports, and the tenant's API keys."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import Response

from services.web.api.clusters import my_clusters
from services.web.pages import Page, Refused, SignedInDep
from services.web.wording import Errors, explain
from shared.routing import api_router

router = api_router(include_in_schema=False, tags=["pages"])

ROLES = [
    ("agency-admin", "Agency admin (everything of the tenant)"),
    ("organiser", "Organiser (runs events)"),
    ("cluster-manager", "Cluster manager (of the clusters named below)"),
]
INVITE_FIELDS = {
    "email": "e-mail address",
    "name": "name",
    "roles": "roles",
    "clusters": "clusters",
}
AGENCY_SCOPES = [
    "registry:read",
    "registry:write",
    "matching:read",
    "matching:feedback",
    "events:read",
    "events:participate",
    "events:organise",
]


def _admin(p: Page) -> None:
    assert p.me is not None
    if not p.me.is_admin:
        raise Refused(403, "Not allowed", "Only an agency admin uses the agency desk.")


async def _people_page(
    p: Page, values: dict[str, Any] | None = None, errors: Errors | None = None, status: int = 200
) -> Response:
    people = await p.read("/v1/people")
    clusters = await my_clusters(p)
    values = values or {"roles": [], "clusters": []}
    # A cluster named in the link (from its profile page) is offered even when the
    # tenant has more clusters than the list shows.
    listed = {str(c["id"]) for c in clusters}
    for wanted in values.get("clusters", []):
        if wanted not in listed:
            r = await p.call("GET", f"/v1/clusters/{wanted}")
            if r.status_code == 200:
                clusters.insert(0, r.json())
    names = {str(c["id"]): c["name"] for c in clusters}
    return p.render(
        "agency_people.html",
        status=status,
        people=people,
        clusters=clusters,
        names=names,
        roles=ROLES,
        values=values,
        errors=errors or Errors(),
    )


@router.get("/agency")
async def agency(p: SignedInDep, cluster: uuid.UUID | None = None) -> Response:
    _admin(p)
    values = {"roles": ["cluster-manager"] if cluster else [], "clusters": []}
    if cluster:
        values["clusters"] = [str(cluster)]
    return await _people_page(p, values)


@router.post("/agency/people")
async def invite(p: SignedInDep) -> Response:
    _admin(p)
    form = await p.form()
    body = {
        "email": form.get("email").strip(),
        "name": form.get("name"),
        "roles": form.getlist("roles"),
        "clusters": form.getlist("clusters"),
    }
    r = await p.call(
        "POST",
        "/v1/people",
        json=body,
        headers={"idempotency-key": form.get("form_key") or uuid.uuid4().hex},
    )
    if r.status_code == 201:
        return p.redirect("/agency", notice="invited")
    values = {**form.values(), "roles": body["roles"], "clusters": body["clusters"]}
    return await _people_page(p, values, explain(r, INVITE_FIELDS), 422)


@router.post("/agency/people/{person_id}/{action}")
async def person_action(person_id: uuid.UUID, action: str, p: SignedInDep) -> Response:
    _admin(p)
    form = await p.form()
    if action == "roles":
        r = await p.call(
            "PATCH",
            f"/v1/people/{person_id}",
            json={"roles": form.getlist("roles"), "clusters": form.getlist("clusters")},
        )
    elif action in ("deactivate", "activate", "invitation"):
        r = await p.call("POST", f"/v1/people/{person_id}/{action}")
    else:
        raise Refused(404, "Not found", "There is no such action on a person.")
    if r.status_code >= 300:
        raise Refused(r.status_code, "Not done", explain(r, {}).general[0] + " Nothing changed.")
    return p.redirect("/agency", notice="saved")


@router.get("/agency/verify")
async def verify_page(p: SignedInDep) -> Response:
    _admin(p)
    assert p.me is not None
    page = await p.read(
        "/v1/clusters", params={"tenant": p.me.tenant, "verified": "false", "limit": 100}
    )
    return p.render("agency_verify.html", clusters=page["items"])


@router.post("/agency/verify/{cluster_id}")
async def verify(cluster_id: uuid.UUID, p: SignedInDep) -> Response:
    _admin(p)
    await p.form()
    current = await p.call("GET", f"/v1/clusters/{cluster_id}")
    if current.status_code != 200:
        raise Refused(404, "Not found", "There is no such cluster profile.")
    r = await p.call(
        "PATCH",
        f"/v1/clusters/{cluster_id}",
        json={"verified": True},
        headers={"if-match": current.headers.get("etag", "*")},
    )
    if r.status_code != 200:
        raise Refused(r.status_code, "Not verified", explain(r, {}).general[0])
    return p.redirect("/agency/verify", notice="saved")


@router.get("/agency/imports")
async def imports(p: SignedInDep) -> Response:
    _admin(p)
    return p.render("agency_imports.html", imports=await p.read("/v1/imports"))


@router.get("/agency/keys")
async def keys(p: SignedInDep) -> Response:
    _admin(p)
    return p.render(
        "agency_keys.html", clients=await p.read("/v1/clients"), created=None, errors=Errors()
    )


@router.post("/agency/keys")
async def create_key(p: SignedInDep) -> Response:
    _admin(p)
    assert p.me is not None
    form = await p.form()
    body = {"tenant": p.me.tenant, "name": form.get("name"), "scopes": AGENCY_SCOPES}
    r = await p.call("POST", "/v1/clients", json=body)
    created = r.json() if r.status_code == 201 else None
    errors = Errors() if created else explain(r, {"name": "name"})
    # The key is shown once, on this page only (never in a redirect or a log).
    return p.render(
        "agency_keys.html",
        status=201 if created else 422,
        clients=await p.read("/v1/clients"),
        created=created,
        errors=errors,
    )


@router.post("/agency/keys/{client_id}/revoke")
async def revoke_key(client_id: uuid.UUID, p: SignedInDep) -> Response:
    _admin(p)
    await p.form()
    r = await p.call("DELETE", f"/v1/clients/{client_id}")
    if r.status_code != 204:
        raise Refused(r.status_code, "Not revoked", explain(r, {}).general[0])
    return p.redirect("/agency/keys", notice="saved")
