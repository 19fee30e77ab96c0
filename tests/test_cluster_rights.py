"""Cluster-level rights: a cluster manager acts only for the clusters they manage.

Each endpoint that changes or speaks for a cluster is tried by the manager of that
cluster (allowed) and by the manager of another cluster of the same tenant (refused),
through the gateway, as the web app calls it. The services decide; pages only show.
"""

from __future__ import annotations

from typing import Any

import httpx

from tests.events.helpers import act, known_cluster, move, new_event, ok, register
from tests.harness import Platform, eventually
from tests.people_helpers import SignedInPerson, as_person, person
from tests.registry_helpers import cluster_payload


async def _managers(
    platform: Platform, tenant: str = "jp"
) -> tuple[dict[str, Any], dict[str, Any], SignedInPerson, SignedInPerson]:
    mine = await known_cluster(platform, tenant)
    other = await known_cluster(platform, tenant)
    me = await person(platform, tenant, ["cluster-manager"], [mine["id"]])
    neighbour = await person(platform, tenant, ["cluster-manager"], [other["id"]])
    return mine, other, me, neighbour


async def _etag(c: httpx.AsyncClient, cluster_id: str) -> str:
    return (await c.get(f"/v1/clusters/{cluster_id}")).headers["etag"]


async def test_a_manager_changes_only_the_profiles_they_manage(platform: Platform) -> None:
    mine, other, me, neighbour = await _managers(platform)
    async with as_person(platform, me) as c:
        r = await c.patch(
            f"/v1/clusters/{mine['id']}",
            json={"city": "Kobe"},
            headers={"if-match": await _etag(c, mine["id"])},
        )
        assert r.status_code == 200, r.text
        assert r.json()["city"] == "Kobe"
        r = await c.patch(
            f"/v1/clusters/{other['id']}",
            json={"city": "Taken over"},
            headers={"if-match": await _etag(c, other["id"])},
        )
        assert r.status_code == 403
        assert r.json()["type"].endswith("not-your-cluster")
        assert (await c.delete(f"/v1/clusters/{other['id']}")).status_code == 403
        # New profiles and bulk imports are the agency admin's.
        assert (await c.post("/v1/clusters", json=cluster_payload("jp"))).status_code == 403
        r = await c.post(
            "/v1/clusters/import?format=jsonl",
            content=b"{}\n",
            headers={"content-type": "application/x-ndjson"},
        )
        assert r.status_code == 403
        # Verifying is the agency admin's too.
        r = await c.patch(
            f"/v1/clusters/{mine['id']}",
            json={"verified": True},
            headers={"if-match": await _etag(c, mine["id"])},
        )
        assert r.status_code == 403
    async with as_person(platform, neighbour) as c:
        r = await c.patch(
            f"/v1/clusters/{mine['id']}",
            json={"city": "Nara"},
            headers={"if-match": await _etag(c, mine["id"])},
        )
        assert r.status_code == 403
    async with platform.client("jp") as agency:  # the tenant's key acts for all of them
        assert (await agency.get(f"/v1/clusters/{mine['id']}")).json()["city"] == "Kobe"


async def test_a_manager_speaks_in_events_only_for_their_cluster(platform: Platform) -> None:
    mine, other, me, neighbour = await _managers(platform)
    partner = await known_cluster(platform, "eu")
    caller = await known_cluster(platform, "eu")
    ev = await new_event(platform, "eu")
    eid = ev["id"]
    await move(platform, "eu", eid, "registration")
    async with as_person(platform, me) as c:
        ok(await c.post(f"/v1/events/{eid}/participants", json={"cluster_id": mine["id"]}), 201)
    async with as_person(platform, neighbour) as c:
        r = await c.post(f"/v1/events/{eid}/participants", json={"cluster_id": mine["id"]})
        assert r.status_code == 403  # not theirs to register (nor to change:)
        r = await c.patch(
            f"/v1/events/{eid}/participants/{mine['id']}", json={"unavailable_slots": [0]}
        )
        assert r.status_code == 403
    await register(platform, "jp", eid, other["id"])
    await register(platform, "eu", eid, partner["id"])
    await register(platform, "eu", eid, caller["id"])
    await move(platform, "eu", eid, "requests")

    ask = {"sender": mine["id"], "receiver": partner["id"], "message": "Shall we meet?"}
    async with as_person(platform, neighbour) as c:
        assert (await c.post(f"/v1/events/{eid}/requests", json=ask)).status_code == 403
    async with as_person(platform, me) as c:
        sent = ok(await c.post(f"/v1/events/{eid}/requests", json=ask), 201)
    # A request to my cluster: only I answer it, and only I (and the other side) read it.
    async with platform.client("eu") as eu:
        incoming = ok(
            await eu.post(
                f"/v1/events/{eid}/requests",
                json={"sender": caller["id"], "receiver": mine["id"], "message": "Private note"},
            ),
            201,
        )
    async with as_person(platform, neighbour) as c:
        assert (await c.get(f"/v1/events/{eid}/requests/{incoming['id']}")).status_code == 404
        listed = ok(await c.get(f"/v1/events/{eid}/requests"))["items"]
        assert incoming["id"] not in {r["id"] for r in listed}
        r = await c.post(f"/v1/events/{eid}/requests/{incoming['id']}/accept")
        assert r.status_code == 404
        r = await c.post(f"/v1/events/{eid}/requests/{sent['id']}/cancel")
        assert r.status_code == 404
    async with as_person(platform, me) as c:
        ok(await c.post(f"/v1/events/{eid}/requests/{incoming['id']}/decline"))
    await act(platform, "eu", eid, sent["id"], "accept")

    await move(platform, "eu", eid, "scheduling")
    async with platform.client("eu") as eu:
        ok(await eu.post(f"/v1/events/{eid}/schedules", json={"time_limit": 2}), 201)
        ok(await eu.post(f"/v1/events/{eid}/publish"))
    agenda = f"/v1/events/{eid}/participants/{mine['id']}/agenda"
    async with as_person(platform, neighbour) as c:
        assert (await c.get(agenda)).status_code == 404
        assert (await c.get(agenda + ".ics")).status_code == 404
    async with as_person(platform, me) as c:
        meetings = ok(await c.get(agenda))["meetings"]
        assert len(meetings) == 1
    meeting = meetings[0]["meeting_id"]
    feedback = {"cluster_id": mine["id"], "rating": 4, "comment": "Good"}
    async with as_person(platform, neighbour) as c:
        r = await c.post(f"/v1/events/{eid}/meetings/{meeting}/feedback", json=feedback)
        assert r.status_code == 404
        r = await c.post(
            f"/v1/events/{eid}/meetings/{meeting}/outcome",
            json={"outcome": "no_show", "absent": [partner["id"]]},
        )
        assert r.status_code == 404
    async with as_person(platform, me) as c:
        ok(await c.post(f"/v1/events/{eid}/meetings/{meeting}/feedback", json=feedback))


async def test_a_manager_judges_partners_only_for_their_cluster(platform: Platform) -> None:
    mine, _, me, neighbour = await _managers(platform)
    partner = await known_cluster(platform, "eu")

    async def judge(who: SignedInPerson) -> int:
        async with as_person(platform, who) as c:
            r = await c.post(
                "/v1/matching/feedback",
                json={"cluster_id": mine["id"], "other_id": partner["id"], "relevant": True},
            )
            return r.status_code

    # Wait until the index knows both, then: mine yes, the neighbour's manager no.
    assert await eventually(lambda: judge(me), until=lambda s: s != 404, timeout=30) == 201
    assert await judge(neighbour) == 403


async def test_an_organiser_who_manages_no_cluster_sees_no_private_participant_data(
    platform: Platform,
) -> None:
    mine, _, me, _ = await _managers(platform, "kr")
    ev = await new_event(platform, "eu")
    await move(platform, "eu", ev["id"], "registration")
    await register(platform, "kr", ev["id"], mine["id"], unavailable_slots=[1])
    # A cluster manager of the organiser's tenant is not its organiser.
    eu_manager = await person(
        platform, "eu", ["cluster-manager"], [(await known_cluster(platform, "eu"))["id"]]
    )
    async with as_person(platform, eu_manager) as c:
        listed = ok(await c.get(f"/v1/events/{ev['id']}/participants"))["items"]
        assert "unavailable_slots" not in next(p for p in listed if p["cluster_id"] == mine["id"])
        assert (
            await c.post(f"/v1/events/{ev['id']}/transitions", json={"status": "requests"})
        ).status_code == 403
    async with as_person(platform, me) as c:
        listed = ok(await c.get(f"/v1/events/{ev['id']}/participants"))["items"]
        assert next(p for p in listed if p["cluster_id"] == mine["id"])["unavailable_slots"] == [1]
