"""Cluster profiles through the gateway, as partner agencies use them."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from services.registry.models import Cluster
from tests.harness import Platform
from tests.registry_helpers import cluster_payload

PROBLEM = "application/problem+json"


async def count_clusters(database_url: str) -> int:
    engine = create_async_engine(database_url, poolclass=NullPool)
    try:
        async with engine.connect() as conn:
            return int(await conn.scalar(select(func.count()).select_from(Cluster)) or 0)
    finally:
        await engine.dispose()


async def create(platform: Platform, who: str, **overrides: object) -> dict[str, object]:
    async with platform.client(who) as c:
        r = await c.post("/v1/clusters", json=cluster_payload(who, **overrides))
    assert r.status_code == 201, r.text
    body: dict[str, object] = r.json()
    return body


async def test_agency_creates_cluster_and_reads_it_back(platform: Platform) -> None:
    created = await create(platform, "jp", name="Kansai Battery Valley")
    async with platform.client("jp") as c:
        r = await c.get(f"/v1/clusters/{created['id']}")
    assert r.status_code == 200
    body = r.json()
    assert body["name"] == "Kansai Battery Valley"
    assert body["tenant"] == "jp"
    assert body["contact_email"] == "secretariat@example.org"
    assert r.headers["etag"]
    assert r.headers["x-request-id"]


async def test_other_tenant_reads_public_profile_without_contact(platform: Platform) -> None:
    created = await create(platform, "jp")
    async with platform.client("br") as c:
        r = await c.get(f"/v1/clusters/{created['id']}")
    assert r.status_code == 200
    assert "contact_email" not in r.json()
    assert r.json()["name"] == created["name"]


async def test_other_tenant_cannot_update_or_delete_cluster(platform: Platform) -> None:
    created = await create(platform, "jp")
    async with platform.client("br") as br:
        etag = (await br.get(f"/v1/clusters/{created['id']}")).headers["etag"]
        r = await br.patch(
            f"/v1/clusters/{created['id']}", json={"name": "Hijacked"}, headers={"if-match": etag}
        )
        assert r.status_code == 403
        assert r.headers["content-type"] == PROBLEM
        r = await br.delete(f"/v1/clusters/{created['id']}")
        assert r.status_code == 403
    async with platform.client("jp") as jp:
        assert (await jp.get(f"/v1/clusters/{created['id']}")).json()["name"] == created["name"]


async def test_agency_cannot_create_in_another_tenant(platform: Platform) -> None:
    before = await count_clusters(platform.database_url)
    async with platform.client("br") as c:
        r = await c.post("/v1/clusters", json=cluster_payload("jp", tenant="jp"))
        assert r.status_code == 403
        # Its own tenant, but a country outside it.
        r = await c.post("/v1/clusters", json=cluster_payload("br", country="JP"))
        assert r.status_code == 422
        assert r.json()["field"] == "country"
    assert await count_clusters(platform.database_url) == before


async def test_operator_may_create_in_any_tenant(platform: Platform) -> None:
    async with platform.client("operator") as c:
        r = await c.post("/v1/clusters", json=cluster_payload("kr", tenant="kr"))
    assert r.status_code == 201
    assert r.json()["tenant"] == "kr"


async def test_patch_needs_if_match_and_refuses_stale_etag(platform: Platform) -> None:
    created = await create(platform, "jp")
    url = f"/v1/clusters/{created['id']}"
    async with platform.client("jp") as c:
        etag = (await c.get(url)).headers["etag"]
        r = await c.patch(url, json={"city": "Osaka"})
        assert r.status_code == 428
        r = await c.patch(url, json={"city": "Osaka"}, headers={"if-match": etag})
        assert r.status_code == 200, r.text
        assert r.json()["city"] == "Osaka"
        assert r.json()["version"] == 2
        assert r.headers["etag"] != etag
        # The first reader's ETag is now stale: its change would be lost, so it is refused.
        r = await c.patch(url, json={"city": "Kobe"}, headers={"if-match": etag})
        assert r.status_code == 412
        assert r.headers["content-type"] == PROBLEM
        assert (await c.get(url)).json()["city"] == "Osaka"


async def test_patch_that_changes_nothing_keeps_version(platform: Platform) -> None:
    created = await create(platform, "jp", city="Nagoya")
    url = f"/v1/clusters/{created['id']}"
    async with platform.client("jp") as c:
        etag = (await c.get(url)).headers["etag"]
        r = await c.patch(url, json={"city": "Nagoya"}, headers={"if-match": etag})
    assert r.status_code == 200
    assert r.json()["version"] == 1


async def test_delete_then_404(platform: Platform) -> None:
    created = await create(platform, "jp")
    url = f"/v1/clusters/{created['id']}"
    async with platform.client("jp") as c:
        assert (await c.delete(url)).status_code == 204
        r = await c.get(url)
        assert r.status_code == 404
        assert r.headers["content-type"] == PROBLEM
    async with platform.client("br") as c:
        assert (await c.get(url)).status_code == 404


async def test_only_verifiers_mark_profiles_verified(platform: Platform) -> None:
    created = await create(platform, "jp")
    url = f"/v1/clusters/{created['id']}"
    async with platform.client("jp_agent") as c:
        etag = (await c.get(url)).headers["etag"]
        r = await c.patch(url, json={"verified": True}, headers={"if-match": etag})
        assert r.status_code == 403
    async with platform.client("operator") as c:
        r = await c.patch(url, json={"verified": True}, headers={"if-match": etag})
        assert r.status_code == 200
        assert r.json()["verified"] is True


async def test_list_filters_and_cursor_pagination(platform: Platform) -> None:
    tag = uuid.uuid4().hex[:10]
    for i in range(5):
        await create(platform, "kr", description=f"marker{tag} cluster {i}", ecosystems=["digital"])
    await create(platform, "jp", description=f"marker{tag} other", ecosystems=["health"])
    async with platform.client("br") as c:
        seen: list[str] = []
        cursor = None
        while True:
            params: dict[str, str | int] = {"q": f"marker{tag}", "country": "KR", "limit": 2}
            if cursor:
                params["cursor"] = cursor
            r = await c.get("/v1/clusters", params=params)
            assert r.status_code == 200, r.text
            page = r.json()
            seen += [item["id"] for item in page["items"]]
            assert all(item["country"] == "KR" for item in page["items"])
            assert all("contact_email" not in item for item in page["items"])
            cursor = page["next_cursor"]
            if not cursor:
                break
        assert len(seen) == 5
        assert len(set(seen)) == 5
        r = await c.get("/v1/clusters", params={"q": f"marker{tag}", "ecosystem": "health"})
        assert [i["tenant"] for i in r.json()["items"]] == ["jp"]
        r = await c.get("/v1/clusters", params={"q": f"marker{tag}", "label": "gold"})
        assert r.json()["items"] == []
        r = await c.get("/v1/clusters", params={"q": f"marker{tag}", "label": "silver"})
        assert len(r.json()["items"]) == 6


async def test_tenants_are_listed_with_their_countries(platform: Platform) -> None:
    async with platform.client("jp") as c:
        r = await c.get("/v1/tenants")
    codes = {t["code"]: t for t in r.json()}
    assert set(codes) >= {"eu", "jp", "in", "kr", "br", "tn", "ma"}
    assert len(codes["eu"]["countries"]) == 27
    assert codes["jp"]["timezone"] == "Asia/Tokyo"


# ---- bad input: 4xx problem documents naming the field, and nothing written ----------

BAD_BODIES = [
    pytest.param(b"{not json", "malformed-json", id="malformed-json"),
    pytest.param(b'{"name": 5, "country": "JP"}', "validation-error", id="wrong-type"),
    pytest.param(b'{"name": "X", "country": "JP", "colour": "red"}', "validation-error", id="unknown-field"),
    pytest.param(b'{"name": "X", "country": "XX"}', "validation-error", id="bad-country"),
    pytest.param(b'{"name": "X", "country": "JP", "ecosystems": ["mining"]}', "validation-error", id="bad-ecosystem"),
    pytest.param(b'{"name": "X\\u0000", "country": "JP"}', "validation-error", id="nul-byte"),
    pytest.param(b'{"name": "X\\u0007bell", "country": "JP"}', "validation-error", id="control-char"),
    pytest.param(b'{"name": "' + b"A" * 5000 + b'", "country": "JP"}', "validation-error", id="too-long"),
    pytest.param(b'{"name": "X", "country": "JP", "contact_email": "not-an-email"}', "validation-error", id="bad-email"),
    pytest.param(b'{"name": "X", "country": "JP", "website": "javascript:alert(1)"}', "validation-error", id="bad-url"),
    pytest.param(b'{"name": "X", "country": "JP", "members": {"smes": -1}}', "validation-error", id="negative"),
    pytest.param(b'[]', "validation-error", id="array-body"),
    pytest.param(b'{"name": "X", "country": "JP", "label": {"level": "platinum"}}', "validation-error", id="bad-label"),
    pytest.param(b'{"name": "X", "country": "JP", "nace_codes": ["ZZ.99"]}', "validation-error", id="bad-nace"),
]  # fmt: skip


@pytest.mark.parametrize(("body", "slug"), BAD_BODIES)
async def test_bad_cluster_bodies_are_refused_and_nothing_is_written(
    platform: Platform, body: bytes, slug: str
) -> None:
    before = await count_clusters(platform.database_url)
    async with platform.client("jp") as c:
        r = await c.post("/v1/clusters", content=body, headers={"content-type": "application/json"})
    assert 400 <= r.status_code < 500, r.text
    assert r.headers["content-type"] == PROBLEM
    problem = r.json()
    assert problem["type"].endswith(slug)
    assert problem["status"] == r.status_code
    assert problem["request_id"] == r.headers["x-request-id"]
    if slug == "validation-error":
        assert problem["field"]
    assert await count_clusters(platform.database_url) == before


async def test_oversized_body_is_413(platform: Platform) -> None:
    before = await count_clusters(platform.database_url)
    big = b'{"name": "X", "country": "JP", "description": "' + b"a" * 2_000_000 + b'"}'
    async with platform.client("jp") as c:
        r = await c.post("/v1/clusters", content=big, headers={"content-type": "application/json"})
    assert r.status_code == 413
    assert r.headers["content-type"] == PROBLEM
    assert await count_clusters(platform.database_url) == before


async def test_hostile_but_valid_strings_are_stored_verbatim(platform: Platform) -> None:
    hostile = "Robert'); DROP TABLE clusters;-- <script>alert(1)</script> 日本語 🚀"
    created = await create(platform, "jp", description=hostile)
    async with platform.client("jp") as c:
        r = await c.get(f"/v1/clusters/{created['id']}")
    assert r.json()["description"] == hostile


@pytest.mark.parametrize(
    "path",
    ["/v1/clusters/not-a-uuid", f"/v1/clusters/{uuid.uuid4()}"],
    ids=["malformed-id", "unknown-id"],
)
async def test_unknown_or_malformed_ids_are_4xx(platform: Platform, path: str) -> None:
    async with platform.client("jp") as c:
        for method in ("GET", "PATCH", "DELETE"):
            r = await c.request(method, path, json={} if method == "PATCH" else None)
            assert r.status_code in (404, 422), (method, r.status_code)
            assert r.headers["content-type"] == PROBLEM


@pytest.mark.parametrize(
    "params",
    [
        {"limit": 0}, {"limit": 100000}, {"limit": "many"}, {"country": "ZZ"},
        {"ecosystem": "mining"}, {"label": "platinum"}, {"cursor": "garbage!!"},
    ],
    ids=lambda p: next(iter(p)),
)  # fmt: skip
async def test_bad_list_parameters_are_4xx(platform: Platform, params: dict[str, Any]) -> None:
    async with platform.client("jp") as c:
        r = await c.get("/v1/clusters", params=params)
    assert 400 <= r.status_code < 500
    assert r.headers["content-type"] == PROBLEM
    assert r.json().get("field")


async def test_read_only_key_cannot_write(platform: Platform) -> None:
    async with platform.client("jp_readonly") as c:
        r = await c.post("/v1/clusters", json=cluster_payload("jp"))
    assert r.status_code == 403
    assert r.json()["type"].endswith("insufficient-scope")
