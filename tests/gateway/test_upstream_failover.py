"""The gateway in front of several replicas of a service (REGISTRY_URL comma-separated):
it takes turns, steps over a replica that is gone, and answers a client nothing but the
service's own answer or a 503 with Retry-After; a write is never done twice.

The replicas that misbehave are real sockets: a port nobody listens on (a killed
replica), and a small server that reads each request and drops the connection without
answering (a replica killed while it had the request)."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest

from deploy.local.servers import free_port
from services.gateway.main import GatewaySettings
from services.gateway.main import create_app as create_gateway
from tests.harness import INTERNAL_TOKEN, Platform, RunningService, serve
from tests.registry_helpers import cluster_payload


@pytest.fixture
async def dropping_replica() -> AsyncIterator[str]:
    """Accepts, reads the request head, closes without a byte of answer."""

    async def drop(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(
            asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError
        ):
            await reader.readuntil(b"\r\n\r\n")
        writer.transport.abort()

    server = await asyncio.start_server(drop, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.close()
        await server.wait_closed()


@pytest.fixture
async def gateways(platform: Platform) -> AsyncIterator[Callable[[str], Any]]:
    """A gateway replica whose registry is the given comma-separated replica list."""
    started: list[RunningService] = []

    async def start(registry_urls: str) -> RunningService:
        settings = GatewaySettings(
            database_url=platform.database_url,
            nats_url=platform.nats_url,
            internal_token=INTERNAL_TOKEN,
            environment="test",
            registry_url=registry_urls,
            matching_url=platform.url("matching"),
            rate_per_second=10_000,
            rate_burst=10_000,
            run_workers=False,  # its workers would only compete with the first gateway's
        )
        gw = await serve(f"gateway-{len(started) + 2}", create_gateway(settings))
        started.append(gw)
        return gw

    try:
        yield start
    finally:
        for gw in started:
            await gw.stop()


def dead_url() -> str:
    return f"http://127.0.0.1:{free_port()}"  # free: nothing listens there


def auth(platform: Platform, who: str) -> dict[str, str]:
    return {"authorization": f"Bearer {platform.keys[who]}"}


async def rows_named(c: httpx.AsyncClient, name: str) -> int:
    found: int = 0
    cursor: str | None = None
    while True:
        params: dict[str, Any] = {"tenant": "jp", "limit": 200}
        if cursor:
            params["cursor"] = cursor
        r = await c.get("/v1/clusters", params=params)
        assert r.status_code == 200, r.text
        found += sum(bool(item["name"] == name) for item in r.json()["items"])
        cursor = r.json().get("next_cursor")
        if not cursor:
            return found


def assert_retry_later(r: httpx.Response) -> None:
    assert r.status_code == 503, r.text
    assert r.headers["content-type"] == "application/problem+json"
    assert float(r.headers["retry-after"]) > 0


async def test_a_dead_replica_costs_no_request(
    platform: Platform, gateways: Callable[[str], Any]
) -> None:
    gw = await gateways(f"{dead_url()},{platform.url('registry')}")
    async with httpx.AsyncClient(base_url=gw.url, headers=auth(platform, "jp")) as jp:
        body = cluster_payload("jp")
        key = {"idempotency-key": uuid.uuid4().hex}
        first = await jp.post("/v1/clusters", json=body, headers=key)
        assert first.status_code == 201, first.text
        again = await jp.post("/v1/clusters", json=body, headers=key)
        assert again.status_code == 201
        assert again.json()["id"] == first.json()["id"]
        assert again.headers["idempotent-replayed"] == "true"
        cluster_id = first.json()["id"]
        # Every turn of the round-robin, the dead replica's too, ends in the answer.
        statuses = [(await jp.get(f"/v1/clusters/{cluster_id}")).status_code for _ in range(10)]
        assert statuses == [200] * 10
        assert await rows_named(jp, body["name"]) == 1
        health = (await jp.get("/healthz")).json()
        assert health["services"]["registry"]["replicas_ok"] == 1
    # The wall holds through the failover: another tenant cannot change the cluster.
    async with httpx.AsyncClient(base_url=gw.url, headers=auth(platform, "br")) as br:
        r = await br.patch(f"/v1/clusters/{cluster_id}", json={"city": "Recife"})
        assert r.status_code in (403, 404), r.text
    async with platform.client("jp") as jp:
        assert (await jp.get(f"/v1/clusters/{cluster_id}")).json()["city"] == body["city"]


async def test_a_replica_dropping_requests_never_makes_a_write_twice(
    platform: Platform, gateways: Callable[[str], Any], dropping_replica: str
) -> None:
    # The dropping replica is first in turn: the first request goes to it.
    gw = await gateways(f"{dropping_replica},{platform.url('registry')}")
    async with httpx.AsyncClient(base_url=gw.url, headers=auth(platform, "jp")) as jp:
        # Without a key a dropped POST may have been carried out: not retried, a 503.
        unkeyed = cluster_payload("jp")
        r = await jp.post("/v1/clusters", json=unkeyed)
        assert_retry_later(r)
        assert await rows_named(jp, unkeyed["name"]) == 0
        # With a key the gateway tries the next replica: one row, the key replays it.
        keyed, key = cluster_payload("jp"), {"idempotency-key": uuid.uuid4().hex}
        created = []
        for _ in range(4):
            r = await jp.post("/v1/clusters", json=keyed, headers=key)
            assert r.status_code == 201, r.text
            created.append(r.json()["id"])
        assert len(set(created)) == 1
        assert await rows_named(jp, keyed["name"]) == 1
        # Reads go to the replica that answers, whoever's turn it was.
        for _ in range(6):
            assert (await jp.get(f"/v1/clusters/{created[0]}")).status_code == 200
    # Another tenant's key replays nothing of jp's: keys are per client.
    async with httpx.AsyncClient(base_url=gw.url, headers=auth(platform, "br")) as br:
        r = await br.patch(f"/v1/clusters/{created[0]}", json={"city": "Recife"})
        assert r.status_code in (403, 404), r.text


async def test_no_replica_left_is_a_503_with_retry_after(
    platform: Platform, gateways: Callable[[str], Any]
) -> None:
    gw = await gateways(f"{dead_url()},{dead_url()}")
    async with httpx.AsyncClient(base_url=gw.url, headers=auth(platform, "jp")) as jp:
        assert_retry_later(await jp.get("/v1/clusters", params={"tenant": "jp"}))
        body, key = cluster_payload("jp"), {"idempotency-key": uuid.uuid4().hex}
        assert_retry_later(await jp.post("/v1/clusters", json=body, headers=key))
        # The other services behind the same gateway are unaffected.
        assert (await jp.get("/v1/matching/status")).status_code == 200
        health = await jp.get("/healthz")
        assert health.status_code == 503
    async with platform.client("jp") as c:
        assert await rows_named(c, body["name"]) == 0
