"""The demo registry a new user gets on the first `make run`: it loads, it is
idempotent, and it shows real matches at once."""

from __future__ import annotations

import asyncio
from typing import Any

from deploy.local.demo import demo_clusters, load_demo
from tests.harness import Platform, eventually


async def test_demo_data_loads_once_and_matches(platform: Platform) -> None:
    expected = sum(len(rows) for rows in demo_clusters().values())
    created = await asyncio.to_thread(load_demo, platform.gateway_url, platform.keys["operator"])
    assert created == expected
    again = await asyncio.to_thread(load_demo, platform.gateway_url, platform.keys["operator"])
    assert again == 0  # idempotent on external ids

    async with platform.client("jp") as c:
        found = (await c.get("/v1/clusters", params={"q": "Kansai Battery Materials"})).json()
        kansai = next(i for i in found["items"] if i["external_id"] == "demo-jp-2")

        async def german_partners() -> list[dict[str, Any]]:
            r = await c.get(
                f"/v1/matching/clusters/{kansai['id']}/matches",
                params={"mode": "complementary", "country": "DE", "limit": 3},
            )
            body: list[dict[str, Any]] = r.json().get("matches", []) if r.status_code == 200 else []
            return body

        # Kansai supplies cathode materials and needs pilot lines; the German cell makers
        # offer pilot lines and need cathode materials: a textbook mutual fit.
        # After a suite that imported thousands of profiles, the index may still be
        # catching up: wait for it rather than fail on load.
        matches = await eventually(german_partners, until=bool, timeout=60)
    assert matches[0]["partner"]["name"] == "Baden-Württemberg Battery Alliance"
    assert matches[0]["reasons"]
