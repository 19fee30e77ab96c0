"""Webhook deliveries end to end: clusters created at the registry, their facts over
NATS to the gateway, fanned out and posted, signed, to a local receiver.

Prints deliveries per second and the delay from a create's answer to its delivery
(p50, p99), for one or more subscriptions. Everything runs on this machine
(PostgreSQL, NATS, registry, gateway and this process with the receiver).

    python bench/webhooks.py [--creates 1000] [--subscribers 1] [--concurrency 16]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
import time
from pathlib import Path

import aiohttp
import orjson
from aiohttp import web

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.gateway import payload
from bench.processes import TOKEN, bench_platform
from deploy.local.servers import free_port


class Receiver:
    def __init__(self) -> None:
        self.arrived: dict[tuple[int, str], float] = {}  # (subscriber, cluster id) -> when
        self.port = free_port()
        self.expected = 0
        self.all_in = asyncio.Event()

    async def take(self, request: web.Request) -> web.Response:
        body = orjson.loads(await request.read())
        who = int(request.match_info["who"])
        self.arrived.setdefault((who, body["data"]["id"]), time.perf_counter())
        if len(self.arrived) >= self.expected:
            self.all_in.set()
        return web.Response(text="ok")


async def measure(urls: dict[str, str], key: str, args: argparse.Namespace) -> None:
    receiver = Receiver()
    receiver.expected = args.creates * args.subscribers
    app = web.Application()
    app.router.add_post("/hook/{who}", receiver.take)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", receiver.port).start()
    gw = {"authorization": f"Bearer {key}", "content-type": "application/json"}
    async with aiohttp.ClientSession(headers=gw) as s:
        for who in range(args.subscribers):
            url = f"http://127.0.0.1:{receiver.port}/hook/{who}"
            body = {"url": url, "event_types": ["cluster.upserted"]}
            async with s.post(f"{urls['gateway']}/v1/webhooks", json=body) as r:
                assert r.status == 201, await r.text()
    direct = {"x-internal-token": TOKEN, "x-tenant": "jp", "x-scopes": "registry:write",
              "content-type": "application/json"}  # fmt: skip
    answered: dict[str, float] = {}
    counter = iter(range(args.creates))
    started = time.perf_counter()
    async with aiohttp.ClientSession(headers=direct) as s:

        async def creator() -> None:
            for i in counter:
                async with s.post(f"{urls['registry']}/v1/clusters", data=payload(i)) as r:
                    cid = (await r.json())["id"]
                answered[cid] = time.perf_counter()

        await asyncio.gather(*(creator() for _ in range(args.concurrency)))
    created = time.perf_counter() - started
    expected = receiver.expected
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(receiver.all_in.wait(), timeout=600)
    total = max(receiver.arrived.values()) - started
    delays = sorted((t - answered[cid]) * 1000 for (_, cid), t in receiver.arrived.items())
    await runner.cleanup()
    print(f"\n{args.creates} creates x {args.subscribers} subscriber(s) = {expected} deliveries")
    print(f"received:                         {len(receiver.arrived)}")
    print(f"creates took:                     {created:.2f} s ({args.creates / created:.0f}/s)")
    print(
        f"last delivery after:              {total:.2f} s ({len(delays) / total:.0f} deliveries/s)"
    )
    print(f"create answered -> delivered p50: {delays[len(delays) // 2]:.0f} ms")
    print(f"create answered -> delivered p99: {delays[int(len(delays) * 0.99)]:.0f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--creates", type=int, default=1000)
    parser.add_argument("--subscribers", type=int, default=1)
    parser.add_argument("--concurrency", type=int, default=16)
    args = parser.parse_args()
    with bench_platform(fast_db=False) as p:
        registry = p.start_service("registry", "services.registry.main", {})
        p.start_service(
            "gateway", "services.gateway.main",
            {"REGISTRY_URL": registry, "WEBHOOKS_ALLOW_PRIVATE": "true",
             "WEBHOOKS_ALLOW_HTTP": "true"},
        )  # fmt: skip
        key = p.api_key("jp", ["registry:read", "webhooks:manage"])
        asyncio.run(measure(p.urls, key, args))


if __name__ == "__main__":
    main()
