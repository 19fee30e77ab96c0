"""Side by side on the B2B variants: the scheduler against a plain CP-SAT model.

The reference is the model one writes first from the problem statement: a Boolean
per (meeting, allowed slot), at most one slot per meeting, one meeting per participant
and slot, at most nTables per slot, precedences, breaks as "a run of busy slots ends
and a later one begins", fairness hard (max - min breaks <= d), one weighted objective
(placed meetings first, then breaks), CP-SAT with 2 workers. It reads the files with
the independent checker's reader and shares no code with the scheduler.

    python bench/b2b_cpsat_reference.py FOLDER [--set holdout] [--time-limit 10]
                                        [--only SUBSTRING] [--limit N] [--every K [--offset I]]

Both get the same wall time limit: the scheduler as the whole command
(`clusterbridge schedule --dzn FILE --json`), the reference as its solve call (model
building excluded, which favours the reference). Every output goes through the
independent checker. Prints valid, placed, breaks, spread and seconds for both.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from ortools.sat.python import cp_model

from bench.b2b import command
from bench.b2b_check import Instance, breaks, check
from bench.b2b_variants import variants


def reference(inst: Instance, fairness: int, time_limit: float) -> dict[str, Any]:
    """Solve with the plain model; the output in the command's JSON shape."""
    model = cp_model.CpModel()
    n_slots = inst.n_slots
    slots = range(1, n_slots + 1)
    x: dict[tuple[int, int], cp_model.IntVar] = {}
    for m, (p1, p2, session) in enumerate(inst.requested, start=1):
        for s in slots:
            if (session == 1 and s > inst.n_morning) or (session == 2 and s <= inst.n_morning):
                continue
            if s in inst.forbidden[p1 - 1] or s in inst.forbidden[p2 - 1]:
                continue
            if inst.fixed[m - 1] and s != inst.fixed[m - 1]:
                continue
            x[(m, s)] = model.new_bool_var(f"x{m}_{s}")
    by_meeting: dict[int, list[tuple[int, cp_model.IntVar]]] = {}
    for (m, s), v in x.items():
        by_meeting.setdefault(m, []).append((s, v))
    for options in by_meeting.values():
        model.add_at_most_one(v for _, v in options)
    for s in slots:
        model.add(sum(v for (m, t), v in x.items() if t == s) <= inst.n_tables)
    for m in range(1, inst.n_meetings + 1):
        for q in inst.precedences[m - 1]:
            for s, v in by_meeting.get(m, []):
                late = [w for t, w in by_meeting.get(q, []) if t >= s]
                if late:
                    model.add(v + sum(late) <= 1)
    total_breaks = []
    per_person = []
    for p in range(1, inst.n_business + 1):
        busy = []
        for s in slots:
            terms = [
                x[(m, s)]
                for m, (p1, p2, _) in enumerate(inst.requested, start=1)
                if p in (p1, p2) and (m, s) in x
            ]
            b = model.new_bool_var(f"busy{p}_{s}")
            model.add(sum(terms) == b)
            busy.append(b)
        later = [model.new_bool_var(f"later{p}_{s}") for s in slots]
        for i in range(n_slots - 1, -1, -1):
            model.add_max_equality(
                later[i], [busy[i], *([later[i + 1]] if i + 1 < n_slots else [])]
            )
        ends = []
        for i in range(n_slots - 2):
            e = model.new_bool_var(f"end{p}_{i}")
            # A run ends at i (busy, idle at i + 1) and a later meeting follows.
            model.add_bool_and([busy[i], ~busy[i + 1], later[i + 2]]).only_enforce_if(e)
            model.add_bool_or([~busy[i], busy[i + 1], ~later[i + 2]]).only_enforce_if(~e)
            ends.append(e)
        count = sum(ends)
        per_person.append(count)
        total_breaks.extend(ends)
    hi = model.new_int_var(0, n_slots, "hi")
    lo = model.new_int_var(0, n_slots, "lo")
    for count in per_person:
        model.add(count <= hi)
        model.add(count >= lo)
    model.add(hi - lo <= fairness)
    big = len(total_breaks) + 1
    model.maximize(big * sum(x.values()) - sum(total_breaks))
    solver = cp_model.CpSolver()
    solver.parameters.max_time_in_seconds = time_limit
    solver.parameters.num_workers = 2
    started = time.monotonic()
    status = solver.solve(model)
    seconds = time.monotonic() - started
    placed = []
    if status in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        for (m, s), v in x.items():
            if solver.boolean_value(v):
                placed.append((m, s))
    used: dict[int, int] = {}
    rows = []
    for m, s in sorted(placed, key=lambda ms: ms[1]):
        used[s] = used.get(s, 0) + 1
        p1, p2, _ = inst.requested[m - 1]
        rows.append({"meeting": m, "a": p1, "b": p2, "slot": s, "table": used[s]})
    unplaced = sorted(set(range(1, inst.n_meetings + 1)) - {m for m, _ in placed})
    per: dict[int, list[int]] = {p: [] for p in range(1, inst.n_business + 1)}
    for row in rows:
        per[row["a"]].append(row["slot"])
        per[row["b"]].append(row["slot"])
    counted = [breaks(v) for v in per.values()]
    spread = max(counted) - min(counted)
    return {
        "meetings": rows,
        "unplaced": unplaced,
        "reasons": {str(m): "not placed by the reference" for m in unplaced},
        "total_breaks": sum(counted),
        "bound": None,
        "placed": len(rows),
        "spread": spread,
        "fairness_met": spread <= fairness,
        "seconds": seconds,
        "status": solver.status_name(status),
    }


def ours(path: Path, fairness: int, time_limit: float) -> tuple[dict[str, Any] | None, float, str]:
    started = time.monotonic()
    run = subprocess.run(
        [*command(), "--dzn", str(path), "--json", "--time-limit", str(time_limit),
         "--fairness", str(fairness)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    wall = time.monotonic() - started
    if run.returncode != 0:
        return None, wall, f"exit {run.returncode}: {run.stderr.strip()[:60]}"
    return json.loads(run.stdout), wall, ""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("folder", nargs="?", default="../shared/data/b2b", type=Path)
    parser.add_argument("--set", choices=("tune", "holdout", "all"), default="holdout")
    parser.add_argument("--time-limit", type=float, default=10.0)
    parser.add_argument("--fairness", type=int, default=2)
    parser.add_argument("--only", default=None, help="run variants whose name has this")
    parser.add_argument("--limit", type=int, default=None, help="at most this many variants")
    parser.add_argument(
        "--every", type=int, default=1, help="every k-th variant: a sample over all instances"
    )
    parser.add_argument("--offset", type=int, default=0, help="with --every: start at this one")
    parser.add_argument("--no-reference", action="store_true", help="the scheduler only")
    args = parser.parse_args(argv)
    found = [v for v in variants(args.folder, args.set) if not args.only or args.only in v[0]]
    found = found[max(0, args.offset) :: max(1, args.every)]
    found = found[: args.limit] if args.limit else found
    print(f"{len(found)} variants ({args.set}), time limit {args.time_limit} s, d = "
          f"{args.fairness} hard; load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}")  # fmt: skip
    print(f"{'variant':<34}{'ours: ok placed breaks spread s':>34}   {'reference: ok placed breaks spread s':>38}")  # fmt: skip
    tally = {"n": 0, "valid": 0, "ref_valid": 0, "placed_ge": 0, "placed_gt": 0,
             "same_placed": 0, "breaks_le": 0, "breaks_lt": 0, "optimal": 0}  # fmt: skip
    worse: list[str] = []
    with tempfile.TemporaryDirectory() as tmp:
        for name, text in found:
            path = Path(tmp) / f"{name}.dzn"
            path.write_text(text, encoding="utf-8")
            inst = Instance(text)
            out, wall, error = ours(path, args.fairness, args.time_limit)
            errors = [error] if out is None else check(inst, out, args.fairness, "hard")
            tally["n"] += 1
            tally["valid"] += not errors
            mine = "  invalid"
            if out is not None and not errors:
                mine = (
                    f"  {'yes':>3}{out['placed']:>7}{out['total_breaks']:>7}{out['spread']:>7}"
                    f"{wall:>7.1f}"
                )
            tally["optimal"] += bool(out and out.get("optimal"))
            line = f"{name:<34}{mine:>34}"
            if not args.no_reference:
                ref = reference(inst, args.fairness, args.time_limit)
                ref_errors = check(inst, ref, args.fairness, "hard")
                tally["ref_valid"] += not ref_errors
                line += (
                    f"   {'yes' if not ref_errors else 'NO':>5}{ref['placed']:>7}"
                    f"{ref['total_breaks']:>7}{ref['spread']:>7}{ref['seconds']:>7.1f}"
                )
                if out is not None and not errors:
                    tally["placed_ge"] += out["placed"] >= ref["placed"]
                    tally["placed_gt"] += out["placed"] > ref["placed"]
                    if out["placed"] == ref["placed"]:
                        tally["same_placed"] += 1
                        tally["breaks_le"] += out["total_breaks"] <= ref["total_breaks"]
                        tally["breaks_lt"] += out["total_breaks"] < ref["total_breaks"]
                    if out["placed"] < ref["placed"] or (
                        out["placed"] == ref["placed"] and out["total_breaks"] > ref["total_breaks"]
                    ):
                        worse.append(name)
                        line += "  WORSE"
            print(line, flush=True)
            for e in errors[:3]:
                print(f"    invalid: {e}")
    n = max(1, tally["n"])
    print(f"valid: ours {tally['valid']}/{tally['n']} ({100 * tally['valid'] / n:.0f} %), "
          f"reference {tally['ref_valid']}/{tally['n']}; ours proven optimal on {tally['optimal']}")  # fmt: skip
    if not args.no_reference:
        same = max(1, tally["same_placed"])
        print(f"placed >= reference: {tally['placed_ge']}/{tally['n']} "
              f"({100 * tally['placed_ge'] / n:.0f} %), more on {tally['placed_gt']}")  # fmt: skip
        print(f"same number placed: {tally['same_placed']}; of those, breaks <= reference "
              f"{tally['breaks_le']} ({100 * tally['breaks_le'] / same:.0f} %), fewer on "
              f"{tally['breaks_lt']}")  # fmt: skip
        print(f"worse than the reference: {len(worse)} {' '.join(worse)}")
    print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
