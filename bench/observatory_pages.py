"""The observatory pages on a large registry: time to first byte of the heat table, the
tile maps and a region's page, each beside the API call behind it, through the gateway
with a person's session; and, with --screenshots, the README's pictures of the heat
table and the map taken by Debian's chromium.

    python bench/observatory_pages.py [--profiles 100000] [--samples 30]
    python bench/observatory_pages.py --profiles 4000 --samples 0 --screenshots docs/images

Profiles are written straight into PostgreSQL (bench/observatory.py's COPY loader),
with ecosystems drawn so that each country leans towards a few (as real registries
do: Tunisia and Morocco towards textiles and tourism, Japan and Korea towards
electronics...), so the colours have something to show.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import sys
import time
from datetime import date
from pathlib import Path

import asyncpg
import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.observatory import COLUMNS, rows
from bench.pages import load, pct, person_session, ttfb
from bench.processes import BenchPlatform, bench_platform
from deploy.local.servers import free_port
from shared.taxonomy import ECOSYSTEMS

# Where each country's clusters lean (three times as likely as any other ecosystem).
LEANS = {
    "JP": ["electronics", "mobility-transport-automotive", "energy-intensive"],
    "KR": ["electronics", "digital", "mobility-transport-automotive"],
    "IN": ["digital", "health", "textiles"],
    "BR": ["agri-food", "energy-renewables", "mobility-transport-automotive"],
    "TN": ["textiles", "tourism", "digital"],
    "MA": ["tourism", "agri-food", "energy-renewables", "textiles"],
    "DE": ["mobility-transport-automotive", "energy-intensive", "construction"],
    "FR": ["aerospace-defence", "health", "agri-food"],
    "IT": ["textiles", "agri-food", "tourism"],
    "ES": ["tourism", "agri-food", "energy-renewables"],
    "PL": ["construction", "retail", "energy-intensive"],
    "NL": ["digital", "agri-food", "retail"],
    "BE": ["health", "energy-intensive"],
    "SE": ["digital", "energy-renewables"],
    "AT": ["construction", "energy-renewables"],
    "PT": ["tourism", "textiles", "cultural-creative"],
}
ECO = list(ECOSYSTEMS)


def realistic(n: int, seed: int = 21) -> list[tuple[object, ...]]:
    rnd = random.Random(seed)
    out = []
    for row in rows(n):
        country = str(row[3])
        weights = [3 if e in LEANS.get(country, []) else 1 for e in ECO]
        picked: list[str] = []
        for _ in range(rnd.randint(1, 3)):
            e = rnd.choices(ECO, weights)[0]
            if e not in picked:
                picked.append(e)
        out.append((*row[:7], picked, *row[8:]))
    return out


async def seed(dsn: str, n: int) -> None:
    conn = await asyncpg.connect(dsn)
    try:
        await conn.copy_records_to_table(
            "clusters", schema_name="registry", records=realistic(n), columns=COLUMNS
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


def start(bench: BenchPlatform) -> str:
    gw_port = free_port()
    gw = f"http://127.0.0.1:{gw_port}"
    registry = bench.start_service("registry", "services.registry.main")
    web = bench.start_service("web", "services.web.main", {"GATEWAY_URL": gw, "PUBLIC_URL": gw})
    bench.start_service(
        "gateway",
        "services.gateway.main",
        {
            "REGISTRY_URL": registry,
            "WEB_URL": web,
            "PUBLIC_URL": gw,
            "RATE_PER_SECOND": "1000000",
            "RATE_BURST": "1000000",
            "UPSTREAM_TIMEOUT": "60",
        },
        port=gw_port,
    )
    return gw


CASES: list[tuple[str, str, bool]] = [
    ("heat table, clusters", "/observatory", True),
    ("  API behind it: counts by country", "/v1/observatory/counts?by=country", False),
    ("heat table, specialisation", "/observatory?measure=specialisation", True),
    ("  API: specialisation by country", "/v1/observatory/specialisation?by=country", False),
    ("tile maps, digital, regions of FR", "/observatory/map?ecosystem=digital&country=FR", True),
    ("region page, FR-ARA", "/observatory/regions/FR-ARA", True),
    ("  API: specialisation by region of FR", "/v1/observatory/specialisation?by=region&country=FR", False),
]  # fmt: skip


async def measure(gw: str, session: str, samples: int) -> None:
    print(f"\nload before measuring: {load()}")
    print(f"{'page':44} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8}")
    for label, path, is_page in CASES:
        cookies = {"cb_session": session} if is_page else {}
        headers = {} if is_page else {"authorization": f"Session {session}"}
        async with httpx.AsyncClient(
            base_url=gw, cookies=cookies, headers=headers, timeout=120
        ) as client:
            await ttfb(client, path, 3, 1)  # warm the pools
            xs = await ttfb(client, path, samples, 1)
        print(f"{label:44} {pct(xs, 50):8.1f} {pct(xs, 95):8.1f} {max(xs):8.1f}")
    print(f"load after measuring:  {load()}")
    print(f"cores: {os.cpu_count()}; {date.today()}")


async def screenshots(gw: str, session: str, folder: Path) -> None:
    from playwright.async_api import async_playwright

    async with async_playwright() as pw:
        browser = await pw.chromium.launch(
            executable_path=os.environ.get("CHROMIUM", "/usr/bin/chromium"),
            args=["--no-sandbox", "--disable-dev-shm-usage"],
        )
        ctx = await browser.new_context(viewport={"width": 1500, "height": 900})
        host = gw.split("//", 1)[1].split(":")[0]
        await ctx.add_cookies(
            [{"name": "cb_session", "value": session, "domain": host, "path": "/"}]
        )
        tab = await ctx.new_page()
        # The page scrolls a wide table sideways; the picture shows all of it at once.
        wide = "main { max-width: none; }"
        await tab.goto(f"{gw}/observatory?measure=specialisation")
        await tab.add_style_tag(content=wide)
        await tab.locator("main").screenshot(path=str(folder / "observatory-heat-table.png"))
        await tab.goto(f"{gw}/observatory/map?ecosystem=textiles&country=MA")
        # The maps alone: the same figures are in the tables below each on the page.
        await tab.add_style_tag(content=wide + " .map .table-wrap { display: none; }")
        await tab.locator("main").screenshot(path=str(folder / "observatory-map.png"))
        await browser.close()
    print(f"screenshots in {folder}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--profiles", type=int, default=100_000)
    ap.add_argument("--samples", type=int, default=30)
    ap.add_argument("--screenshots", type=Path, default=None)
    args = ap.parse_args()
    print(f"load at start: {load()}")
    with bench_platform(fast_db=True) as bench:
        dsn = bench.database_url.replace("postgresql+asyncpg://", "postgresql://")
        t0 = time.perf_counter()
        asyncio.run(seed(dsn, args.profiles))
        print(f"loaded {args.profiles:,} profiles in {time.perf_counter() - t0:.1f} s")
        gw = start(bench)
        session = asyncio.run(person_session(bench, gw))
        if args.samples:
            asyncio.run(measure(gw, session, args.samples))
        if args.screenshots is not None:
            args.screenshots.mkdir(parents=True, exist_ok=True)
            asyncio.run(screenshots(gw, session, args.screenshots))


if __name__ == "__main__":
    main()
