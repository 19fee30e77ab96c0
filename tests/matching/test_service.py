"""The matching service behind the gateway, following the registry live."""

from __future__ import annotations

import asyncio
import functools
import uuid
from typing import Any

import httpx
import nats
import orjson
import pytest

from services.matching.live_index import LiveIndex
from shared.db.engine import create_sessionmaker
from shared.messaging.envelope import Envelope
from tests.harness import Platform, eventually
from tests.registry_helpers import cluster_payload

PROBLEM = "application/problem+json"


def battery_maker(tag: str, tenant: str = "jp") -> dict[str, Any]:
    return cluster_payload(
        tenant,
        name=f"Battery makers {tag}",
        description=f"{tag} cell manufacturers building lithium-ion batteries for cars.",
        ecosystems=["mobility-transport-automotive"],
        competences=[f"{tag} lithium-ion cell manufacturing", "battery pack assembly"],
        technologies=["NMC cathodes"],
        offers=[f"{tag} high-volume battery cell production"],
        needs=[f"{tag} recycling of spent batteries", "cathode material recovery"],
        target_countries=["BR", "KR"],
        contact_email=f"secret-{tag}@example.org",
    )


def recycler(tag: str, tenant: str = "br") -> dict[str, Any]:
    return cluster_payload(
        tenant,
        name=f"Recyclers {tag}",
        description=f"{tag} firms that recover metals from used Li-ion batteries.",
        ecosystems=["mobility-transport-automotive", "energy-intensive"],
        competences=[f"{tag} hydrometallurgical recycling", "black mass processing"],
        technologies=["solvent extraction"],
        offers=[f"{tag} battery recycling services", "recovered cathode materials"],
        needs=[f"{tag} supply of battery cells for stationary storage"],
        target_countries=["JP"],
        contact_email=f"secret-recycler-{tag}@example.org",
    )


async def create(platform: Platform, who: str, body: dict[str, Any]) -> str:
    async with platform.client(who) as c:
        r = await c.post("/v1/clusters", json=body)
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


async def matches(platform: Platform, who: str, cid: str, **params: Any) -> httpx.Response:
    async with platform.client(who) as c:
        return await c.get(f"/v1/matching/clusters/{cid}/matches", params=params)


async def partner_ids(platform: Platform, who: str, cid: str, **params: Any) -> list[str]:
    r = await matches(platform, who, cid, **params)
    if r.status_code != 200:
        return []
    return [m["partner"]["id"] for m in r.json()["matches"]]


async def test_new_clusters_in_two_tenants_match_each_other_with_reasons(
    platform: Platform,
) -> None:
    tag = uuid.uuid4().hex[:6]
    jp = await create(platform, "jp", battery_maker(tag))
    br = await create(platform, "br", recycler(tag))
    found = await eventually(
        lambda: partner_ids(platform, "jp", jp, limit=5), until=lambda ids: br in ids, timeout=10
    )
    assert found[0] == br  # the planted complementary partner ranks first
    found_back = await eventually(
        lambda: partner_ids(platform, "br", br, limit=5), until=lambda ids: jp in ids, timeout=10
    )
    assert found_back[0] == jp
    r = await matches(platform, "jp", jp, mode="complementary", limit=5)
    top = r.json()["matches"][0]
    assert top["partner"]["tenant"] == "br"
    assert top["partner"]["country"] == "BR"
    assert top["components"]["complementary"] > 0
    texts = " ".join(reason["text"] for reason in top["reasons"])
    assert "recycl" in texts.lower()
    assert any(reason["component"] == "complementary" for reason in top["reasons"])


async def test_explanations_never_carry_private_data(platform: Platform) -> None:
    tag = uuid.uuid4().hex[:6]
    jp = await create(platform, "jp", battery_maker(tag))
    br = await create(platform, "br", recycler(tag))
    await eventually(lambda: partner_ids(platform, "jp", jp), until=lambda ids: br in ids)
    for who, cid in (("jp", jp), ("br", br), ("kr", jp)):
        raw = (await matches(platform, who, cid, limit=20)).text
        assert "secret-" not in raw
        assert "@example.org" not in raw
    async with platform.client("kr") as c:
        r = await c.get("/v1/matching/search", params={"q": f"{tag} recycling"})
    assert "secret-" not in r.text


async def test_own_country_is_excluded_unless_asked(platform: Platform) -> None:
    tag = uuid.uuid4().hex[:6]
    jp = await create(platform, "jp", battery_maker(tag))
    jp2 = await create(platform, "jp", recycler(tag, tenant="jp") | {"country": "JP"})
    br = await create(platform, "br", recycler(tag))
    await eventually(lambda: partner_ids(platform, "jp", jp), until=lambda ids: br in ids)
    assert jp2 not in await partner_ids(platform, "jp", jp, limit=50)
    with_own = await partner_ids(platform, "jp", jp, limit=50, include_own_country="true")
    assert jp2 in with_own
    only_kr = await partner_ids(platform, "jp", jp, limit=50, country="KR")
    assert br not in only_kr


async def test_update_and_delete_follow_the_registry(platform: Platform) -> None:
    tag = uuid.uuid4().hex[:6]
    jp = await create(platform, "jp", battery_maker(tag))
    br = await create(platform, "br", recycler(tag))
    await eventually(lambda: partner_ids(platform, "jp", jp), until=lambda ids: br in ids)
    async with platform.client("br") as c:
        etag = (await c.get(f"/v1/clusters/{br}")).headers["etag"]
        r = await c.patch(
            f"/v1/clusters/{br}", json={"name": f"Renamed {tag}"}, headers={"if-match": etag}
        )
        assert r.status_code == 200

    async def partner_name() -> str | None:
        r = await matches(platform, "jp", jp, limit=10)
        names = {m["partner"]["id"]: m["partner"]["name"] for m in r.json()["matches"]}
        return names.get(br)

    await eventually(partner_name, until=lambda n: n == f"Renamed {tag}")
    async with platform.client("br") as c:
        assert (await c.delete(f"/v1/clusters/{br}")).status_code == 204
    await eventually(
        lambda: partner_ids(platform, "jp", jp, limit=50), until=lambda ids: br not in ids
    )
    r = await matches(platform, "jp", br)
    assert r.status_code == 404
    assert r.headers["content-type"] == PROBLEM


async def test_old_or_repeated_registry_events_change_nothing(platform: Platform) -> None:
    tag = uuid.uuid4().hex[:6]
    br = await create(platform, "br", recycler(tag))
    jp = await create(platform, "jp", battery_maker(tag))
    await eventually(lambda: partner_ids(platform, "jp", jp), until=lambda ids: br in ids)
    # A stale upsert (version 1 of a profile, but with other content) arrives again, as
    # a redelivery or a late copy would: the projection keeps the newer state.
    async with platform.client("br") as c:
        etag = (await c.get(f"/v1/clusters/{br}")).headers["etag"]
        await c.patch(
            f"/v1/clusters/{br}", json={"name": f"Current {tag}"}, headers={"if-match": etag}
        )

    async def current() -> httpx.Response:
        return await matches(platform, "jp", jp, limit=10)

    await eventually(
        current,
        until=lambda r: any(m["partner"]["name"] == f"Current {tag}" for m in r.json()["matches"]),
    )
    stale = recycler(tag) | {"id": br, "tenant": "br", "version": 1, "name": f"Stale {tag}"}
    nc = await nats.connect(platform.nats_url)
    try:
        js = nc.jetstream()
        for _ in range(2):
            env = Envelope(type="registry.cluster.upserted", tenant="br", data=stale)
            await js.publish(env.type, env.to_bytes())
        marker = await create(platform, "br", recycler(uuid.uuid4().hex[:6]))
    finally:
        await nc.close()
    # Once a later event is through, the stale ones were surely handled before it.
    async with platform.client("operator") as c:
        await eventually(
            lambda: c.get(f"/v1/matching/clusters/{marker}/matches"),
            until=lambda r: r.status_code == 200,
        )
    names = [m["partner"]["name"] for m in (await current()).json()["matches"]]
    assert f"Current {tag}" in names
    assert f"Stale {tag}" not in names


async def test_index_rebuilds_from_its_tables_and_from_the_registry(platform: Platform) -> None:
    tag = uuid.uuid4().hex[:6]
    jp = await create(platform, "jp", battery_maker(tag))
    await eventually(lambda: matches(platform, "jp", jp), until=lambda r: r.status_code == 200)
    # A restart: a fresh index loaded from the projection tables knows the cluster.
    from sqlalchemy.ext.asyncio import create_async_engine

    engine = create_async_engine(platform.database_url)
    try:
        fresh = LiveIndex(create_sessionmaker(engine))
        await fresh.load()
        assert jp in fresh.index
    finally:
        await engine.dispose()
    async with platform.client("operator") as c:
        r = await c.post("/v1/matching/rebuild")
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["profiles"] == body["read_from_registry"]
        status = (await c.get("/v1/matching/status")).json()
    assert status["ready"] is True
    assert status["profiles"] == body["profiles"]
    async with platform.client("jp") as c:
        assert (await c.post("/v1/matching/rebuild")).status_code == 403


async def test_free_text_search(platform: Platform) -> None:
    tag = uuid.uuid4().hex[:6]
    br = await create(platform, "br", recycler(tag))
    kr = await create(platform, "kr", recycler(tag, tenant="kr"))

    async def search(q: str) -> list[str]:
        async with platform.client("jp") as c:
            r = await c.get("/v1/matching/search", params={"q": q, "limit": 20})
        assert r.status_code == 200, r.text
        return [x["partner"]["id"] for x in r.json()["results"]]

    found = await eventually(
        lambda: search(f"{tag} battery recycling"), until=lambda ids: br in ids and kr in ids
    )
    assert {br, kr} <= set(found)
    in_korea = await search(f"{tag} battery recycling partners in Korea")
    assert kr in in_korea
    assert br not in in_korea


async def test_feedback_and_precision_are_private_to_the_tenant(platform: Platform) -> None:
    tag = uuid.uuid4().hex[:6]
    jp = await create(platform, "jp", battery_maker(tag))
    br = await create(platform, "br", recycler(tag))
    await eventually(lambda: partner_ids(platform, "jp", jp), until=lambda ids: br in ids)
    async with platform.client("jp") as c:
        before = (await c.get("/v1/matching/feedback/precision")).json()
        r = await c.post(
            "/v1/matching/feedback",
            json={"cluster_id": jp, "other_id": br, "relevant": True, "rank": 1},
        )
        assert r.status_code == 201, r.text
        # A second judgement replaces the first.
        r = await c.post(
            "/v1/matching/feedback",
            json={"cluster_id": jp, "other_id": br, "relevant": False, "rank": 1},
        )
        assert r.status_code == 201
        after = (await c.get("/v1/matching/feedback/precision")).json()
    assert after["overall"]["judged"] == before["overall"]["judged"] + 1
    assert after["scope"] == "tenant jp"
    async with platform.client("kr") as c:
        kr_view = (await c.get("/v1/matching/feedback/precision")).json()
        assert kr_view["overall"]["judged"] == 0
        # kr may not speak for jp's cluster.
        r = await c.post(
            "/v1/matching/feedback", json={"cluster_id": jp, "other_id": br, "relevant": True}
        )
        assert r.status_code == 403
    async with platform.client("jp_readonly") as c:
        r = await c.post(
            "/v1/matching/feedback", json={"cluster_id": jp, "other_id": br, "relevant": True}
        )
        assert r.status_code == 403


async def test_consortium_builder_through_the_gateway(platform: Platform) -> None:
    tag = uuid.uuid4().hex[:6]
    jp = await create(platform, "jp", battery_maker(tag))
    await create(platform, "br", recycler(tag))
    await create(
        platform,
        "kr",
        cluster_payload(
            "kr",
            name=f"Grid storage {tag}",
            description=f"{tag} stationary energy storage",
            competences=[f"{tag} battery management systems", "grid integration"],
            offers=["energy storage system integration"],
            needs=["battery cells"],
        ),
    )
    await create(
        platform,
        "eu",
        cluster_payload(
            "eu",
            name=f"Circular {tag}",
            description=f"{tag} circular economy consultancy",
            competences=[f"{tag} life-cycle assessment", "battery passport"],
            offers=["life-cycle assessment studies"],
            needs=["industrial pilots"],
        ),
    )

    async def propose() -> dict[str, Any]:
        async with platform.client("jp") as c:
            r = await c.post(
                "/v1/matching/consortia",
                json={
                    "cluster_id": jp,
                    "competences": [
                        "battery recycling",
                        "battery management systems",
                        "life-cycle assessment",
                    ],
                },
            )
        assert r.status_code == 200, r.text
        result: dict[str, Any] = r.json()
        return result

    # The four profiles reach the index one by one: wait until all can be used.
    result = await eventually(
        propose, until=lambda b: bool(b["consortia"]) and b["consortia"][0]["covered"] == 3
    )
    best = result["consortia"][0]
    assert best["members"][0]["id"] == jp
    assert 3 <= len(best["members"]) <= 5
    assert len(set(best["countries"])) >= 3
    assert best["covered"] == 3
    assert all(c["covered"] and c["member_id"] for c in best["coverage"])


async def test_matching_suggest_over_nats(platform: Platform) -> None:
    tag = uuid.uuid4().hex[:6]
    jp = await create(platform, "jp", battery_maker(tag))
    br = await create(platform, "br", recycler(tag))
    other = await create(platform, "kr", cluster_payload("kr", description="tourism"))
    await eventually(lambda: partner_ids(platform, "jp", jp), until=lambda ids: br in ids)
    # All three must be in the index before asking, or the reply calls one unknown.
    await eventually(lambda: matches(platform, "kr", other), until=lambda r: r.status_code == 200)
    nc = await nats.connect(platform.nats_url)
    try:
        msg = await nc.request(
            "matching.suggest",
            orjson.dumps({"cluster_ids": [jp, br, other, str(uuid.uuid4())], "limit": 5}),
            timeout=5,
        )
        reply = orjson.loads(msg.data)
        assert {reply["pairs"][0]["a"], reply["pairs"][0]["b"]} == {jp, br}
        assert reply["pairs"][0]["reasons"]
        assert len(reply["unknown"]) == 1
        bad = orjson.loads((await nc.request("matching.suggest", b"nonsense", timeout=5)).data)
        assert "error" in bad
    finally:
        await nc.close()


@pytest.mark.parametrize(
    ("path", "params", "status"),
    [
        ("/v1/matching/clusters/{unknown}/matches", {}, 404),
        ("/v1/matching/clusters/not-a-uuid/matches", {}, 422),
        ("/v1/matching/clusters/{jp}/matches", {"limit": 0}, 422),
        ("/v1/matching/clusters/{jp}/matches", {"limit": 1000}, 422),
        ("/v1/matching/clusters/{jp}/matches", {"mode": "magic"}, 422),
        ("/v1/matching/clusters/{jp}/matches", {"ecosystem": "mining"}, 422),
        ("/v1/matching/clusters/{jp}/matches", {"country": "ZZ"}, 422),
        ("/v1/matching/clusters/{jp}/matches", {"min_label": "platinum"}, 422),
        ("/v1/matching/search", {"q": ""}, 422),
        ("/v1/matching/search", {"q": "x" * 5000}, 422),
        ("/v1/matching/search", {"q": "the of and"}, 422),
    ],
    ids=[
        "unknown-id",
        "bad-id",
        "limit-0",
        "limit-big",
        "mode",
        "ecosystem",
        "country",
        "label",
        "empty-q",
        "long-q",
        "stopwords",
    ],
)
async def test_bad_matching_input_is_a_problem(
    platform: Platform, path: str, params: dict[str, Any], status: int
) -> None:
    jp = await create(platform, "jp", battery_maker(uuid.uuid4().hex[:6]))
    await eventually(lambda: matches(platform, "jp", jp), until=lambda r: r.status_code == 200)
    async with platform.client("jp") as c:
        r = await c.get(path.format(unknown=uuid.uuid4(), jp=jp), params=params)
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == PROBLEM


async def test_huge_query_bodies_are_refused(platform: Platform) -> None:
    async with platform.client("jp") as c:
        r = await c.post(
            "/v1/matching/search",
            content=b'{"text": "' + b"a" * 10_000_000 + b'"}',
            headers={"content-type": "application/json"},
        )
        assert r.status_code == 413
        r = await c.post("/v1/matching/search", json={"text": "   "})
        assert r.status_code == 422
        r = await c.post(
            "/v1/matching/consortia", json={"cluster_id": str(uuid.uuid4()), "competences": ["x"]}
        )
        assert r.status_code == 404
        r = await c.post(
            "/v1/matching/consortia", json={"cluster_id": str(uuid.uuid4()), "competences": []}
        )
        assert r.status_code == 422
    async with httpx.AsyncClient(base_url=platform.gateway_url) as anon:
        assert (await anon.get("/v1/matching/search", params={"q": "x"})).status_code == 401


async def test_profile_with_only_name_and_country_gets_matches_never_a_500(
    platform: Platform,
) -> None:
    """Issue 7 item 3: such a profile used to break the index for itself and for the
    other profiles of its consumer batch. Created together, they likely share a batch."""
    tag = uuid.uuid4().hex[:6]
    bodies = [
        ("br", {"name": f"Bare {tag}", "country": "BR"}),
        ("jp", battery_maker(tag)),
        ("br", recycler(tag)),
        ("kr", {"name": f"Bare too {tag}", "country": "KR", "offers": [], "needs": ["the of"]}),
    ]
    ids = await asyncio.gather(*(create(platform, who, body) for who, body in bodies))
    for (who, _), cid in zip(bodies, ids, strict=True):
        r = await eventually(
            functools.partial(matches, platform, who, cid), until=lambda r: r.status_code != 404
        )
        assert r.status_code == 200, r.text
        assert isinstance(r.json()["matches"], list)
    # The full profiles of the same batch reached the index and find each other.
    assert ids[2] in await partner_ids(platform, "jp", ids[1], limit=5)
    async with platform.client("br") as c:
        r = await c.post(
            "/v1/matching/consortia", json={"cluster_id": ids[0], "competences": ["recycling"]}
        )
        assert r.status_code == 200, r.text
        status = (await c.get("/v1/matching/status")).json()
    assert not set(status["refused"]) & set(ids)
    live: LiveIndex = platform.services["matching"].app.state.runtime.state.index
    assert not set(await live.disagreements()) & set(ids)
