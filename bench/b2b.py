"""Benchmark: the 20 B2B instances of Bofill et al. (JAIR 2022) against proven optima.

The instances carry no licence and are not in this repository; download
https://ima.udg.edu/Recerca/lai/b2b/b2b.zip and pass the folder holding the `.dzn`
files and the README.md with the table of proven optima (JAIR Table 3).

    python bench/b2b.py [FOLDER] [--time-limit 10] [--fairness 2] [--seed 0]

Prints, per instance, the scheduler (method auto; the engine that produced the schedule
in column `method`) and the greedy baseline side by side.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from services.events.scheduling.dzn import load_problem
from services.events.scheduling.solve import solve

_ROW = re.compile(r"^\|\s*([\w-]+)\s*\|(?:[^|]*\|){4}\s*(\d+)\s*\|", re.MULTILINE)


def proven_optima(readme: Path) -> dict[str, int]:
    """Instance name -> proven optimum, from the README table (column 'optimum')."""
    return {m.group(1): int(m.group(2)) for m in _ROW.finditer(readme.read_text("utf-8"))}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("folder", nargs="?", default="../shared/data/b2b")
    parser.add_argument("--time-limit", type=float, default=10.0)
    parser.add_argument("--fairness", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--only", nargs="*", default=None, help="instance names to run")
    args = parser.parse_args(argv)
    folder = Path(args.folder)
    readme = folder / "README.md"
    if not readme.is_file():
        print(f"no README.md with proven optima in {folder}", file=sys.stderr)
        return 2
    optima = proven_optima(readme)
    header = (
        f"{'instance':<16}{'parts':>6}{'meets':>6}{'placed':>8}{'breaks':>7}{'opt':>5}"
        f"{'bound':>6}{'s':>7}  {'method':<14}{'greedy placed':>13}{'breaks':>7}{'s':>6}"
    )
    print(header)
    print("-" * len(header))
    reached = 0
    max_seconds = 0.0
    count = 0
    for name in sorted(optima):
        if args.only and name not in args.only:
            continue
        path = next(iter(sorted(folder.glob(f"{name}.*dzn"))), None)
        if path is None:
            print(f"{name:<16} missing .dzn")
            continue
        problem = load_problem(path, fairness=args.fairness)
        n = len(problem.meetings)
        result = solve(problem, time_limit=args.time_limit, seed=args.seed)
        base = solve(problem, time_limit=args.time_limit, seed=args.seed, method="greedy")
        all_placed = not result.unplaced
        hit = all_placed and result.total_breaks == optima[name]
        below = all_placed and result.total_breaks < optima[name]
        reached += hit
        count += 1
        max_seconds = max(max_seconds, result.seconds)
        bound = "-" if result.breaks_bound is None else str(result.breaks_bound)
        mark = " BELOW OPTIMUM: break reading wrong" if below else ("" if hit else " *")
        print(
            f"{name:<16}{len(problem.participants):>6}{n:>6}{n - len(result.unplaced):>5}/{n:<3}"
            f"{result.total_breaks:>6}{optima[name]:>5}{bound:>6}{result.seconds:>7.2f}  "
            f"{result.method:<14}"
            f"{n - len(base.unplaced):>9}/{n:<3}{base.total_breaks:>7}{base.seconds:>6.2f}{mark}"
        )
    print(
        f"optimum reached on {reached}/{count}, max seconds {max_seconds:.2f} "
        f"(time limit {args.time_limit}, fairness {args.fairness}; * = not at optimum)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
