"""Pages: the organiser desk: create and edit an event, move it along, participants and
requests, run the scheduler, the grid (slots x tables) with breaks and the bound,
publish, check-in from a phone, outcomes, statistics with a chart."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from typing import Any

from fastapi import Response
from markupsafe import Markup

from services.web import event_form
from services.web.pages import Page, Refused, SignedInDep
from services.web.wording import Errors, explain
from shared.charts import bars
from shared.routing import api_router

router = api_router(include_in_schema=False, tags=["pages"])

NEXT = {
    "draft": ["registration"],
    "registration": ["requests", "draft"],
    "requests": ["scheduling", "registration"],
    "scheduling": ["requests"],
    "published": ["closed"],
    "closed": [],
}
STEP_NAMES = {
    "registration": "Open registration",
    "requests": "Open meeting requests",
    "scheduling": "Close requests and schedule",
    "draft": "Back to draft",
    "closed": "Close the event",
}
SCHEDULE_FIELDS = {"fairness": "fairness", "time_limit": "time limit"}


def _organiser(p: Page) -> None:
    assert p.me is not None
    if not p.me.organises:
        raise Refused(403, "Not allowed", "Only organisers and agency admins use the desk.")


async def _organised(p: Page, event_id: uuid.UUID) -> dict[str, Any]:
    _organiser(p)
    event = await p.read(f"/v1/events/{event_id}")
    assert p.me is not None
    if event["tenant"] != p.me.tenant:
        raise Refused(403, "Not your event", "This event is organised by another tenant.")
    return dict(event)


@router.get("/desk")
async def desk(p: SignedInDep) -> Response:
    _organiser(p)
    assert p.me is not None
    page = await p.read("/v1/events", params={"tenant": p.me.tenant, "limit": 200})
    return p.render("desk.html", events=page["items"])


def _form_page(
    p: Page,
    event: dict[str, Any] | None,
    values: dict[str, str],
    errors: Errors,
    status: int = 200,
) -> Response:
    return p.render(
        "event_form.html",
        status=status,
        event=event,
        values=values,
        errors=errors,
        rows=range(event_form.SESSION_ROWS),
    )


@router.get("/desk/events/new")
async def new_event_page(p: SignedInDep) -> Response:
    _organiser(p)
    zone = await p.my_zone()
    return _form_page(p, None, {"timezone": zone, "meeting_minutes": "30"}, Errors())


@router.post("/desk/events/new")
async def create_event(p: SignedInDep) -> Response:
    _organiser(p)
    form = await p.form()
    body = {k: v for k, v in event_form.body_of(form).items() if v is not None}
    r = await p.call(
        "POST",
        "/v1/events",
        json=body,
        headers={"idempotency-key": form.get("form_key") or uuid.uuid4().hex},
    )
    if r.status_code == 201:
        return p.redirect(f"/desk/events/{r.json()['id']}", notice="created")
    return _form_page(p, None, form.values(), explain(r, event_form.FIELDS), 422)


@router.get("/desk/events/{event_id}/edit")
async def edit_event_page(event_id: uuid.UUID, p: SignedInDep) -> Response:
    event = await _organised(p, event_id)
    return _form_page(p, event, event_form.values_of(event), Errors())


@router.post("/desk/events/{event_id}/edit")
async def edit_event(event_id: uuid.UUID, p: SignedInDep) -> Response:
    event = await _organised(p, event_id)
    form = await p.form()
    r = await p.call("PATCH", f"/v1/events/{event_id}", json=event_form.body_of(form))
    if r.status_code == 200:
        return p.redirect(f"/desk/events/{event_id}", notice="saved")
    return _form_page(p, event, form.values(), explain(r, event_form.FIELDS), 422)


@router.get("/desk/events/{event_id}")
async def event_desk(event_id: uuid.UUID, p: SignedInDep) -> Response:
    event, listed, asked, runs = await asyncio.gather(
        _organised(p, event_id),
        p.read(f"/v1/events/{event_id}/participants"),
        p.read(f"/v1/events/{event_id}/requests"),
        p.read(f"/v1/events/{event_id}/schedules"),
    )
    participants, requests, schedules = listed["items"], asked["items"], runs["items"]
    return p.render(
        "desk_event.html",
        event=event,
        participants=participants,
        requests=requests,
        counts=Counter(r["status"] for r in requests),
        schedules=schedules,
        steps=[(s, STEP_NAMES[s]) for s in NEXT.get(event["status"], [])],
        errors=Errors(),
    )


@router.post("/desk/events/{event_id}/transition")
async def transition(event_id: uuid.UUID, p: SignedInDep) -> Response:
    await _organised(p, event_id)
    form = await p.form()
    r = await p.call(
        "POST", f"/v1/events/{event_id}/transitions", json={"status": form.get("status")}
    )
    if r.status_code != 200:
        raise Refused(r.status_code, "Not moved", explain(r, {}).general[0])
    return p.redirect(f"/desk/events/{event_id}", notice="moved")


@router.post("/desk/events/{event_id}/schedule")
async def run_scheduler(event_id: uuid.UUID, p: SignedInDep) -> Response:
    await _organised(p, event_id)
    form = await p.form()
    body: dict[str, Any] = {}
    for name, cast in (("fairness", int), ("time_limit", float)):
        raw = form.get(name).strip()
        if raw:
            try:
                body[name] = cast(raw)
            except ValueError:
                body[name] = raw
    r = await p.call(
        "POST",
        f"/v1/events/{event_id}/schedules",
        json=body,
        headers={"idempotency-key": form.get("form_key") or uuid.uuid4().hex},
    )
    if r.status_code != 201:
        errors = explain(r, SCHEDULE_FIELDS)
        text = "; ".join(errors.general + list(errors.fields.values()))
        raise Refused(r.status_code if r.status_code < 500 else 503, "Not scheduled", text)
    return p.redirect(f"/desk/events/{event_id}/schedules/{r.json()['id']}")


def _rows(event: dict[str, Any], grid: dict[str, Any]) -> list[dict[str, Any]]:
    """Grid rows with a marker where a new session starts (the break between them)."""
    session_of = {s["slot"]: s["session"] for s in event.get("slots", [])}
    out, previous = [], None
    for row in grid["slots"]:
        session = session_of.get(row["slot"])
        out.append({**row, "new_session": previous is not None and session != previous})
        previous = session
    return out


@router.get("/desk/events/{event_id}/schedules/{schedule_id}")
async def schedule_grid(event_id: uuid.UUID, schedule_id: uuid.UUID, p: SignedInDep) -> Response:
    # The summary (bound, breaks) comes from the list of runs: the full schedule holds
    # every meeting again, which the grid already shows.
    event, runs, grid = await asyncio.gather(
        _organised(p, event_id),
        p.read(f"/v1/events/{event_id}/schedules"),
        p.read(f"/v1/events/{event_id}/schedules/{schedule_id}/grid"),
    )
    summary = next((s for s in runs["items"] if s["id"] == str(schedule_id)), None)
    if summary is None:
        raise Refused(404, "Not found", "There is no such schedule of this event.")
    placed = sum(1 for row in grid["slots"] for cell in row["tables"] if cell["meeting"])
    return p.render(
        "grid.html",
        event=event,
        schedule=summary,
        placed=placed,
        grid=grid,
        rows=_rows(event, grid),
    )


@router.get("/desk/events/{event_id}/schedules/{schedule_id}/details")
async def schedule_details(event_id: uuid.UUID, schedule_id: uuid.UUID, p: SignedInDep) -> Response:
    event, schedule, listed = await asyncio.gather(
        _organised(p, event_id),
        p.read(f"/v1/events/{event_id}/schedules/{schedule_id}"),
        p.read(f"/v1/events/{event_id}/participants"),
    )
    names = {str(x["cluster_id"]): x.get("name") or x["cluster_id"] for x in listed["items"]}
    return p.render("schedule_details.html", event=event, schedule=schedule, names=names)


@router.post("/desk/events/{event_id}/publish")
async def publish(event_id: uuid.UUID, p: SignedInDep) -> Response:
    await _organised(p, event_id)
    await p.form()
    r = await p.call("POST", f"/v1/events/{event_id}/publish")
    if r.status_code != 200:
        raise Refused(r.status_code, "Not published", explain(r, {}).general[0])
    return p.redirect(f"/desk/events/{event_id}/schedules/{r.json()['id']}", notice="published")


@router.get("/desk/events/{event_id}/check-in")
async def check_in_page(event_id: uuid.UUID, p: SignedInDep) -> Response:
    event = await _organised(p, event_id)
    participants = (await p.read(f"/v1/events/{event_id}/participants"))["items"]
    participants.sort(key=lambda x: (x.get("checked_in_at") is not None, x.get("name") or ""))
    return p.render("check_in.html", event=event, participants=participants)


@router.post("/desk/events/{event_id}/check-in/{cluster_id}")
async def check_in(event_id: uuid.UUID, cluster_id: uuid.UUID, p: SignedInDep) -> Response:
    await _organised(p, event_id)
    await p.form()
    r = await p.call("POST", f"/v1/events/{event_id}/participants/{cluster_id}/check-in")
    if r.status_code != 200:
        raise Refused(r.status_code, "Not checked in", explain(r, {}).general[0])
    return p.redirect(f"/desk/events/{event_id}/check-in", notice="checked-in")


@router.post("/desk/events/{event_id}/meetings/{meeting_id}/outcome")
async def outcome(event_id: uuid.UUID, meeting_id: uuid.UUID, p: SignedInDep) -> Response:
    await _organised(p, event_id)
    form = await p.form()
    absent = [a for a in form.getlist("absent") if a]
    body = {"outcome": "no_show" if absent else "held", "absent": absent}
    r = await p.call("POST", f"/v1/events/{event_id}/meetings/{meeting_id}/outcome", json=body)
    if r.status_code != 200:
        raise Refused(r.status_code, "Not recorded", explain(r, {}).general[0])
    return p.redirect(f"/desk/events/{event_id}/schedules/{form.get('schedule')}", notice="saved")


def svg_chart(title: str, items: list[tuple[str, int]]) -> Markup:
    # Our own SVG text, every label in it escaped by shared.charts.
    return Markup(bars(title, items))  # noqa: S704


@router.get("/desk/events/{event_id}/stats")
async def statistics(event_id: uuid.UUID, p: SignedInDep) -> Response:
    event = await _organised(p, event_id)
    stats = await p.read(f"/v1/events/{event_id}/stats")
    req = stats["requests"]
    charts = [
        svg_chart(
            "Meeting requests",
            [
                ("requested", req["requested"]),
                ("accepted", req["accepted"]),
                ("declined", req["declined"]),
                ("cancelled", req["cancelled"]),
                ("expired", req["expired"]),
                ("pending", req["pending"]),
            ],
        ),
        svg_chart(
            "Meetings",
            [
                ("placed", stats["placed"]),
                ("not placed", stats["unplaced"]),
                ("held", stats["held"]),
                ("no-shows", stats["no_shows"]),
            ],
        ),
    ]
    return p.render("stats.html", event=event, stats=stats, charts=charts)
