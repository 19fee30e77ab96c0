"""Time to first byte of the partnership and training pages, on the real platform:

- the partnership directory (its first 200 partnerships, members named) and one
  partnership's page (partnership, strategy, versions and activities: four API calls);
- a training's page and the organiser's view of a training with 300 places (seats,
  waiting list in order, one attendance button per seat).

Every process runs on this machine (PostgreSQL, NATS, registry, events, web app,
gateway and this load generator), so the figures include the CPU they share. Beside
each page: the API call behind it, through the same gateway with the same session, as
the baseline the page's own work adds to.

    python bench/partnership_pages.py [--partnerships 300] [--places 300]
                                      [--samples 100] [--concurrency 1,4]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.pages import pct, person_session, start, ttfb
from bench.processes import BenchPlatform, bench_platform

AGENCY = ["registry:read", "registry:write", "events:read", "events:organise"]


def load() -> str:
    return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()


async def people_sessions(database_url: str, tenants: list[str]) -> list[str]:
    """Signed-in people written straight into the gateway's tables (the invitation path,
    a mail round-trip each, is not what is measured here)."""
    from sqlalchemy.ext.asyncio import create_async_engine
    from sqlalchemy.pool import NullPool

    from services.gateway.models import Person, PersonSession
    from services.gateway.sessions import digest
    from shared.db.engine import create_sessionmaker

    now = datetime.now(UTC)
    out: list[str] = []
    engine = create_async_engine(database_url, poolclass=NullPool)
    try:
        async with create_sessionmaker(engine)() as s, s.begin():
            for tenant in tenants:
                pid = uuid.uuid4()
                s.add(
                    Person(
                        id=pid, tenant=tenant, email=f"{pid.hex[:12]}@{tenant}.example",
                        name=f"Person {pid.hex[:6]}", roles=["cluster-manager"], clusters=[],
                        status="active", failed_sign_ins=0, created_at=now,
                    )
                )  # fmt: skip
                await s.flush()
                session_id = secrets.token_urlsafe(32)
                s.add(
                    PersonSession(
                        digest=digest(session_id), person_id=pid, created_at=now,
                        last_seen_at=now, expires_at=now + timedelta(hours=4),
                    )
                )  # fmt: skip
                out.append(session_id)
    finally:
        await engine.dispose()
    return out


async def seed(
    bench: BenchPlatform, gw: str, keys: dict[str, str], n_partnerships: int, n_places: int
) -> dict[str, str]:
    clients = {
        t: httpx.AsyncClient(base_url=gw, headers={"authorization": f"Bearer {k}"}, timeout=120)
        for t, k in keys.items()
    }
    sem = asyncio.Semaphore(8)
    try:

        async def post(tenant: str, path: str, body: object) -> dict[str, str]:
            async with sem:
                r = await clients[tenant].post(path, json=body)
            assert r.status_code == 201, r.text
            return dict(r.json())

        started = time.perf_counter()
        countries = {"jp": "JP", "eu": "DE", "br": "BR"}
        made = {
            t: await asyncio.gather(
                *(
                    post(t, "/v1/clusters", {"name": f"Bench {t} {i}", "country": countries[t]})
                    for i in range(n_partnerships)
                )
            )
            for t in countries
        }
        # A Brazilian lead: the jp admin who reads the pages speaks for a member, not the
        # lead (the lead's page also asks the matching service, which this bench leaves out).
        partnerships = await asyncio.gather(
            *(
                post(
                    "br",
                    "/v1/partnerships",
                    {
                        "name": f"Bench partnership {i}",
                        "field": "circular batteries",
                        "lead_cluster_id": made["br"][i]["id"],
                        "members": [made["jp"][i]["id"], made["eu"][i]["id"]],
                        "target_markets": ["US", "IN"],
                        "competences": ["battery recycling", "cell design"],
                        "strategy": "Year 1: a joint mission to India.\n" * 20,
                    },
                )
                for i in range(n_partnerships)
            )
        )
        print(f"seeded {len(partnerships)} partnerships in {time.perf_counter() - started:.1f} s")
        today = datetime.now(UTC).date()
        training = await post(
            "jp",
            "/v1/trainings",
            {
                "title": "Bench training",
                "venue": "Osaka",
                "timezone": "Asia/Tokyo",
                "sessions": [{"date": str(today + timedelta(days=30)), "start": "09:00", "end": "17:00"}],
                "capacity": n_places // 2,
            },
        )  # fmt: skip
        sessions = await people_sessions(
            bench.database_url, [("jp", "eu", "br", "kr")[i % 4] for i in range(n_places)]
        )

        async def register(session_id: str) -> None:
            async with sem, httpx.AsyncClient(base_url=gw, timeout=120) as c:
                r = await c.post(
                    f"/v1/trainings/{training['id']}/registrations",
                    json={"name": "Bench attendee"},
                    headers={"authorization": f"Session {session_id}"},
                )
                assert r.status_code == 201, r.text

        started = time.perf_counter()
        await asyncio.gather(*(register(s) for s in sessions))
        print(f"registered {n_places} people in {time.perf_counter() - started:.1f} s")
        return {"partnership": partnerships[0]["id"], "training": training["id"]}
    finally:
        for c in clients.values():
            await c.aclose()


async def measure(
    gw: str, session: str, ids: dict[str, str], samples: int, levels: list[int]
) -> None:
    cookies = {"cb_session": session}
    api = {"authorization": f"Session {session}"}
    ps, tr = ids["partnership"], ids["training"]
    cases: list[tuple[str, str, dict[str, str], dict[str, str]]] = [
        ("partnership directory (200 shown)", "/partnerships", cookies, {}),
        ("  API behind it: GET /v1/partnerships?limit=200", "/v1/partnerships?limit=200", {}, api),
        ("a partnership's page (4 API calls)", f"/partnerships/{ps}", cookies, {}),
        ("  API: GET /v1/partnerships/{id}", f"/v1/partnerships/{ps}", {}, api),
        ("a training's page", f"/trainings/{tr}", cookies, {}),
        ("  API: GET /v1/trainings/{id}", f"/v1/trainings/{tr}", {}, api),
        ("organiser's view, 300 places", f"/trainings/{tr}/organise", cookies, {}),
        ("  API: GET .../registrations", f"/v1/trainings/{tr}/registrations", {}, api),
    ]  # fmt: skip
    print(f"\nload before measuring: {load()}")
    print(f"{'page':52} {'clients':>7} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8}")
    for level in levels:
        for label, path, cookie, headers in cases:
            async with httpx.AsyncClient(
                base_url=gw, cookies=cookie, headers=headers, timeout=60
            ) as client:
                await ttfb(client, path, min(10, samples), level)  # warm the pools
                xs = await ttfb(client, path, samples, level)
            print(f"{label:52} {level:>7} {pct(xs, 50):8.1f} {pct(xs, 95):8.1f} {max(xs):8.1f}")
    print(f"load after measuring:  {load()}")
    print(f"cores: {os.cpu_count()}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--partnerships", type=int, default=300)
    ap.add_argument("--places", type=int, default=300)
    ap.add_argument("--samples", type=int, default=100)
    ap.add_argument("--concurrency", default="1,4")
    args = ap.parse_args()
    levels = [int(x) for x in args.concurrency.split(",")]
    print(f"load at start: {load()}")
    with bench_platform(fast_db=False) as bench:
        gw = start(bench, rate=1_000_000)
        # The reader first: jp's first admin is invited only while jp has nobody.
        session = asyncio.run(person_session(bench, gw))
        keys = {t: bench.api_key(t, AGENCY) for t in ("jp", "eu", "br")}
        ids = asyncio.run(seed(bench, gw, keys, args.partnerships, args.places))
        asyncio.run(measure(gw, session, ids, args.samples, levels))


if __name__ == "__main__":
    main()
