"""Benchmark: the 20 B2B instances of Bofill et al. (JAIR 2022) against proven optima.

The instances carry no licence and are not in this repository; download
https://ima.udg.edu/Recerca/lai/b2b/b2b.zip and pass the folder holding the `.dzn`
files and the README.md with the table of proven optima and the paper's best times
(JAIR Table 3).

    python bench/b2b.py [FOLDER] [--time-limit 10] [--fairness 2] [--only NAME ...]

Each instance runs as the whole command a user types, `clusterbridge schedule --dzn
FILE --json`, in its own process; the wall time includes process start. Every output
goes through the independent checker (bench/b2b_check.py). The load average is
printed before and after: the figures mean little on a busy machine.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.b2b_check import Instance, check

_ROW = re.compile(r"^\|\s*([\w-]+)\s*\|(?:[^|]*\|){4}\s*(\d+)\s*\|\s*([\d.]+)\s*\|", re.MULTILINE)


def paper_table(readme: Path) -> dict[str, tuple[int, float]]:
    """Instance name -> (proven optimum, the paper's best seconds), from the README."""
    return {
        m.group(1): (int(m.group(2)), float(m.group(3)))
        for m in _ROW.finditer(readme.read_text("utf-8"))
    }


def command() -> list[str]:
    found = shutil.which("clusterbridge", path=str(Path(sys.executable).parent))
    if found is None:
        raise SystemExit("clusterbridge is not installed next to this Python (make install)")
    return [found, "schedule"]


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
    table = paper_table(readme)
    print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    header = (
        f"{'instance':<16}{'meets':>6}{'placed':>8}{'breaks':>7}{'opt':>5}{'bound':>6}"
        f"{'wall s':>8}{'paper s':>8}  {'valid':<6}{'method':<18}"
    )
    print(header)
    print("-" * len(header))
    reached = proven = faster = valid = count = 0
    worst = 0.0
    for name in sorted(table):
        if args.only and name not in args.only:
            continue
        path = next(iter(sorted(folder.glob(f"{name}.*dzn"))), None)
        if path is None:
            print(f"{name:<16} missing .dzn")
            continue
        opt, paper = table[name]
        started = time.monotonic()
        run = subprocess.run(
            [
                *command(),
                "--dzn",
                str(path),
                "--json",
                "--time-limit",
                str(args.time_limit),
                "--fairness",
                str(args.fairness),
                "--seed",
                str(args.seed),
            ],
            capture_output=True,
            text=True,
            check=False,
        )
        wall = time.monotonic() - started
        count += 1
        worst = max(worst, wall)
        if run.returncode != 0:
            print(f"{name:<16} exit {run.returncode}: {run.stderr.strip()[:80]}")
            continue
        out = json.loads(run.stdout)
        errors = check(Instance(path.read_text("utf-8")), out, args.fairness, "hard")
        n = len(out["meetings"]) + len(out["unplaced"])
        hit = not out["unplaced"] and out["total_breaks"] == opt
        reached += hit
        proven += hit and out["optimal"] and out["bound"] == opt
        faster += hit and wall < paper
        valid += not errors
        bound = "-" if out["bound"] is None else str(out["bound"])
        mark = "" if hit else " *"
        if out["total_breaks"] < opt and not out["unplaced"]:
            mark = " BELOW OPTIMUM: break reading wrong"
        print(
            f"{name:<16}{n:>6}{out['placed']:>5}/{n:<3}{out['total_breaks']:>6}{opt:>5}{bound:>6}"
            f"{wall:>8.2f}{paper:>8.1f}  {'yes' if not errors else 'NO':<6}{out['method']:<18}"
            f"{mark}"
        )
        for line in errors[:5]:
            print(f"    invalid: {line}")
    print(
        f"optimum reached on {reached}/{count} (proven {proven}), valid {valid}/{count}, "
        f"faster than the paper on {faster}, max wall {worst:.2f} s "
        f"(time limit {args.time_limit}, fairness {args.fairness} hard; * = not at optimum)"
    )
    print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
