"""Builders and checks shared by the events tests (all through the gateway)."""

from __future__ import annotations

import uuid
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from services.events.models import Event, MeetingRequest, Participant, Schedule
from tests.harness import Platform, eventually
from tests.registry_helpers import cluster_payload

PROBLEM = "application/problem+json"

TABLES = {"events": Event, "participants": Participant, "requests": MeetingRequest,
          "schedules": Schedule}  # fmt: skip


async def count_rows(platform: Platform, table: str, event_id: str | None = None) -> int:
    """Rows in an events table, read as the database owner (no tenant walls)."""
    model = TABLES[table]
    engine = create_async_engine(platform.database_url, poolclass=NullPool)
    try:
        async with engine.connect() as conn:
            stmt = select(func.count()).select_from(model)
            if event_id is not None and table != "events":
                stmt = stmt.where(model.event_id == uuid.UUID(event_id))  # type: ignore[attr-defined]
            return int(await conn.scalar(stmt) or 0)
    finally:
        await engine.dispose()


async def outbox_subjects(platform: Platform, event_id: str) -> list[str]:
    engine = create_async_engine(platform.database_url, poolclass=NullPool)
    try:
        async with engine.connect() as conn:
            rows = await conn.execute(
                text(
                    "SELECT subject FROM events.outbox WHERE payload->'data'->>'event_id' = :e "
                    "OR payload->'data'->>'id' = :e ORDER BY seq"
                ),
                {"e": event_id},
            )
            return [r[0] for r in rows]
    finally:
        await engine.dispose()


def ok(r: httpx.Response, status: int = 200) -> dict[str, Any]:
    assert r.status_code == status, r.text
    body: dict[str, Any] = r.json()
    return body


def assert_problem(r: httpx.Response, *statuses: int) -> dict[str, Any]:
    assert r.status_code in statuses, (r.status_code, r.text)
    assert r.headers["content-type"] == PROBLEM, r.headers["content-type"]
    body: dict[str, Any] = r.json()
    assert body["status"] == r.status_code
    assert body["request_id"] == r.headers["x-request-id"]
    return body


async def known_cluster(platform: Platform, who: str, **overrides: Any) -> dict[str, Any]:
    """A registry cluster of `who`'s tenant, once the events directory knows it."""
    async with platform.client(who) as c:
        cluster = ok(await c.post("/v1/clusters", json=cluster_payload(who, **overrides)), 201)

        async def probe() -> int:
            return (await c.get(f"/v1/events/clusters/{cluster['id']}")).status_code

        await eventually(probe, until=lambda s: s == 200)
    return cluster


def event_payload(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "title": f"Battery days {uuid.uuid4().hex[:6]}",
        "venue": "Square, Brussels",
        "timezone": "Europe/Brussels",
        # Morning and afternoon, three 30-minute slots each: slots 0-2 and 3-5.
        "sessions": [
            {"date": "2030-03-04", "start": "09:00", "end": "10:30"},
            {"date": "2030-03-04", "start": "14:00", "end": "15:30"},
        ],
        "meeting_minutes": 30,
        "break_minutes": 0,
        "tables": 3,
        "request_deadline": (datetime.now(UTC) + timedelta(days=2)).isoformat(),
    }
    body.update(overrides)
    return body


async def new_event(platform: Platform, who: str = "eu", **overrides: Any) -> dict[str, Any]:
    async with platform.client(who) as c:
        return ok(await c.post("/v1/events", json=event_payload(**overrides)), 201)


async def move(platform: Platform, who: str, event_id: str, *statuses: str) -> dict[str, Any]:
    body: dict[str, Any] = {}
    async with platform.client(who) as c:
        for status in statuses:
            body = ok(await c.post(f"/v1/events/{event_id}/transitions", json={"status": status}))
            assert body["status"] == status
    return body


async def register(
    platform: Platform,
    who: str,
    event_id: str,
    cluster_id: str,
    *,
    consent: bool = True,
    **extra: Any,
) -> dict[str, Any]:
    """Register a cluster; when that makes it an invitation (an organiser registering
    another tenant's cluster), its tenant accepts unless `consent=False`."""
    async with platform.client(who) as c:
        body = ok(
            await c.post(
                f"/v1/events/{event_id}/participants", json={"cluster_id": cluster_id, **extra}
            ),
            201,
        )
    if body["status"] == "invited" and consent:
        async with platform.client(body["tenant"]) as owner:
            body = ok(await owner.post(f"/v1/events/{event_id}/participants/{cluster_id}/accept"))
        assert body["status"] == "registered"
    return body


async def request_meeting(
    platform: Platform, who: str, event_id: str, sender: str, receiver: str, **extra: Any
) -> dict[str, Any]:
    async with platform.client(who) as c:
        return ok(
            await c.post(
                f"/v1/events/{event_id}/requests",
                json={"sender": sender, "receiver": receiver, "message": "Let us talk", **extra},
            ),
            201,
        )


async def act(platform: Platform, who: str, event_id: str, request_id: str, action: str) -> None:
    async with platform.client(who) as c:
        ok(await c.post(f"/v1/events/{event_id}/requests/{request_id}/{action}"))


async def one_meeting_event(platform: Platform) -> str:
    """An event of eu in scheduling with one accepted request (a jp cluster asked an eu
    cluster): ready for the scheduler."""
    ev = await new_event(platform, "eu")
    eid: str = ev["id"]
    host = await known_cluster(platform, "eu")
    guest = await known_cluster(platform, "jp")
    await move(platform, "eu", eid, "registration")
    await register(platform, "eu", eid, host["id"])
    await register(platform, "jp", eid, guest["id"])
    await move(platform, "eu", eid, "requests")
    r = await request_meeting(platform, "jp", eid, guest["id"], host["id"])
    await act(platform, "eu", eid, r["id"], "accept")
    await move(platform, "eu", eid, "scheduling")
    return eid


def check_schedule(
    schedule: dict[str, Any],
    event: dict[str, Any],
    accepted: dict[str, tuple[str, str]],
    participants: list[dict[str, Any]],
) -> None:
    """An independent check of a schedule as the API reports it.

    `accepted`: request id -> (sender, receiver) of the requests both sides accepted.
    Checks consent, one meeting per participant and slot, one meeting per table and
    slot, tables and slots in range, availability (sessions and slots), hosts at one
    table that nobody else uses, caps, and that placed + unplaced = accepted.
    """
    n_slots = len(event["slots"])
    session_of = {s["slot"]: s["session"] for s in event["slots"]}
    by_id = {p["cluster_id"]: p for p in participants}
    busy: set[tuple[str, int]] = set()
    tables_used: set[tuple[int, int]] = set()
    table_of: dict[str, set[int]] = defaultdict(set)
    count: dict[str, int] = defaultdict(int)
    for m in schedule["meetings"]:
        assert m["meeting_id"] in accepted, "a meeting nobody accepted was scheduled"
        assert (m["a"], m["b"]) == accepted[m["meeting_id"]]
        assert 0 <= m["slot"] < n_slots
        assert 0 <= m["table"] < event["tables"]
        assert m["location"] == event["table_names"][m["table"]]
        assert (m["slot"], m["table"]) not in tables_used, "two meetings at one table"
        tables_used.add((m["slot"], m["table"]))
        for who in (m["a"], m["b"]):
            assert (who, m["slot"]) not in busy, f"{who} has two meetings in slot {m['slot']}"
            busy.add((who, m["slot"]))
            p = by_id[who]
            assert m["slot"] not in (p.get("unavailable_slots") or [])
            if p.get("sessions") is not None:
                assert session_of[m["slot"]] in p["sessions"]
            table_of[who].add(m["table"])
            count[who] += 1
    for who, p in by_id.items():
        if p.get("max_meetings") is not None:
            assert count[who] <= p["max_meetings"]
        if p["role"] == "host" and table_of[who]:
            assert len(table_of[who]) == 1, f"host {who} moved tables"
            (t,) = table_of[who]
            intruders = [m for m in schedule["meetings"]
                         if m["table"] == t and who not in (m["a"], m["b"])]  # fmt: skip
            assert not intruders, f"host {who}'s table is used by others"
    placed = {m["meeting_id"] for m in schedule["meetings"]}
    assert placed | set(schedule["unplaced"]) == set(accepted)
    assert not placed & set(schedule["unplaced"])
    assert schedule["placed_weight"] <= schedule["placed_weight_bound"]
