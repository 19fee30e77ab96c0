"""Training registrations under contention: many people registering at once for one
training (every registration takes the training's queue lock), side by side with the
same number registering for as many trainings (the lock never contended), through the
gateway; and how long a certificate of attendance takes to make.

Everything runs on this machine as separate processes (PostgreSQL, NATS, events,
gateway, and this load generator), so the figures include the CPU they share.

    python bench/trainings.py [--people 400] [--capacity 100] [--concurrency 50]
"""

from __future__ import annotations

import argparse
import asyncio
import secrets
import statistics
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.processes import bench_platform
from services.events.certificates import certificate_pdf
from services.events.models import Training, TrainingRegistration
from services.events.settings import EventsSettings
from services.gateway.models import Person, PersonSession
from services.gateway.sessions import digest

TENANTS = ("eu", "jp", "br", "kr", "in", "tn", "ma")


async def make_people(database_url: str, n: int) -> list[str]:
    """Signed-in people straight in the gateway's tables (session ids)."""
    from sqlalchemy.ext.asyncio import create_async_engine

    from shared.db.engine import create_sessionmaker

    now = datetime.now(UTC)
    sessions: list[str] = []
    engine = create_async_engine(database_url)
    try:
        async with create_sessionmaker(engine)() as s, s.begin():
            for i in range(n):
                pid = uuid.uuid4()
                s.add(
                    Person(
                        id=pid, tenant=TENANTS[i % len(TENANTS)], email=f"{pid.hex}@bench.example",
                        name=f"Bench {i}", roles=["organiser"], clusters=[], status="active",
                        failed_sign_ins=0, created_at=now,
                    )
                )  # fmt: skip
                await s.flush()
                sid = secrets.token_urlsafe(32)
                s.add(
                    PersonSession(
                        digest=digest(sid), person_id=pid, created_at=now, last_seen_at=now,
                        expires_at=now + timedelta(hours=4),
                    )
                )  # fmt: skip
                sessions.append(sid)
    finally:
        await engine.dispose()
    return sessions


def training_body(capacity: int) -> dict[str, object]:
    return {
        "title": f"Bench training {uuid.uuid4().hex[:6]}",
        "online": True,
        "timezone": "Europe/Brussels",
        "sessions": [{"date": "2030-05-06", "start": "09:00", "end": "17:00"}],
        "capacity": capacity,
    }


async def new_trainings(gw: str, key: str, n: int, capacity: int) -> list[str]:
    async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {key}"}) as s:
        ids = []
        for _ in range(n):
            async with s.post(f"{gw}/v1/trainings", json=training_body(capacity)) as r:
                assert r.status == 201, await r.text()
                ids.append((await r.json())["id"])
        return ids


async def register_all(
    gw: str, sessions: list[str], training_of: list[str], concurrency: int
) -> tuple[float, list[float], dict[str, int]]:
    latencies: list[float] = []
    outcomes: dict[str, int] = {}
    jobs = iter(range(len(sessions)))
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as http:

        async def worker() -> None:
            for i in jobs:
                t0 = time.perf_counter()
                async with http.post(
                    f"{gw}/v1/trainings/{training_of[i]}/registrations",
                    json={"name": f"Bench person {i}"},
                    headers={"Authorization": f"Session {sessions[i]}"},
                ) as r:
                    body = await r.json()
                latencies.append((time.perf_counter() - t0) * 1000)
                key = (
                    body.get("status", f"http {r.status}")
                    if r.status == 201
                    else f"http {r.status}"
                )
                outcomes[key] = outcomes.get(key, 0) + 1

        start = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return time.perf_counter() - start, latencies, outcomes


def pct(xs: list[float], p: float) -> float:
    ys = sorted(xs)
    return ys[min(len(ys) - 1, int(p / 100 * len(ys)))]


def certificate_ms(n: int) -> float:
    training = Training(
        id=uuid.uuid4(), tenant="eu", title="Cluster management excellence, level 2",
        description="", venue="Brussels", online=False, timezone="Europe/Brussels",
        sessions=[{"date": "2030-05-06", "start": "09:00", "end": "17:00"}], capacity=20,
        version=1,
    )  # fmt: skip
    row = TrainingRegistration(id=uuid.uuid4(), training_id=training.id, name="Zoë Ångström-Łukasz")
    font = EventsSettings.model_fields["certificate_font"].default
    t0 = time.perf_counter()
    for _ in range(n):
        certificate_pdf(training, row, "the EU agency", font)
    return (time.perf_counter() - t0) * 1000 / n


async def measure(args: argparse.Namespace, gw: str, key: str, database_url: str) -> None:
    sessions = await make_people(database_url, 2 * args.people)
    one = await new_trainings(gw, key, 1, args.capacity)
    contended = await register_all(gw, sessions[: args.people], one * args.people, args.concurrency)
    spread = await new_trainings(gw, key, args.people, args.capacity)
    free = await register_all(gw, sessions[args.people :], spread, args.concurrency)
    print(f"\n{args.people} registrations, {args.concurrency} concurrent, capacity {args.capacity}")
    print(f"{'':<38} {'per s':>7} {'p50 ms':>8} {'p99 ms':>8} {'mean ms':>8}  outcomes")
    for label, (secs, lat, outcomes) in (
        ("one training (queue lock contended)", contended),
        ("one training each (lock uncontended)", free),
    ):
        print(
            f"{label:<38} {len(lat) / secs:>7.0f} {pct(lat, 50):>8.1f} {pct(lat, 99):>8.1f} "
            f"{statistics.fmean(lat):>8.1f}  {dict(sorted(outcomes.items()))}"
        )
    ok = contended[2].get("registered") == args.capacity
    print(f"seats taken in the contended training: {contended[2].get('registered')} "
          f"of {args.capacity} ({'exact' if ok else 'WRONG'})")  # fmt: skip
    print(f"certificate of attendance (PDF, embedded font): {certificate_ms(50):.1f} ms each")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--people", type=int, default=400)
    ap.add_argument("--capacity", type=int, default=100)
    ap.add_argument("--concurrency", type=int, default=50)
    ap.add_argument("--fast-db", action="store_true", help="PostgreSQL without fsync")
    args = ap.parse_args()
    with bench_platform(fast_db=args.fast_db) as p:
        events = p.start_service("events", "services.events.main", {"OUTBOX_POLL_SECONDS": "0.5"})
        p.start_service("gateway", "services.gateway.main", {"EVENTS_URL": events})
        key = p.api_key("eu", ["events:read", "events:organise"])
        asyncio.run(measure(args, p.urls["gateway"], key, p.database_url))


if __name__ == "__main__":
    main()
