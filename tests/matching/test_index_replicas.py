"""Two matching replicas: the projection consumer is shared (each event stored once, by
either), yet the in-memory index of EACH replica holds every profile, with the same
versions, because each follows the registry stream itself from its snapshot point."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import nats
import pytest
from nats.js.errors import NotFoundError
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from services.matching.main import MatchingSettings
from services.matching.main import create_app as create_matching
from shared.contracts import registry
from shared.identity import internal_headers
from tests.harness import INTERNAL_TOKEN, Platform, RunningService, eventually, serve
from tests.registry_helpers import cluster_payload


@pytest.fixture
async def second_matching(platform: Platform) -> AsyncIterator[RunningService]:
    settings = MatchingSettings(
        database_url=platform.database_url,
        nats_url=platform.nats_url,
        internal_token=INTERNAL_TOKEN,
        environment="test",
        registry_url=platform.url("registry"),
    )
    replica = await serve("matching-2", create_matching(settings))
    try:
        yield replica
    finally:
        await replica.stop()


def indexed_version(replica: RunningService, cluster_id: str) -> int | None:
    """The version this replica's index holds (None: not in it)."""
    versions: dict[str, int] = replica.app.state.runtime.state.index.index.versions()
    return versions.get(cluster_id)


async def matches_status(base: str, cluster_id: str, tenant: str) -> int:
    headers = internal_headers(INTERNAL_TOKEN, tenant, "matching:read")
    async with httpx.AsyncClient(base_url=base, headers=headers) as c:
        return (await c.get(f"/v1/matching/clusters/{cluster_id}/matches")).status_code


async def projection_rows(platform: Platform, cluster_id: str) -> list[Any]:
    engine = create_async_engine(platform.database_url, poolclass=NullPool)
    try:
        async with engine.connect() as conn:
            rows = await conn.execute(
                text("SELECT version, deleted FROM matching.profiles WHERE id = :i"),
                {"i": uuid.UUID(cluster_id)},
            )
            return list(rows)
    finally:
        await engine.dispose()


async def test_every_replica_index_holds_every_profile_change(
    platform: Platform, second_matching: RunningService
) -> None:
    first = platform.services["matching"]
    replicas = (first, second_matching)
    async with platform.client("jp") as jp:
        answers = [await jp.post("/v1/clusters", json=cluster_payload("jp")) for _ in range(6)]
        made = [a.json() for a in answers]
        changed, gone = made[0]["id"], made[1]["id"]
        r = await jp.patch(
            f"/v1/clusters/{changed}",
            json={"city": "Nagoya"},
            headers={"if-match": answers[0].headers["etag"]},
        )
        assert r.status_code == 200, r.text
        r = await jp.delete(
            f"/v1/clusters/{gone}", headers={"if-match": answers[1].headers["etag"]}
        )
        assert r.status_code == 204, r.text
    live = [m["id"] for m in made if m["id"] != gone]

    async def agree() -> bool:
        return all(
            indexed_version(rep, changed) == 2
            and indexed_version(rep, gone) is None
            and all(indexed_version(rep, i) is not None for i in live)
            for rep in replicas
        )

    await eventually(agree)
    # Stored once in the projection, whichever replica's consumer took each event.
    assert [tuple(r) for r in await projection_rows(platform, changed)] == [(2, False)]
    assert (await projection_rows(platform, gone))[0][1] is True
    # Each replica answers from its own index; another tenant reads the public profile.
    for rep in replicas:
        assert await matches_status(rep.url, changed, "jp") == 200
        assert await matches_status(rep.url, changed, "br") == 200
        assert await matches_status(rep.url, gone, "jp") == 404


async def test_a_replica_started_later_catches_up_from_its_snapshot(
    platform: Platform,
) -> None:
    async with platform.client("jp") as jp:
        before = (await jp.post("/v1/clusters", json=cluster_payload("jp"))).json()["id"]
    settings = MatchingSettings(
        database_url=platform.database_url,
        nats_url=platform.nats_url,
        internal_token=INTERNAL_TOKEN,
        environment="test",
    )
    late = await serve("matching-late", create_matching(settings))
    follower = late.app.state.runtime.state.follower
    try:
        async with platform.client("jp") as jp:
            after = (await jp.post("/v1/clusters", json=cluster_payload("jp"))).json()["id"]

        async def caught_up() -> bool:
            return indexed_version(late, before) == 1 and indexed_version(late, after) == 1

        await eventually(caught_up)
    finally:
        await late.stop()
    # A replica that stops takes its consumer away with it.
    nc = await nats.connect(platform.nats_url)
    try:
        with pytest.raises(NotFoundError):
            await nc.jetstream().consumer_info(registry.STREAM, follower.name)
    finally:
        await nc.close()
