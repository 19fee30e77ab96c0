"""Registry write to searchable: how long after a cluster is created through the gateway
can the matching service find it? Measured on the real platform (separate processes)
with a background of synthetic profiles already indexed; each sample carries new text,
so the time includes running the embedding model on it.

    python bench/matching_live.py [--background 10000] [--samples 200]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import httpx
import orjson

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.processes import TOKEN, bench_platform
from bench.synthetic import generate

CLUSTER_FIELDS = {
    "name", "country", "region", "city", "description", "languages", "ecosystems",
    "nace_codes", "competences", "technologies", "offers", "needs", "target_countries",
    "label",
}  # fmt: skip


def as_import_row(profile: dict[str, Any]) -> dict[str, Any]:
    row = {k: v for k, v in profile.items() if k in CLUSTER_FIELDS}
    row["external_id"] = profile["id"]
    return row


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--background", type=int, default=10_000)
    parser.add_argument("--samples", type=int, default=200)
    args = parser.parse_args()
    data = generate(args.background, seed=11, planted_pairs=min(200, args.background // 4))
    by_tenant: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for prof in data.profiles:
        by_tenant[prof["tenant"]].append(as_import_row(prof))
    with bench_platform(fast_db=False) as p:
        registry = p.start_service("registry", "services.registry.main")
        matching = p.start_service("matching", "services.matching.main", {"REGISTRY_URL": registry})
        gateway = p.start_service("gateway", "services.gateway.main",
                                  {"REGISTRY_URL": registry, "MATCHING_URL": matching})  # fmt: skip
        op = {"authorization": f"Bearer {p.api_key('eu', ['admin'])}"}
        t0 = time.perf_counter()
        with httpx.Client(base_url=gateway, headers=op, timeout=600) as c:
            for tenant, rows in sorted(by_tenant.items()):
                body = b"".join(orjson.dumps(r) + b"\n" for r in rows)
                r = c.post("/v1/clusters/import", params={"tenant": tenant}, content=body,
                           headers={"content-type": "application/x-ndjson"})  # fmt: skip
                r.raise_for_status()
        internal = {"x-internal-token": TOKEN, "x-tenant": "eu", "x-scopes": "matching:read"}
        with httpx.Client(base_url=matching, headers=internal, timeout=10) as m:
            while m.get("/v1/matching/status").json().get("profiles", 0) < args.background:
                time.sleep(0.2)
            loaded = time.perf_counter() - t0
            delays: list[float] = []
            with httpx.Client(base_url=gateway, headers=op, timeout=10) as g:
                for i in range(args.samples):
                    row = as_import_row(data.profiles[i])
                    # Text never seen before, so the embedding model really runs (no
                    # cache hit): write-to-searchable includes the embedding.
                    sample = row | {
                        "name": f"Live sample {i}",
                        "external_id": f"live-{i}",
                        "description": f"{row.get('description', '')} Sample {i} of run {t0:.0f}.",
                        "needs": [*row.get("needs", []), f"live partner number {i} for {t0:.0f}"],
                    }
                    sample["tenant"] = data.profiles[i]["tenant"]
                    r = g.post("/v1/clusters", json=sample)
                    r.raise_for_status()
                    written = time.perf_counter()  # the registry committed: the clock starts
                    cid = r.json()["id"]
                    while m.get(f"/v1/matching/clusters/{cid}/matches",
                                params={"limit": 1, "explain": "false"}).status_code != 200:  # fmt: skip
                        time.sleep(0.002)
                    delays.append((time.perf_counter() - written) * 1000)
            status = m.get("/v1/matching/status").json()
    q = statistics.quantiles(delays, n=100)
    print(f"\nbackground: {args.background} profiles imported and indexed in {loaded:.1f} s")
    print(f"write-to-searchable over {len(delays)} creates (ms, polling every 2 ms):")
    print(f"  p50 {q[49]:.1f}   p90 {q[89]:.1f}   p99 {q[98]:.1f}   max {max(delays):.1f}"
          f"   (goal p99 <= 1000)")  # fmt: skip
    print(f"index: {status}")


if __name__ == "__main__":
    main()
