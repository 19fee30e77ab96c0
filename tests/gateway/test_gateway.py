"""The gateway as the one public door: keys, scopes, rate limits, idempotency, failures."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator

import httpx
import pytest

from services.gateway.main import GatewaySettings
from services.gateway.main import create_app as create_gateway
from tests.harness import INTERNAL_TOKEN, Platform, RunningService, serve
from tests.registry_helpers import cluster_payload

PROBLEM = "application/problem+json"


async def test_missing_malformed_and_unknown_keys_are_401(platform: Platform) -> None:
    async with httpx.AsyncClient(base_url=platform.gateway_url) as c:
        for headers in (
            {},
            {"authorization": "Basic abc"},
            {"authorization": "Bearer nonsense"},
            {"authorization": "Bearer cb_000000000000_" + "x" * 43},
        ):
            r = await c.get("/v1/clusters", headers=headers)
            assert r.status_code == 401, headers
            assert r.headers["content-type"] == PROBLEM
            assert r.headers["www-authenticate"].startswith("Bearer")


async def test_services_refuse_calls_that_bypass_the_gateway(platform: Platform) -> None:
    async with httpx.AsyncClient(base_url=platform.url("registry")) as c:
        r = await c.get("/v1/clusters", headers={"x-tenant": "jp", "x-scopes": "admin"})
        assert r.status_code == 401
        assert r.json()["type"].endswith("gateway-only")
        r = await c.get(
            "/v1/clusters",
            headers={"x-internal-token": "guess", "x-tenant": "jp", "x-scopes": "admin"},
        )
        assert r.status_code == 401
        assert (await c.get("/healthz")).status_code == 200


async def test_identity_headers_sent_by_a_client_are_ignored(platform: Platform) -> None:
    """A jp key that claims to be the operator of tenant br stays jp with its own scopes."""
    forged = {"x-tenant": "br", "x-scopes": "admin", "x-internal-token": INTERNAL_TOKEN}
    async with platform.client("jp") as c:
        r = await c.post("/v1/clusters", json=cluster_payload("br", tenant="br"), headers=forged)
        assert r.status_code == 403
        r = await c.post("/v1/clusters", json=cluster_payload("jp"), headers=forged)
        assert r.status_code == 201
        assert r.json()["tenant"] == "jp"


async def test_request_id_is_echoed_or_made(platform: Platform) -> None:
    async with httpx.AsyncClient(base_url=platform.gateway_url) as anon:
        refused = await anon.get("/v1/clusters")
        assert refused.status_code == 401
        assert len(refused.headers.get_list("x-request-id")) == 1
    async with platform.client("jp") as c:
        assert len((await c.get("/v1/tenants")).headers.get_list("x-request-id")) == 1
        r = await c.get("/v1/tenants", headers={"x-request-id": "trace-123"})
        assert r.headers["x-request-id"] == "trace-123"
        r = await c.get("/v1/tenants", headers={"x-request-id": "bad id\twith tab"})
        assert r.headers["x-request-id"] != "bad id\twith tab"
        assert len(r.headers["x-request-id"]) == 32


async def test_operator_creates_and_revokes_clients(platform: Platform) -> None:
    async with platform.client("operator") as op:
        r = await op.post(
            "/v1/clients",
            json={"tenant": "ma", "name": "Maroc PME", "scopes": ["registry:read"]},
        )
        assert r.status_code == 201, r.text
        created = r.json()
        key = created["api_key"]
        assert "api_key" not in (await op.get("/v1/clients", params={"tenant": "ma"})).json()[0]
        async with httpx.AsyncClient(
            base_url=platform.gateway_url, headers={"authorization": f"Bearer {key}"}
        ) as ma:
            me = (await ma.get("/v1/me")).json()
            assert me["tenant"] == "ma"
            assert (await ma.get("/v1/tenants")).status_code == 200
            assert (await op.delete(f"/v1/clients/{created['id']}")).status_code == 204
            assert (await ma.get("/v1/tenants")).status_code == 401
        for bad in (
            {"tenant": "zz", "name": "x", "scopes": ["registry:read"]},
            {"tenant": "ma", "name": "x", "scopes": ["root"]},
            {"tenant": "ma", "name": "x", "scopes": []},
            {"tenant": "ma", "name": "x", "scopes": ["registry:read"], "extra": 1},
        ):
            r = await op.post("/v1/clients", json=bad)
            assert r.status_code == 422, bad
            assert r.headers["content-type"] == PROBLEM
        assert (await op.delete(f"/v1/clients/{uuid.uuid4()}")).status_code == 404


async def test_agencies_cannot_manage_clients(platform: Platform) -> None:
    async with platform.client("jp") as c:
        r = await c.post("/v1/clients", json={"tenant": "jp", "name": "mine", "scopes": ["admin"]})
        assert r.status_code == 403
        assert (await c.get("/v1/clients")).status_code == 403


async def test_idempotency_key_replays_and_refuses_reuse(platform: Platform) -> None:
    key = f"idem-{uuid.uuid4()}"
    body = cluster_payload("jp")
    async with platform.client("jp") as c:
        first = await c.post("/v1/clusters", json=body, headers={"idempotency-key": key})
        assert first.status_code == 201
        again = await c.post("/v1/clusters", json=body, headers={"idempotency-key": key})
        assert again.status_code == 201
        assert again.json() == first.json()
        assert again.headers["idempotent-replayed"] == "true"
        other = await c.post(
            "/v1/clusters", json={**body, "city": "Elsewhere"}, headers={"idempotency-key": key}
        )
        assert other.status_code == 422
        assert other.json()["type"].endswith("idempotency-key-reused")
        found = await c.get("/v1/clusters", params={"q": body["name"].split()[-1]})
        assert len(found.json()["items"]) == 1
    # Keys are per client: another tenant's client using the same key is independent.
    async with platform.client("br") as c:
        r = await c.post(
            "/v1/clusters", json=cluster_payload("br"), headers={"idempotency-key": key}
        )
        assert r.status_code == 201
        assert r.json()["id"] != first.json()["id"]


async def test_idempotency_does_not_store_a_failed_attempt(platform: Platform) -> None:
    key = f"idem-{uuid.uuid4()}"
    async with platform.client("jp") as c:
        bad = await c.post(
            "/v1/clusters", json={"name": "x", "country": "ZZ"}, headers={"idempotency-key": key}
        )
        assert bad.status_code == 422
        # A 4xx is an answer too: the same request replays it.
        again = await c.post(
            "/v1/clusters", json={"name": "x", "country": "ZZ"}, headers={"idempotency-key": key}
        )
        assert again.status_code == 422
        assert again.headers.get("idempotent-replayed") == "true"


@contextlib.asynccontextmanager
async def gateway_with(platform: Platform, **overrides: object) -> AsyncIterator[RunningService]:
    settings = GatewaySettings(
        database_url=platform.database_url,
        nats_url=platform.nats_url,
        internal_token=INTERNAL_TOKEN,
        environment="test",
        run_workers=False,
        **overrides,  # type: ignore[arg-type]
    )
    service = await serve("gateway-variant", create_gateway(settings))
    try:
        yield service
    finally:
        await service.stop()


async def test_rate_limit_answers_429_with_retry_after(platform: Platform) -> None:
    async with (
        gateway_with(
            platform, registry_url=platform.url("registry"), rate_per_second=1, rate_burst=3
        ) as gw,
        httpx.AsyncClient(
            base_url=gw.url, headers={"authorization": f"Bearer {platform.keys['jp']}"}
        ) as c,
    ):
        # Twenty at once against a burst of 3 refilled at 1/s: however slow the machine,
        # the refill cannot keep up, so some are refused (no timing assumed).
        answers = await asyncio.gather(*(c.get("/v1/tenants") for _ in range(20)))
        passed = [r for r in answers if r.status_code == 200]
        refused = [r for r in answers if r.status_code == 429]
        assert len(passed) + len(refused) == 20
        assert len(passed) >= 3
        assert refused
        for r in passed:
            assert int(r.headers["ratelimit-remaining"]) >= 0
            assert r.headers["ratelimit-limit"] == "3"
        limited = refused[0]
        assert limited.headers["content-type"] == PROBLEM
        assert int(limited.headers["retry-after"]) >= 1
        assert limited.headers["ratelimit-remaining"] == "0"
        # Other clients have their own bucket.
        r = await c.get("/v1/tenants", headers={"authorization": f"Bearer {platform.keys['br']}"})
        assert r.status_code == 200


async def test_down_service_gives_503_quickly(platform: Platform) -> None:
    from deploy.local.servers import free_port

    dead = f"http://127.0.0.1:{free_port()}"
    async with (
        gateway_with(platform, registry_url=dead) as gw,
        httpx.AsyncClient(
            base_url=gw.url, headers={"authorization": f"Bearer {platform.keys['jp']}"}
        ) as c,
    ):
        r = await asyncio.wait_for(c.get("/v1/clusters"), timeout=10)
        assert r.status_code == 503
        assert r.headers["content-type"] == PROBLEM
        assert r.headers["retry-after"]
        health = await c.get("/healthz")
        assert health.status_code == 503


@pytest.fixture
async def silent_upstream() -> AsyncIterator[str]:
    """A partner-like server that accepts connections and never answers."""
    held: list[asyncio.StreamWriter] = []

    async def hold(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        held.append(writer)
        await reader.read(65536)

    server = await asyncio.start_server(hold, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        for w in held:
            w.close()
        server.close()
        await server.wait_closed()


async def test_slow_service_gives_504_not_a_hang(platform: Platform, silent_upstream: str) -> None:
    async with (
        gateway_with(platform, registry_url=silent_upstream, upstream_timeout=0.5) as gw,
        httpx.AsyncClient(
            base_url=gw.url, headers={"authorization": f"Bearer {platform.keys['jp']}"}
        ) as c,
    ):
        r = await asyncio.wait_for(c.get("/v1/clusters"), timeout=10)
        assert r.status_code == 504
        assert r.headers["content-type"] == PROBLEM


async def test_merged_openapi_and_docs(platform: Platform) -> None:
    # The first merged document asks every service: give a loaded machine time.
    async with httpx.AsyncClient(base_url=platform.gateway_url, timeout=30) as c:
        doc = (await c.get("/openapi.json")).json()
        assert "/v1/clusters" in doc["paths"]
        assert "/v1/clients" in doc["paths"]
        assert doc["components"]["securitySchemes"]["apiKey"]["scheme"] == "bearer"
        docs = await c.get("/docs")
        assert docs.status_code == 200
        assert "swagger" in docs.text.lower()
        # No CDN: every script and style the page loads is served here.
        import re

        assets = re.findall(r'(?:src|href)="([^"]+)"', docs.text)
        assert assets
        assert all(a.startswith(("/", "data:")) for a in assets), assets
        for asset in (a for a in assets if a.startswith("/")):
            assert (await c.get(asset)).status_code == 200, asset
        health = (await c.get("/healthz")).json()
        assert health["services"]["registry"]["status"] == "ok"


async def test_unknown_paths_and_methods_are_problems(platform: Platform) -> None:
    async with platform.client("jp") as c:
        r = await c.get("/v1/nothing-here")
        assert r.status_code == 404
        assert r.headers["content-type"] == PROBLEM
        r = await c.put("/v1/clusters", json={})
        assert r.status_code == 405
        assert r.headers["content-type"] == PROBLEM


async def test_operator_cannot_revoke_the_key_in_hand(platform: Platform) -> None:
    async with platform.client("operator") as op:
        me = (await op.get("/v1/me")).json()
        r = await op.delete(f"/v1/clients/{me['client_id']}")
        assert r.status_code == 409
        assert (await op.get("/v1/me")).status_code == 200


async def test_merged_openapi_has_every_reference_resolvable(platform: Platform) -> None:
    async with httpx.AsyncClient(base_url=platform.gateway_url) as c:
        doc = (await c.get("/openapi.json")).json()
    import re

    refs = set(re.findall(r'"#/components/schemas/([^"]+)"', str(doc).replace("'", '"')))
    assert refs
    assert refs <= set(doc["components"]["schemas"])
    # The services' own routes all appear under one door.
    for prefix in ("/v1/clusters", "/v1/matching/", "/v1/events", "/v1/clients"):
        assert any(p.startswith(prefix) for p in doc["paths"]), prefix


@pytest.mark.parametrize(
    "raw_path",
    ["/v1/clusters/%14%00abc", "/v1/clusters/abc%3Fcountry%3DJP", "/v1/clusters/%E2%80%AE"],
    ids=["control-bytes", "encoded-query", "bidi-override"],
)
async def test_hostile_paths_are_client_errors(platform: Platform, raw_path: str) -> None:
    """Found by the fuzzer: a decoded control byte once broke the upstream URL (500)."""
    async with platform.client("jp") as c:
        r = await c.get(httpx.URL(platform.gateway_url + raw_path))
    assert 400 <= r.status_code < 500, r.text
    assert r.headers["content-type"] == PROBLEM
