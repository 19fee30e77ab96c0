"""Observatory answer times at 100,000 profiles, through the gateway: p50 / p95 of each
table, with the covering index of migration 0003 and, side by side, without it.

    python bench/observatory.py [--profiles 100000] [--runs 20]

Profiles are written straight into PostgreSQL (COPY) to keep the set-up short: the
bench measures reading, not writing. About 70 % carry an ISO 3166-2 region code, 30 %
a label (a third of those expired), one to three ecosystems each.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import sys
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import asyncpg
import httpx
import pycountry

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.processes import bench_platform
from shared.taxonomy import ECOSYSTEMS

TENANT_COUNTRIES = {
    "eu": ["DE", "FR", "IT", "ES", "PL", "NL", "BE", "SE", "AT", "PT"],
    "jp": ["JP"], "in": ["IN"], "kr": ["KR"], "br": ["BR"], "tn": ["TN"], "ma": ["MA"],
}  # fmt: skip
WORDS = ["battery", "cell", "design", "pilot", "line", "export", "partners", "sensors", "logistics", "textiles", "recycling", "hydrogen", "software", "robotics", "testing", "food", "packaging", "health", "devices"]  # fmt: skip
CALLS: list[tuple[str, str, dict[str, str | int]]] = [
    ("counts by country", "/v1/observatory/counts", {"by": "country"}),
    ("counts by region", "/v1/observatory/counts", {"by": "region"}),
    ("counts by region, csv", "/v1/observatory/counts", {"by": "region", "format": "csv"}),
    ("counts by region, one ecosystem", "/v1/observatory/counts",
     {"by": "region", "ecosystem": "digital"}),
    ("specialisation by region", "/v1/observatory/specialisation", {"by": "region"}),
    ("specialisation by country, SMEs", "/v1/observatory/specialisation",
     {"by": "country", "measure": "smes"}),
    ("trends, 24 months", "/v1/observatory/trends", {"months": 24}),
]  # fmt: skip


def regions_of(country: str) -> list[str]:
    subs = [s for s in pycountry.subdivisions.get(country_code=country) or []  # type: ignore[no-untyped-call]
            if getattr(s, "parent_code", None) is None]  # fmt: skip
    return sorted(s.code for s in subs)[:25]


def rows(n: int, seed: int = 13) -> list[tuple[object, ...]]:
    rnd = random.Random(seed)
    today = datetime.now(UTC).date()
    pairs = [(t, c) for t, cs in TENANT_COUNTRIES.items() for c in cs]
    codes = {c: regions_of(c) for _, c in pairs}
    ecos = list(ECOSYSTEMS)
    out: list[tuple[object, ...]] = []
    for i in range(n):
        tenant, country = rnd.choice(pairs)
        region = rnd.choice(codes[country]) if codes[country] and rnd.random() < 0.7 else None
        level, until = "none", None
        if rnd.random() < 0.3:
            level = rnd.choice(["bronze", "bronze", "silver", "gold"])
            until = today + timedelta(days=rnd.randint(-365, 730))
        created = datetime.now(UTC) - timedelta(days=rnd.randint(0, 1500))
        text = " ".join(rnd.choices(WORDS, k=60))
        out.append((
            uuid.uuid4(), tenant, f"Bench cluster {i}", country, region, text, ["en"],
            rnd.sample(ecos, rnd.randint(1, 3)), ["C"], rnd.choices(WORDS, k=4),
            rnd.choices(WORDS, k=3), rnd.choices(WORDS, k=3), rnd.choices(WORDS, k=3), [],
            rnd.randint(0, 300), rnd.randint(0, 30), rnd.randint(0, 20), rnd.randint(0, 10),
            level, until, False, 1, created, created,
        ))  # fmt: skip
    return out


COLUMNS = [
    "id", "tenant", "name", "country", "region_code", "description", "languages",
    "ecosystems", "nace_codes", "competences", "technologies", "offers", "needs",
    "target_countries", "members_smes", "members_large_firms", "members_research_education",
    "members_other", "label_level", "label_valid_until", "verified", "version", "created_at",
    "updated_at",
]  # fmt: skip


async def load(dsn: str, n: int) -> None:
    conn = await asyncpg.connect(dsn)
    try:
        records = rows(n)
        await conn.copy_records_to_table(
            "clusters", schema_name="registry", records=records, columns=COLUMNS
        )
        await conn.execute(
            "INSERT INTO registry.label_awards (id, cluster_id, tenant, level, valid_until, "
            "recorded_by, recorded_at) SELECT gen_random_uuid(), id, tenant, label_level, "
            "label_valid_until, 'bench', created_at FROM registry.clusters "
            "WHERE label_level <> 'none'"
        )
        await conn.execute("VACUUM ANALYZE registry.clusters")
        await conn.execute("VACUUM ANALYZE registry.label_awards")
    finally:
        await conn.close()


def sql_alone() -> dict[str, tuple[str, list[object]]]:
    """The queries behind the HTTP answers, to show how much of an answer is SQL."""
    from services.registry import repository as r

    on = datetime.now(UTC).date()
    counts = r._COUNTS.replace(":on", "$1")
    return {
        "counts by country": (counts.format(area="c.country", current=r._CURRENT.replace(":on", "$1"), filters=""), [on]),
        "counts by region": (counts.format(area="c.region_code", current=r._CURRENT.replace(":on", "$1"), filters=""), [on]),
        "specialisation by region": (r._SPECIALISATION.format(area="c.region_code", weight="1", filters=""), []),
    }  # fmt: skip


async def time_sql(dsn: str, runs: int) -> dict[str, float]:
    conn = await asyncpg.connect(dsn)
    out = {}
    try:
        for name, (sql, args) in sql_alone().items():
            times = []
            for i in range(runs + 2):
                t0 = time.perf_counter()
                await conn.fetch(sql, *args)
                if i >= 2:
                    times.append((time.perf_counter() - t0) * 1000)
            out[name] = statistics.median(times)
    finally:
        await conn.close()
    return out


async def execute(dsn: str, sql: str) -> None:
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


def measure(gw: str, key: str, runs: int) -> dict[str, tuple[float, float, int]]:
    out = {}
    with httpx.Client(base_url=gw, headers={"authorization": f"Bearer {key}"}, timeout=60) as c:
        for name, path, params in CALLS:
            times = []
            for i in range(runs + 2):
                t0 = time.perf_counter()
                r = c.get(path, params=params)
                elapsed = (time.perf_counter() - t0) * 1000
                r.raise_for_status()
                if i >= 2:  # two warm-ups: connections, plans, caches
                    times.append(elapsed)
            times.sort()
            p95 = times[min(len(times) - 1, round(0.95 * (len(times) - 1)))]
            out[name] = (statistics.median(times), p95, len(r.content))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--profiles", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()
    with bench_platform(fast_db=True) as p:
        dsn = p.database_url.replace("postgresql+asyncpg://", "postgresql://")
        t0 = time.perf_counter()
        asyncio.run(load(dsn, args.profiles))
        print(f"loaded {args.profiles:,} profiles in {time.perf_counter() - t0:.1f} s")
        registry = p.start_service("registry", "services.registry.main")
        gateway = p.start_service("gateway", "services.gateway.main", {"REGISTRY_URL": registry})
        key = p.api_key("br", ["registry:read"])
        with_index = measure(gateway, key, args.runs)
        sql_index = asyncio.run(time_sql(dsn, args.runs))
        asyncio.run(execute(dsn, "DROP INDEX registry.ix_registry_clusters_observatory"))
        without = measure(gateway, key, args.runs)
        sql_plain = asyncio.run(time_sql(dsn, args.runs))
    load_avg = os.getloadavg()
    print(f"\n{args.profiles:,} profiles, {args.runs} runs each, through the gateway; "
          f"load average {load_avg[0]:.2f} {load_avg[1]:.2f} {load_avg[2]:.2f} "
          f"on {os.cpu_count()} CPUs; {date.today()}")  # fmt: skip
    print(f"{'answer':34} {'p50 ms':>8} {'p95 ms':>8} {'bytes':>8} | "
          f"{'no index p50':>12} {'p95':>8}")  # fmt: skip
    for name, _, _ in CALLS:
        a, b = with_index[name], without[name]
        print(f"{name:34} {a[0]:8.1f} {a[1]:8.1f} {a[2]:8d} | {b[0]:12.1f} {b[1]:8.1f}")
    print("\nSQL alone (asyncpg, same database), p50 ms:   with index   without")
    for name in sql_index:
        print(f"{name:34} {sql_index[name]:22.1f} {sql_plain[name]:9.1f}")


if __name__ == "__main__":
    main()
