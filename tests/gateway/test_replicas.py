"""Two gateway replicas on the same PostgreSQL and NATS: one rate limit between them,
and a key revoked through either is refused by the other at once."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import httpx
import pytest

from services.gateway.main import create_app as create_gateway
from tests.gateway.replica import replica_settings
from tests.harness import Platform, RunningService, eventually, serve


@pytest.fixture
async def second_gateway(platform: Platform) -> AsyncIterator[RunningService]:
    """Another replica, as a second process would be: its own caches and buckets."""
    settings = replica_settings(platform)
    replica = await serve("gateway-2", create_gateway(settings))
    try:
        yield replica
    finally:
        await replica.stop()


async def new_key(platform: Platform, **figures: int) -> tuple[str, str]:
    async with platform.client("operator") as c:
        r = await c.post(
            "/v1/clients",
            json={"tenant": "jp", "name": "replica test", "scopes": ["registry:read"], **figures},
        )
        assert r.status_code == 201, r.text
    return r.json()["id"], r.json()["api_key"]


async def test_the_rate_limit_holds_across_two_replicas(
    platform: Platform, second_gateway: RunningService
) -> None:
    rate, burst, sent = 2, 40, 160
    _, key = await new_key(platform, rate_per_second=rate, burst=burst)
    headers = {"authorization": f"Bearer {key}"}
    statuses: list[int] = []
    async with (
        httpx.AsyncClient(base_url=platform.gateway_url, headers=headers) as one,
        httpx.AsyncClient(base_url=second_gateway.url, headers=headers) as two,
    ):
        started = time.monotonic()
        for i in range(sent // 8):
            batch = [(one if (i + j) % 2 else two).get("/v1/tenants") for j in range(8)]
            statuses += [r.status_code for r in await asyncio.gather(*batch)]
        elapsed = time.monotonic() - started
    allowed = statuses.count(200)
    assert set(statuses) <= {200, 429}
    # What one bucket allows in that time: the burst, and the refill while it ran.
    budget = burst + rate * elapsed
    print(f"\nallowed {allowed} of {sent} in {elapsed:.2f} s; one bucket's budget {budget:.1f}")
    assert allowed <= budget * 1.10
    assert allowed >= burst * 0.90


@pytest.mark.parametrize("revoked_through", ["first", "second"])
async def test_a_key_revoked_through_one_replica_is_refused_by_the_other_within_a_second(
    platform: Platform, second_gateway: RunningService, revoked_through: str
) -> None:
    client_id, key = await new_key(platform)
    headers = {"authorization": f"Bearer {key}"}
    urls = {"first": platform.gateway_url, "second": second_gateway.url}
    other = urls["second" if revoked_through == "first" else "first"]
    async with httpx.AsyncClient(base_url=other, headers=headers) as c:
        # The other replica has the key in its cache (5 s by default) ...
        assert (await c.get("/v1/tenants")).status_code == 200
        async with httpx.AsyncClient(
            base_url=urls[revoked_through],
            headers={"authorization": f"Bearer {platform.keys['operator']}"},
        ) as op:
            assert (await op.delete(f"/v1/clients/{client_id}")).status_code == 204

        # ... and still refuses it within a second: it heard the revocation.
        async def status() -> int:
            return (await c.get("/v1/tenants")).status_code

        await eventually(status, until=lambda s: s == 401, timeout=1.0, interval=0.02)
