"""Independent checker of `clusterbridge schedule --json` output against its .dzn file.

Written from the data README's problem statement alone: it has its own reader for the
instance files and imports nothing of the scheduler, so a mistake shared by the
scheduler's reader, model and validator does not hide here.

    python bench/b2b_check.py INSTANCE.dzn OUTPUT.json [--fairness 2] [--mode hard]

Exit code 0 when the schedule is valid, 1 with one line per violation otherwise.
"""

from __future__ import annotations

import argparse
import json
import re
from itertools import pairwise
from pathlib import Path
from typing import Any


def _strip(text: str) -> str:
    return "\n".join(line.split("%", 1)[0] for line in text.splitlines())


def _int(text: str, name: str, default: int | None = None) -> int:
    found = re.search(rf"\b{name}\s*=\s*(-?\d+)\s*;", text)
    if found is None:
        if default is None:
            raise ValueError(f"no {name}")
        return default
    return int(found.group(1))


def _block(text: str, name: str) -> str | None:
    found = re.search(rf"\b{name}\s*=\s*(.*?);", text, re.DOTALL)
    return None if found is None else found.group(1)


def _sets(body: str | None) -> list[set[int]] | None:
    if body is None:
        return None
    out: list[set[int]] = []
    for inner in re.findall(r"\{([^}]*)\}", body):
        items: set[int] = set()
        for part in inner.split(","):
            part = part.strip()
            if not part:
                continue
            if ".." in part:
                low, high = part.split("..")
                items.update(range(int(low), int(high) + 1))
            else:
                items.add(int(part))
        out.append(items)
    return out


class Instance:
    def __init__(self, text: str) -> None:
        text = _strip(text)
        self.n_business = _int(text, "nBusiness")
        self.n_tables = _int(text, "nTables")
        self.n_slots = _int(text, "nTotalSlots")
        self.n_morning = _int(text, "nMorningSlots", self.n_slots)
        body = _block(text, "requested") or ""
        if "array2d" in body:
            numbers = [int(x) for x in re.findall(r"-?\d+", body.split("[", 1)[1])]
            rows = [numbers[i : i + 3] for i in range(0, len(numbers), 3)]
        else:
            rows = [[int(x) for x in re.findall(r"-?\d+", r)] for r in body.split("|")]
            rows = [r for r in rows if r]
        self.requested = [(r[0], r[1], r[2] if len(r) > 2 else 3) for r in rows]
        self.n_meetings = len(self.requested)
        self.forbidden = [
            {s for s in f if s != 0}
            for f in (_sets(_block(text, "forbidden")) or [set()] * self.n_business)
        ]
        fixed_body = _block(text, "fixed")
        self.fixed = (
            [int(x) for x in re.findall(r"-?\d+", fixed_body.split("[", 1)[-1])]
            if fixed_body is not None
            else [0] * self.n_meetings
        )
        self.precedences = _sets(_block(text, "precedences")) or [set()] * self.n_meetings


def breaks(slots: list[int]) -> int:
    ordered = sorted(slots)
    return sum(1 for x, y in pairwise(ordered) if y - x > 1)


def check(inst: Instance, out: dict[str, Any], fairness: int | None, mode: str) -> list[str]:
    errors: list[str] = []
    slot_of: dict[int, int] = {}
    table_slot: set[tuple[int, int]] = set()
    busy: dict[tuple[int, int], int] = {}
    per_slot = [0] * (inst.n_slots + 1)
    for row in out["meetings"]:
        m, s, t = row["meeting"], row["slot"], row["table"]
        if not 1 <= m <= inst.n_meetings:
            errors.append(f"meeting {m} does not exist")
            continue
        if m in slot_of:
            errors.append(f"meeting {m} placed twice")
        slot_of[m] = s
        p1, p2, session = inst.requested[m - 1]
        if {row["a"], row["b"]} != {p1, p2}:
            errors.append(f"meeting {m}: participants {row['a']}, {row['b']} != {p1}, {p2}")
        if not 1 <= s <= inst.n_slots:
            errors.append(f"meeting {m}: slot {s} out of range")
            continue
        if not 1 <= t <= inst.n_tables:
            errors.append(f"meeting {m}: table {t} out of range")
        if (s, t) in table_slot:
            errors.append(f"table {t} used twice in slot {s}")
        table_slot.add((s, t))
        per_slot[s] += 1
        if session == 1 and s > inst.n_morning:
            errors.append(f"meeting {m} is morning-only, placed in slot {s}")
        if session == 2 and s <= inst.n_morning:
            errors.append(f"meeting {m} is afternoon-only, placed in slot {s}")
        for p in (p1, p2):
            if s in inst.forbidden[p - 1]:
                errors.append(f"meeting {m}: slot {s} is forbidden for participant {p}")
            if (p, s) in busy:
                errors.append(f"participant {p} in meetings {busy[(p, s)]} and {m} in slot {s}")
            busy[(p, s)] = m
        if inst.fixed[m - 1] and inst.fixed[m - 1] != s:
            errors.append(f"meeting {m} is fixed to slot {inst.fixed[m - 1]}, placed in {s}")
    for s, k in enumerate(per_slot):
        if k > inst.n_tables:
            errors.append(f"slot {s} holds {k} meetings for {inst.n_tables} tables")
    for m, s in slot_of.items():
        for q in inst.precedences[m - 1]:
            if q in slot_of and slot_of[q] >= s:
                errors.append(f"meeting {q} must come before meeting {m} ({slot_of[q]} >= {s})")
    unplaced = set(out["unplaced"])
    if unplaced & set(slot_of):
        errors.append("a meeting is both placed and unplaced")
    if unplaced | set(slot_of) != set(range(1, inst.n_meetings + 1)):
        errors.append("placed and unplaced do not cover the requested meetings")
    missing = unplaced - {int(k) for k in out.get("reasons", {})}
    if missing:
        errors.append(f"unplaced meetings without a reason: {sorted(missing)[:5]}")
    per_person: dict[int, list[int]] = {p: [] for p in range(1, inst.n_business + 1)}
    for p, s in busy:
        per_person[p].append(s)
    counted = [breaks(slots) for slots in per_person.values()]
    total = sum(counted)
    spread = max(counted) - min(counted)
    if out["total_breaks"] != total:
        errors.append(f"total_breaks {out['total_breaks']} != recomputed {total}")
    if out.get("spread", spread) != spread:
        errors.append(f"spread {out['spread']} != recomputed {spread}")
    if fairness is not None:
        if out["fairness_met"] != (spread <= fairness):
            errors.append(f"fairness_met {out['fairness_met']} but spread {spread}, d {fairness}")
        if mode == "hard" and spread > fairness:
            errors.append(f"fairness is hard but the spread is {spread} > {fairness}")
    if out.get("bound") is not None and out["bound"] > total:
        errors.append(f"lower bound {out['bound']} above the breaks {total}")
    if out["placed"] != len(slot_of):
        errors.append(f"placed {out['placed']} != {len(slot_of)} meetings listed")
    return errors


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("dzn", type=Path)
    parser.add_argument("output", type=Path)
    parser.add_argument("--fairness", type=int, default=2)
    parser.add_argument("--no-fairness", action="store_true")
    parser.add_argument("--mode", choices=("hard", "preference"), default="hard")
    args = parser.parse_args(argv)
    inst = Instance(args.dzn.read_text("utf-8"))
    out = json.loads(args.output.read_text("utf-8"))
    errors = check(inst, out, None if args.no_fairness else args.fairness, args.mode)
    for line in errors:
        print(line)
    return 1 if errors else 0


if __name__ == "__main__":
    raise SystemExit(main())
