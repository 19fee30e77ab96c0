"""Agendas (JSON and iCalendar) and re-scheduling that keeps what was published."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import icalendar

from tests.events.helpers import (
    act,
    assert_problem,
    check_schedule,
    known_cluster,
    move,
    new_event,
    ok,
    outbox_subjects,
    register,
    request_meeting,
)
from tests.harness import Platform


async def _published_event(
    platform: Platform, pairs: list[tuple[int, int]], n: int = 4, **event: Any
) -> tuple[dict[str, Any], list[str], dict[str, tuple[str, str]], dict[str, Any]]:
    """Clusters alternate jp/eu; each pair (i, j) becomes an accepted request i -> j."""
    ev = await new_event(platform, "eu", **event)
    eid = ev["id"]
    await move(platform, "eu", eid, "registration")
    ids, owner = [], {}
    for i in range(n):
        who = "jp" if i % 2 == 0 else "eu"
        cluster = await known_cluster(platform, who, name=f"Cluster {i}")
        await register(platform, who, eid, cluster["id"])
        ids.append(cluster["id"])
        owner[cluster["id"]] = who
    await move(platform, "eu", eid, "requests")
    accepted = {}
    for i, j in pairs:
        r = await request_meeting(platform, owner[ids[i]], eid, ids[i], ids[j])
        await act(platform, owner[ids[j]], eid, r["id"], "accept")
        accepted[r["id"]] = (ids[i], ids[j])
    await move(platform, "eu", eid, "scheduling")
    async with platform.client("eu") as c:
        draft = ok(await c.post(f"/v1/events/{eid}/schedules", json={"time_limit": 5}), 201)
        participants = ok(await c.get(f"/v1/events/{eid}/participants"))["items"]
        check_schedule(draft, ev, accepted, participants)
        published = ok(await c.post(f"/v1/events/{eid}/publish"))
    return ev, ids, accepted, published


async def test_agenda_as_icalendar_opens_in_a_calendar_program(platform: Platform) -> None:
    ev, ids, _, published = await _published_event(
        platform, [(0, 1), (0, 3), (2, 1)], timezone="Asia/Tokyo", venue="Makuhari Messe"
    )
    eid, me = ev["id"], ids[0]
    url = f"/v1/events/{eid}/participants/{me}"
    async with platform.client("jp") as c:
        agenda = ok(await c.get(f"{url}/agenda"))
        first = await c.get(f"{url}/agenda.ics")
        again = await c.get(f"{url}/agenda.ics")
    assert first.status_code == 200
    assert first.headers["content-type"].startswith("text/calendar")
    assert agenda["timezone"] == "Asia/Tokyo"
    assert len(agenda["meetings"]) == 2

    cal = icalendar.Calendar.from_ical(first.content)
    assert str(cal["version"]) == "2.0"
    assert cal["prodid"]
    zones = [str(z["tzid"]) for z in cal.walk("VTIMEZONE")]
    assert zones == ["Asia/Tokyo"]
    vevents = cal.walk("VEVENT")
    assert len(vevents) == len(agenda["meetings"])
    by_uid = {str(v["uid"]): v for v in vevents}
    assert len(by_uid) == len(vevents)
    for m in agenda["meetings"]:
        v = by_uid[f"{m['meeting_id']}@events.clusterbridge.dev"]
        start, end = v.decoded("dtstart"), v.decoded("dtend")
        assert start == datetime.fromisoformat(m["start"])
        assert end == datetime.fromisoformat(m["end"])
        assert start.utcoffset() == ZoneInfo("Asia/Tokyo").utcoffset(start)
        assert v["dtstart"].params["TZID"] == "Asia/Tokyo"
        assert v.decoded("dtstamp")
        assert m["counterpart"]["name"] in str(v["summary"])
        assert m["location"] in str(v["location"])
        assert "Makuhari Messe" in str(v["location"])
    # The reader's own zone beside the event's: same instant, other wall clock.
    async with platform.client("jp") as c:
        paris = ok(await c.get(f"{url}/agenda", params={"tz": "Europe/Paris"}))
        assert_problem(await c.get(f"{url}/agenda", params={"tz": "Mars/Olympus"}), 422)
    assert paris["reader_timezone"] == "Europe/Paris"
    for m in paris["meetings"]:
        reader = datetime.fromisoformat(m["reader_start"])
        assert reader == datetime.fromisoformat(m["start"])
        assert reader.utcoffset() == ZoneInfo("Europe/Paris").utcoffset(reader)
    assert agenda["meetings"][0]["reader_start"] is None

    # Stable UIDs: fetching again names the same meetings the same way.
    again_uids = {str(v["uid"]) for v in icalendar.Calendar.from_ical(again.content).walk("VEVENT")}
    assert again_uids == set(by_uid)

    # Agendas are private to the participant's tenant and the organiser.
    async with platform.client("eu") as c:
        ok(await c.get(f"{url}/agenda"))
    async with platform.client("br") as c:
        assert_problem(await c.get(f"{url}/agenda.ics"), 404)
        assert_problem(await c.get(f"{url}/agenda"), 404)
        grid = f"/v1/events/{eid}/schedules/{published['id']}/grid"
        assert_problem(await c.get(grid), 404)
        meeting = agenda["meetings"][0]["meeting_id"]
        assert_problem(await c.get(f"/v1/events/{eid}/meetings/{meeting}"), 404)
        r = await c.post(f"/v1/events/{eid}/meetings/{meeting}/outcome", json={"outcome": "held"})
        assert_problem(r, 404)


async def test_agenda_before_publication_is_a_conflict(platform: Platform) -> None:
    ev = await new_event(platform, "eu")
    cluster = await known_cluster(platform, "eu")
    await register(platform, "eu", ev["id"], cluster["id"])
    async with platform.client("eu") as c:
        r = await c.get(f"/v1/events/{ev['id']}/participants/{cluster['id']}/agenda.ics")
    assert_problem(r, 409)


async def test_rescheduling_keeps_every_published_meeting_that_still_stands(
    platform: Platform,
) -> None:
    pairs = [(0, 1), (0, 3), (2, 1), (2, 3), (4, 5), (4, 1)]
    ev, ids, accepted, published = await _published_event(platform, pairs, n=6, tables=2)
    eid = ev["id"]
    before = {m["meeting_id"]: (m["slot"], m["table"]) for m in published["meetings"]}
    assert before, "nothing was placed"
    # A meeting is called off on the day before; a late request is accepted.
    off = next(iter(before))
    a, b = accepted.pop(off)
    receiver_owner = "jp" if ids.index(b) % 2 == 0 else "eu"
    await act(platform, receiver_owner, eid, off, "cancel")
    late = await request_meeting(platform, "eu", eid, ids[5], ids[2], priority="must")
    await act(platform, "jp", eid, late["id"], "accept")
    accepted[late["id"]] = (ids[5], ids[2])

    async with platform.client("eu") as c:
        # Off everyone's agenda at once, before any re-scheduling.
        agenda = ok(await c.get(f"/v1/events/{eid}/participants/{a}/agenda"))
        assert off not in {m["meeting_id"] for m in agenda["meetings"]}
        redo = ok(await c.post(f"/v1/events/{eid}/schedules", json={"seed": 7}), 201)
        participants = ok(await c.get(f"/v1/events/{eid}/participants"))["items"]
        check_schedule(redo, ev, accepted, participants)
        after = {m["meeting_id"]: (m["slot"], m["table"]) for m in redo["meetings"]}
        for meeting, place in before.items():
            if meeting != off:
                assert after[meeting] == place, "a published meeting moved"
        assert off not in after
        assert redo["kept"] == len(before) - 1
        republished = ok(await c.post(f"/v1/events/{eid}/publish"))
        assert republished["id"] == redo["id"]
        assert ok(await c.get(f"/v1/events/{eid}"))["status"] == "published"
    subjects = await outbox_subjects(platform, eid)
    assert subjects.count("events.schedule.published") == 2
    assert "events.meeting.cancelled" in subjects
