"""Pages: strategic cluster partnerships. The directory and a partnership's public page;
creating one from a consortium suggestion or from scratch; inviting, and each invited
cluster's own answer; the joint strategy with versions (If-Match: a conflict shows both
texts side by side); activities; a matchmaking event organised under its name; the
partnerships that match my cluster and the clusters that could strengthen one."""

from __future__ import annotations

import asyncio
import re
import uuid
from typing import Any

from fastapi import Response

from services.web import event_form
from services.web.api.clusters import my_clusters
from services.web.pages import Form, Page, Refused, SignedInDep
from services.web.wording import Errors, explain
from shared.routing import api_router

router = api_router(include_in_schema=False, tags=["pages"])

DIRECTORY_FIELDS = {"q": "field or words", "market": "target market", "country": "country"}
CREATE_FIELDS = {
    "name": "name",
    "field": "emerging field",
    "description": "description",
    "lead_cluster_id": "lead cluster",
    "members": "clusters to invite",
    "target_markets": "target markets",
    "competences": "shared competences",
    "strategy": "first strategy",
}
CREATE_ALIASES = {"consortium": "members"}
ACTIVITY_FIELDS = {
    "kind": "kind",
    "title": "title",
    "description": "description",
    "starts_on": "starts on",
    "ends_on": "ends on",
    "country": "country",
}
ACTIVITY_KINDS = [("mission", "Mission"), ("event", "Event"), ("call", "Call")]
_UUID = re.compile(
    r"[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}"
)


def _codes(text: str) -> list[str]:
    """`US, in; BR` -> ["US", "IN", "BR"]: the API says which code it does not know."""
    return [c.strip().upper() for c in re.split(r"[,;\s]+", text) if c.strip()]


def _lines(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip()]


def cluster_ids(text: str) -> tuple[list[str], list[str]]:
    """Profile addresses or ids, one per line -> (ids, the lines that name none)."""
    ids: list[str] = []
    bad: list[str] = []
    for line in _lines(text):
        found = _UUID.search(line)
        if found is None:
            bad.append(line)
        else:
            ids.append(str(uuid.UUID(found.group(0))))
    return ids, bad


def _mine_in(p: Page, partnership: dict[str, Any], status: str) -> list[dict[str, Any]]:
    """The members in `status` this person speaks for (the API decides; this only
    chooses which buttons to show)."""
    assert p.me is not None
    return [
        m
        for m in partnership["members"]
        if m["status"] == status and p.me.speaks_for({"id": m["cluster_id"], "tenant": m["tenant"]})
    ]


def _options(members: list[dict[str, Any]]) -> list[tuple[str, str]]:
    return [(str(m["cluster_id"]), str(m["name"])) for m in members]


async def _partnership(p: Page, partnership_id: uuid.UUID) -> dict[str, Any]:
    found: dict[str, Any] = await p.read(f"/v1/partnerships/{partnership_id}")
    return found


# ---- the directory ----------------------------------------------------------------


@router.get("/partnerships")
async def directory(p: SignedInDep) -> Response:
    query = p.request.query_params
    values = {k: query.get(k, "").strip() for k in ("q", "market", "country", "formed", "cluster")}
    params: list[tuple[str, str]] = [("limit", "200")]
    if values["q"]:
        params.append(("q", values["q"]))
    if values["market"]:
        params.append(("market", values["market"].upper()))
    if values["formed"] in ("true", "false"):
        params.append(("formed", values["formed"]))
    if values["cluster"]:
        params.append(("cluster_id", values["cluster"]))
    if values["country"]:
        params.append(("country", values["country"].upper()))
    r = await p.call("GET", "/v1/partnerships", params=params)
    errors = Errors()
    items: list[dict[str, Any]] = []
    if r.status_code == 200:
        items = list(r.json()["items"])
    else:
        errors = explain(r, DIRECTORY_FIELDS, {"cluster_id": "cluster"})
    return p.render(
        "partnerships.html",
        status=200 if r.status_code == 200 else 422,
        values=values,
        errors=errors,
        partnerships=items,
        more=bool(r.status_code == 200 and r.json().get("next_cursor")),
    )


# ---- a partnership's page -----------------------------------------------------------


async def _show(
    p: Page,
    partnership_id: uuid.UUID,
    *,
    errors: Errors | None = None,
    values: dict[str, str] | None = None,
    status: int = 200,
) -> Response:
    partnership = await _partnership(p, partnership_id)
    strategy, versions, activities = await asyncio.gather(
        p.read(f"/v1/partnerships/{partnership_id}/strategy"),
        p.read(f"/v1/partnerships/{partnership_id}/strategy/versions"),
        p.read(f"/v1/partnerships/{partnership_id}/activities"),
    )
    assert p.me is not None
    lead = next(m for m in partnership["members"] if m["lead"])
    leads = p.me.speaks_for({"id": lead["cluster_id"], "tenant": lead["tenant"]})
    candidates: list[dict[str, Any]] = []
    if leads:
        r = await p.call(
            "GET", f"/v1/matching/partnerships/{partnership_id}/candidates", params={"limit": 5}
        )
        if r.status_code == 200:
            candidates = list(r.json()["candidates"])
    return p.render(
        "partnership.html",
        status=status,
        partnership=partnership,
        lead=lead,
        leads=leads,
        strategy=strategy,
        versions=list(reversed(versions["items"])),
        activities=activities["items"],
        invited=_mine_in(p, partnership, "invited"),
        speaking=_mine_in(p, partnership, "accepted"),
        speaking_options=_options(_mine_in(p, partnership, "accepted")),
        candidates=candidates,
        kinds=ACTIVITY_KINDS,
        errors=errors or Errors(),
        values=values or {"kind": "mission"},
    )


# ---- creating one -------------------------------------------------------------------


def _new_page(
    p: Page,
    clusters: list[dict[str, Any]],
    suggested: list[dict[str, Any]],
    values: dict[str, str],
    errors: Errors,
    status: int = 200,
) -> Response:
    return p.render(
        "partnership_new.html",
        status=status,
        lead_options=[(str(c["id"]), str(c["name"])) for c in clusters],
        suggested=suggested,
        values=values,
        errors=errors,
    )


async def _leadable(p: Page) -> list[dict[str, Any]]:
    assert p.me is not None
    clusters = [c for c in await my_clusters(p) if p.me.speaks_for(c)]
    if not clusters:
        raise Refused(
            403,
            "No cluster to lead",
            "A partnership is led by a cluster you manage, and you manage none.",
        )
    return clusters


async def _suggested(p: Page, ids: list[str]) -> list[dict[str, Any]]:
    """The clusters of a suggestion, by name (a profile that no longer answers is left
    out: the API would refuse to invite it)."""
    found = await asyncio.gather(*(p.call("GET", f"/v1/clusters/{i}") for i in ids))
    return [r.json() for r in found if r.status_code == 200]


@router.get("/partnerships/new")
async def new_page(p: SignedInDep) -> Response:
    """From scratch, or prefilled from a consortium on /partners (a GET form: nothing is
    written until the person sends this page's own form)."""
    clusters = await _leadable(p)
    query = p.request.query_params
    lead = query.get("lead", "")
    members = [m for m in query.getlist("member") if m != lead]
    ids, _ = cluster_ids("\n".join(members))
    values = {
        "lead_cluster_id": lead,
        "competences": "\n".join(query.getlist("competence")),
        "source": "consortium" if ids else "scratch",
    }
    return _new_page(p, clusters, await _suggested(p, ids[:20]), values, Errors())


def _create_body(form: Form) -> tuple[dict[str, Any], Errors]:
    errors = Errors()
    body: dict[str, Any] = {
        "name": form.get("name"),
        "field": form.get("field"),
        "description": form.get("description"),
        "lead_cluster_id": form.get("lead_cluster_id"),
        "target_markets": _codes(form.get("target_markets")),
        "competences": _lines(form.get("competences")),
        "strategy": form.get("strategy"),
    }
    if form.get("source") == "consortium":
        # Passed on as a consortium: the partnership says it came from a suggestion.
        chosen = form.getlist("suggested")
        members = [{"id": i} for i in [form.get("lead_cluster_id"), *chosen] if i]
        body["consortium"] = {
            "members": members,
            "coverage": [{"competence": c, "covered": True} for c in body["competences"]],
        }
    else:
        ids, bad = cluster_ids(form.get("members"))
        if bad:
            errors.add("members", f"“{bad[0]}” is not a cluster's address or id.")
        body["members"] = ids
    return body, errors


@router.post("/partnerships/new")
async def create(p: SignedInDep) -> Response:
    form = await p.form()
    clusters = await _leadable(p)
    body, errors = _create_body(form)
    suggested = await _suggested(p, form.getlist("suggested")[:20])
    values = form.values()
    if errors:
        return _new_page(p, clusters, suggested, values, errors, 422)
    r = await p.call(
        "POST",
        "/v1/partnerships",
        json=body,
        headers={"idempotency-key": form.get("form_key") or uuid.uuid4().hex},
    )
    if r.status_code == 201:
        return p.redirect(f"/partnerships/{r.json()['id']}", notice="created")
    if r.status_code >= 500:
        raise Refused(503, "The platform could not answer", "Nothing was created; try again.")
    return _new_page(p, clusters, suggested, values, explain(r, CREATE_FIELDS, CREATE_ALIASES), 422)


# ---- members ------------------------------------------------------------------------


@router.post("/partnerships/{partnership_id}/invite")
async def invite(partnership_id: uuid.UUID, p: SignedInDep) -> Response:
    form = await p.form()
    ids, bad = cluster_ids(form.get("cluster"))
    if bad or len(ids) != 1:
        errors = Errors(fields={"cluster": "Give one cluster's profile address or id."})
        return await _show(p, partnership_id, errors=errors, values=form.values(), status=422)
    r = await p.call(
        "POST", f"/v1/partnerships/{partnership_id}/members", json={"cluster_id": ids[0]}
    )
    if r.status_code in (200, 201):
        return p.redirect(f"/partnerships/{partnership_id}", notice="invited")
    errors = explain(r, {"cluster": "cluster"}, {"cluster_id": "cluster"})
    if r.status_code in (403, 404) and not errors.fields:
        raise Refused(r.status_code, "Not invited", " ".join(errors.general))
    return await _show(p, partnership_id, errors=errors, values=form.values(), status=422)


async def _answer(p: Page, partnership_id: uuid.UUID, cluster_id: uuid.UUID, verb: str) -> Response:
    await p.form()
    r = await p.call("POST", f"/v1/partnerships/{partnership_id}/members/{cluster_id}/{verb}")
    if r.status_code == 200:
        return p.redirect(f"/partnerships/{partnership_id}", notice="answered")
    refused = explain(r, {})
    raise Refused(
        r.status_code if r.status_code < 500 else 503,
        "Not answered",
        " ".join(refused.general + list(refused.fields.values())) + " Nothing was changed.",
    )


@router.post("/partnerships/{partnership_id}/members/{cluster_id}/accept")
async def accept(partnership_id: uuid.UUID, cluster_id: uuid.UUID, p: SignedInDep) -> Response:
    return await _answer(p, partnership_id, cluster_id, "accept")


@router.post("/partnerships/{partnership_id}/members/{cluster_id}/decline")
async def decline(partnership_id: uuid.UUID, cluster_id: uuid.UUID, p: SignedInDep) -> Response:
    return await _answer(p, partnership_id, cluster_id, "decline")


# ---- the joint strategy -------------------------------------------------------------


def _strategy_page(
    p: Page,
    partnership: dict[str, Any],
    strategy: dict[str, Any],
    etag: str,
    values: dict[str, str],
    errors: Errors,
    status: int = 200,
    theirs: dict[str, Any] | None = None,
) -> Response:
    return p.render(
        "partnership_strategy.html",
        status=status,
        partnership=partnership,
        strategy=strategy,
        etag=etag,
        values=values,
        errors=errors,
        theirs=theirs,
        speaking=_mine_in(p, partnership, "accepted"),
        speaking_options=_options(_mine_in(p, partnership, "accepted")),
    )


async def _strategy(p: Page, partnership_id: uuid.UUID) -> tuple[dict[str, Any], str]:
    r = await p.call("GET", f"/v1/partnerships/{partnership_id}/strategy")
    if r.status_code != 200:
        raise Refused(404, "Not found", "There is no such partnership.")
    return r.json(), r.headers.get("etag", "")


def _may_write(p: Page, partnership: dict[str, Any]) -> None:
    if not _mine_in(p, partnership, "accepted"):
        raise Refused(
            403,
            "Not a member",
            f"Only managers of clusters that accepted to be in “{partnership['name']}” "
            "change its strategy and activities. Nothing was changed.",
        )


@router.get("/partnerships/{partnership_id}/strategy")
async def strategy_page(partnership_id: uuid.UUID, p: SignedInDep) -> Response:
    partnership = await _partnership(p, partnership_id)
    _may_write(p, partnership)
    strategy, etag = await _strategy(p, partnership_id)
    return _strategy_page(p, partnership, strategy, etag, {"text": strategy["text"]}, Errors())


@router.post("/partnerships/{partnership_id}/strategy")
async def edit_strategy(partnership_id: uuid.UUID, p: SignedInDep) -> Response:
    form = await p.form()
    partnership = await _partnership(p, partnership_id)
    body: dict[str, Any] = {"text": form.get("text")}
    if form.get("cluster_id"):
        body["cluster_id"] = form.get("cluster_id")
    # Never "*": a form without the version it was read from must not overwrite.
    etag = form.get("etag")
    r = await p.call(
        "PUT",
        f"/v1/partnerships/{partnership_id}/strategy",
        json=body,
        headers={"if-match": etag} if etag else {},
    )
    if r.status_code == 200:
        return p.redirect(f"/partnerships/{partnership_id}", notice="saved")
    if r.status_code == 412:
        # Another member saved meanwhile: theirs beside what was typed; saving again with
        # the fresh ETag puts this text over theirs, knowingly.
        current, fresh_etag = await _strategy(p, partnership_id)
        errors = Errors(
            general=[
                "Someone else saved a new version of the strategy after you opened it. "
                "Nothing of yours was saved yet and nothing is lost: compare the two "
                "texts below, then save again to keep yours."
            ]
        )
        return _strategy_page(
            p, partnership, current, fresh_etag, form.values(), errors, 409, theirs=current
        )
    if r.status_code in (403, 404):
        raise Refused(
            r.status_code, "Not saved", explain(r, {}).general[0] + " Nothing was changed."
        )
    current, _ = await _strategy(p, partnership_id)
    errors = explain(r, {"text": "strategy", "cluster_id": "speaking for"})
    return _strategy_page(p, partnership, current, etag, form.values(), errors, 422)


# ---- activities and an event under its name -----------------------------------------


@router.post("/partnerships/{partnership_id}/activities")
async def add_activity(partnership_id: uuid.UUID, p: SignedInDep) -> Response:
    form = await p.form()
    body: dict[str, Any] = {
        "kind": form.get("kind"),
        "title": form.get("title"),
        "description": form.get("description"),
        "starts_on": form.get("starts_on") or None,
        "ends_on": form.get("ends_on") or form.get("starts_on") or None,
        "country": form.get("country").strip().upper() or None,
    }
    if form.get("cluster_id"):
        body["cluster_id"] = form.get("cluster_id")
    r = await p.call("POST", f"/v1/partnerships/{partnership_id}/activities", json=body)
    if r.status_code == 201:
        return p.redirect(f"/partnerships/{partnership_id}", notice="saved")
    if r.status_code in (403, 404):
        raise Refused(
            r.status_code, "Not added", explain(r, {}).general[0] + " Nothing was changed."
        )
    errors = explain(r, ACTIVITY_FIELDS)
    return await _show(p, partnership_id, errors=errors, values=form.values(), status=422)


def _event_page(
    p: Page, partnership: dict[str, Any], values: dict[str, str], errors: Errors, status: int = 200
) -> Response:
    return p.render(
        "partnership_event.html",
        status=status,
        partnership=partnership,
        values=values,
        errors=errors,
        speaking=_mine_in(p, partnership, "accepted"),
        speaking_options=_options(_mine_in(p, partnership, "accepted")),
    )


def _may_organise(p: Page, partnership: dict[str, Any]) -> None:
    _may_write(p, partnership)
    assert p.me is not None
    if not p.me.organises:
        raise Refused(
            403,
            "Not an organiser",
            "Matchmaking events are created by organisers: ask your agency for the "
            "organiser role, or ask an organiser to create the event and add it as an "
            "activity. Nothing was changed.",
        )


@router.get("/partnerships/{partnership_id}/event")
async def event_page(partnership_id: uuid.UUID, p: SignedInDep) -> Response:
    partnership = await _partnership(p, partnership_id)
    _may_organise(p, partnership)
    values = {
        "title": f"{partnership['name']}: matchmaking",
        "timezone": await p.my_zone(),
        "meeting_minutes": "30",
    }
    return _event_page(p, partnership, values, Errors())


@router.post("/partnerships/{partnership_id}/event")
async def organise_event(partnership_id: uuid.UUID, p: SignedInDep) -> Response:
    form = await p.form()
    partnership = await _partnership(p, partnership_id)
    # Both rights are checked before the event is made, so that a refusal leaves no event
    # without its partnership behind.
    _may_organise(p, partnership)
    body = {k: v for k, v in event_form.body_of(form).items() if v is not None}
    r = await p.call(
        "POST",
        "/v1/events",
        json=body,
        headers={"idempotency-key": form.get("form_key") or uuid.uuid4().hex},
    )
    if r.status_code != 201:
        return _event_page(p, partnership, form.values(), explain(r, event_form.FIELDS), 422)
    event = r.json()
    first = event["sessions"][0]["date"] if event.get("sessions") else None
    last = event["sessions"][-1]["date"] if event.get("sessions") else first
    activity: dict[str, Any] = {
        "kind": "event",
        "title": event["title"],
        "starts_on": first,
        "ends_on": last,
        "event_id": event["id"],
    }
    if form.get("cluster_id"):
        activity["cluster_id"] = form.get("cluster_id")
    a = await p.call("POST", f"/v1/partnerships/{partnership_id}/activities", json=activity)
    if a.status_code != 201:
        raise Refused(
            a.status_code if a.status_code < 500 else 503,
            "The event is not linked",
            f"The event “{event['title']}” was created but could not be added to the "
            f"partnership: {explain(a, {}).general[0]} Add it as an activity from the "
            "partnership's page.",
        )
    return p.redirect(f"/partnerships/{partnership_id}", notice="created")


# ---- search -------------------------------------------------------------------------


@router.get("/partnerships/search")
async def search(p: SignedInDep, cluster: str | None = None) -> Response:
    assert p.me is not None
    clusters = [c for c in await my_clusters(p) if p.me.speaks_for(c)]
    chosen = next((c for c in clusters if str(c["id"]) == cluster), None)
    if cluster and chosen is None:
        raise Refused(
            403, "Not your cluster", "You can look for partnerships only for your clusters."
        )
    chosen = chosen or (clusters[0] if clusters else None)
    found: list[dict[str, Any]] = []
    if chosen is not None:
        result = await p.read("/v1/partnerships/search", params={"cluster_id": str(chosen["id"])})
        found = list(result["items"])
    return p.render("partnership_search.html", clusters=clusters, chosen=chosen, found=found)


# Last: the fixed paths above (new, search) are matched before an id is tried.
@router.get("/partnerships/{partnership_id}")
async def partnership_page(partnership_id: uuid.UUID, p: SignedInDep) -> Response:
    return await _show(p, partnership_id)
