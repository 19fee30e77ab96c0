"""Benchmarking against peers: a manager's self-assessment, percentiles among assessed
peers of the same ecosystem, nothing for fewer than 5 peers, never a peer's figure."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import date
from typing import Any

import pytest

from tests.harness import Platform
from tests.people_helpers import as_person, person
from tests.registry.small_registry import SmallRegistry, small_registry
from tests.registry_helpers import cluster_payload


def assessment(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "reference_year": date.today().year - 1,
        "staff_fte": 3.0,
        "budget_eur": 400_000,
        "private_funding_pct": 40.0,
        "international_members_pct": 10.0,
        "services_offered": 8,
        "projects_2y": 5,
        "cooperation_agreements_2y": 2,
    }
    return body | overrides


@pytest.fixture(scope="module")
async def registry(platform: Platform) -> AsyncIterator[SmallRegistry]:
    async with small_registry(platform.database_url, platform.nats_url) as reg:
        yield reg


async def _assessed(reg: SmallRegistry, ecosystems: list[str], smes: int, **figures: Any) -> str:
    made = await reg.create("eu", country="DE", ecosystems=ecosystems, members={"smes": smes})
    async with reg.client("eu") as c:
        r = await c.put(f"/v1/clusters/{made['id']}/self-assessment", json=assessment(**figures))
    assert r.status_code == 200, r.text
    return str(made["id"])


async def _benchmark(reg: SmallRegistry, cluster_id: str) -> dict[str, Any]:
    async with reg.client("eu") as c:
        r = await c.get(f"/v1/clusters/{cluster_id}/benchmark")
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


async def test_percentiles_appear_only_from_five_peers_and_never_show_a_peer(
    registry: SmallRegistry,
) -> None:
    me = await _assessed(registry, ["textiles", "retail"], 35, staff_fte=3.5, budget_eur=300_000)
    # Peers' figures are odd numbers nobody else uses, so any leak would show in the JSON.
    peer_budgets = [111_111.0, 222_223.0, 333_337.0, 444_449.0, 555_557.0]
    for i, budget in enumerate(peer_budgets[:4]):
        await _assessed(registry, ["textiles"], 10 * (i + 1), staff_fte=i + 1, budget_eur=budget)
    await _assessed(registry, ["health"], 99, staff_fte=9)  # not a peer: another ecosystem
    four = await _benchmark(registry, me)
    groups = {g["ecosystem"]: g for g in four["groups"]}
    assert groups["textiles"] == {"ecosystem": "textiles", "enough_peers": False, "peers": None,
                                  "standings": []}  # fmt: skip
    assert groups["retail"]["standings"] == []  # no peer at all
    await _assessed(registry, ["textiles"], 50, staff_fte=5, budget_eur=peer_budgets[4])
    five = await _benchmark(registry, me)
    textiles = next(g for g in five["groups"] if g["ecosystem"] == "textiles")
    assert (textiles["enough_peers"], textiles["peers"]) == (True, 5)
    standing = {s["indicator"]: s for s in textiles["standings"]}
    # Peers' staff 1..5, mine 3.5: three below -> 60. Two budgets below my 300,000 -> 40.
    assert standing["staff_fte"] == {"indicator": "staff_fte", "value": 3.5, "percentile": 60}
    assert standing["budget_eur"]["percentile"] == 40
    # SMEs from the profiles: peers 10..50, mine 35: three below -> 60.
    assert standing["members_smes"]["percentile"] == 60
    # Ties count half: every peer has 8 services, as I do -> 50.
    assert standing["services_offered"]["percentile"] == 50
    text = str(five)
    for budget in peer_budgets:
        assert str(int(budget)) not in text
        assert str(budget) not in text
    assert five["min_peers"] == 5


async def test_own_figures_are_kept_and_replaced(registry: SmallRegistry) -> None:
    me = await _assessed(registry, ["tourism"], 5, staff_fte=2)
    async with registry.client("eu") as c:
        url = f"/v1/clusters/{me}/self-assessment"
        assert (await c.get(url)).json()["staff_fte"] == 2
        r = await c.put(url, json=assessment(staff_fte=4.5))
        assert r.status_code == 200
        assert (await c.get(url)).json()["staff_fte"] == 4.5


@pytest.mark.parametrize(
    "body",
    [
        assessment(staff_fte=-1),
        assessment(private_funding_pct=101),
        assessment(reference_year=date.today().year + 1),
        assessment(reference_year=1999),
        assessment(projects_2y="many"),
        assessment(services_offered=10**9),
        assessment(budget_eur=1e300),
        assessment(unknown=1),
        {k: v for k, v in assessment().items() if k != "staff_fte"},
        [],
    ],
    ids=["negative", "over-100", "future", "too-old", "text", "huge", "inf-ish", "unknown",
         "missing", "not-object"],
)  # fmt: skip
async def test_bad_self_assessments_are_refused_and_write_nothing(
    registry: SmallRegistry, body: Any
) -> None:
    made = await registry.create("eu", country="DE", ecosystems=["construction"])
    async with registry.client("eu") as c:
        r = await c.put(f"/v1/clusters/{made['id']}/self-assessment", json=body)
        assert r.status_code == 422, r.text
        assert r.headers["content-type"].startswith("application/problem+json")
        r = await c.get(f"/v1/clusters/{made['id']}/self-assessment")
        assert r.status_code == 404


async def test_only_the_clusters_manager_and_agency_see_or_fill_it(platform: Platform) -> None:
    async with platform.client("jp") as jp:
        mine = (await jp.post("/v1/clusters", json=cluster_payload("jp"))).json()
        other = (await jp.post("/v1/clusters", json=cluster_payload("jp"))).json()
    me = await person(platform, "jp", ["cluster-manager"], [mine["id"]])
    neighbour = await person(platform, "jp", ["cluster-manager"], [other["id"]])
    url = f"/v1/clusters/{mine['id']}"
    async with as_person(platform, me) as c:
        r = await c.put(f"{url}/self-assessment", json=assessment(staff_fte=7.25))
        assert r.status_code == 200, r.text
        assert (await c.get(f"{url}/self-assessment")).json()["staff_fte"] == 7.25
        assert (await c.get(f"{url}/benchmark")).status_code == 200
    async with as_person(platform, neighbour) as c:
        for path in ("self-assessment", "benchmark"):
            r = await c.get(f"{url}/{path}")
            assert r.status_code == 403
            assert r.json()["type"].endswith("not-your-cluster")
            assert "7.25" not in r.text
        r = await c.put(f"{url}/self-assessment", json=assessment(staff_fte=1))
        assert r.status_code == 403
    async with platform.client("br") as br:  # another tenant
        for path in ("self-assessment", "benchmark"):
            r = await br.get(f"{url}/{path}")
            assert r.status_code == 403
            assert "7.25" not in r.text
        assert (await br.put(f"{url}/self-assessment", json=assessment())).status_code == 403
    async with platform.client("jp_readonly") as ro:
        assert (await ro.put(f"{url}/self-assessment", json=assessment())).status_code == 403
    async with platform.client("jp") as agency:  # the tenant's agency acts for it
        assert (await agency.get(f"{url}/self-assessment")).json()["staff_fte"] == 7.25
        r = await agency.get(f"/v1/clusters/{uuid.uuid4()}/benchmark")
        assert r.status_code == 404
