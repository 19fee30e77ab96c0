"""Acknowledged means durable, once: no 2xx before the commit, one execution per key.

The commit is controlled from the test through a deferred constraint trigger on the
registry's clusters table, so these cases are deterministic rather than races:
- a profile named `refuse-at-commit-…` makes COMMIT itself fail;
- one named `hold-at-commit-…` makes COMMIT wait on an advisory lock the test holds,
  so the gateway gives up (504) while the registry is still about to commit.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import asyncpg
import httpx
import pytest

from tests.gateway.test_gateway import gateway_with
from tests.harness import Platform, eventually
from tests.registry_helpers import cluster_payload

PROBLEM = "application/problem+json"
HOLD_LOCK = 7_700_001

_TRIGGER = f"""
CREATE OR REPLACE FUNCTION registry.test_commit_control() RETURNS trigger AS $$
BEGIN
  IF NEW.name LIKE 'refuse-at-commit-%' THEN
    RAISE EXCEPTION 'refused at commit' USING ERRCODE = 'check_violation';
  END IF;
  IF NEW.name LIKE 'hold-at-commit-%' THEN
    PERFORM pg_advisory_xact_lock({HOLD_LOCK});
  END IF;
  RETURN NULL;
END $$ LANGUAGE plpgsql;
DROP TRIGGER IF EXISTS test_commit_control ON registry.clusters;
CREATE CONSTRAINT TRIGGER test_commit_control AFTER INSERT ON registry.clusters
  DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION registry.test_commit_control();
"""


def _dsn(platform: Platform) -> str:
    return platform.database_url.replace("postgresql+asyncpg://", "postgresql://")


@pytest.fixture
async def commit_control(platform: Platform) -> AsyncIterator[asyncpg.Connection]:
    conn = await asyncpg.connect(_dsn(platform))
    await conn.execute(_TRIGGER)
    try:
        yield conn
    finally:
        await conn.execute("DROP TRIGGER IF EXISTS test_commit_control ON registry.clusters")
        await conn.close()


async def _clusters_named(conn: asyncpg.Connection, name: str) -> list[str]:
    rows = await conn.fetch("SELECT id::text FROM registry.clusters WHERE name = $1", name)
    return [r["id"] for r in rows]


async def test_a_create_whose_commit_fails_is_not_acknowledged(
    platform: Platform, commit_control: asyncpg.Connection
) -> None:
    name = f"refuse-at-commit-{uuid.uuid4().hex[:8]}"
    async with platform.client("jp") as c:
        r = await c.post("/v1/clusters", json=cluster_payload("jp", name=name))
        assert r.status_code == 409, r.text
        assert r.headers["content-type"] == PROBLEM
        assert "nothing was written" in r.json()["detail"]
        # The keep-alive connection still serves the next request.
        assert (await c.get("/v1/tenants")).status_code == 200
    assert await _clusters_named(commit_control, name) == []


async def test_every_acknowledged_create_is_readable_at_once(platform: Platform) -> None:
    """Read right after each create, on the same connection, many at a time."""

    async def create_then_read(c: httpx.AsyncClient) -> tuple[int, int]:
        r = await c.post("/v1/clusters", json=cluster_payload("jp"))
        assert r.status_code == 201, r.text
        again = await c.get(f"/v1/clusters/{r.json()['id']}")
        return r.status_code, again.status_code

    async with platform.client("jp") as c:
        results = await asyncio.gather(*(create_then_read(c) for _ in range(60)))
    assert {read for _, read in results} == {200}


async def test_retry_after_gateway_timeout_replays_the_first_outcome(
    platform: Platform, commit_control: asyncpg.Connection
) -> None:
    name = f"hold-at-commit-{uuid.uuid4().hex[:8]}"
    body = cluster_payload("jp", name=name)
    headers = {"idempotency-key": f"timeout-{uuid.uuid4()}"}
    holder = await asyncpg.connect(_dsn(platform))
    await holder.execute("SELECT pg_advisory_lock($1)", HOLD_LOCK)
    try:
        async with (
            gateway_with(
                platform, registry_url=platform.url("registry"), upstream_timeout=0.5
            ) as gw,
            httpx.AsyncClient(
                base_url=gw.url,
                headers={"authorization": f"Bearer {platform.keys['jp']}"},
                timeout=30,
            ) as c,
        ):
            first = await c.post("/v1/clusters", json=body, headers=headers)
            assert first.status_code == 504, first.text
            assert "Idempotency-Key" in first.json()["detail"]
            # The registry is still waiting to commit; let it.
            await holder.execute("SELECT pg_advisory_unlock($1)", HOLD_LOCK)
            await eventually(
                lambda: _clusters_named(commit_control, name), until=lambda ids: len(ids) == 1
            )
            retry = await c.post("/v1/clusters", json=body, headers=headers)
            assert retry.status_code == 201, retry.text
            assert retry.headers["idempotent-replayed"] == "true"
            ids = await _clusters_named(commit_control, name)
            assert ids == [retry.json()["id"]]
            # From now on the gateway itself replays it.
            third = await c.post("/v1/clusters", json=body, headers=headers)
            assert third.json()["id"] == retry.json()["id"]
            assert third.headers["idempotent-replayed"] == "true"
    finally:
        await holder.close()
    assert len(await _clusters_named(commit_control, name)) == 1


async def test_a_retry_while_the_first_attempt_runs_is_told_to_wait(
    platform: Platform, commit_control: asyncpg.Connection
) -> None:
    name = f"hold-at-commit-{uuid.uuid4().hex[:8]}"
    body = cluster_payload("jp", name=name)
    key = f"inflight-{uuid.uuid4()}"
    holder = await asyncpg.connect(_dsn(platform))
    await holder.execute("SELECT pg_advisory_lock($1)", HOLD_LOCK)
    try:
        async with platform.client("jp") as c:
            first = asyncio.create_task(
                c.post("/v1/clusters", json=body, headers={"idempotency-key": key})
            )
            # The registry has claimed the key in its (still open) transaction once
            # the row's insert waits on the commit; its claim is visible to no one yet,
            # but the gateway's lease is.
            await eventually(
                lambda: holder.fetchval(
                    "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' "
                    "AND objid = $1 AND NOT granted",
                    HOLD_LOCK,
                ),
                until=lambda n: n == 1,
            )
            second = await c.post("/v1/clusters", json=body, headers={"idempotency-key": key})
            assert second.status_code == 409
            assert second.json()["type"].endswith("idempotency-key-in-flight")
            assert second.headers["retry-after"]
            await holder.execute("SELECT pg_advisory_unlock($1)", HOLD_LOCK)
            done = await first
            assert done.status_code == 201
            third = await c.post("/v1/clusters", json=body, headers={"idempotency-key": key})
            assert third.json()["id"] == done.json()["id"]
    finally:
        await holder.close()
    assert len(await _clusters_named(commit_control, name)) == 1
