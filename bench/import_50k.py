"""Bulk import of 50,000 profiles through the gateway: rows per second and the registry's
peak memory, to show the import streams instead of holding the file.

    python bench/import_50k.py [--rows 50000] [--format jsonl|csv]
"""

from __future__ import annotations

import argparse
import csv
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
import orjson
import psutil

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.processes import bench_platform

ECOSYSTEMS = ["digital", "health", "agri-food", "energy-renewables", "textiles"]


def write_file(path: Path, rows: int, fmt: str) -> None:
    with path.open("w", newline="") as fh:
        writer = csv.writer(fh) if fmt == "csv" else None
        if writer:
            writer.writerow(["external_id", "name", "country", "description", "ecosystems",
                             "competences", "offers", "needs", "members_smes"])  # fmt: skip
        for i in range(rows):
            eco = ECOSYSTEMS[i % len(ECOSYSTEMS)]
            row = {
                "external_id": f"bench-{i}",
                "name": f"Cluster {i}",
                "country": "KR",
                "description": f"Cluster {i} of {eco} firms: research, pilots and export.",
                "ecosystems": [eco],
                "competences": [f"{eco} engineering", "quality assurance"],
                "offers": ["testing facilities"],
                "needs": ["export partners"],
                "members_smes": 10 + i % 90,
            }
            if writer:
                writer.writerow([row["external_id"], row["name"], row["country"],
                                 row["description"], ";".join(row["ecosystems"]),  # type: ignore[arg-type]
                                 ";".join(row["competences"]), ";".join(row["offers"]),  # type: ignore[arg-type]
                                 ";".join(row["needs"]), row["members_smes"]])  # type: ignore[arg-type]  # fmt: skip
            else:
                row["members"] = {"smes": row.pop("members_smes")}
                fh.write(orjson.dumps(row).decode() + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=50_000)
    parser.add_argument("--format", choices=["jsonl", "csv"], default="jsonl")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, bench_platform() as p:
        path = Path(tmp) / f"clusters.{args.format}"
        write_file(path, args.rows, args.format)
        size_mb = path.stat().st_size / 1e6
        registry = p.start_service("registry", "services.registry.main")
        gateway = p.start_service("gateway", "services.gateway.main", {"REGISTRY_URL": registry})
        key = p.api_key("kr", ["registry:read", "registry:write"])
        proc = psutil.Process(p.pid("registry"))
        base_rss = proc.memory_info().rss
        peak = base_rss
        done = threading.Event()

        def watch() -> None:
            nonlocal peak
            while not done.is_set():
                peak = max(peak, proc.memory_info().rss)
                time.sleep(0.05)

        watcher = threading.Thread(target=watch, daemon=True)
        watcher.start()

        def chunks() -> object:
            with path.open("rb") as fh:
                while block := fh.read(256 * 1024):
                    yield block

        results = []
        for attempt in ("first import", "re-import (same file)"):
            t0 = time.perf_counter()
            r = httpx.post(
                f"{gateway}/v1/clusters/import",
                content=chunks(),  # type: ignore[arg-type]
                headers={"authorization": f"Bearer {key}",
                         "content-type": "text/csv" if args.format == "csv" else "application/x-ndjson"},
                timeout=httpx.Timeout(900.0, connect=5.0),
            )  # fmt: skip
            seconds = time.perf_counter() - t0
            report = r.json()
            results.append((attempt, seconds, report))
        done.set()
        watcher.join()
    print(f"\n{args.rows} rows, {args.format}, {size_mb:.1f} MB file")
    print(
        f"{'':<24} {'seconds':>8} {'rows/s':>8} {'created':>8} {'updated':>8} {'unchanged':>9} {'refused':>8}"
    )
    for attempt, seconds, rep in results:
        print(f"{attempt:<24} {seconds:>8.1f} {args.rows / seconds:>8.0f} {rep['created']:>8} "
              f"{rep['updated']:>8} {rep['unchanged']:>9} {rep['refused']:>8}")  # fmt: skip
    print(f"registry RSS: {base_rss / 2**20:.0f} MiB before, peak {peak / 2**20:.0f} MiB during")


if __name__ == "__main__":
    main()
