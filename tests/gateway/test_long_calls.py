"""A scheduler run thinks for up to 30 s: the gateway waits for it with the long upstream
timeout, while every other call keeps the usual one (and answers 504 past it)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import timedelta

import httpx
import pytest
from sqlalchemy.ext.asyncio import create_async_engine

from services.gateway.idempotency import IdempotencyStore
from services.gateway.main import create_app as create_gateway
from services.gateway.routing import is_long
from shared.db.engine import create_sessionmaker
from tests.events.helpers import one_meeting_event
from tests.gateway.replica import replica_settings
from tests.harness import Platform, RunningService, serve


@pytest.fixture
async def impatient_gateway(platform: Platform) -> AsyncIterator[RunningService]:
    """A replica whose usual upstream timeout no real call can meet (a millisecond)."""
    settings = replica_settings(platform, upstream_timeout=0.001, long_upstream_timeout=60.0)
    replica = await serve("gateway-impatient", create_gateway(settings))
    try:
        yield replica
    finally:
        await replica.stop()


def test_only_a_scheduler_run_is_a_long_call() -> None:
    assert is_long("POST", "/v1/events/3f1c/schedules")
    assert is_long("POST", "/v1/events/3f1c/schedules/")
    assert not is_long("GET", "/v1/events/3f1c/schedules")
    assert not is_long("POST", "/v1/events/3f1c/schedules/9a/cancel")
    assert not is_long("POST", "/v1/events/3f1c/publish")
    assert not is_long("POST", "/v1/events/3f1c/participants/schedules")
    assert not is_long("POST", "/v1/clusters/3f1c/schedules")


async def test_a_scheduler_run_outlasts_the_usual_upstream_timeout(
    platform: Platform, impatient_gateway: RunningService
) -> None:
    eid = await one_meeting_event(platform)
    headers = {"authorization": f"Bearer {platform.keys['eu']}"}
    async with httpx.AsyncClient(
        base_url=impatient_gateway.url, headers=headers, timeout=90.0
    ) as c:
        # The usual call cannot answer within a millisecond: the gateway says so.
        late = await c.get(f"/v1/events/{eid}/participants")
        assert late.status_code == 504, late.text
        run = await c.post(
            f"/v1/events/{eid}/schedules",
            json={"time_limit": 2},
            headers={"idempotency-key": "long-call-1"},
        )
        assert run.status_code == 201, run.text
        assert run.json()["placed"] == 1
        # A retry with the same key replays the stored draft, it does not run again.
        again = await c.post(
            f"/v1/events/{eid}/schedules",
            json={"time_limit": 2},
            headers={"idempotency-key": "long-call-1"},
        )
        assert (again.status_code, again.json()["id"]) == (201, run.json()["id"])
    async with platform.client("eu") as c:
        listed = await c.get(f"/v1/events/{eid}/schedules")
        assert listed.status_code == 200, listed.text
        assert [s["id"] for s in listed.json()["items"]] == [run.json()["id"]]
    # Another tenant's key is refused on the long route too, through either gateway.
    other = {"authorization": f"Bearer {platform.keys['br']}"}
    async with httpx.AsyncClient(base_url=impatient_gateway.url, headers=other, timeout=90) as c:
        refused = await c.post(f"/v1/events/{eid}/schedules", json={"time_limit": 2})
        assert refused.status_code == 403, refused.text


async def test_a_long_call_holds_its_key_for_its_own_lease(platform: Platform) -> None:
    # A key left pending (its gateway died with the request) is taken over once its
    # lease runs out: a long call's lease must outlive the run, the others' must not
    # make a retry wait as long.
    engine = create_async_engine(platform.database_url)
    store = IdempotencyStore(create_sessionmaker(engine), lease=timedelta(0))
    client = uuid.uuid4()
    try:
        assert (await store.claim(client, "usual", b"f" * 32)).proceed
        assert (await store.claim(client, "usual", b"f" * 32)).proceed  # lease ran out
        assert (await store.claim(client, "long", b"f" * 32, timedelta(seconds=50))).proceed
        retry = await store.claim(client, "long", b"f" * 32)
        assert (retry.proceed, retry.conflict) == (False, "in-flight")
    finally:
        await engine.dispose()
