"""A whole B2B event through the gateway, the lifecycle, bad input, and tenant walls."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest

from tests.events.helpers import (
    act,
    assert_problem,
    check_schedule,
    count_rows,
    event_payload,
    known_cluster,
    move,
    new_event,
    ok,
    outbox_subjects,
    register,
    request_meeting,
)
from tests.harness import Platform


async def test_organiser_runs_a_whole_event(platform: Platform) -> None:
    ev = await new_event(platform, "eu", table_names=["A1", "A2", "B1"], tables=None)
    eid = ev["id"]
    assert ev["status"] == "draft"
    assert [s["slot"] for s in ev["slots"]] == [0, 1, 2, 3, 4, 5]
    assert ev["slots"][0]["start"] == "2030-03-04T09:00:00+01:00"
    assert ev["slots"][3]["start"] == "2030-03-04T14:00:00+01:00"

    eu1 = await known_cluster(platform, "eu", name="Flanders Battery Hub")
    eu2 = await known_cluster(platform, "eu", name="Bavarian Cells")
    jp1 = await known_cluster(platform, "jp", name="Kansai Battery Valley")
    jp2 = await known_cluster(platform, "jp", name="Tokai Mobility")
    await move(platform, "eu", eid, "registration")
    # The organiser registers its own clusters; the Japanese agency registers its own.
    await register(platform, "eu", eid, eu1["id"], role="host")
    await register(platform, "eu", eid, eu2["id"], unavailable_slots=[0])
    p = await register(platform, "jp", eid, jp1["id"])
    assert (p["name"], p["country"]) == ("Kansai Battery Valley", "JP")
    await register(platform, "jp", eid, jp2["id"], sessions=[1])
    await move(platform, "eu", eid, "requests")

    r1 = await request_meeting(platform, "jp", eid, jp1["id"], eu1["id"], priority="must")
    r2 = await request_meeting(platform, "jp", eid, jp2["id"], eu2["id"])
    r3 = await request_meeting(platform, "eu", eid, eu2["id"], jp1["id"])
    r4 = await request_meeting(platform, "eu", eid, eu1["id"], jp2["id"])
    r5 = await request_meeting(platform, "jp", eid, jp1["id"], jp2["id"])
    await act(platform, "eu", eid, r1["id"], "accept")
    await act(platform, "eu", eid, r2["id"], "accept")
    await act(platform, "jp", eid, r3["id"], "accept")
    await act(platform, "jp", eid, r4["id"], "decline")  # no reason asked
    # r5 stays pending: it must not be scheduled.

    await move(platform, "eu", eid, "scheduling")
    async with platform.client("eu") as c:
        draft = ok(await c.post(f"/v1/events/{eid}/schedules", json={"time_limit": 5, "seed": 1}),
                   201)  # fmt: skip
        participants = ok(await c.get(f"/v1/events/{eid}/participants"))["items"]
    accepted = {r["id"]: (r["sender"]["cluster_id"], r["receiver"]["cluster_id"])
                for r in (r1, r2, r3)}  # fmt: skip
    check_schedule(draft, ev, accepted, participants)
    assert draft["status"] == "draft"
    assert draft["placed"] == 3
    assert draft["placed_weight_bound"] >= draft["placed_weight"] == 4 + 1 + 1
    assert r4["id"] not in {m["meeting_id"] for m in draft["meetings"]}
    assert r5["id"] not in {m["meeting_id"] for m in draft["meetings"]}

    async with platform.client("eu") as c:
        published = ok(await c.post(f"/v1/events/{eid}/publish"))
        assert published["status"] == "published"
        assert ok(await c.get(f"/v1/events/{eid}"))["status"] == "published"
        grid = ok(await c.get(f"/v1/events/{eid}/schedules/{published['id']}/grid"))
    cells = [cell for row in grid["slots"] for cell in row["tables"] if cell["meeting"]]
    assert len(cells) == 3
    assert {cell["location"] for cell in cells} <= {"A1", "A2", "B1"}

    async with platform.client("jp") as c:
        agenda = ok(await c.get(f"/v1/events/{eid}/participants/{jp1['id']}/agenda"))
        ics = await c.get(f"/v1/events/{eid}/participants/{jp1['id']}/agenda.ics")
    assert {m["counterpart"]["name"] for m in agenda["meetings"]} == {
        "Flanders Battery Hub", "Bavarian Cells"}  # fmt: skip
    assert ics.status_code == 200
    assert ics.headers["content-type"].startswith("text/calendar")
    assert b"BEGIN:VCALENDAR" in ics.content

    # The day: check-in, outcomes, feedback, statistics.
    held = next(m for m in agenda["meetings"] if m["counterpart"]["cluster_id"] == eu1["id"])
    missed = next(m for m in agenda["meetings"] if m["counterpart"]["cluster_id"] == eu2["id"])
    async with platform.client("eu") as c:
        checked = ok(await c.post(f"/v1/events/{eid}/participants/{jp1['id']}/check-in"))
        assert checked["checked_in_at"]
        ok(await c.post(f"/v1/events/{eid}/meetings/{held['meeting_id']}/outcome",
                        json={"outcome": "held"}))  # fmt: skip
        ok(await c.post(f"/v1/events/{eid}/meetings/{missed['meeting_id']}/outcome",
                        json={"outcome": "no_show", "absent": [eu2["id"]]}))  # fmt: skip
    async with platform.client("jp") as c:
        fb = ok(
            await c.post(
                f"/v1/events/{eid}/meetings/{held['meeting_id']}/feedback",
                json={"cluster_id": jp1["id"], "rating": 5, "comment": "Useful"},
            )
        )
        assert fb["feedback"][jp1["id"]]["rating"] == 5
    async with platform.client("eu") as c:
        stats = ok(await c.get(f"/v1/events/{eid}/stats"))
    assert stats["requests"] == {"requested": 5, "pending": 1, "accepted": 3, "declined": 1,
                                 "cancelled": 0, "expired": 0}  # fmt: skip
    assert (stats["placed"], stats["held"], stats["no_shows"]) == (3, 1, 1)
    assert stats["checked_in"] == 1
    assert stats["meetings_per_participant"][jp1["id"]] == 2
    assert stats["breaks"]["total"] == published["total_breaks"]

    await move(platform, "eu", eid, "closed")
    subjects = await outbox_subjects(platform, eid)
    for expected in ("events.event.created", "events.event.status_changed",
                     "events.request.sent", "events.request.accepted",
                     "events.request.declined", "events.schedule.published"):  # fmt: skip
        assert expected in subjects


async def test_lifecycle_refuses_wrong_transitions(platform: Platform) -> None:
    ev = await new_event(platform, "eu")
    eid = ev["id"]
    async with platform.client("eu") as c:
        for target in ("scheduling", "published", "requests"):
            r = await c.post(f"/v1/events/{eid}/transitions", json={"status": target})
            assert_problem(r, 409)
        r = await c.post(f"/v1/events/{eid}/transitions", json={"status": "finished"})
        assert_problem(r, 422)
        assert ok(await c.get(f"/v1/events/{eid}"))["status"] == "draft"
    await move(platform, "eu", eid, "registration", "requests", "scheduling")
    async with platform.client("eu") as c:
        # Nothing to publish yet: no schedule has been made.
        r = await c.post(f"/v1/events/{eid}/publish")
        assert assert_problem(r, 409)["type"].endswith("no-schedule")
        r = await c.post(f"/v1/events/{eid}/transitions", json={"status": "published"})
        assert_problem(r, 409)
        assert ok(await c.get(f"/v1/events/{eid}"))["status"] == "scheduling"
        # Slots are frozen once scheduling starts.
        r = await c.patch(f"/v1/events/{eid}", json={"meeting_minutes": 20})
        assert_problem(r, 409)


def _sessions(*windows: tuple[str, str]) -> list[dict[str, str]]:
    return [{"date": "2030-03-04", "start": a, "end": b} for a, b in windows]


BAD_EVENTS = [
    pytest.param({"sessions": _sessions(("09:00", "11:00"), ("10:30", "12:00"))}, "sessions.1",
                 id="overlapping-sessions"),
    pytest.param({"sessions": _sessions(("09:00", "09:20"))}, "sessions.0",
                 id="slot-longer-than-session"),
    pytest.param({"sessions": _sessions(("11:00", "10:00"))}, "sessions.0", id="ends-before-start"),
    pytest.param({"sessions": []}, "sessions", id="no-session"),
    pytest.param({"timezone": "Mars/Olympus"}, "timezone", id="bad-timezone"),
    pytest.param({"request_deadline": "2030-03-01T12:00:00"}, "request_deadline",
                 id="deadline-without-zone"),
    pytest.param({"colour": "red"}, "colour", id="unknown-field"),
    pytest.param({"meeting_minutes": 0}, "meeting_minutes", id="zero-length"),
    pytest.param({"tables": 0}, "tables", id="no-tables"),
    pytest.param({"tables": 2, "table_names": ["A", "B", "C"]}, "tables", id="tables-disagree"),
    pytest.param({"venue": None}, "venue", id="on-site-without-venue"),
    pytest.param({"title": "X\u0000"}, "title", id="nul-byte"),
]  # fmt: skip


@pytest.mark.parametrize(("overrides", "field"), BAD_EVENTS)
async def test_bad_event_bodies_are_refused_and_nothing_is_written(
    platform: Platform, overrides: dict[str, Any], field: str
) -> None:
    before = await count_rows(platform, "events")
    async with platform.client("eu") as c:
        r = await c.post("/v1/events", json=event_payload(**overrides))
    problem = assert_problem(r, 422)
    assert problem["field"] == field
    assert await count_rows(platform, "events") == before


async def test_malformed_json_is_400_and_nothing_is_written(platform: Platform) -> None:
    before = await count_rows(platform, "events")
    async with platform.client("eu") as c:
        r = await c.post("/v1/events", content=b"{not json",
                         headers={"content-type": "application/json"})  # fmt: skip
        assert assert_problem(r, 400)["type"].endswith("malformed-json")
        r = await c.post("/v1/events", content=b"[]", headers={"content-type": "application/json"})
        assert_problem(r, 422)
    assert await count_rows(platform, "events") == before


@pytest.mark.parametrize(
    "path",
    [
        "/v1/events/{unknown}", "/v1/events/{unknown}/participants",
        "/v1/events/{eid}/participants/{unknown}", "/v1/events/{eid}/requests/{unknown}",
        "/v1/events/{eid}/schedules/{unknown}", "/v1/events/{eid}/meetings/{unknown}",
        "/v1/events/{eid}/participants/{unknown}/agenda", "/v1/events/clusters/{unknown}",
        "/v1/events/not-a-uuid",
    ],
)  # fmt: skip
async def test_unknown_ids_are_404_problems(platform: Platform, path: str) -> None:
    ev = await new_event(platform, "eu")
    async with platform.client("eu") as c:
        r = await c.get(path.format(eid=ev["id"], unknown=uuid.uuid4()))
    assert_problem(r, 404, 422)


async def test_events_are_public_but_administered_only_by_the_organiser(
    platform: Platform,
) -> None:
    ev = await new_event(platform, "eu")
    eid = ev["id"]
    # A draft is the organiser's work in progress: other tenants do not see it at all.
    async with platform.client("br") as c:
        assert_problem(await c.get(f"/v1/events/{eid}"), 404)
        assert eid not in await listed_ids(c, "eu")
        assert_problem(await c.patch(f"/v1/events/{eid}", json={"title": "Mine now"}), 404)
        assert_problem(await c.get(f"/v1/events/{eid}/participants"), 404)
    async with platform.client("eu") as c:
        assert ok(await c.get(f"/v1/events/{eid}"))["status"] == "draft"
        assert eid in await listed_ids(c, "eu")
    theirs = await new_event(platform, "jp")
    async with platform.client("operator") as c:  # the operator (tenant eu) sees every draft
        assert theirs["id"] in await listed_ids(c, "jp")
        assert ok(await c.get(f"/v1/events/{theirs['id']}"))["status"] == "draft"
    await move(platform, "eu", eid, "registration")
    async with platform.client("br") as c:
        assert ok(await c.get(f"/v1/events/{eid}"))["title"] == ev["title"]
        assert eid in await listed_ids(c, "eu")
        assert_problem(await c.patch(f"/v1/events/{eid}", json={"title": "Mine now"}), 403)
        assert_problem(
            await c.post(f"/v1/events/{eid}/transitions", json={"status": "requests"}), 403
        )
        assert_problem(await c.post(f"/v1/events/{eid}/schedules", json={}), 403)
        assert_problem(await c.post(f"/v1/events/{eid}/publish"), 403)
        for private in ("schedules", "stats"):
            assert_problem(await c.get(f"/v1/events/{eid}/{private}"), 404)
    async with platform.client("jp_readonly") as c:
        assert_problem(await c.post("/v1/events", json=event_payload()), 403)
    async with platform.client("eu") as c:
        after = ok(await c.get(f"/v1/events/{eid}"))
    assert (after["title"], after["status"]) == (ev["title"], "registration")


async def listed_ids(c: httpx.AsyncClient, tenant: str) -> set[str]:
    """Every event of `tenant` the caller's listing shows, across pages."""
    ids: set[str] = set()
    cursor: str | None = None
    while True:
        params: dict[str, str | int] = {"tenant": tenant, "limit": 200}
        if cursor:
            params["cursor"] = cursor
        page = ok(await c.get("/v1/events", params=params))
        ids |= {e["id"] for e in page["items"]}
        cursor = page["next_cursor"]
        if not cursor:
            return ids


async def test_registration_rules(platform: Platform) -> None:
    ev = await new_event(platform, "eu")
    eid = ev["id"]
    jp = await known_cluster(platform, "jp")
    br = await known_cluster(platform, "br")
    async with platform.client("jp") as c:
        # Registration is not open yet: to the agency the draft does not exist.
        r = await c.post(f"/v1/events/{eid}/participants", json={"cluster_id": jp["id"]})
        assert_problem(r, 404)
    await move(platform, "eu", eid, "registration")
    async with platform.client("jp") as c:
        # Another tenant's cluster: refused.
        r = await c.post(f"/v1/events/{eid}/participants", json={"cluster_id": br["id"]})
        assert_problem(r, 403)
        # A cluster the registry never had.
        r = await c.post(f"/v1/events/{eid}/participants", json={"cluster_id": str(uuid.uuid4())})
        assert assert_problem(r, 422)["field"] == "cluster_id"
        r = await c.post(f"/v1/events/{eid}/participants",
                         json={"cluster_id": jp["id"], "unavailable_slots": [6]})  # fmt: skip
        assert assert_problem(r, 422)["field"] == "unavailable_slots"
        r = await c.post(f"/v1/events/{eid}/participants",
                         json={"cluster_id": jp["id"], "colour": "red"})  # fmt: skip
        assert_problem(r, 422)
    assert await count_rows(platform, "participants", eid) == 0
    await register(platform, "jp", eid, jp["id"])
    await register(platform, "eu", eid, br["id"])  # the organiser registers anyone
    async with platform.client("jp") as c:
        r = await c.post(f"/v1/events/{eid}/participants", json={"cluster_id": jp["id"]})
        assert_problem(r, 409)
        # The public list shows names, not another tenant's availability.
        items = ok(await c.get(f"/v1/events/{eid}/participants"))["items"]
    mine = next(p for p in items if p["cluster_id"] == jp["id"])
    theirs = next(p for p in items if p["cluster_id"] == br["id"])
    assert "unavailable_slots" in mine
    assert "unavailable_slots" not in theirs
    assert theirs["country"] == "BR"
    async with platform.client("kr") as c:
        r = await c.patch(f"/v1/events/{eid}/participants/{jp['id']}",
                          json={"unavailable_slots": [1]})  # fmt: skip
        assert_problem(r, 403)
        assert_problem(await c.get(f"/v1/events/{eid}/participants/{jp['id']}/agenda"), 404)
        assert_problem(await c.post(f"/v1/events/{eid}/participants/{jp['id']}/check-in"), 403)
    assert await count_rows(platform, "participants", eid) == 2


async def test_the_listing_finds_events_by_words_of_title_or_venue_taken_literally(
    platform: Platform,
) -> None:
    word = uuid.uuid4().hex[:8]
    literal = await new_event(platform, "eu", title=f"Hydrogen 100% {word}_days")
    by_venue = await new_event(platform, "jp", title="Robotics", venue=f"Hall {word}, Osaka")
    # A "_" or "%" typed by a person is a letter, not a wildcard.
    lookalike = await new_event(platform, "eu", title=f"Hydrogen 100x {word}Xdays")
    for ev in (literal, by_venue, lookalike):
        await move(platform, ev["tenant"], ev["id"], "registration")
    async with platform.client("br") as c:  # the listing is public: another tenant's key
        found = ok(await c.get("/v1/events", params={"q": word, "limit": 200}))
        ids = {e["id"] for e in found["items"]}
        assert {literal["id"], by_venue["id"], lookalike["id"]} <= ids
        exact = ok(await c.get("/v1/events", params={"q": f"0% {word}_DAYS", "limit": 200}))
        assert [e["id"] for e in exact["items"]] == [literal["id"]]
        organised = ok(await c.get("/v1/events", params={"q": word, "tenant": "jp"}))
        assert [e["id"] for e in organised["items"]] == [by_venue["id"]]
        staged = ok(await c.get("/v1/events", params={"q": word, "status": "requests"}))
        assert staged["items"] == []
        assert_problem(await c.get("/v1/events", params={"q": "x" * 201}), 422)
        assert_problem(await c.get("/v1/events", params={"status": "someday"}), 422)
