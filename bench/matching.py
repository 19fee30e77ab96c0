"""Benchmark of the in-memory matching engine on synthetic profiles.

    .venv/bin/python bench/matching.py [--sizes 10000,100000] [--queries 1000] [--seed 7]

Per index size: build time; `matches()` latency (top-10, mode balanced, explanations
included) p50/p99 over --queries random clusters; precision@10 on planted complementary
pairs for modes complementary and balanced, side by side with a plain TF-IDF cosine
baseline; upsert cost (one new profile made searchable), and compaction time after them.
Wall-clock figures depend on what else runs on the machine: they are printed with the
load average so a reader can judge.
"""

from __future__ import annotations

import argparse
import gc
import os
import random
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path

import numpy as np
import scipy.sparse as sp
from sklearn.feature_extraction.text import TfidfVectorizer

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.synthetic import Dataset, generate
from services.matching.documents import Profile
from services.matching.index import MatchIndex

PRECISION_DEFINITION = (
    "precision@10 = share of planted queries whose planted partner is among the 10 results;\n"
    "  each planted pair (A, B) gives two queries, A→B and B→A; results exclude the asking\n"
    "  cluster and its country (the engine's default; applied to the baseline too, and the\n"
    "  partner is always abroad). With one relevant item per query this is hit rate@10."
)


def percentile_ms(samples: Sequence[float], q: float) -> float:
    return float(np.percentile(np.asarray(samples), q) * 1000.0)


def hit_rate(planted: Sequence[tuple[str, str]], top10: Callable[[str], list[str]]) -> float:
    hits = 0
    for a, b in planted:
        hits += b in top10(a)
        hits += a in top10(b)
    return hits / (2 * len(planted))


class Baseline:
    """One TfidfVectorizer over all public text, cosine, top-10 (self and own country out)."""

    def __init__(self, profiles: Sequence[Profile]) -> None:
        self.ids = [p.id for p in profiles]
        self.row = {p.id: i for i, p in enumerate(profiles)}
        self.country = np.array([p.country_code for p in profiles])
        self.matrix = sp.csr_matrix(
            TfidfVectorizer(dtype=np.float32).fit_transform([p.all_text() for p in profiles])
        )

    def top10(self, cluster_id: str) -> list[str]:
        r = self.row[cluster_id]
        scores = (self.matrix @ self.matrix[r].T).toarray().ravel()
        scores[self.country == self.country[r]] = -1.0
        best = np.argpartition(-scores, 10)[:10]
        return [self.ids[i] for i in best]


def run_size(n: int, *, queries: int, seed: int, planted: int, upserts: int) -> dict[str, str]:
    t0 = time.perf_counter()
    data: Dataset = generate(n, seed=seed, planted_pairs=min(planted, n // 4))
    profiles = [Profile.from_event_data(d) for d in data.profiles]
    gen_s = time.perf_counter() - t0
    distinct = len({ph for p in profiles for f in ("offers", "needs") for ph in p.phrases(f)})

    gc.collect()
    index = MatchIndex()
    t0 = time.perf_counter()
    index.build(profiles)
    build_s = time.perf_counter() - t0

    rng = random.Random(seed)
    sample = [p.id for p in rng.sample(profiles, min(queries, n))]
    for cid in sample[:20]:  # warm caches (explanation phrase analysis, numpy paths)
        index.matches(cid)
    lat = []
    for cid in sample:
        t0 = time.perf_counter()
        index.matches(cid, limit=10)
        lat.append(time.perf_counter() - t0)

    def engine(mode: str) -> Callable[[str], list[str]]:
        return lambda cid: [
            m.cluster_id for m in index.matches(cid, mode=mode, limit=10, explain=False)
        ]

    p_comp = hit_rate(data.planted, engine("complementary"))
    p_bal = hit_rate(data.planted, engine("balanced"))
    t0 = time.perf_counter()
    baseline = Baseline(profiles)
    base_build = time.perf_counter() - t0
    p_base = hit_rate(data.planted, baseline.top10)

    # Upsert: brand-new profiles (fresh ids) and updates of existing ones; each must be
    # found by a query right after (checked, not timed).
    extra = generate(max(upserts, 4), seed=seed + 1, planted_pairs=0).profiles[:upserts]
    new_lat = []
    for d in extra:
        p = Profile.from_event_data(d)
        t0 = time.perf_counter()
        index.upsert(p)
        new_lat.append(time.perf_counter() - t0)
        assert p.id in index
    some = rng.sample(profiles, upserts)
    upd_lat = []
    for p in some:
        changed = replace(p, version=p.version + 1, needs=(*p.needs, "quantum sensing"))
        t0 = time.perf_counter()
        index.upsert(changed)
        upd_lat.append(time.perf_counter() - t0)
    probe = Profile.from_event_data(extra[0])
    assert any(index.get(probe.id) == probe for _ in [0])
    t0 = time.perf_counter()
    index.rebuild(refit=False)
    compact_s = time.perf_counter() - t0

    return {
        "profiles": f"{n:,}",
        "generate (s)": f"{gen_s:.1f}",
        "distinct offer/need phrases": f"{distinct:,}",
        "build (s)": f"{build_s:.1f}",
        "matches p50 (ms)": f"{percentile_ms(lat, 50):.1f}",
        "matches p99 (ms)": f"{percentile_ms(lat, 99):.1f}",
        "queries timed": f"{len(lat)}",
        "planted queries": f"{2 * len(data.planted)}",
        "precision@10 complementary": f"{p_comp:.3f}",
        "precision@10 balanced": f"{p_bal:.3f}",
        "precision@10 baseline TF-IDF": f"{p_base:.3f}",
        "complementary / baseline": f"{p_comp / p_base:.2f}x" if p_base else "inf",
        "baseline build (s)": f"{base_build:.1f}",
        "upsert new p50 (ms)": f"{percentile_ms(new_lat, 50):.2f}",
        "upsert new p99 (ms)": f"{percentile_ms(new_lat, 99):.2f}",
        "upsert update p50 (ms)": f"{percentile_ms(upd_lat, 50):.2f}",
        "upsert update p99 (ms)": f"{percentile_ms(upd_lat, 99):.2f}",
        "compaction after upserts (s)": f"{compact_s:.2f}",
    }


def main(argv: Sequence[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    ap.add_argument("--sizes", default="10000,100000", help="comma-separated index sizes")
    ap.add_argument("--queries", type=int, default=1000, help="timed matches() calls per size")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--planted", type=int, default=250, help="planted pairs per size")
    ap.add_argument("--upserts", type=int, default=200, help="timed upserts per kind")
    args = ap.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",") if s.strip()]

    print(
        f"matching bench: seed {args.seed}, {os.cpu_count()} CPUs, "
        f"load average before {os.getloadavg()[0]:.2f}"
    )
    print(PRECISION_DEFINITION)
    results = []
    for n in sizes:
        print(f"... {n:,} profiles", flush=True)
        results.append(
            run_size(
                n,
                queries=args.queries,
                seed=args.seed,
                planted=args.planted,
                upserts=args.upserts,
            )
        )
    keys = list(results[0])
    width = max(len(k) for k in keys)
    print()
    for k in keys:
        print(f"{k:<{width}}  " + "  ".join(f"{r[k]:>12}" for r in results))
    print(f"\nload average after {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
