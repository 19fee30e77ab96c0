"""Exact engine: CP-SAT on the slot assignment, lexicographic in two phases.

Tables are not variables: apart from host and fixed tables (pinned beforehand, see
model.prepare) any meeting can take any free table, so a per-slot count is enough and
tables are handed out afterwards. Phase 1 maximises the placed weight (skipped when
the greedy start already meets the upper bound); phase 2 fixes that weight and
minimises breaks under the fairness limit, with breaks counted by an automaton per
participant (see _TRANSITIONS).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from ortools.sat.python import cp_model

from services.events.scheduling.model import Prepared

UNPLACED = -1

# Runs in the caller's thread beside the core-guided search; gets a callable telling
# whether that search has finished and returns an all-placed slot assignment (or None).
Anneal = Callable[[Callable[[], bool]], "list[int] | None"]


@dataclass(frozen=True, slots=True)
class ExactResult:
    slot_of: list[int]
    weight_optimal: bool
    weight_bound: int
    breaks_bound: int | None
    breaks_optimal: bool


# Per participant, one label per slot: 0 idle, 1 busy, 2 idle and first slot of a break
# (idle run followed by another meeting). The automaton makes the labels exact, so the
# number of 2s is the number of breaks, and it propagates contiguity far better than
# linear run-start indicators (with those, CP-SAT could not even find zero-break
# schedules that exist). The day is one timeline, see scheduling.breaks.
_BEFORE, _RUN, _GAP, _AFTER = 0, 1, 2, 3
_ACCEPTING = (_BEFORE, _RUN, _AFTER)
_TRANSITIONS = (
    (_BEFORE, 0, _BEFORE),
    (_BEFORE, 1, _RUN),
    (_RUN, 1, _RUN),
    (_RUN, 2, _GAP),
    (_RUN, 0, _AFTER),
    (_GAP, 0, _GAP),
    (_GAP, 1, _RUN),
    (_AFTER, 0, _AFTER),
)


class _Model:
    def __init__(
        self, prep: Prepared, *, min_weight: int | None, with_breaks: bool, fairness: int | None
    ) -> None:
        self.prep = prep
        model = cp_model.CpModel()
        self.model = model
        n = len(prep.a)
        self.infeasible = False
        self.bound = 0.0
        self.x: list[dict[int, cp_model.IntVar]] = []
        self._slot_vars: dict[int, cp_model.IntVar] = {}
        all_placed = min_weight is not None and min_weight >= sum(
            prep.weight[m] for m in range(n) if prep.allowed[m]
        )
        for m in range(n):
            xs = {s: model.new_bool_var(f"x{m}_{s}") for s in prep.allowed[m]}
            self.x.append(xs)
            # Exactly-one clauses, not a weight sum, when everything must be placed:
            # without LP a long linear sum hardly propagates.
            if xs and (prep.forced[m] or all_placed):
                model.add_exactly_one(xs.values())
            elif len(xs) > 1:
                model.add_at_most_one(xs.values())
        self.weight = sum(prep.weight[m] * sum(self.x[m].values()) for m in range(n))
        if min_weight is not None and not all_placed:
            model.add(self.weight >= min_weight)

        n_slots = prep.n_slots
        busy: list[list[cp_model.IntVar | None]] = []
        for p, mine in enumerate(prep.meetings_of):
            row: list[cp_model.IntVar | None] = []
            for s in range(n_slots):
                terms = [self.x[m][s] for m in mine if s in self.x[m]]
                if not terms:
                    row.append(None)
                elif len(terms) == 1:
                    row.append(terms[0])
                else:
                    var = model.new_bool_var(f"busy{p}_{s}")
                    model.add(sum(terms) == var)
                    row.append(var)
            busy.append(row)
            if prep.max_meetings[p] < len(mine):
                model.add(sum(sum(self.x[m].values()) for m in mine) <= prep.max_meetings[p])

        free_capacity = len(prep.free_tables)
        free_set = set(prep.free_tables)
        for s in range(n_slots):
            uses_free = [
                self.x[m][s]
                for m in range(n)
                if s in self.x[m] and (prep.table[m] is None or prep.table[m] in free_set)
            ]
            if len(uses_free) > free_capacity:
                model.add(sum(uses_free) <= free_capacity)
        at_table: dict[tuple[int, int], list[cp_model.IntVar]] = {}
        for m in range(n):
            t = prep.table[m]
            if t is not None:
                for s, var in self.x[m].items():
                    at_table.setdefault((s, t), []).append(var)
        for group in at_table.values():
            if len(group) > 1:
                model.add_at_most_one(group)

        # m at slot s and q placed at all => q strictly before s.
        for m in range(n):
            for q in prep.predecessors[m]:
                for s, var in self.x[m].items():
                    late = [v for t, v in self.x[q].items() if t >= s]
                    if late:
                        model.add(var + sum(late) <= 1)

        self.breaks: list[cp_model.LinearExprT] = []
        self.total_breaks: cp_model.LinearExprT = 0
        if not with_breaks:
            return
        for p, row in enumerate(busy):
            present = [v for v in row if v is not None]
            if len(present) <= 1:
                self.breaks.append(0)
                continue
            if all_placed:
                # Redundant with one meeting per slot, but all-different on slot
                # numbers propagates much better (Hall intervals).
                model.add_all_different(self.slot_var(m) for m in prep.meetings_of[p])
            labels = []
            gaps = []
            for s in range(n_slots):
                gap = model.new_bool_var(f"gap{p}_{s}")
                label = model.new_int_var(0, 2, f"label{p}_{s}")
                cur = row[s]
                model.add(label == 2 * gap + (cur if cur is not None else 0))
                labels.append(label)
                gaps.append(gap)
            model.add_automaton(labels, _BEFORE, _ACCEPTING, _TRANSITIONS)
            self.breaks.append(sum(gaps))
        self.total_breaks = sum(self.breaks)
        if fairness is not None:
            hi = model.new_int_var(0, n_slots, "hi")
            lo = model.new_int_var(0, n_slots, "lo")
            for br in self.breaks:
                model.add(br <= hi)
                model.add(br >= lo)
            model.add(hi - lo <= fairness)

    def slot_var(self, m: int) -> cp_model.IntVar:
        if m not in self._slot_vars:
            xs = self.x[m]
            var = self.model.new_int_var_from_domain(
                cp_model.Domain.from_values(list(xs)), f"slot{m}"
            )
            self.model.add(var == sum(s * v for s, v in xs.items()))
            self._slot_vars[m] = var
        return self._slot_vars[m]

    def hint(self, slot_of: list[int]) -> None:
        for m, xs in enumerate(self.x):
            for s, var in xs.items():
                self.model.add_hint(var, slot_of[m] == s)

    def solution(self, solver: cp_model.CpSolver) -> list[int]:
        out = [UNPLACED] * len(self.x)
        for m, xs in enumerate(self.x):
            for s, var in xs.items():
                if solver.boolean_value(var):
                    out[m] = s
        return out


def _solver(deadline: float, seed: int, workers: int) -> cp_model.CpSolver:
    solver = cp_model.CpSolver()
    solver.parameters.max_time_in_seconds = max(0.05, deadline - time.monotonic())
    solver.parameters.num_workers = workers
    solver.parameters.random_seed = seed
    return solver


def solve_exact(
    prep: Prepared,
    *,
    start: list[int],
    weight_bound: int,
    deadline: float,
    seed: int,
    workers: int = 2,
    anneal: Anneal | None = None,
) -> ExactResult | None:
    """Improve `start` (a greedy slot assignment); None when CP-SAT proves infeasible."""
    weights = prep.weight
    best = list(start)
    best_weight = sum(weights[m] for m, s in enumerate(best) if s != UNPLACED)
    weight_optimal = best_weight >= weight_bound
    placed_bound = weight_bound
    feasible_start = _feasible(prep, best)
    total = sum(weights[m] for m in range(len(best)) if prep.allowed[m])

    if weight_bound >= total and best_weight < total:
        # The bound allows placing everything: try that directly with the break model.
        # Its propagation finds full placements the weight-only model misses, and if it
        # succeeds both phases are done at once.
        result = _phase2(prep, best, total, deadline, seed, workers, anneal)
        if result is not None and result.breaks_bound != _INFEASIBLE:
            return result
    if not weight_optimal or not feasible_start:
        phase1 = _Model(prep, min_weight=None, with_breaks=False, fairness=None)
        phase1.model.maximize(phase1.weight)
        if feasible_start:
            phase1.hint(best)
        # Keep most of the time for breaks; the greedy start is usually close.
        budget = time.monotonic() + 0.4 * max(0.0, deadline - time.monotonic())
        solver = _solver(budget, seed, workers)
        status = solver.solve(phase1.model)
        if status == cp_model.INFEASIBLE:
            return None
        if status in (cp_model.OPTIMAL, cp_model.FEASIBLE):
            found = phase1.solution(solver)
            found_weight = sum(weights[m] for m, s in enumerate(found) if s != UNPLACED)
            if found_weight >= best_weight or not feasible_start:
                best, best_weight, feasible_start = found, found_weight, True
            placed_bound = min(placed_bound, int(solver.best_objective_bound))
            weight_optimal = status == cp_model.OPTIMAL or best_weight >= placed_bound
        elif not feasible_start:
            return ExactResult([UNPLACED] * len(best), False, placed_bound, None, False)
    result = _phase2(
        prep, best, best_weight, deadline, seed, workers, anneal if best_weight >= total else None
    )
    if result is None or result.breaks_bound == _INFEASIBLE:
        # Out of time: the best start stands, no bound on breaks.
        return ExactResult(best, weight_optimal, placed_bound, None, False)
    return ExactResult(
        result.slot_of, weight_optimal, placed_bound, result.breaks_bound, result.breaks_optimal
    )


# Marks a phase-2 attempt proven infeasible (the weight asked for cannot be placed).
_INFEASIBLE = -1


def _phase2(
    prep: Prepared,
    hint: list[int],
    min_weight: int,
    deadline: float,
    seed: int,
    workers: int,
    anneal: Anneal | None = None,
) -> ExactResult | None:
    """Minimise breaks among schedules placing at least `min_weight`.

    Fairness is tried first; if it is proven impossible at this weight it is dropped
    (placed weight outranks fairness). None when no solution was found in time.
    """
    fairness = prep.problem.fairness
    attempts = (fairness, None) if fairness is not None else (None,)
    for attempt in attempts:
        if time.monotonic() >= deadline:
            return None
        phase2 = _Model(prep, min_weight=min_weight, with_breaks=True, fairness=attempt)
        phase2.model.minimize(phase2.total_breaks)
        hint_weight = sum(prep.weight[m] for m, s in enumerate(hint) if s != UNPLACED)
        if hint_weight >= min_weight:
            phase2.hint(hint)

        def fresh(attempt: int | None = attempt) -> _Model:
            again = _Model(prep, min_weight=min_weight, with_breaks=True, fairness=attempt)
            again.model.minimize(again.total_breaks)
            return again

        outcome = _race(phase2, deadline, seed, workers, anneal, fresh)
        if outcome is not None:
            status, solver, winner = outcome
            return ExactResult(
                slot_of=winner.solution(solver),
                weight_optimal=True,
                weight_bound=min_weight,
                breaks_bound=int(phase2.bound),
                breaks_optimal=status == cp_model.OPTIMAL,
            )
        if not phase2.infeasible:
            return None
        if attempt is None:
            return ExactResult(hint, False, min_weight, _INFEASIBLE, False)
    return None


def _race(
    model: _Model,
    deadline: float,
    seed: int,
    workers: int,
    anneal: Anneal | None = None,
    fresh: Callable[[], _Model] | None = None,
) -> tuple[cp_model.CpSolverStatus, cp_model.CpSolver, _Model] | None:
    """Run complementary searches side by side, one per core; the best answer wins.

    A core-guided search without LP behaves like the MaxSAT solvers that do well on
    this problem: it raises the lower bound break by break and settles the easy
    instances in a second, but it may hold no schedule at the time limit. A plain
    clause-learning search from the hint always has one. Whoever proves optimality
    stops the other. CP-SAT releases the GIL while solving, so threads run in parallel.

    With `anneal`, the second core first runs the annealer (in this thread) and the
    plain search then starts on a fresh copy of the model hinted with its schedule.
    """
    configs = [{"optimize_with_core": True}, {}][: max(1, workers)]
    solvers = []
    for extra in configs:
        solver = _solver(deadline, seed, 1)
        solver.parameters.linearization_level = 0
        for key, value in extra.items():
            setattr(solver.parameters, key, value)
        solvers.append(solver)
    models = [model] * len(solvers)
    statuses: list[cp_model.CpSolverStatus | None] = [None] * len(solvers)
    done = threading.Event()

    def run(k: int) -> None:
        solvers[k].parameters.max_time_in_seconds = max(0.05, deadline - time.monotonic())
        statuses[k] = solvers[k].solve(models[k].model)
        if statuses[k] in (cp_model.OPTIMAL, cp_model.INFEASIBLE):
            done.set()
            for other in solvers:
                if other is not solvers[k]:
                    other.stop_search()

    threads = [threading.Thread(target=run, args=(k,)) for k in range(len(solvers))]
    late = anneal is not None and fresh is not None and len(solvers) > 1
    threads[0].start()
    if late and anneal is not None and fresh is not None:
        found = anneal(done.is_set)
        if not done.is_set() and time.monotonic() < deadline:
            if found is not None:
                models[1] = fresh()
                models[1].hint(found)
        else:
            threads = threads[:1]
            solvers = solvers[:1]
            statuses = statuses[:1]
            models = models[:1]
    for thread in threads[1:]:
        thread.start()
    for thread in threads:
        thread.join()
    model.infeasible = cp_model.INFEASIBLE in statuses
    found_at = [
        k for k, status in enumerate(statuses) if status in (cp_model.OPTIMAL, cp_model.FEASIBLE)
    ]
    if not found_at:
        return None
    bound = max(solver.best_objective_bound for solver in solvers)
    k = min(found_at, key=lambda i: solvers[i].objective_value)
    status, best = statuses[k], solvers[k]
    assert status is not None
    if best.objective_value <= bound:
        status = cp_model.OPTIMAL
    # The caller reads the bound from the winner; give it the best one known.
    model.bound = bound
    return status, best, models[k]


def _feasible(prep: Prepared, slot_of: list[int]) -> bool:
    """Forced meetings placed (everything else the greedy guarantees by construction)."""
    return all(slot_of[m] != UNPLACED for m in range(len(slot_of)) if prep.forced[m])
