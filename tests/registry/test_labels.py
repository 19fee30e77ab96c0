"""Excellence labels: set only by an agency admin or a registry:verify key of the
cluster's tenant, with issuer and dates, judged at read time, kept in a history."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import orjson
import pytest

from tests.harness import Platform
from tests.people_helpers import as_person, person
from tests.registry_helpers import cluster_payload

GOLD = {"level": "gold", "issuer": "ESCA", "benchmarked_on": "2026-01-10",
        "valid_until": "2099-01-09"}  # fmt: skip


def _without_label(tenant: str, **overrides: Any) -> dict[str, Any]:
    body = cluster_payload(tenant, **overrides)
    body.pop("label")
    return body


async def _cluster(platform: Platform, tenant: str = "jp", **overrides: Any) -> dict[str, Any]:
    async with platform.client(tenant) as c:
        r = await c.post("/v1/clusters", json=_without_label(tenant, **overrides))
    assert r.status_code == 201, r.text
    created: dict[str, Any] = r.json()
    return created


async def _etag(c: httpx.AsyncClient, cluster_id: str) -> str:
    return (await c.get(f"/v1/clusters/{cluster_id}")).headers["etag"]


async def _label_of(platform: Platform, cluster_id: str) -> dict[str, Any]:
    async with platform.client("br") as c:
        label: dict[str, Any] = (await c.get(f"/v1/clusters/{cluster_id}")).json()["label"]
    return label


async def test_a_verifier_sets_a_label_and_its_history_grows(platform: Platform) -> None:
    cluster = await _cluster(platform)
    url = f"/v1/clusters/{cluster['id']}"
    async with platform.client("jp") as c:
        r = await c.put(f"{url}/label", json={**GOLD, "level": "bronze"})
        assert r.status_code == 200, r.text
        r = await c.put(f"{url}/label", json=GOLD)
        assert r.status_code == 200, r.text
        assert r.json()["label"] == {**GOLD, "status": "valid"}
        assert r.json()["version"] == 3
    async with platform.client("br") as other:  # the history is public, as the profile
        history = (await other.get(f"{url}/labels")).json()
    assert history["current"]["level"] == "gold"
    assert [h["level"] for h in history["history"]] == ["gold", "bronze"]
    assert history["history"][0]["issuer"] == "ESCA"


async def test_an_agency_admin_sets_labels_a_cluster_manager_does_not(platform: Platform) -> None:
    cluster = await _cluster(platform)
    url = f"/v1/clusters/{cluster['id']}"
    admin = await person(platform, "jp", ["agency-admin"])
    manager = await person(platform, "jp", ["cluster-manager"], [cluster["id"]])
    async with as_person(platform, manager) as c:
        r = await c.put(f"{url}/label", json=GOLD)
        assert r.status_code == 403
        assert r.json()["type"].endswith("insufficient-scope")
        # Not through a profile edit either; other edits still go through.
        r = await c.patch(
            url, json={"label": GOLD}, headers={"if-match": await _etag(c, cluster["id"])}
        )
        assert r.status_code == 403
        assert r.json()["field"] == "label"
        r = await c.patch(
            url, json={"city": "Kobe"}, headers={"if-match": await _etag(c, cluster["id"])}
        )
        assert r.status_code == 200, r.text
    assert (await _label_of(platform, cluster["id"]))["level"] == "none"
    async with as_person(platform, admin) as c:
        r = await c.put(f"{url}/label", json=GOLD)
        assert r.status_code == 200, r.text
    assert (await _label_of(platform, cluster["id"]))["level"] == "gold"


async def test_other_tenants_and_keys_without_verify_cannot_label(platform: Platform) -> None:
    cluster = await _cluster(platform)
    url = f"/v1/clusters/{cluster['id']}"
    async with platform.client("br") as br:  # registry:verify, but of another tenant
        r = await br.put(f"{url}/label", json=GOLD)
        assert r.status_code == 403
        assert r.json()["type"].endswith("tenant-forbidden")
    async with platform.client("jp_agent") as agent:  # its tenant, without registry:verify
        assert (await agent.put(f"{url}/label", json=GOLD)).status_code == 403
        name = f"Unlabelled {uuid.uuid4().hex[:8]}"
        r = await agent.post("/v1/clusters", json=cluster_payload("jp", name=name, label=GOLD))
        assert r.status_code == 403
        assert r.json()["field"] == "label"
        found = (await agent.get("/v1/clusters", params={"q": name})).json()["items"]
        assert found == []  # refused whole: no profile without its label either
        r = await agent.post("/v1/clusters", json=_without_label("jp", name=name))
        assert r.status_code == 201  # the same key still creates unlabelled profiles
    async with platform.client("jp_readonly") as ro:
        assert (await ro.put(f"{url}/label", json=GOLD)).status_code == 403
    async with platform.client("br") as c:
        assert (await c.get(f"{url}/labels")).json()["history"] == []


async def test_an_expired_label_shows_as_expired_and_drops_out_of_filters(
    platform: Platform,
) -> None:
    tag = uuid.uuid4().hex[:10]
    yesterday = (datetime.now(UTC).date() - timedelta(days=1)).isoformat()
    expired = await _cluster(platform, description=f"marker{tag}")
    current = await _cluster(platform, description=f"marker{tag}")
    async with platform.client("jp") as c:
        r = await c.put(
            f"/v1/clusters/{expired['id']}/label",
            json={**GOLD, "benchmarked_on": "2024-01-01", "valid_until": yesterday},
        )
        assert r.status_code == 200, r.text
        assert r.json()["label"]["status"] == "expired"
        assert r.json()["label"]["level"] == "gold"  # as awarded, only no longer valid
        r = await c.put(f"/v1/clusters/{current['id']}/label", json=GOLD)
        assert r.status_code == 200, r.text
    async with platform.client("kr") as c:
        r = await c.get("/v1/clusters", params={"q": f"marker{tag}", "label": "bronze"})
        assert [i["id"] for i in r.json()["items"]] == [current["id"]]
        r = await c.get("/v1/clusters", params={"q": f"marker{tag}"})
        assert len(r.json()["items"]) == 2
        history = (await c.get(f"/v1/clusters/{expired['id']}/labels")).json()
        assert history["current"]["status"] == "expired"
        assert history["history"][0]["status"] == "expired"


async def test_an_import_needs_the_right_for_labels_and_leaves_them_alone_otherwise(
    platform: Platform,
) -> None:
    ext = f"lab-{uuid.uuid4().hex[:8]}"
    row = _without_label("jp", external_id=ext, description=f"marker {ext}")
    async with platform.client("jp") as c:
        r = await c.post(
            "/v1/clusters/import",
            content=orjson.dumps(row | {"label": GOLD}) + b"\n",
            headers={"content-type": "application/x-ndjson"},
        )
        assert r.json()["created"] == 1, r.text
    async with platform.client("jp_agent") as agent:
        for body in (row | {"city": "Nara"}, row | {"label": {"level": "none"}}):
            r = await agent.post(
                "/v1/clusters/import",
                content=orjson.dumps(body) + b"\n",
                headers={"content-type": "application/x-ndjson"},
            )
            assert r.status_code == 200, r.text
        report = r.json()
        assert report["refused"] == 1
        assert report["errors"][0]["field"] == "label"
        [found] = (await agent.get("/v1/clusters", params={"q": ext})).json()["items"]
    assert found["city"] == "Nara"  # the row without label columns updated the rest ...
    assert found["label"]["level"] == "gold"  # ... and kept the label


@pytest.mark.parametrize(
    "body",
    [
        {"level": "platinum", "issuer": "X", "benchmarked_on": "2026-01-01", "valid_until": "2027-01-01"},
        {"level": "gold"},
        {"level": "gold", "issuer": "ESCA", "benchmarked_on": "2026-01-01"},
        {"level": "gold", "issuer": "ESCA", "benchmarked_on": "2026-05-01", "valid_until": "2026-01-01"},
        {**GOLD, "issuer": "bad\u0000name"},
        {**GOLD, "valid_until": "2026-13-01"},
        {**GOLD, "extra": 1},
        {},
    ],
    ids=["level", "bare", "no-end", "end-before-benchmark", "nul", "bad-date", "unknown-field",
         "empty"],
)  # fmt: skip
async def test_bad_labels_are_refused_and_change_nothing(
    platform: Platform, body: dict[str, Any]
) -> None:
    cluster = await _cluster(platform)
    async with platform.client("jp") as c:
        r = await c.put(f"/v1/clusters/{cluster['id']}/label", json=body)
        assert r.status_code == 422, r.text
        assert r.headers["content-type"].startswith("application/problem+json")
        assert (await c.get(f"/v1/clusters/{cluster['id']}/labels")).json()["history"] == []
    assert (await _label_of(platform, cluster["id"]))["level"] == "none"


async def test_withdrawing_a_label_is_recorded(platform: Platform) -> None:
    cluster = await _cluster(platform)
    url = f"/v1/clusters/{cluster['id']}"
    async with platform.client("jp") as c:
        assert (await c.put(f"{url}/label", json=GOLD)).status_code == 200
        r = await c.put(f"{url}/label", json={"level": "none"})
        assert r.status_code == 200, r.text
        assert r.json()["label"] == {"level": "none", "valid_until": None, "issuer": None,
                                     "benchmarked_on": None, "status": "none"}  # fmt: skip
        history = (await c.get(f"{url}/labels")).json()["history"]
    assert [h["level"] for h in history] == ["none", "gold"]
    async with platform.client("jp") as c:  # an unknown cluster
        assert (await c.put(f"/v1/clusters/{uuid.uuid4()}/label", json=GOLD)).status_code == 404
