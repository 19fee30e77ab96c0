"""Gateway overhead: cluster creates per second and GET latency through the gateway,
side by side with calls straight to the registry, at 32 concurrent clients.

Everything runs on this machine as separate processes (PostgreSQL, NATS, registry,
gateway, and this load generator), so the figures include the CPU they share.

    python bench/gateway.py [--concurrency 32] [--creates 3000] [--gets 20000]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import orjson

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.processes import TOKEN, bench_platform


@dataclass
class Run:
    label: str
    requests: int
    seconds: float
    latencies_ms: list[float]
    errors: int

    @property
    def rate(self) -> float:
        return self.requests / self.seconds

    def pct(self, p: float) -> float:
        xs = sorted(self.latencies_ms)
        return xs[min(len(xs) - 1, int(p / 100 * len(xs)))]


def payload(i: int) -> bytes:
    return orjson.dumps(
        {
            "name": f"Bench cluster {i} {uuid.uuid4().hex[:6]}",
            "country": "JP",
            "description": "Battery materials, cell design and recycling for e-mobility.",
            "ecosystems": ["mobility-transport-automotive", "energy-renewables"],
            "competences": ["battery cell design", "power electronics"],
            "offers": ["pilot line access"],
            "needs": ["recycling partners"],
            "contact_email": "bench@example.org",
        }
    )


async def load(
    label: str,
    url: str,
    headers: dict[str, str],
    total: int,
    concurrency: int,
    method: str,
    body: Any = None,
) -> Run:
    latencies: list[float] = []
    errors = 0
    counter = iter(range(total))
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector, headers=headers) as session:

        async def worker() -> None:
            nonlocal errors
            for i in counter:
                data = body(i) if callable(body) else body
                t0 = time.perf_counter()
                async with session.request(method, url, data=data) as r:
                    await r.read()
                    if r.status >= 400:
                        errors += 1
                latencies.append((time.perf_counter() - t0) * 1000)

        # Warm up connections and caches before the clock starts.
        for _ in range(concurrency):
            async with session.request(method, url, data=body(0) if callable(body) else body) as r:
                await r.read()
        start = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        seconds = time.perf_counter() - start
    return Run(label, total, seconds, latencies, errors)


def row(run: Run) -> str:
    return (
        f"{run.label:<34} {run.rate:>9.0f}/s {run.pct(50):>8.2f} {run.pct(99):>8.2f} "
        f"{statistics.fmean(run.latencies_ms):>8.2f} {run.errors:>6}"
    )


async def measure(args: argparse.Namespace, urls: dict[str, str], key: str) -> list[Run]:
    direct_h = {
        "x-internal-token": TOKEN, "x-tenant": "jp",
        "x-scopes": "registry:read registry:write", "content-type": "application/json",
    }  # fmt: skip
    gw_h = {"authorization": f"Bearer {key}", "content-type": "application/json"}
    runs = []
    c = args.concurrency
    runs.append(await load("create direct", f"{urls['registry']}/v1/clusters", direct_h,
                           args.creates, c, "POST", payload))  # fmt: skip
    for name in ("gateway", "gateway-httpx"):
        if name in urls:
            runs.append(await load(f"create via {name}", f"{urls[name]}/v1/clusters", gw_h,
                                   args.creates, c, "POST", payload))  # fmt: skip
    async with (
        aiohttp.ClientSession(headers=direct_h) as s,
        s.post(f"{urls['registry']}/v1/clusters", data=payload(0)) as r,
    ):
        cid = (await r.json())["id"]
    # One client at a time: what the hop costs a single request on an idle platform.
    solo = min(2000, args.gets)
    runs.append(await load("GET direct, 1 client", f"{urls['registry']}/v1/clusters/{cid}",
                           direct_h, solo, 1, "GET"))  # fmt: skip
    runs.append(await load("GET via gateway, 1 client", f"{urls['gateway']}/v1/clusters/{cid}",
                           gw_h, solo, 1, "GET"))  # fmt: skip
    runs.append(await load("GET direct", f"{urls['registry']}/v1/clusters/{cid}", direct_h,
                           args.gets, c, "GET"))  # fmt: skip
    for name in ("gateway", "gateway-httpx"):
        if name in urls:
            runs.append(await load(f"GET via {name}", f"{urls[name]}/v1/clusters/{cid}", gw_h,
                                   args.gets, c, "GET"))  # fmt: skip
    return runs


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--creates", type=int, default=3000)
    parser.add_argument("--gets", type=int, default=20000)
    parser.add_argument("--no-httpx", action="store_true", help="skip the httpx-transport gateway")
    parser.add_argument("--fast-db", action="store_true", help="PostgreSQL without fsync")
    args = parser.parse_args()
    with bench_platform(fast_db=args.fast_db) as p:
        registry = p.start_service("registry", "services.registry.main",
                                   {"OUTBOX_POLL_SECONDS": "0.5"})  # fmt: skip
        p.start_service("gateway", "services.gateway.main", {"REGISTRY_URL": registry})
        if not args.no_httpx:
            p.start_service("gateway-httpx", "services.gateway.main",
                            {"REGISTRY_URL": registry, "UPSTREAM_TRANSPORT": "httpx"})  # fmt: skip
        key = p.api_key("jp", ["registry:read", "registry:write"])
        runs = asyncio.run(measure(args, p.urls, key))
    print(f"\nconcurrency {args.concurrency}; PostgreSQL fsync {'off' if args.fast_db else 'on'}")
    print(f"{'':<34} {'throughput':>11} {'p50 ms':>8} {'p99 ms':>8} {'mean ms':>8} {'errors':>6}")
    for run in runs:
        print(row(run))
    by = {r.label: r for r in runs}
    gd, gg = by["GET direct"], by["GET via gateway"]
    cd, cg = by["create direct"], by["create via gateway"]
    print()
    print(f"GET throughput, gateway / direct:     {gg.rate / gd.rate:.2f}   (goal >= 0.6)")
    g1, d1 = by["GET via gateway, 1 client"], by["GET direct, 1 client"]
    print(f"GET p50 added by the hop, 1 client:   {g1.pct(50) - d1.pct(50):+.2f} ms (goal <= 1 ms)")
    print(
        f"GET p50 added by the hop, {args.concurrency} clients: {gg.pct(50) - gd.pct(50):+.2f} ms"
    )
    print(
        f"creates per second via the gateway:   {cg.rate:.0f}   (goal >= 300; direct {cd.rate:.0f})"
    )
    if "GET via gateway-httpx" in by:
        gh = by["GET via gateway-httpx"]
        print(f"GET throughput, aiohttp / httpx transport: {gg.rate / gh.rate:.2f}")


if __name__ == "__main__":
    main()
