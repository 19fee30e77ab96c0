"""Time to first byte of two pages a person waits for, on the real platform:

- the directory (signed in, 10,000 public profiles: the first page, a filtered search,
  and the second page by cursor);
- the organiser's grid of a 300-participant event (slots x tables, every cell named).

Every process runs on this machine (PostgreSQL, NATS, registry, events, web app,
gateway and this load generator), so the figures include the CPU they share. Beside
each page: the API call behind it, through the same gateway with the same session,
as the baseline the page's own work adds to. Goal: p95 <= 150 ms.

    python bench/pages.py [--profiles 10000] [--participants 300] [--requests 1200]
                          [--samples 200] [--concurrency 1,8]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import subprocess
import sys
import time
from pathlib import Path

import httpx
import orjson

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.processes import BenchPlatform, bench_platform
from deploy.local.servers import free_port
from services.gateway.bootstrap import invite_first_admin

AGENCY = [
    "registry:read", "registry:write", "matching:read", "matching:feedback",
    "events:read", "events:participate", "events:organise",
]  # fmt: skip
PASSWORD = "a long bench passphrase for the organiser"
WORDS = [
    "battery",
    "recycling",
    "hydrogen",
    "photonics",
    "robotics",
    "textiles",
    "agri-food",
    "logistics",
    "sensors",
    "composites",
    "semiconductors",
    "biotech",
    "tourism",
    "retail",
    "packaging",
    "ceramics",
    "aerospace",
]


def load() -> str:
    return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()


def profiles(n: int, seed: int = 0) -> bytes:
    rng = random.Random(seed)
    rows = []
    for i in range(n):
        topic = rng.sample(WORDS, 3)
        rows.append(
            orjson.dumps(
                {
                    "external_id": f"bench-{i}",
                    "name": f"{topic[0].title()} cluster {i}",
                    "country": "JP",
                    "city": rng.choice(["Osaka", "Tokyo", "Nagoya", "Fukuoka", "Sendai"]),
                    "description": f"Firms and labs in {', '.join(topic)}.",
                    "ecosystems": rng.sample(
                        ["digital", "energy-renewables", "health", "mobility-transport-automotive"],
                        2,
                    ),
                    "competences": [f"{topic[1]} engineering", f"{topic[2]} testing"],
                    "offers": [f"{topic[0]} pilot lines"],
                    "needs": [f"{topic[2]} partners"],
                }
            )
        )
    return b"\n".join(rows) + b"\n"


def start(bench: BenchPlatform, rate: int) -> str:
    gw_port = free_port()
    gw = f"http://127.0.0.1:{gw_port}"
    registry = bench.start_service("registry", "services.registry.main")
    events = bench.start_service("events", "services.events.main")
    web = bench.start_service("web", "services.web.main", {"GATEWAY_URL": gw, "PUBLIC_URL": gw})
    bench.start_service(
        "gateway",
        "services.gateway.main",
        {
            "REGISTRY_URL": registry,
            "EVENTS_URL": events,
            "WEB_URL": web,
            "PUBLIC_URL": gw,
            # A person's calls share one budget per person; the bench is one person.
            "RATE_PER_SECOND": str(rate),
            "RATE_BURST": str(rate),
            "UPSTREAM_TIMEOUT": "60",
        },
        port=gw_port,
    )
    return gw


async def seed(
    gw: str, key: str, n_profiles: int, n_participants: int, n_requests: int
) -> dict[str, str]:
    auth = {"authorization": f"Bearer {key}"}
    async with httpx.AsyncClient(base_url=gw, headers=auth, timeout=600) as c:
        started = time.perf_counter()
        r = await c.post(
            "/v1/clusters/import",
            content=profiles(n_profiles),
            headers={"content-type": "application/x-ndjson"},
        )
        assert r.status_code in (200, 201, 202), r.text
        report = r.json()
        while report.get("status") not in ("done", "finished", "completed", "failed"):
            await asyncio.sleep(0.5)
            report = (await c.get(f"/v1/imports/{report['id']}")).json()
        print(f"seeded {report.get('created')} profiles in {time.perf_counter() - started:.1f} s")
        ids: list[str] = []
        cursor = None
        while len(ids) < n_participants:
            params = {"limit": 200, **({"cursor": cursor} if cursor else {})}
            page = (await c.get("/v1/clusters", params=params)).json()
            ids += [x["id"] for x in page["items"]]
            cursor = page["next_cursor"]
        ids = ids[:n_participants]
        # The events service learns of clusters from the registry's stream.
        deadline = time.monotonic() + 300
        while (await c.get(f"/v1/events/clusters/{ids[-1]}")).status_code != 200:
            if time.monotonic() > deadline:
                raise RuntimeError("events never heard of the clusters")
            await asyncio.sleep(0.5)
        created = await c.post(
            "/v1/events",
            json={
                "title": "Bench brokerage day",
                "venue": "Osaka",
                "timezone": "Asia/Tokyo",
                "sessions": [
                    {"date": "2027-03-10", "start": "09:00", "end": "12:00"},
                    {"date": "2027-03-10", "start": "13:30", "end": "17:30"},
                ],
                "meeting_minutes": 20,
                "tables": 150,
                "request_deadline": "2027-03-08T18:00:00+09:00",
            },
        )
        assert created.status_code == 201, created.text
        ev = created.json()["id"]
        await c.post(f"/v1/events/{ev}/transitions", json={"status": "registration"})
        sem = asyncio.Semaphore(16)

        async def call(method: str, path: str, body: object = None) -> httpx.Response:
            async with sem:
                return await c.request(method, path, json=body)

        await asyncio.gather(
            *(call("POST", f"/v1/events/{ev}/participants", {"cluster_id": i}) for i in ids)
        )
        await c.post(f"/v1/events/{ev}/transitions", json={"status": "requests"})
        rng = random.Random(1)
        pairs: set[tuple[str, str]] = set()
        while len(pairs) < n_requests:
            a, b = rng.sample(ids, 2)
            if (b, a) not in pairs:
                pairs.add((a, b))
        sent = await asyncio.gather(
            *(
                call("POST", f"/v1/events/{ev}/requests", {"sender": a, "receiver": b})
                for a, b in pairs
            )
        )
        await asyncio.gather(
            *(
                call("POST", f"/v1/events/{ev}/requests/{r.json()['id']}/accept")
                for r in sent
                if r.status_code == 201
            )
        )
        await c.post(f"/v1/events/{ev}/transitions", json={"status": "scheduling"})
        r = await c.post(f"/v1/events/{ev}/schedules", json={"time_limit": 5})
        assert r.status_code == 201, r.text
        schedule = r.json()
        print(
            f"event: {n_participants} participants, {len(pairs)} accepted requests, "
            f"{schedule['placed']} meetings placed by {schedule['method']} "
            f"in {schedule['seconds']:.1f} s"
        )
        page = (await c.get("/v1/clusters", params={"limit": 20})).json()
    return {"event": ev, "schedule": schedule["id"], "cursor": page["next_cursor"]}


async def person_session(bench: BenchPlatform, gw: str) -> str:
    link = await asyncio.to_thread(
        invite_first_admin, bench.database_url, gw, "jp", "bench-admin@jp.example"
    )
    assert link, "the bench database already has people in jp"
    token = link.split("token=", 1)[1]
    async with httpx.AsyncClient(base_url=gw) as c:
        r = await c.post("/v1/auth/invitations/accept", json={"token": token, "password": PASSWORD})
        assert r.status_code == 200, r.text
        r = await c.post(
            "/v1/auth/sign-in", json={"email": "bench-admin@jp.example", "password": PASSWORD}
        )
        assert r.status_code == 201, r.text
        return str(r.json()["session_id"])


async def ttfb(client: httpx.AsyncClient, path: str, samples: int, concurrency: int) -> list[float]:
    """Milliseconds from sending the request to the first byte of the answer's head."""
    out: list[float] = []
    todo = iter(range(samples))

    async def worker() -> None:
        for _ in todo:
            started = time.perf_counter()
            async with client.stream("GET", path) as r:
                out.append((time.perf_counter() - started) * 1000)
                assert r.status_code == 200, (path, r.status_code)
                await r.aread()

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return out


def pct(xs: list[float], p: float) -> float:
    s = sorted(xs)
    return s[min(len(s) - 1, int(p / 100 * len(s)))]


async def measure(
    gw: str, session: str, ids: dict[str, str], samples: int, levels: list[int]
) -> None:
    cookies = {"cb_session": session}
    api = {"authorization": f"Session {session}"}
    ev, sch = ids["event"], ids["schedule"]
    cases: list[tuple[str, str, dict[str, str], dict[str, str]]] = [
        ("directory, first page", "/directory", cookies, {}),
        ("  API behind it: GET /v1/clusters?limit=20", "/v1/clusters?limit=20", {}, api),
        ("directory, search + filters", "/directory?q=battery&ecosystem=digital&country=JP", cookies, {}),
        ("  API: GET /v1/clusters?q=battery&ecosystem=digital", "/v1/clusters?limit=20&q=battery&ecosystem=digital&country=JP", {}, api),
        ("directory, page 2 (cursor)", f"/directory?cursor={ids['cursor']}", cookies, {}),
        ("organiser grid, 300 participants", f"/desk/events/{ev}/schedules/{sch}", cookies, {}),
        ("  API behind it: GET .../grid", f"/v1/events/{ev}/schedules/{sch}/grid", {}, api),
    ]  # fmt: skip
    print(f"\nload before measuring: {load()}")
    print(f"{'page':58} {'clients':>7} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8}")
    for level in levels:
        for label, path, cookie, headers in cases:
            async with httpx.AsyncClient(
                base_url=gw, cookies=cookie, headers=headers, timeout=60
            ) as client:
                await ttfb(client, path, min(20, samples), level)  # warm the pools
                xs = await ttfb(client, path, samples, level)
            print(f"{label:58} {level:>7} {pct(xs, 50):8.1f} {pct(xs, 95):8.1f} {max(xs):8.1f}")
    print(f"load after measuring:  {load()}")
    print(f"cores: {os.cpu_count()}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--profiles", type=int, default=10_000)
    ap.add_argument("--participants", type=int, default=300)
    ap.add_argument("--requests", type=int, default=1200)
    ap.add_argument("--samples", type=int, default=200)
    ap.add_argument("--concurrency", default="1,8")
    args = ap.parse_args()
    levels = [int(x) for x in args.concurrency.split(",")]
    print(f"load at start: {load()}")
    with bench_platform(fast_db=False) as bench:
        gw = start(bench, rate=1_000_000)
        key = bench.api_key("jp", AGENCY)
        ids = asyncio.run(seed(gw, key, args.profiles, args.participants, args.requests))
        session = asyncio.run(person_session(bench, gw))
        asyncio.run(measure(gw, session, ids, args.samples, levels))


if __name__ == "__main__":
    main()
