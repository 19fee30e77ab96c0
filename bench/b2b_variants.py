"""Seeded variants of the B2B instances: forbidden slots, fixed meetings, precedences.

Each variant starts from one of the public instances (read from their folder, never
copied into the repository) and adds constraints of one kind at one density, the
kinds the `.dzn` format allows:

- forbidden: a share of the participants lose 1-3 random slots;
- fixed: a share of the meetings get a fixed slot drawn from their session (it may be
  one a participant cannot attend, or clash with another fixed meeting: conflicts the
  scheduler must report, not refuse);
- precedences: a share of the meetings must follow another meeting of one of their
  participants (acyclic: drawn along a random order of the meetings);
- mixed: a little of each.

    python bench/b2b_variants.py FOLDER OUT_FOLDER [--set tune|holdout|all]

writes the variants as .dzn files (for the side-by-side benchmark,
bench/b2b_cpsat_reference.py). The seeds of the "tune" set are the ones the scheduler
may be tuned on; "holdout" seeds are only for reporting.
"""

from __future__ import annotations

import argparse
import random
import re
from dataclasses import dataclass
from pathlib import Path

KINDS = {
    "forbidden": (0.15, 0.4),
    "fixed": (0.05, 0.15),
    "precedences": (0.1, 0.25),
    "mixed": (0.1,),
}
TUNE_SEEDS = (1,)
HOLDOUT_SEEDS = (101,)


@dataclass(frozen=True)
class Base:
    n_business: int
    n_tables: int
    n_slots: int
    n_morning: int
    requested: list[tuple[int, int, int]]
    forbidden: list[set[int]]


def read_base(text: str) -> Base:
    text = "\n".join(line.split("%", 1)[0] for line in text.splitlines())

    def integer(name: str) -> int:
        found = re.search(rf"\b{name}\s*=\s*(\d+)\s*;", text)
        assert found is not None, name
        return int(found.group(1))

    body = re.search(r"\brequested\s*=\s*\[(.*?)\]\s*;", text, re.DOTALL)
    assert body is not None
    rows = [[int(x) for x in re.findall(r"\d+", r)] for r in body.group(1).split("|")]
    requested = [(r[0], r[1], r[2]) for r in rows if r]
    forb = re.search(r"\bforbidden\s*=\s*\[(.*?)\]\s*;", text, re.DOTALL)
    n_business = integer("nBusiness")
    forbidden: list[set[int]] = [set() for _ in range(n_business)]
    if forb is not None:
        sets = re.findall(r"\{([^}]*)\}", forb.group(1))
        forbidden = [{int(x) for x in re.findall(r"\d+", s)} - {0} for s in sets]
    return Base(
        n_business, integer("nTables"), integer("nTotalSlots"), integer("nMorningSlots"),
        requested, forbidden,
    )  # fmt: skip


def variant(base: Base, kind: str, density: float, seed: int) -> str:
    """The .dzn text of one variant (participants, meetings, slots count from 1)."""
    rng = random.Random(f"{kind}/{density}/{seed}")
    n_meetings = len(base.requested)
    forbidden = [set(f) for f in base.forbidden]
    fixed = [0] * n_meetings
    precedences: list[set[int]] = [set() for _ in range(n_meetings)]
    share = dict.fromkeys(KINDS, 0.0)
    if kind == "mixed":
        share.update(forbidden=density, fixed=density / 2, precedences=density)
    else:
        share[kind] = density

    def session_slots(session: int) -> list[int]:
        if session == 1:
            return list(range(1, base.n_morning + 1))
        if session == 2:
            return list(range(base.n_morning + 1, base.n_slots + 1))
        return list(range(1, base.n_slots + 1))

    for p in range(base.n_business):
        if rng.random() < share["forbidden"]:
            forbidden[p] |= set(rng.sample(range(1, base.n_slots + 1), rng.randint(1, 3)))
    for m, (_, _, session) in enumerate(base.requested):
        if rng.random() < share["fixed"]:
            fixed[m] = rng.choice(session_slots(session))
    if share["precedences"]:
        order = list(range(n_meetings))
        rng.shuffle(order)
        rank = {m: i for i, m in enumerate(order)}
        of: dict[int, list[int]] = {}
        for m, (a, b, _) in enumerate(base.requested):
            of.setdefault(a, []).append(m)
            of.setdefault(b, []).append(m)
        for m, (a, b, _) in enumerate(base.requested):
            if rng.random() >= share["precedences"]:
                continue
            earlier = [q for q in of[a] + of[b] if rank[q] < rank[m]]
            if earlier:
                precedences[m].add(rng.choice(earlier) + 1)

    def sets(items: list[set[int]]) -> str:
        return ", ".join("{" + ", ".join(str(x) for x in sorted(s)) + "}" for s in items)

    rows = " | ".join(f"{a}, {b}, {s}" for a, b, s in base.requested)
    return (
        f"% variant of a B2B instance: {kind} at {density}, seed {seed}\n"
        f"nBusiness = {base.n_business};\nnMeetings = {n_meetings};\n"
        f"nTables = {base.n_tables};\nnTotalSlots = {base.n_slots};\n"
        f"nMorningSlots = {base.n_morning};\nrequested = [| {rows} |];\n"
        f"forbidden = [{sets(forbidden)}];\n"
        f"fixed = [{', '.join(str(x) for x in fixed)}];\n"
        f"precedences = [{sets(precedences)}];\n"
    )


def variants(folder: Path, which: str) -> list[tuple[str, str]]:
    """(name, dzn text) of every variant in the set: per instance, kind, density, seed."""
    seeds = {"tune": TUNE_SEEDS, "holdout": HOLDOUT_SEEDS, "all": TUNE_SEEDS + HOLDOUT_SEEDS}[which]
    out: list[tuple[str, str]] = []
    for path in sorted(folder.glob("*.dzn")):
        base = read_base(path.read_text("utf-8"))
        stem = path.name.split(".")[0]
        for kind, densities in KINDS.items():
            for density in densities:
                for seed in seeds:
                    name = f"{stem}.{kind}{round(100 * density):02d}.s{seed}"
                    out.append((name, variant(base, kind, density, seed)))
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("folder", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--set", choices=("tune", "holdout", "all"), default="all")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    found = variants(args.folder, args.set)
    for name, text in found:
        (args.out / f"{name}.dzn").write_text(text, encoding="utf-8")
    print(f"{len(found)} variants in {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
