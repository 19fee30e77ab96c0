"""The SAT search on the B2B instances, measured in conflicts instead of seconds.

On a shared 2-core machine the wall time of one CaDiCaL run moves 1.5-5x with the
load, so comparing two settings by seconds needs a quiet machine and many runs. This
bench runs the search of scheduling.sat in-process on a clock made of the solver's
conflicts (`--rate` conflicts make one "second" of the search's own time budgets and
switch), so the same seed gives the same run whatever else the machine does, and two
settings can be compared run against run:

    python bench/b2b_search.py FOLDER [--only NAME ...] [--seeds 0 1 2]
        [--budget 120000] [--switch 20000] [--set NAME=JSON ...] [--option NAME=JSON ...]

`--set` changes a constant of scheduling.sat (e.g. `--set MAX_SLACK=1`), `--option` a
field of sat.Options (e.g. `--option parity=true`). Printed per run: the best breaks
and the conflicts it took to find them, whether the optimum was reached and proven.
Conflicts are not seconds (a conflict costs more on a larger formula): compare settings
on one instance, not instances with each other.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import json
import statistics
import sys
import types
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pysat.solvers import Solver

from bench.b2b import paper_table
from services.events.scheduling import dzn, sat, validate
from services.events.scheduling.model import Prepared, prepare


class _Stop(Exception):
    """The conflict budget is spent."""


class _Run:
    """One search on the conflict clock; keeps the best schedule and the proofs."""

    def __init__(self, prep: Prepared, seed: int, rate: float, budget: int, switch: int | None):
        self.prep = prep
        self.rate = rate
        self.budget = budget
        self.best = 10**9
        self.best_at = 0
        self.proven = False
        self.bound = 0
        goal = sat.Goal(fairness=2, fairness_hard=True, unplaced_floor=0, try_all_placed=True)
        switch_at = None if switch is None else switch / rate
        self.search = sat._Search(prep, goal, sat.Config(seed=seed, switch_at=switch_at), self.take)
        plain = self.search.limited

        def limited(solver: Solver, assumptions: list[int], seconds: float) -> bool | None:
            # Budgets in conflicts at the fixed rate, never past the end of the run.
            self.search.rate = rate
            left = (budget - self.conflicts(solver)) / rate
            if left <= 0:
                raise _Stop
            return plain(solver, assumptions, min(seconds, left))

        vars(self.search)["limited"] = limited
        self.current: Solver | None = None

    def conflicts(self, solver: Solver | None = None) -> int:
        if solver is not None:
            self.current = solver
        if self.current is None:
            return 0
        done: int = self.current.accum_stats().get("conflicts", 0)
        return done

    def clock(self) -> float:
        return self.conflicts() / self.rate

    def take(self, message: tuple[object, ...]) -> None:
        kind = message[0]
        if kind == "solution":
            slot_of = message[1]
            assert isinstance(slot_of, list)
            breaks, _ = validate.spread_of(self.prep, slot_of)
            if breaks < self.best:
                self.best, self.best_at = breaks, self.conflicts()
        elif kind in ("level", "bound") and message[1] == "breaks":
            value = message[2]
            assert isinstance(value, int)
            self.bound = max(self.bound, value)
            self.proven = self.proven or kind == "level"
        if self.conflicts() > self.budget:
            raise _Stop

    def go(self) -> None:
        # The search reads the time through its module's `time`; during the run that is
        # the conflict clock (put back after: the scheduler itself must keep seconds).
        real = vars(sat)["time"]
        vars(sat)["time"] = types.SimpleNamespace(monotonic=self.clock)
        try:
            with contextlib.suppress(_Stop):
                self.search.run()
        finally:
            vars(sat)["time"] = real


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("folder", nargs="?", default="../shared/data/b2b")
    parser.add_argument("--only", nargs="*", default=None)
    parser.add_argument("--seeds", nargs="*", type=int, default=[0, 1])
    parser.add_argument("--budget", type=int, default=120_000)
    parser.add_argument("--switch", type=int, default=None, help="conflicts before top-down")
    parser.add_argument("--rate", type=float, default=10_000.0)
    parser.add_argument("--set", nargs="*", default=[], dest="constants")
    parser.add_argument("--option", nargs="*", default=[], dest="options")
    args = parser.parse_args(argv)
    folder = Path(args.folder)
    table = paper_table(folder / "README.md")
    for item in args.constants:
        name, _, text = item.partition("=")
        if not hasattr(sat, name):
            raise SystemExit(f"scheduling.sat has no {name}")
        setattr(sat, name, json.loads(text))
    overrides: dict[str, bool] = {}
    for item in args.options:
        name, _, text = item.partition("=")
        overrides[name] = bool(json.loads(text))
    if overrides:
        vars(sat)["Options"] = functools.partial(sat.Options, **overrides)
    print(f"settings: {' '.join(args.constants + args.options) or 'defaults'}")
    print(f"{'instance':<16}{'seed':>5}{'best':>6}{'opt':>5}{'k confl':>9}{'bound':>7}  proven")
    for name in sorted(table):
        if args.only and name not in args.only:
            continue
        path = next(iter(sorted(folder.glob(f"{name}.*dzn"))), None)
        if path is None:
            continue
        opt = table[name][0]
        prep = prepare(dzn.load_problem(path, fairness=2), ())
        reached: list[int] = []
        for seed in args.seeds:
            run = _Run(prep, seed, args.rate, args.budget, args.switch)
            run.go()
            if run.best == opt:
                reached.append(run.best_at)
            print(
                f"{name:<16}{seed:>5}{run.best:>6}{opt:>5}{run.best_at / 1000:>9.1f}"
                f"{run.bound:>7}  {'yes' if run.proven else 'no'}",
                flush=True,
            )
        median = f"{statistics.median(reached) / 1000:.1f}k" if reached else "-"
        print(f"  {name}: optimum in {len(reached)}/{len(args.seeds)}, median conflicts {median}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
