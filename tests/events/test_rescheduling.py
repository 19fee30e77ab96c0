"""Re-scheduling after a published schedule: what must move is listed, the rest stays."""

from __future__ import annotations

from tests.events.helpers import (
    act,
    check_schedule,
    known_cluster,
    move,
    new_event,
    ok,
    register,
    request_meeting,
)
from tests.harness import Platform


async def test_new_unavailability_over_a_published_meeting_displaces_only_it(
    platform: Platform,
) -> None:
    ev = await new_event(platform, "eu")
    eid = ev["id"]
    eu1 = await known_cluster(platform, "eu", name="Flanders Battery Hub")
    eu2 = await known_cluster(platform, "eu", name="Bavarian Cells")
    jp1 = await known_cluster(platform, "jp", name="Kansai Battery Valley")
    jp2 = await known_cluster(platform, "jp", name="Tokai Mobility")
    await move(platform, "eu", eid, "registration")
    for who, cluster in (("eu", eu1), ("eu", eu2), ("jp", jp1), ("jp", jp2)):
        await register(platform, who, eid, cluster["id"])
    await move(platform, "eu", eid, "requests")
    pairs = [(jp1, eu1), (jp1, eu2), (jp2, eu1), (jp2, eu2)]
    accepted: dict[str, tuple[str, str]] = {}
    for sender, receiver in pairs:
        r = await request_meeting(platform, "jp", eid, sender["id"], receiver["id"])
        await act(platform, "eu", eid, r["id"], "accept")
        accepted[r["id"]] = (sender["id"], receiver["id"])
    await move(platform, "eu", eid, "scheduling")
    async with platform.client("eu") as c:
        ok(await c.post(f"/v1/events/{eid}/schedules", json={"time_limit": 5}), 201)
        published = ok(await c.post(f"/v1/events/{eid}/publish"))
    assert published["placed"] == 4
    where = {m["meeting_id"]: (m["slot"], m["table"]) for m in published["meetings"]}

    # Bavarian Cells can no longer come in the slot of its meeting with Kansai.
    hit = next(m for m in published["meetings"] if {m["a"], m["b"]} == {jp1["id"], eu2["id"]})
    async with platform.client("eu") as c:
        ok(await c.patch(
            f"/v1/events/{eid}/participants/{eu2['id']}",
            json={"unavailable_slots": [hit["slot"]]},
        ))  # fmt: skip
        second = ok(await c.post(f"/v1/events/{eid}/schedules", json={"time_limit": 5}), 201)
        participants = ok(await c.get(f"/v1/events/{eid}/participants"))["items"]

    # A schedule, not a refusal: the one meeting that cannot stay is listed with why.
    check_schedule(second, ev, accepted, participants)
    assert [d["meeting_id"] for d in second["displaced"]] == [hit["meeting_id"]]
    displaced = second["displaced"][0]
    assert (displaced["slot"], displaced["table"]) == (hit["slot"], hit["table"])
    assert "unavailable" in displaced["reason"]
    assert eu2["id"] in displaced["reason"]
    # Every other published meeting stays exactly where it was.
    now = {m["meeting_id"]: (m["slot"], m["table"]) for m in second["meetings"]}
    for meeting_id, place in where.items():
        if meeting_id != hit["meeting_id"]:
            assert now[meeting_id] == place
    assert second["kept"] == 3
    # The displaced meeting moved to another slot, or is unplaced with its reason.
    if hit["meeting_id"] in now:
        assert now[hit["meeting_id"]][0] != hit["slot"]
    else:
        assert hit["meeting_id"] in second["reasons"]
    assert set(second["reasons"]) == set(second["unplaced"])
    assert second["spread"] is not None
