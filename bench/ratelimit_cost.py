"""Cost per request of the shared rate limit (buckets in PostgreSQL, one statement per
request) against the in-process one, two ways:

1. the limiter alone, called in a loop from this process (one client, then one bucket
   each for 32 concurrent callers, then 32 concurrent callers on one bucket);
2. GETs through two gateways that differ only in RATE_LIMIT_STORE, 1 and 32 clients.

Everything runs on this machine (PostgreSQL, NATS, registry, both gateways and this
load generator share its CPU).

    python bench/ratelimit_cost.py [--calls 5000] [--gets 5000] [--concurrency 32]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
import uuid
from pathlib import Path

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.gateway import Run, load, payload, row
from bench.processes import TOKEN, bench_platform
from services.gateway.ratelimit import RateLimiter, SharedRateLimiter
from services.gateway.repository import RateBuckets
from shared.db.engine import create_engine
from shared.settings import ServiceSettings


async def limiter_alone(
    label: str, limiter: RateLimiter | SharedRateLimiter, calls: int, callers: int, one_bucket: bool
) -> tuple[str, float, float, float]:
    shared_id = uuid.uuid4()
    latencies: list[float] = []

    async def caller() -> None:
        me = shared_id if one_bucket else uuid.uuid4()
        for _ in range(calls // callers):
            t0 = time.perf_counter()
            await limiter.take(me, 1_000_000, 1_000_000)
            latencies.append((time.perf_counter() - t0) * 1e6)

    start = time.perf_counter()
    await asyncio.gather(*(caller() for _ in range(callers)))
    seconds = time.perf_counter() - start
    xs = sorted(latencies)
    return label, len(xs) / seconds, xs[len(xs) // 2], statistics.fmean(xs)


async def measure_limiters(database_url: str, calls: int, concurrency: int) -> None:
    engine = create_engine(ServiceSettings(database_url=database_url), application_name="bench")
    shared = SharedRateLimiter(RateBuckets(engine), 50, 100)
    local = RateLimiter(50, 100)
    await shared.take(uuid.uuid4())  # connect before the clock starts
    rows = []
    for name, limiter in (("in-process", local), ("shared (PostgreSQL)", shared)):
        rows.append(await limiter_alone(f"{name}, 1 caller", limiter, calls, 1, False))
        rows.append(
            await limiter_alone(
                f"{name}, {concurrency} callers", limiter, calls, concurrency, False
            )
        )
        rows.append(
            await limiter_alone(
                f"{name}, {concurrency} on 1 bucket", limiter, calls, concurrency, True
            )
        )
    await engine.dispose()
    print("\nThe limiter alone (calls per second, microseconds per call)")
    print(f"{'':<36} {'calls/s':>10} {'p50 us':>9} {'mean us':>9}")
    for label, rate, p50, mean in rows:
        print(f"{label:<36} {rate:>10.0f} {p50:>9.1f} {mean:>9.1f}")


async def measure_gateways(
    urls: dict[str, str], key: str, gets: int, concurrency: int
) -> list[Run]:
    direct = {"x-internal-token": TOKEN, "x-tenant": "jp", "x-scopes": "registry:write",
              "content-type": "application/json"}  # fmt: skip
    async with (
        aiohttp.ClientSession(headers=direct) as s,
        s.post(f"{urls['registry']}/v1/clusters", data=payload(0)) as r,
    ):
        cid = (await r.json())["id"]
    headers = {"authorization": f"Bearer {key}"}
    runs = []
    for clients in (1, concurrency):
        for name in ("process", "shared"):
            runs.append(
                await load(
                    f"GET via gateway ({name}), {clients} cl.",
                    f"{urls['gateway-' + name]}/v1/clusters/{cid}",
                    headers,
                    gets if clients > 1 else min(gets, 2000),
                    clients,
                    "GET",
                )
            )
    return runs


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--calls", type=int, default=5000)
    parser.add_argument("--gets", type=int, default=5000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--fast-db", action="store_true", help="PostgreSQL without fsync")
    args = parser.parse_args()
    with bench_platform(fast_db=args.fast_db) as p:
        registry = p.start_service("registry", "services.registry.main", {})
        for store in ("process", "shared"):
            p.start_service(
                f"gateway-{store}",
                "services.gateway.main",
                {"REGISTRY_URL": registry, "RATE_LIMIT_STORE": store,
                 "RATE_PER_SECOND": "1000000", "RATE_BURST": "1000000"},
            )  # fmt: skip
        key = p.api_key("jp", ["registry:read", "registry:write"])
        asyncio.run(measure_limiters(p.database_url, args.calls, args.concurrency))
        runs = asyncio.run(measure_gateways(p.urls, key, args.gets, args.concurrency))
    print(f"\nThrough the gateway; PostgreSQL fsync {'off' if args.fast_db else 'on'} "
          "(the bucket table is UNLOGGED either way)")  # fmt: skip
    print(f"{'':<34} {'throughput':>11} {'p50 ms':>8} {'p99 ms':>8} {'mean ms':>8} {'errors':>6}")
    for run in runs:
        print(row(run))
    by = {r.label: r for r in runs}
    c = args.concurrency
    p1, s1 = by["GET via gateway (process), 1 cl."], by["GET via gateway (shared), 1 cl."]
    pc, sc = by[f"GET via gateway (process), {c} cl."], by[f"GET via gateway (shared), {c} cl."]
    print()
    print(f"p50 added by the shared limit, 1 client:   {s1.pct(50) - p1.pct(50):+.3f} ms")
    print(f"p50 added by the shared limit, {c} clients: {sc.pct(50) - pc.pct(50):+.3f} ms")
    print(f"throughput, shared / in-process, {c} clients: {sc.rate / pc.rate:.2f}")


if __name__ == "__main__":
    main()
