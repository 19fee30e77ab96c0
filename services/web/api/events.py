"""Pages: events for participants: the list, an event's page (register my cluster,
suggested partners, send a request with a message, my requests), a request's page,
my agenda in the event's zone and mine, the .ics file and a print view."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

from fastapi import Response

from services.web.api.clusters import my_clusters
from services.web.pages import Page, Refused, SignedInDep
from services.web.wording import Errors, explain
from shared.routing import api_router

router = api_router(include_in_schema=False, tags=["pages"])

REQUEST_FIELDS = {
    "sender": "your cluster",
    "receiver": "partner",
    "message": "message",
    "priority": "priority",
}
REGISTER_FIELDS = {"cluster_id": "cluster", "role": "role"}
ACTIONS = {"accept", "decline", "cancel"}


EVENT_FILTERS = {"q": "search", "status": "status", "tenant": "organiser", "cursor": "page"}
# What a participant looks for first: events that take registrations or requests.
STATUSES = [
    ("registration", "Open for registration"),
    ("requests", "Taking meeting requests"),
    ("scheduling", "Agendas being built"),
    ("published", "Agendas published"),
    ("closed", "Closed"),
    ("draft", "Draft"),
]


@router.get("/events")
async def events(p: SignedInDep) -> Response:
    query = p.request.query_params
    values = {k: query.get(k, "") for k in EVENT_FILTERS}
    params: list[tuple[str, str]] = [("limit", str(p.rt.settings.page_size))]
    params += [(k, v) for k, v in values.items() if v]
    r, tenants = await asyncio.gather(p.call("GET", "/v1/events", params=params), p.tenants())
    page: dict[str, Any] = {"items": [], "next_cursor": None}
    errors = Errors()
    if r.status_code == 200:
        page = r.json()
    else:
        errors = explain(r, EVENT_FILTERS)
    return p.render(
        "events.html",
        status=200 if r.status_code == 200 else 422,
        values=values,
        errors=errors,
        statuses=STATUSES,
        organisers=[(t["code"], t["name"]) for t in tenants],
        tenant_names=await p.tenant_names(),
        events=page["items"],
        next_cursor=page.get("next_cursor"),
        base_query=[(k, v) for k, v in params if k not in ("limit", "cursor")],
    )


async def _participants(p: Page, event_id: uuid.UUID) -> list[dict[str, Any]]:
    return list((await p.read(f"/v1/events/{event_id}/participants"))["items"])


async def _managed(p: Page) -> list[dict[str, Any]]:
    assert p.me is not None
    return await my_clusters(p) if p.me.manages_clusters else []


async def event_view(
    p: Page,
    event_id: uuid.UUID,
    *,
    acting: str | None = None,
    errors: Errors | None = None,
    values: dict[str, str] | None = None,
    status: int = 200,
) -> Response:
    assert p.me is not None
    event, participants, managed = await asyncio.gather(
        p.read(f"/v1/events/{event_id}"), _participants(p, event_id), _managed(p)
    )
    registered = {str(x["cluster_id"]): x for x in participants}
    mine = [c for c in managed if p.me.speaks_for(c)]
    mine_in = [c for c in mine if str(c["id"]) in registered]
    mine_out = [c for c in mine if str(c["id"]) not in registered]
    chosen = next((c for c in mine_in if str(c["id"]) == acting), mine_in[0] if mine_in else None)
    requests: list[dict[str, Any]] = []
    suggestions: list[dict[str, Any]] = []
    if chosen is not None:
        cid = str(chosen["id"])
        r = await p.call("GET", f"/v1/events/{event_id}/requests", params={"cluster_id": cid})
        requests = list(r.json()["items"]) if r.status_code == 200 else []
        s = await p.call(
            "GET", f"/v1/events/{event_id}/suggestions", params={"cluster_id": cid, "limit": 10}
        )
        if s.status_code == 200:
            names = {str(x["cluster_id"]): x.get("name") for x in participants}
            for pair in s.json().get("pairs", []):
                other = str(pair["b"]) if str(pair["a"]) == cid else str(pair["a"])
                suggestions.append({"id": other, "name": names.get(other, other), **pair})
    return p.render(
        "event.html",
        status=status,
        event=event,
        participants=participants,
        mine_in=mine_in,
        mine_out=mine_out,
        acting=chosen,
        requests=requests,
        suggestions=suggestions,
        errors=errors or Errors(),
        values=values or {},
        organiser=p.me.organises and event["tenant"] == p.me.tenant,
        organised_by=(await p.tenant_names()).get(event["tenant"], event["tenant"]),
        zone=await p.my_zone(),
    )


@router.get("/events/{event_id}")
async def event_page(event_id: uuid.UUID, p: SignedInDep, acting: str | None = None) -> Response:
    return await event_view(p, event_id, acting=acting)


@router.post("/events/{event_id}/register")
async def register(event_id: uuid.UUID, p: SignedInDep) -> Response:
    form = await p.form()
    body = {"cluster_id": form.get("cluster_id"), "role": form.get("role") or "guest"}
    r = await p.call(
        "POST",
        f"/v1/events/{event_id}/participants",
        json=body,
        headers={"idempotency-key": form.get("form_key") or uuid.uuid4().hex},
    )
    if r.status_code == 201:
        return p.redirect(f"/events/{event_id}", notice="registered", acting=body["cluster_id"])
    return await event_view(
        p, event_id, errors=explain(r, REGISTER_FIELDS), values=form.values(), status=422
    )


@router.post("/events/{event_id}/requests")
async def send_request(event_id: uuid.UUID, p: SignedInDep) -> Response:
    form = await p.form()
    body = {
        "sender": form.get("sender"),
        "receiver": form.get("receiver"),
        "message": form.get("message"),
        "priority": form.get("priority") or "like",
    }
    r = await p.call(
        "POST",
        f"/v1/events/{event_id}/requests",
        json=body,
        headers={"idempotency-key": form.get("form_key") or uuid.uuid4().hex},
    )
    if r.status_code == 201:
        return p.redirect(f"/events/{event_id}", notice="request-sent", acting=body["sender"])
    return await event_view(
        p,
        event_id,
        acting=body["sender"],
        errors=explain(r, REQUEST_FIELDS),
        values=form.values(),
        status=422,
    )


@router.get("/events/{event_id}/requests/{request_id}")
async def request_page(event_id: uuid.UUID, request_id: uuid.UUID, p: SignedInDep) -> Response:
    event = await p.read(f"/v1/events/{event_id}")
    request = await p.read(f"/v1/events/{event_id}/requests/{request_id}")
    assert p.me is not None
    return p.render(
        "request.html",
        event=event,
        req=request,
        mine={str(c) for c in p.me.clusters},
        zone=await p.my_zone(),
    )


@router.post("/events/{event_id}/requests/{request_id}/{action}")
async def answer(
    event_id: uuid.UUID, request_id: uuid.UUID, action: str, p: SignedInDep
) -> Response:
    form = await p.form()
    if action not in ACTIONS:
        raise Refused(404, "Not found", "There is no such action on a request.")
    r = await p.call("POST", f"/v1/events/{event_id}/requests/{request_id}/{action}")
    if r.status_code != 200:
        raise Refused(
            r.status_code if r.status_code < 500 else 503,
            "Not done",
            explain(r, {}).general[0] + " Nothing was changed.",
        )
    back = form.get("acting")
    return p.redirect(
        f"/events/{event_id}", notice="answered", **({"acting": back} if back else {})
    )


# ---- my agenda -------------------------------------------------------------------


async def _agenda(p: Page, event_id: uuid.UUID, cluster_id: uuid.UUID, tz: str | None) -> Any:
    zone = tz or await p.my_zone()
    r = await p.call(
        "GET", f"/v1/events/{event_id}/participants/{cluster_id}/agenda", params={"tz": zone}
    )
    if r.status_code == 422:
        r = await p.call("GET", f"/v1/events/{event_id}/participants/{cluster_id}/agenda")
    if r.status_code == 404:
        raise Refused(
            404,
            "No agenda",
            "There is no published agenda of this cluster that you may see (the schedule may "
            "not be published yet, or the cluster is not yours).",
        )
    if r.status_code != 200:
        raise Refused(r.status_code, "No agenda", explain(r, {}).general[0])
    return r.json()


@router.get("/events/{event_id}/agenda/{cluster_id}")
async def agenda(
    event_id: uuid.UUID, cluster_id: uuid.UUID, p: SignedInDep, tz: str | None = None
) -> Response:
    event = await p.read(f"/v1/events/{event_id}")
    data = await _agenda(p, event_id, cluster_id, tz)
    return p.render("agenda.html", event=event, agenda=data, printing=False)


@router.get("/events/{event_id}/agenda/{cluster_id}/print")
async def agenda_print(
    event_id: uuid.UUID, cluster_id: uuid.UUID, p: SignedInDep, tz: str | None = None
) -> Response:
    event = await p.read(f"/v1/events/{event_id}")
    data = await _agenda(p, event_id, cluster_id, tz)
    return p.render("agenda.html", event=event, agenda=data, printing=True)


@router.get("/events/{event_id}/agenda/{cluster_id}/agenda.ics")
async def agenda_ics(event_id: uuid.UUID, cluster_id: uuid.UUID, p: SignedInDep) -> Response:
    r = await p.call("GET", f"/v1/events/{event_id}/participants/{cluster_id}/agenda.ics")
    if r.status_code != 200:
        raise Refused(
            404, "No agenda", "There is no published agenda of this cluster that you may see."
        )
    return p.finish(
        Response(
            r.content,
            media_type="text/calendar; charset=utf-8",
            headers={"content-disposition": f'attachment; filename="agenda-{cluster_id}.ics"'},
        )
    )
