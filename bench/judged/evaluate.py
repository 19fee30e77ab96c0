"""The judged benchmark: hand-written profiles and hand-judged partners.

    .venv/bin/python -m bench.judged.evaluate [--split heldout|tune|all]

`profiles.json` holds 83 profiles written the way cluster managers write them (all 7
tenants, all 14 ecosystems; English, French, Portuguese, Spanish; terse and long;
distractors that share words with a query but have the same need, and clusters that
offer the right thing but from the asking cluster's own country). `queries.json` holds
35 queries (21 complementary, 14 similar), each with the partners a person judged
relevant, split alternately into a tuning half and a held-out half; the held-out half is
for reporting only, never for setting engine constants.

Per mode and split it prints R-precision, MRR and nDCG@10 (binary gains, top 10) for a
plain TF-IDF cosine over all public text (abroad only), the engine without the embedding
model and the engine with it, and how many results came from the asking cluster's own
country.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from services.matching.engine.documents import Profile
from services.matching.engine.embeddings import CachedEncoder, Encoder
from services.matching.engine.index import MatchIndex

HERE = Path(__file__).resolve().parent
NAMESPACE = uuid.UUID("6f1d7c52-8d0b-4a44-9b43-2f3d1c0b11a7")
MODES = ("complementary", "similar")
SPLITS = ("tune", "heldout", "all")
TOP = 10


@dataclass(frozen=True)
class Query:
    key: str
    mode: str
    relevant: tuple[str, ...]
    split: str


def cluster_id(key: str) -> str:
    return str(uuid.uuid5(NAMESPACE, key))


def event_data(raw: dict[str, object]) -> dict[str, object]:
    """A profile of the file as the registry's upsert event would carry it."""
    data = {k: v for k, v in raw.items() if k != "key"}
    data["id"] = cluster_id(str(raw["key"]))
    data["version"] = 1
    return data


def load_profiles() -> tuple[list[Profile], dict[str, str]]:
    raw = json.loads((HERE / "profiles.json").read_text(encoding="utf-8"))
    profiles = [Profile.from_event_data(event_data(r)) for r in raw]
    key_of = {cluster_id(str(r["key"])): str(r["key"]) for r in raw}
    return profiles, key_of


def load_queries() -> list[Query]:
    raw = json.loads((HERE / "queries.json").read_text(encoding="utf-8"))
    return [Query(r["query"], r["mode"], tuple(r["relevant"]), r["split"]) for r in raw]


def r_precision(ranked: Sequence[str], relevant: set[str]) -> float:
    r = len(relevant)
    return len(set(ranked[:r]) & relevant) / r


def reciprocal_rank(ranked: Sequence[str], relevant: set[str]) -> float:
    for i, k in enumerate(ranked[:TOP]):
        if k in relevant:
            return 1.0 / (i + 1)
    return 0.0


def ndcg(ranked: Sequence[str], relevant: set[str]) -> float:
    dcg = sum(1.0 / math.log2(i + 2) for i, k in enumerate(ranked[:TOP]) if k in relevant)
    ideal = sum(1.0 / math.log2(i + 2) for i in range(min(TOP, len(relevant))))
    return dcg / ideal


Ranker = Callable[[str, str], list[str]]  # (query key, mode) -> ranked keys


@dataclass(frozen=True)
class Scores:
    r_precision: float
    mrr: float
    ndcg: float
    own_country: int
    queries: int


def score(rank: Ranker, queries: Sequence[Query], country: dict[str, str]) -> Scores:
    rp, rr, nd, own = [], [], [], 0
    for q in queries:
        ranked = rank(q.key, q.mode)
        rel = set(q.relevant)
        rp.append(r_precision(ranked, rel))
        rr.append(reciprocal_rank(ranked, rel))
        nd.append(ndcg(ranked, rel))
        own += sum(1 for k in ranked if country[k] == country[q.key])
    n = max(len(queries), 1)
    return Scores(sum(rp) / n, sum(rr) / n, sum(nd) / n, own, len(queries))


def tfidf_ranker(profiles: Sequence[Profile], key_of: dict[str, str]) -> Ranker:
    keys = [key_of[p.id] for p in profiles]
    countries = np.array([p.country_code for p in profiles])
    matrix = TfidfVectorizer(sublinear_tf=True).fit_transform([p.all_text() for p in profiles])
    sims = (matrix @ matrix.T).toarray()
    row = {k: i for i, k in enumerate(keys)}

    def rank(key: str, mode: str) -> list[str]:
        i = row[key]
        s = sims[i].copy()
        s[i] = -1.0
        s[countries == countries[i]] = -1.0
        order = np.argsort(-s, kind="stable")[:TOP]
        return [keys[j] for j in order if s[j] > 0]

    return rank


def engine_ranker(index: MatchIndex, key_of: dict[str, str]) -> Ranker:
    def rank(key: str, mode: str) -> list[str]:
        found = index.matches(cluster_id(key), mode=mode, limit=TOP, explain=False)
        return [key_of[m.cluster_id] for m in found]

    return rank


def default_encoder() -> Encoder:
    from services.matching.engine.encoders import UseEncoder

    return CachedEncoder(UseEncoder())


@dataclass(frozen=True)
class Report:
    rows: dict[tuple[str, str, str], Scores]  # (split, mode, system) -> scores
    build_seconds: dict[str, float]


SYSTEMS = ("tf-idf cosine", "engine, no model", "engine + model")


def run(encoder: Encoder | None = None) -> Report:
    profiles, key_of = load_profiles()
    queries = load_queries()
    country = {key_of[p.id]: p.country_code for p in profiles}
    lexical = MatchIndex()
    t = time.perf_counter()
    lexical.build(profiles)
    build = {"engine, no model": time.perf_counter() - t}
    semantic = MatchIndex(encoder=encoder or default_encoder())
    t = time.perf_counter()
    semantic.build(profiles)
    build["engine + model"] = time.perf_counter() - t
    rankers = {
        SYSTEMS[0]: tfidf_ranker(profiles, key_of),
        SYSTEMS[1]: engine_ranker(lexical, key_of),
        SYSTEMS[2]: engine_ranker(semantic, key_of),
    }
    rows = {}
    for split in SPLITS:
        for mode in MODES:
            chosen = [q for q in queries if q.mode == mode and split in ("all", q.split)]
            for name, rank in rankers.items():
                rows[(split, mode, name)] = score(rank, chosen, country)
    return Report(rows, build)


def format_report(report: Report, splits: Sequence[str] = ("heldout",)) -> str:
    lines = []
    header = f"{'split':<8} {'mode':<14} {'n':>3} " + " ".join(f"{s:>26}" for s in SYSTEMS)
    lines.append(header)
    lines.append(
        f"{'':<8} {'':<14} {'':>3} " + " ".join(f"{'R-prec / MRR / nDCG@10':>26}" for _ in SYSTEMS)
    )
    for split in splits:
        for mode in MODES:
            cells = []
            n = 0
            for name in SYSTEMS:
                s = report.rows[(split, mode, name)]
                n = s.queries
                cells.append(f"{s.r_precision:.2f} / {s.mrr:.2f} / {s.ndcg:.2f}")
            lines.append(f"{split:<8} {mode:<14} {n:>3} " + " ".join(f"{c:>26}" for c in cells))
    own = {
        name: sum(report.rows[(s, m, name)].own_country for s in ("tune", "heldout") for m in MODES)
        for name in SYSTEMS
    }
    lines.append(
        "own-country results (all queries): "
        + ", ".join(f"{name} {count}" for name, count in own.items())
    )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--split", choices=SPLITS, default="heldout")
    parser.add_argument("--both", action="store_true", help="print tune and held-out")
    args = parser.parse_args()
    report = run()
    splits = ("tune", "heldout") if args.both else (args.split,)
    print(format_report(report, splits))


if __name__ == "__main__":
    main()
