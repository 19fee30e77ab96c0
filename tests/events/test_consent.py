"""Consent across tenants: nobody is put into another tenant's event, and nobody's
absence is recorded by someone who was not there to see it."""

from __future__ import annotations

from typing import Any

from tests.events.helpers import (
    act,
    assert_problem,
    known_cluster,
    move,
    new_event,
    ok,
    outbox_subjects,
    register,
    request_meeting,
)
from tests.harness import Platform


async def test_an_organiser_invites_another_tenants_cluster_which_decides(
    platform: Platform,
) -> None:
    ev = await new_event(platform, "eu")
    eid = ev["id"]
    mine = await known_cluster(platform, "eu")
    theirs = await known_cluster(platform, "jp")
    other = await known_cluster(platform, "jp")
    await move(platform, "eu", eid, "registration")
    await register(platform, "eu", eid, mine["id"])
    invited = await register(platform, "eu", eid, theirs["id"], consent=False)
    assert invited["status"] == "invited"
    declining = await register(platform, "eu", eid, other["id"], consent=False)
    await move(platform, "eu", eid, "requests")

    # Nobody meets an invited cluster, and it sends nothing, until its tenant agrees.
    async with platform.client("eu") as c:
        r = await c.post(
            f"/v1/events/{eid}/requests",
            json={"sender": mine["id"], "receiver": theirs["id"]},
        )
        assert assert_problem(r, 422)["field"] == "receiver"
    async with platform.client("jp") as c:
        r = await c.post(
            f"/v1/events/{eid}/requests",
            json={"sender": theirs["id"], "receiver": mine["id"]},
        )
        assert assert_problem(r, 422)["field"] == "sender"

    # Only the cluster's own tenant answers: not the organiser, not a third tenant.
    accept = f"/v1/events/{eid}/participants/{theirs['id']}/accept"
    for who in ("eu", "kr"):
        async with platform.client(who) as c:
            assert_problem(await c.post(accept), 403)
    async with platform.client("jp") as c:
        joined = ok(await c.post(accept))
        assert joined["status"] == "registered"
        assert_problem(await c.post(accept), 409)  # answered already
        declined = ok(
            await c.post(f"/v1/events/{eid}/participants/{declining['cluster_id']}/decline")
        )
        assert declined["status"] == "declined"
        assert_problem(
            await c.post(f"/v1/events/{eid}/participants/{declining['cluster_id']}/accept"), 409
        )
    # Now the meeting can be asked for; the one who declined stays out.
    await request_meeting(platform, "eu", eid, mine["id"], theirs["id"])
    async with platform.client("eu") as c:
        r = await c.post(
            f"/v1/events/{eid}/requests",
            json={"sender": mine["id"], "receiver": declining["cluster_id"]},
        )
        assert_problem(r, 422)
        stats = ok(await c.get(f"/v1/events/{eid}/stats"))
    assert (stats["participants"], stats["invited"]) == (2, 0)
    subjects = await outbox_subjects(platform, eid)
    assert "events.participant.invited" in subjects
    assert "events.participant.joined" in subjects
    assert "events.participant.declined" in subjects


async def _published_meeting(
    platform: Platform, outcomes_by: str
) -> tuple[str, dict[str, Any], dict[str, Any], str]:
    ev = await new_event(platform, "eu", outcomes_by=outcomes_by)
    eid = ev["id"]
    a = await known_cluster(platform, "eu")
    b = await known_cluster(platform, "jp")
    await move(platform, "eu", eid, "registration")
    await register(platform, "eu", eid, a["id"])
    await register(platform, "jp", eid, b["id"])
    await move(platform, "eu", eid, "requests")
    req = await request_meeting(platform, "eu", eid, a["id"], b["id"])
    await act(platform, "jp", eid, req["id"], "accept")
    await move(platform, "eu", eid, "scheduling")
    async with platform.client("eu") as c:
        ok(await c.post(f"/v1/events/{eid}/schedules", json={"time_limit": 2}), 201)
        ok(await c.post(f"/v1/events/{eid}/publish"))
    return eid, a, b, req["id"]


async def test_parties_report_only_their_counterparts_absence(platform: Platform) -> None:
    eid, a, b, meeting = await _published_meeting(platform, "organiser_and_parties")
    outcome = f"/v1/events/{eid}/meetings/{meeting}/outcome"
    async with platform.client("jp") as c:
        # b's tenant cannot say b itself was absent, nor that both were.
        for absent in ([b["id"]], [a["id"], b["id"]]):
            r = await c.post(outcome, json={"outcome": "no_show", "absent": absent})
            assert assert_problem(r, 403)["field"] == "absent"
        recorded = ok(await c.post(outcome, json={"outcome": "no_show", "absent": [a["id"]]}))
        assert recorded["absent"] == [a["id"]]
    async with platform.client("kr") as c:  # not a party: the meeting does not exist for it
        assert_problem(await c.post(outcome, json={"outcome": "held"}), 404)
    async with platform.client("eu") as c:  # the organiser corrects it
        fixed = ok(await c.post(outcome, json={"outcome": "held"}))
        assert (fixed["outcome"], fixed["absent"]) == ("held", [])


async def test_the_organiser_may_keep_outcomes_to_itself(platform: Platform) -> None:
    eid, a, b, meeting = await _published_meeting(platform, "organiser")
    outcome = f"/v1/events/{eid}/meetings/{meeting}/outcome"
    async with platform.client("jp") as c:
        r = await c.post(outcome, json={"outcome": "held"})
        assert assert_problem(r, 403)["type"].endswith("outcomes-by-organiser")
        r = await c.post(outcome, json={"outcome": "no_show", "absent": [a["id"]]})
        assert_problem(r, 403)
    async with platform.client("eu") as c:
        ok(await c.post(outcome, json={"outcome": "no_show", "absent": [b["id"]]}))
