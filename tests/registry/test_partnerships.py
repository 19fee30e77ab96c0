"""Strategic cluster partnerships through the gateway: from a consortium suggestion to a
formed partnership by each member's own consent, the versioned joint strategy,
activities and an event under its name, the public directory and search; bad input and
the walls between tenants and between clusters of one tenant."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from tests.events.helpers import assert_problem, event_payload, ok
from tests.harness import Platform, eventually, mail_to
from tests.people_helpers import SignedInPerson, as_person, many_people
from tests.registry_helpers import cluster_payload


async def new_cluster(platform: Platform, tenant: str, **overrides: Any) -> dict[str, Any]:
    async with platform.client(tenant) as c:
        return ok(await c.post("/v1/clusters", json=cluster_payload(tenant, **overrides)), 201)


async def managers(platform: Platform, clusters: list[dict[str, Any]]) -> list[SignedInPerson]:
    """The manager of each cluster (a person of its tenant managing only it)."""
    return await many_people(
        platform, [(c["tenant"], ["cluster-manager"], [c["id"]]) for c in clusters]
    )


async def sql_scalar(platform: Platform, query: str, **params: Any) -> Any:
    engine = create_async_engine(platform.database_url, poolclass=NullPool)
    try:
        async with engine.connect() as conn:
            return await conn.scalar(text(query), params)
    finally:
        await engine.dispose()


async def subjects_of(platform: Platform, partnership_id: str) -> list[str]:
    engine = create_async_engine(platform.database_url, poolclass=NullPool)
    try:
        async with engine.connect() as conn:
            rows = await conn.execute(
                text(
                    "SELECT subject FROM registry.outbox WHERE payload->'data'->>'id' = :p "
                    "ORDER BY seq"
                ),
                {"p": partnership_id},
            )
            return [r[0] for r in rows]
    finally:
        await engine.dispose()


async def four_clusters(
    platform: Platform, tag: str, ecosystem: str = "energy-renewables"
) -> list[dict[str, Any]]:
    """A Japanese lead and partners in Germany, Brazil and Korea, with words of their
    own (`tag`) and an ecosystem the caller may reserve, so that the consortium builder
    can be made to find exactly them (its semantic scoring sees past the tag alone)."""
    return [
        await new_cluster(
            platform,
            "jp",
            name=f"Kansai {tag}",
            competences=[f"{tag} cell design"],
            ecosystems=[ecosystem],
            offers=[f"{tag} pilot line"],
            needs=[f"{tag} recycling partners"],
        ),
        await new_cluster(
            platform,
            "eu",
            name=f"Saxony {tag}",
            competences=[f"{tag} recycling process"],
            ecosystems=[ecosystem],
        ),
        await new_cluster(
            platform,
            "br",
            name=f"Campinas {tag}",
            competences=[f"{tag} lithium refining"],
            ecosystems=[ecosystem],
        ),
        await new_cluster(
            platform,
            "kr",
            name=f"Ulsan {tag}",
            competences=[f"{tag} life cycle assessment"],
            ecosystems=[ecosystem],
        ),
    ]


def tag() -> str:
    return "zq" + uuid.uuid4().hex[:8]


async def test_a_consortium_suggestion_becomes_a_partnership_formed_by_each_members_consent(
    platform: Platform,
) -> None:
    t = tag()
    # An ecosystem no other test uses: the builder then chooses among these four only.
    reserved = "proximity-social-economy"
    lead, de, br, kr = await four_clusters(platform, t, reserved)
    m_lead, m_de, m_br, m_kr = await managers(platform, [lead, de, br, kr])

    # The lead's manager asks the matching service for a consortium ...
    async with as_person(platform, m_lead) as c:

        async def suggest() -> list[dict[str, Any]]:
            r = await c.post(
                "/v1/matching/consortia",
                json={
                    "cluster_id": lead["id"],
                    "competences": [f"{t} recycling", f"{t} lithium", f"{t} life cycle"],
                    "min_members": 4,
                    "max_members": 4,
                    "filters": {"ecosystems": [reserved]},
                },
            )
            if r.status_code == 404:
                return []  # the lead is not in the match index yet
            found: list[dict[str, Any]] = ok(r)["consortia"]
            return found

        # Until all four are indexed (seconds when the suite's imports keep matching busy).
        consortia = await eventually(
            suggest, until=lambda cs: bool(cs) and len(cs[0]["members"]) == 4, timeout=120
        )
        suggestion = consortia[0]
        assert {m["id"] for m in suggestion["members"]} == {
            lead["id"],
            de["id"],
            br["id"],
            kr["id"],
        }
        # ... and turns it into a partnership, passing it on as it came.
        r = await c.post(
            "/v1/partnerships",
            json={
                "name": f"Circular batteries {t}",
                "field": "circular batteries",
                "lead_cluster_id": lead["id"],
                "consortium": suggestion,
                "target_markets": ["US", "IN"],
            },
        )
        p = ok(r, 201)
    pid = p["id"]
    assert p["source"] == "consortium"
    assert p["formed"] is False
    assert p["countries_accepted"] == ["JP"]
    status = {m["cluster_id"]: m["status"] for m in p["members"]}
    assert status == {
        lead["id"]: "accepted",
        de["id"]: "invited",
        br["id"]: "invited",
        kr["id"]: "invited",
    }
    assert p["competences"], "covered competences become the shared ones"
    # Whoever speaks for an invited cluster hears of it by mail; the lead is not invited.
    invitation = await mail_to(platform, m_de.email, f"Circular batteries {t}")
    assert f"/v1/partnerships/{pid}/members/{de['id']}/accept" in invitation
    assert f"Kansai {t} (JP)" in invitation
    await mail_to(platform, m_kr.email, f"Circular batteries {t}")
    assert not [m for m in platform.mail.messages() if m_lead.email in str(m["To"])]

    accept = f"/v1/partnerships/{pid}/members/{{}}/accept"
    # Nobody answers for another cluster: not the lead's manager, not another tenant's
    # agency, not the manager of another cluster.
    async with as_person(platform, m_lead) as c:
        assert_problem(await c.post(accept.format(de["id"])), 403)
    async with platform.client("br") as c:
        assert_problem(await c.post(accept.format(de["id"])), 403)
    async with as_person(platform, m_kr) as c:
        assert_problem(await c.post(accept.format(br["id"])), 403)
    async with platform.client("jp") as c:
        after = ok(await c.get(f"/v1/partnerships/{pid}"))
    assert after["countries_accepted"] == ["JP"]

    async with platform.client("kr") as c:
        listed = ok(await c.get("/v1/partnerships", params={"q": t, "formed": "false"}))
        assert [i["id"] for i in listed["items"]] == [pid]
    async with as_person(platform, m_de) as c:
        p = ok(await c.post(accept.format(de["id"])))
        assert (p["formed"], p["countries_accepted"]) == (False, ["DE", "JP"])
        assert_problem(await c.post(accept.format(de["id"])), 409)  # answered already
    async with as_person(platform, m_br) as c:
        p = ok(await c.post(accept.format(br["id"])))
    assert (p["formed"], p["countries_accepted"]) == (True, ["BR", "DE", "JP"])
    async with as_person(platform, m_kr) as c:
        p = ok(await c.post(f"/v1/partnerships/{pid}/members/{kr['id']}/decline"))
    assert {m["cluster_id"]: m["status"] for m in p["members"]}[kr["id"]] == "declined"
    assert p["formed"] is True

    # Every change is on the bus, "formed" exactly once.
    subjects = await subjects_of(platform, pid)
    assert subjects == [
        "registry.partnership.created",
        "registry.partnership.member_answered",
        "registry.partnership.member_answered",
        "registry.partnership.formed",
        "registry.partnership.member_answered",
    ]

    async def published() -> int:
        n = await sql_scalar(
            platform,
            "SELECT count(*) FROM registry.outbox WHERE payload->'data'->>'id' = :p "
            "AND published_at IS NOT NULL",
            p=pid,
        )
        return int(n or 0)

    assert await eventually(published, until=lambda n: n == 5) == 5

    # The public page and directory, for every tenant.
    async with platform.client("kr") as c:
        page = ok(await c.get(f"/v1/partnerships/{pid}"))
        assert page["name"] == f"Circular batteries {t}"
        listed = ok(await c.get("/v1/partnerships", params={"cluster_id": br["id"]}))
        assert [i["id"] for i in listed["items"]] == [pid]
        listed = ok(await c.get("/v1/partnerships", params={"q": t, "market": "US"}))
        assert [i["id"] for i in listed["items"]] == [pid]
        listed = ok(await c.get("/v1/partnerships", params={"q": t, "market": "CN"}))
        assert listed["items"] == []
        listed = ok(await c.get("/v1/partnerships", params={"q": t, "formed": "true"}))
        assert [i["id"] for i in listed["items"]] == [pid]
        listed = ok(await c.get("/v1/partnerships", params={"q": t, "formed": "false"}))
        assert listed["items"] == []
        # By a member's country: members who accepted or are invited, not those who declined.
        for country, found in (("BR", [pid]), ("DE", [pid]), ("KR", []), ("US", [])):
            listed = ok(await c.get("/v1/partnerships", params={"q": t, "country": country}))
            assert [i["id"] for i in listed["items"]] == found, country
        assert_problem(await c.get("/v1/partnerships", params={"country": "XX"}), 422)


async def formed_partnership(
    platform: Platform,
) -> tuple[str, list[dict[str, Any]], list[SignedInPerson]]:
    t = tag()
    clusters = await four_clusters(platform, t)
    people = await managers(platform, clusters)
    lead = clusters[0]
    async with as_person(platform, people[0]) as c:
        p = ok(
            await c.post(
                "/v1/partnerships",
                json={
                    "name": f"Hydrogen valleys {t}",
                    "field": "green hydrogen",
                    "lead_cluster_id": lead["id"],
                    "members": [x["id"] for x in clusters[1:]],
                    "competences": ["electrolyser stacks", "hydrogen storage"],
                    "target_markets": ["IN"],
                    "strategy": "Year 1: a joint mission to India.",
                },
            ),
            201,
        )
    for cluster, who in list(zip(clusters, people, strict=True))[1:3]:
        async with as_person(platform, who) as c:
            ok(await c.post(f"/v1/partnerships/{p['id']}/members/{cluster['id']}/accept"))
    return p["id"], clusters, people


async def test_the_joint_strategy_is_versioned_and_guarded_by_if_match(
    platform: Platform,
) -> None:
    pid, clusters, people = await formed_partnership(platform)
    m_lead, m_de, _, m_kr = people  # kr stays invited
    url = f"/v1/partnerships/{pid}/strategy"
    async with as_person(platform, m_lead) as c:
        first = await c.get(url)
        assert ok(first)["version"] == 1
        etag = first.headers["etag"]
        assert_problem(await c.put(url, json={"text": "no etag"}), 428)
        second = await c.put(url, json={"text": "Year 1: missions to India and the USA."},
                             headers={"If-Match": etag})  # fmt: skip
        assert ok(second)["version"] == 2
        # The ETag read before the change is stale now.
        r = await c.put(url, json={"text": "lost edit"}, headers={"If-Match": etag})
        assert_problem(r, 412)
    async with as_person(platform, m_de) as c:  # an accepted member of another tenant
        r = await c.put(
            url, json={"text": "v3 by Saxony"}, headers={"If-Match": second.headers["etag"]}
        )
        assert ok(r)["cluster_id"] == clusters[1]["id"]
    async with as_person(platform, m_kr) as c:  # invited, not accepted
        r = await c.put(url, json={"text": "not yet a member"}, headers={"If-Match": "*"})
        assert_problem(r, 403)
    async with platform.client("br") as c:  # Brazil's agency speaks for its accepted member
        history = ok(await c.get(f"{url}/versions"))
    assert [v["version"] for v in history["items"]] == [3, 2, 1]
    assert history["items"][0]["text"] == "v3 by Saxony"
    count = await sql_scalar(
        platform,
        "SELECT count(*) FROM registry.partnership_strategy_versions WHERE partnership_id = :p",
        p=uuid.UUID(pid),
    )
    assert count == 3


async def test_activities_and_an_event_organised_under_the_partnerships_name(
    platform: Platform,
) -> None:
    pid, _clusters, people = await formed_partnership(platform)
    m_lead, m_de, _, m_kr = people
    async with platform.client("jp") as c:
        event = ok(await c.post("/v1/events", json=event_payload(title="Hydrogen days")), 201)
    url = f"/v1/partnerships/{pid}/activities"
    async with as_person(platform, m_lead) as c:
        a = ok(
            await c.post(
                url,
                json={
                    "kind": "event",
                    "title": "EU-Japan hydrogen brokerage",
                    "starts_on": "2030-03-04",
                    "ends_on": "2030-03-04",
                    "event_id": event["id"],
                },
            ),
            201,
        )
        assert a["event_id"] == event["id"]
        r = await c.post(
            url,
            json={"kind": "mission", "title": "x", "starts_on": "2030-05-02",
                  "ends_on": "2030-05-01"},
        )  # fmt: skip
        assert_problem(r, 422)
        r = await c.post(
            url,
            json={"kind": "call", "title": "x", "starts_on": "2030-05-02",
                  "ends_on": "2030-05-03", "event_id": event["id"]},
        )  # fmt: skip
        assert_problem(r, 422)
    async with as_person(platform, m_de) as c:
        ok(
            await c.post(
                url,
                json={"kind": "mission", "title": "Mission to Pune", "starts_on": "2030-06-01",
                      "ends_on": "2030-06-05", "country": "IN"},
            ),
            201,
        )  # fmt: skip
    async with as_person(platform, m_kr) as c:
        r = await c.post(
            url, json={"kind": "call", "title": "x", "starts_on": "2030-01-01",
                       "ends_on": "2030-01-02"},
        )  # fmt: skip
        assert_problem(r, 403)
    async with platform.client("kr") as c:
        listed = ok(await c.get(url))
    assert [a["title"] for a in listed["items"]] == [
        "EU-Japan hydrogen brokerage",
        "Mission to Pune",
    ]
    assert "registry.partnership.activity_added" in await subjects_of(platform, pid)


async def test_refusals_change_nothing(platform: Platform) -> None:
    t = tag()
    lead, de, br, kr = await four_clusters(platform, t)
    other_jp = await new_cluster(platform, "jp")
    lead_manager, other_manager = await managers(platform, [lead, other_jp])
    before = await sql_scalar(platform, "SELECT count(*) FROM registry.partnerships")
    body = {
        "name": f"Two countries {t}",
        "field": "batteries",
        "lead_cluster_id": lead["id"],
        "members": [de["id"]],
    }
    async with as_person(platform, lead_manager) as c:
        problem = assert_problem(await c.post("/v1/partnerships", json=body), 422)
        assert "at least 3 countries" in problem["detail"]
        r = await c.post(
            "/v1/partnerships", json={**body, "members": [de["id"], str(uuid.uuid4())]}
        )
        assert_problem(r, 422)
        r = await c.post("/v1/partnerships", json={**body, "members": [de["id"]], "x": 1})
        assert_problem(r, 422)
        r = await c.post(
            "/v1/partnerships", json={**body, "members": [de["id"], br["id"]],
                                      "target_markets": ["XX"]},
        )  # fmt: skip
        assert_problem(r, 422)
    three = {**body, "members": [de["id"], br["id"]]}
    # The manager of another cluster of the same tenant cannot lead with this one ...
    async with as_person(platform, other_manager) as c:
        assert_problem(await c.post("/v1/partnerships", json=three), 403)
    # ... nor can another tenant's agency.
    async with platform.client("br") as c:
        assert_problem(await c.post("/v1/partnerships", json=three), 403)
    assert await sql_scalar(platform, "SELECT count(*) FROM registry.partnerships") == before

    async with as_person(platform, lead_manager) as c:
        p = ok(await c.post("/v1/partnerships", json=three), 201)
        invited = ok(
            await c.post(f"/v1/partnerships/{p['id']}/members", json={"cluster_id": kr["id"]}), 201
        )
        assert kr["id"] in {m["cluster_id"] for m in invited["members"]}
        r = await c.post(f"/v1/partnerships/{p['id']}/members", json={"cluster_id": kr["id"]})
        assert_problem(r, 409)
        changed = ok(await c.patch(f"/v1/partnerships/{p['id']}", json={"target_markets": ["CN"]}))
        assert changed["target_markets"] == ["CN"]
    # Only the lead invites or changes it.
    async with as_person(platform, other_manager) as c:
        r = await c.post(f"/v1/partnerships/{p['id']}/members", json={"cluster_id": other_jp["id"]})
        assert_problem(r, 403)
        assert_problem(await c.patch(f"/v1/partnerships/{p['id']}", json={"name": "x"}), 403)
    # A cluster in a partnership is not deleted from under it.
    async with platform.client("br") as c:
        problem = assert_problem(await c.delete(f"/v1/clusters/{br['id']}"), 409)
        assert f"Two countries {t}" in problem["detail"]
        ok(await c.get(f"/v1/clusters/{br['id']}"))
    async with platform.client("eu") as c:
        assert_problem(await c.patch(f"/v1/partnerships/{p['id']}", json={"name": "x"}), 403)
        assert_problem(await c.get(f"/v1/partnerships/{uuid.uuid4()}"), 404)
        r = await c.post(f"/v1/partnerships/{p['id']}/members/{other_jp['id']}/accept")
        assert_problem(r, 404)  # never invited


async def test_search_finds_partnerships_that_match_a_clusters_needs(
    platform: Platform,
) -> None:
    t = tag()
    lead, de, br, _ = await four_clusters(platform, t)
    (lead_manager,) = await managers(platform, [lead])
    async with as_person(platform, lead_manager) as c:
        p = ok(
            await c.post(
                "/v1/partnerships",
                json={
                    "name": f"Recycling alliance {t}",
                    "field": f"{t} recycling",
                    "lead_cluster_id": lead["id"],
                    "members": [de["id"], br["id"]],
                    "competences": [f"{t} recycling partners network", "black mass refining"],
                    "target_markets": ["US"],
                },
            ),
            201,
        )
    seeker = await new_cluster(
        platform,
        "kr",
        needs=[f"{t} recycling partners"],
        offers=["black mass refining plant"],
        target_countries=["US"],
    )
    unrelated = await new_cluster(
        platform, "kr", needs=["textile dyes"], offers=["cotton"], competences=["weaving"],
        technologies=[], target_countries=[],
    )  # fmt: skip
    async with platform.client("kr") as c:
        found = ok(await c.get("/v1/partnerships/search", params={"cluster_id": seeker["id"]}))
        assert found["items"][0]["partnership"]["id"] == p["id"]
        reasons = " ".join(found["items"][0]["reasons"])
        assert "recycling partners" in reasons
        assert "US" in reasons
        assert "KR" in reasons
        other = ok(await c.get("/v1/partnerships/search", params={"cluster_id": unrelated["id"]}))
        assert p["id"] not in {i["partnership"]["id"] for i in other["items"]}
        # A member is not offered its own partnership.
        mine = ok(await c.get("/v1/partnerships/search", params={"cluster_id": de["id"]}))
        assert p["id"] not in {i["partnership"]["id"] for i in mine["items"]}
        r = await c.get("/v1/partnerships/search", params={"cluster_id": str(uuid.uuid4())})
        assert_problem(r, 404)


async def test_an_api_key_without_registry_scopes_is_refused(platform: Platform) -> None:
    async with httpx.AsyncClient(base_url=platform.gateway_url) as c:
        r = await c.get("/v1/partnerships")
    assert r.status_code == 401


async def test_matching_suggests_clusters_that_strengthen_a_partnership(
    platform: Platform,
) -> None:
    t = tag()
    lead, de, br, _ = await four_clusters(platform, t)
    (lead_manager,) = await managers(platform, [lead])
    # A cluster that covers what the members lack, from a country not yet in it ...
    strong = await new_cluster(
        platform, "kr", name=f"Gwangju {t}", competences=[f"{t} solid electrolyte coating"]
    )
    # ... and one that only repeats what a member covers already.
    await new_cluster(platform, "eu", name=f"Lyon {t}", competences=[f"{t} recycling process"])
    async with as_person(platform, lead_manager) as c:
        p = ok(
            await c.post(
                "/v1/partnerships",
                json={
                    "name": f"Solid state {t}",
                    "field": "solid-state batteries",
                    "lead_cluster_id": lead["id"],
                    "members": [de["id"], br["id"]],
                    "competences": [f"{t} recycling process", f"{t} solid electrolyte coating"],
                },
            ),
            201,
        )
    async with platform.client("br") as c:  # any tenant may look

        async def candidates() -> list[dict[str, Any]]:
            r = await c.get(f"/v1/matching/partnerships/{p['id']}/candidates")
            found: list[dict[str, Any]] = ok(r)["candidates"]
            return found

        found = await eventually(
            candidates,
            until=lambda cs: any(x["partner"]["id"] == strong["id"] for x in cs),
            timeout=120,
        )
        best = found[0]
        assert best["partner"]["id"] == strong["id"]
        assert best["improves"] == [f"{t} solid electrolyte coating"]
        assert best["new_country"] is True
        ids = {x["partner"]["id"] for x in found}
        assert not ids & {lead["id"], de["id"], br["id"]}  # members are not candidates
        assert all(f"Lyon {t}" != x["partner"]["name"] for x in found)
        r = await c.get(f"/v1/matching/partnerships/{uuid.uuid4()}/candidates")
        assert_problem(r, 404)
