"""Pages: trainings for people of every tenant. The list and a training's page (sessions
in its zone, seats left, my place or my waiting-list position), registering and
cancelling for oneself; the organiser's view (registrations and waiting list in order,
attendance taken on a phone, a message to participants by mail); the certificate of
attendance as a PDF, refused with a sentence to anyone who did not attend."""

from __future__ import annotations

import asyncio
import uuid
from datetime import date, datetime, time
from typing import Any

from fastapi import Response

from services.web import event_form
from services.web.formatting import zone
from services.web.pages import Form, Page, Refused, SignedInDep
from services.web.wording import Errors, explain
from shared.routing import api_router

router = api_router(include_in_schema=False, tags=["pages"])

NEW_FIELDS = {
    "title": "title",
    "description": "description",
    "venue": "venue",
    "timezone": "time zone",
    "sessions": "sessions",
    "capacity": "seats",
}
MESSAGE_FIELDS = {"subject": "subject", "body": "message", "to": "to"}
AUDIENCES = [
    ("registered", "People holding a seat"),
    ("waiting", "People on the waiting list"),
    ("all", "Everyone registered or waiting"),
]


def session_times(session: dict[str, Any], zone_name: str) -> str:
    """`2030-05-06 09:00 to 12:30 CEST (Europe/Brussels)`: a session in its training's zone."""
    tz = zone(zone_name)
    day = date.fromisoformat(str(session["date"]))
    start = datetime.combine(day, time.fromisoformat(str(session["start"])), tz)
    end = datetime.combine(day, time.fromisoformat(str(session["end"])), tz)
    return f"{day:%Y-%m-%d} {start:%H:%M} to {end:%H:%M} {start.tzname()} ({tz.key})"


def with_times(training: dict[str, Any]) -> dict[str, Any]:
    return {
        **training,
        "session_times": [session_times(s, training["timezone"]) for s in training["sessions"]],
        "seats_left": max(0, int(training["capacity"]) - int(training["registered"])),
    }


def _organises(p: Page, training: dict[str, Any]) -> bool:
    """Whether to offer the organiser's view (the API decides what it shows)."""
    assert p.me is not None
    return p.me.organises and training["tenant"] == p.me.tenant


async def _training(p: Page, training_id: uuid.UUID) -> dict[str, Any]:
    return with_times(await p.read(f"/v1/trainings/{training_id}"))


@router.get("/trainings")
async def trainings_page(p: SignedInDep) -> Response:
    found = await p.read("/v1/trainings", params={"limit": 200})
    return p.render("trainings.html", trainings=[with_times(t) for t in found["items"]])


def _new_page(p: Page, values: dict[str, str], errors: Errors, status: int = 200) -> Response:
    return p.render(
        "training_new.html",
        status=status,
        values=values,
        errors=errors,
        rows=range(event_form.SESSION_ROWS),
    )


def _organiser(p: Page) -> None:
    assert p.me is not None
    if not p.me.organises:
        raise Refused(403, "Not allowed", "Only organisers and agency admins create trainings.")


def training_body(form: Form) -> dict[str, Any]:
    sessions = []
    for i in range(event_form.SESSION_ROWS):
        day, start, end = (form.get(f"session_{i}_{k}").strip() for k in ("date", "start", "end"))
        if day or start or end:
            sessions.append({"date": day, "start": start, "end": end})
    capacity = form.get("capacity").strip()
    return {
        "title": form.get("title"),
        "description": form.get("description"),
        "venue": form.get("venue").strip() or None,
        "online": form.get("online") == "on",
        "timezone": form.get("timezone").strip(),
        "sessions": sessions,
        # What is not a number goes as typed: the API's refusal names the field.
        "capacity": int(capacity) if capacity.isdigit() else capacity,
    }


@router.get("/trainings/new")
async def new_page(p: SignedInDep) -> Response:
    _organiser(p)
    return _new_page(p, {"timezone": await p.my_zone()}, Errors())


@router.post("/trainings/new")
async def create(p: SignedInDep) -> Response:
    _organiser(p)
    form = await p.form()
    r = await p.call(
        "POST",
        "/v1/trainings",
        json=training_body(form),
        headers={"idempotency-key": form.get("form_key") or uuid.uuid4().hex},
    )
    if r.status_code == 201:
        return p.redirect(f"/trainings/{r.json()['id']}", notice="created")
    if r.status_code >= 500:
        raise Refused(503, "The platform could not answer", "Nothing was created; try again.")
    return _new_page(p, form.values(), explain(r, NEW_FIELDS), 422)


async def _show(
    p: Page,
    training_id: uuid.UUID,
    *,
    errors: Errors | None = None,
    values: dict[str, str] | None = None,
    status: int = 200,
) -> Response:
    training, mine = await asyncio.gather(
        _training(p, training_id),
        p.call("GET", f"/v1/trainings/{training_id}/registrations/mine"),
    )
    assert p.me is not None
    return p.render(
        "training.html",
        status=status,
        training=training,
        mine=mine.json() if mine.status_code == 200 else None,
        organises=_organises(p, training),
        organised_by=(await p.tenant_names()).get(training["tenant"], training["tenant"]),
        errors=errors or Errors(),
        values=values or {"name": p.me.name},
    )


@router.get("/trainings/{training_id}")
async def training_page(training_id: uuid.UUID, p: SignedInDep) -> Response:
    return await _show(p, training_id)


@router.post("/trainings/{training_id}/register")
async def register(training_id: uuid.UUID, p: SignedInDep) -> Response:
    form = await p.form()
    r = await p.call(
        "POST", f"/v1/trainings/{training_id}/registrations", json={"name": form.get("name")}
    )
    if r.status_code == 201:
        waiting = r.json().get("status") == "waiting"
        return p.redirect(
            f"/trainings/{training_id}", notice="waitlisted" if waiting else "registered"
        )
    if r.status_code == 404:
        raise Refused(404, "Not found", "There is no such training.")
    errors = explain(r, {"name": "name"})
    return await _show(p, training_id, errors=errors, values=form.values(), status=422)


@router.post("/trainings/{training_id}/registrations/{registration_id}/cancel")
async def cancel(training_id: uuid.UUID, registration_id: uuid.UUID, p: SignedInDep) -> Response:
    form = await p.form()
    r = await p.call("POST", f"/v1/trainings/{training_id}/registrations/{registration_id}/cancel")
    if r.status_code != 200:
        raise Refused(
            r.status_code if r.status_code < 500 else 503,
            "Not cancelled",
            explain(r, {}).general[0] + " Nothing was changed.",
        )
    back = "organise" if form.get("back") == "organise" else ""
    return p.redirect(f"/trainings/{training_id}" + (f"/{back}" if back else ""), notice="saved")


# ---- the organiser --------------------------------------------------------------------


async def _organiser_page(
    p: Page,
    training_id: uuid.UUID,
    *,
    errors: Errors | None = None,
    values: dict[str, str] | None = None,
    status: int = 200,
) -> Response:
    training = await _training(p, training_id)
    r = await p.call("GET", f"/v1/trainings/{training_id}/registrations")
    if r.status_code != 200:
        raise Refused(
            r.status_code if r.status_code < 500 else 503,
            "Not the organiser",
            explain(r, {}).general[0]
            + " Only the organisers of the training's own tenant see its registrations.",
        )
    listed = r.json()
    places = listed["items"]
    sent = p.request.query_params.get("sent", "")
    return p.render(
        "training_organise.html",
        status=status,
        training=training,
        listed=listed,
        seats=[x for x in places if x["status"] == "registered"],
        waiting=sorted(
            (x for x in places if x["status"] == "waiting"), key=lambda x: x["waiting_position"]
        ),
        cancelled=[x for x in places if x["status"] == "cancelled"],
        sent=int(sent) if sent.isdigit() else None,
        audiences=AUDIENCES,
        errors=errors or Errors(),
        values=values or {"to": "registered"},
    )


@router.get("/trainings/{training_id}/organise")
async def organise_page(training_id: uuid.UUID, p: SignedInDep) -> Response:
    return await _organiser_page(p, training_id)


@router.post("/trainings/{training_id}/registrations/{registration_id}/attendance")
async def attendance(
    training_id: uuid.UUID, registration_id: uuid.UUID, p: SignedInDep
) -> Response:
    form = await p.form()
    r = await p.call(
        "POST",
        f"/v1/trainings/{training_id}/registrations/{registration_id}/attendance",
        json={"attended": form.get("attended") == "yes"},
    )
    if r.status_code != 200:
        raise Refused(
            r.status_code if r.status_code < 500 else 503,
            "Attendance not recorded",
            explain(r, {}).general[0] + " Nothing was changed.",
        )
    # Back to the row just marked: on a phone the list does not jump to the top.
    return p.redirect(f"/trainings/{training_id}/organise#r-{registration_id}")


@router.post("/trainings/{training_id}/messages")
async def message(training_id: uuid.UUID, p: SignedInDep) -> Response:
    form = await p.form()
    body = {"subject": form.get("subject"), "body": form.get("body"), "to": form.get("to")}
    r = await p.call("POST", f"/v1/trainings/{training_id}/messages", json=body)
    if r.status_code == 202:
        return p.redirect(
            f"/trainings/{training_id}/organise", sent=str(int(r.json()["recipients"]))
        )
    if r.status_code in (403, 404):
        raise Refused(r.status_code, "Not sent", explain(r, {}).general[0] + " Nothing was sent.")
    errors = explain(r, MESSAGE_FIELDS)
    return await _organiser_page(p, training_id, errors=errors, values=form.values(), status=422)


@router.get("/trainings/{training_id}/registrations/{registration_id}/certificate.pdf")
async def certificate(
    training_id: uuid.UUID, registration_id: uuid.UUID, p: SignedInDep
) -> Response:
    r = await p.call(
        "GET",
        f"/v1/trainings/{training_id}/registrations/{registration_id}/certificate.pdf",
        headers={"accept": "application/pdf"},
    )
    if r.status_code == 409:
        raise Refused(
            409,
            "No certificate",
            "A certificate of attendance is given only to a person whose attendance the "
            "organiser recorded, and this registration has none. " + explain(r, {}).general[0],
        )
    if r.status_code != 200:
        raise Refused(
            r.status_code if r.status_code < 500 else 503,
            "No certificate",
            explain(r, {}).general[0],
        )
    response = Response(
        r.content,
        media_type="application/pdf",
        headers={"content-disposition": 'attachment; filename="certificate-of-attendance.pdf"'},
    )
    p.finish(response)
    return response
