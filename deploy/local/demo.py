"""A small, realistic demo registry loaded on the first `make run`, so that a new user
sees matches, search results and event suggestions at once.

Loaded through the gateway's bulk import with the operator key, like any agency's data;
idempotent on external ids, so loading it twice changes nothing.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import orjson

# Hand-written profiles across every tenant, with needs and offers that meet: the
# Japanese cathode maker and the German cell makers, Korean recyclers, Brazilian fruit
# and Belgian food testing, Indian cotton and Italian recycled yarns, ...
DEMO_FILE = Path(__file__).with_name("demo_clusters.json")


def demo_clusters() -> dict[str, list[dict[str, Any]]]:
    data: dict[str, list[dict[str, Any]]] = json.loads(DEMO_FILE.read_text())
    return data


def load_demo(gateway_url: str, operator_key: str) -> int:
    """Import the demo clusters through the gateway; returns how many were created."""
    created = 0
    with httpx.Client(
        base_url=gateway_url,
        headers={"authorization": f"Bearer {operator_key}"},
        timeout=httpx.Timeout(60.0, connect=5.0),
    ) as client:
        for tenant, rows in demo_clusters().items():
            body = b"".join(orjson.dumps(r) + b"\n" for r in rows)
            r = client.post(
                "/v1/clusters/import",
                params={"tenant": tenant},
                content=body,
                headers={"content-type": "application/x-ndjson"},
            )
            r.raise_for_status()
            created += int(r.json()["created"])
    return created
