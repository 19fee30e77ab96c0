"""Throughput of creates and GETs through the public gateway port with 1 and with 2
replicas of every service (`clusterbridge stack run --replicas N`, a real local stack
each time), how the gateway replicas shared the connections of the one listening
socket, and the shared rate limit's cost per request (bench/ratelimit_cost.py's
limiter-alone measurement, against the same stack's PostgreSQL).

Everything shares this machine's CPU: PostgreSQL, NATS, every replica and this load
generator. On 2 cores a second replica of each service adds processes, not cores, so
expect little gain; the figures say how much.

    python bench/replicas.py [--creates 1000] [--gets 3000] [--concurrency 32]
                             [--replicas 1,2] [--limiter-calls 2000]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import sys
import time
from pathlib import Path

import aiohttp
import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.gateway import Run, load, payload, row
from bench.ratelimit_cost import measure_limiters
from tests.reliability.scenario import LocalStack, agency_key, temporary_data_dir

_GATEWAY_COUNT = re.compile(
    r'^clusterbridge_http_request_seconds_count\{[^}]*service="gateway"[^}]*\} (\S+)$', re.M
)


def _load_average() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


async def handled_by_replica(stack: LocalStack) -> dict[str, float]:
    """Requests each gateway replica has answered so far (its own /metrics)."""
    token = (stack.data_dir / "internal-token").read_text().strip()
    out: dict[str, float] = {}
    async with httpx.AsyncClient(headers={"x-internal-token": token}, timeout=10) as c:
        for name, comp in stack.components().items():
            if name == "gateway" or name.startswith("gateway-"):
                text = (await c.get(f"{comp.url}/metrics")).text
                out[name] = sum(float(v) for v in _GATEWAY_COUNT.findall(text))
    return out


async def measure(stack: LocalStack, args: argparse.Namespace, n: int) -> list[Run]:
    gw = stack.gateway_url
    async with httpx.AsyncClient(base_url=gw, timeout=30) as setup:
        key = await agency_key(setup, stack.operator_key())
    headers = {"authorization": f"Bearer {key}", "content-type": "application/json"}
    c = args.concurrency
    runs = [
        await load(f"{n} replica(s): create", f"{gw}/v1/clusters", headers, args.creates, c,
                   "POST", payload)
    ]  # fmt: skip
    async with (
        aiohttp.ClientSession(headers=headers) as s,
        s.post(f"{gw}/v1/clusters", data=payload(0)) as r,
    ):
        cluster_id = (await r.json())["id"]
    before = await handled_by_replica(stack)
    runs.append(
        await load(f"{n} replica(s): GET", f"{gw}/v1/clusters/{cluster_id}", headers,
                   args.gets, c, "GET")
    )  # fmt: skip
    after = await handled_by_replica(stack)
    if len(after) > 1:
        shares = {k: after[k] - before.get(k, 0.0) for k in after}
        total = sum(shares.values()) or 1.0
        print(
            "  GETs answered per gateway replica (one shared socket): "
            + ", ".join(f"{k} {v / total:.0%}" for k, v in sorted(shares.items()))
        )
    return runs


async def one_stack(args: argparse.Namespace, n: int, limiter: bool) -> list[Run]:
    with temporary_data_dir() as root:
        stack = LocalStack(root, extra_env={"CLUSTERBRIDGE_REPLICAS": str(n)})
        started = time.monotonic()
        try:
            await stack.start()
            print(f"{n} replica(s) of each service up in {time.monotonic() - started:.0f} s; "
                  f"load average {_load_average()}")  # fmt: skip
            runs = await measure(stack, args, n)
            if limiter:
                await measure_limiters(
                    stack.component("postgres").url, args.limiter_calls, args.concurrency
                )
            return runs
        finally:
            stack.stop()


async def main_async(args: argparse.Namespace) -> None:
    counts = [int(x) for x in args.replicas.split(",")]
    runs: list[Run] = []
    for i, n in enumerate(counts):
        runs += await one_stack(args, n, limiter=i == 0)
    print(f"\nThrough the public gateway port, {args.concurrency} concurrent clients; "
          f"load average at the end {_load_average()}")  # fmt: skip
    print(f"{'':<34} {'throughput':>11} {'p50 ms':>8} {'p99 ms':>8} {'mean ms':>8} {'errors':>6}")
    for run in sorted(runs, key=lambda r: r.label.split(": ")[1]):
        print(row(run))
    by = {r.label: r for r in runs}
    if len(counts) > 1:
        base, more = counts[0], counts[-1]
        for what in ("create", "GET"):
            ratio = by[f"{more} replica(s): {what}"].rate / by[f"{base} replica(s): {what}"].rate
            print(f"{what} throughput, {more} replicas / {base}: {ratio:.2f}")
    print("\nThe shared rate limit per request through two gateways: bench/ratelimit_cost.py")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--creates", type=int, default=1000)
    parser.add_argument("--gets", type=int, default=3000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--replicas", default="1,2", help="replica counts to compare")
    parser.add_argument("--limiter-calls", type=int, default=2000)
    asyncio.run(main_async(parser.parse_args()))


if __name__ == "__main__":
    main()
