"""Exact engine on CP-SAT (method "exact"), lexicographic in two phases.

Tables are not variables: apart from host and fixed tables (pinned beforehand, see
model.prepare) any meeting can take any free table, so a per-slot count is enough and
tables are handed out afterwards. Phase 1 maximises the placed weight (within the
fairness limit when it is hard); phase 2 fixes that weight and minimises the spread
above d (fairness as a preference) and the breaks, counted by an automaton per
participant (see _TRANSITIONS). On the B2B benchmark the SAT engine (scheduling.sat)
is far ahead; this one stays as an independent second engine and a fallback.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from ortools.sat.python import cp_model

from services.events.scheduling.model import Prepared

UNPLACED = -1


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
        self.hi = model.new_int_var(0, n_slots, "hi")
        self.lo = model.new_int_var(0, n_slots, "lo")
        for br in self.breaks:
            model.add(br <= self.hi)
            model.add(br >= self.lo)
        if fairness is not None:
            model.add(self.hi - self.lo <= fairness)

    def excess(self, d: int) -> cp_model.IntVar:
        """Spread of breaks above d (0 when within)."""
        var = self.model.new_int_var(0, self.prep.n_slots, "excess")
        self.model.add(var >= self.hi - self.lo - d)
        return var

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

    def values(self, callback: cp_model.CpSolverSolutionCallback) -> list[int]:
        out = [UNPLACED] * len(self.x)
        for m, xs in enumerate(self.x):
            for s, var in xs.items():
                if callback.boolean_value(var):
                    out[m] = s
        return out

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


@dataclass
class Found:
    """Every improving schedule CP-SAT reported, and what it proved."""

    solutions: list[list[int]]
    levels: dict[str, int]
    bounds: dict[str, int]


class _Collect(cp_model.CpSolverSolutionCallback):
    def __init__(self, model: _Model, out: list[list[int]]) -> None:
        super().__init__()
        self._model = model
        self._out = out

    def on_solution_callback(self) -> None:
        self._out.append(self._model.values(self))


def solve_lexicographic(
    prep: Prepared, weight_bound: int, deadline: float, seed: int, workers: int = 2
) -> Found | None:
    """Placed weight first (within the fairness limit when it is hard), then the
    spread above d (fairness as a preference), then breaks; None if nothing found."""
    problem = prep.problem
    hard = problem.fairness is not None and problem.fairness_mode == "hard"
    fairness = problem.fairness if hard else None
    total = sum(prep.weight[m] for m in range(len(prep.a)) if prep.allowed[m])
    out: list[list[int]] = []
    levels: dict[str, int] = {}
    bounds: dict[str, int] = {}
    start = time.monotonic()
    # Phase 1 gets at most 40% of the time: what it finds is usually near the bound.
    phase1 = _Model(prep, min_weight=None, with_breaks=hard, fairness=fairness)
    phase1.model.maximize(phase1.weight)
    solver = _solver(start + 0.4 * max(0.0, deadline - start), seed, workers)
    solver.parameters.linearization_level = 0
    status = solver.solve(phase1.model, _Collect(phase1, out))
    if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        return None
    weight = round(solver.objective_value)
    if status == cp_model.OPTIMAL or weight >= weight_bound:
        levels["unplaced"] = total - weight
    phase2 = _Model(prep, min_weight=weight, with_breaks=True, fairness=fairness)
    scale = sum(len(mine) for mine in prep.meetings_of) + 1
    if problem.fairness is not None and not hard:
        breaks = phase2.model.new_int_var(0, scale, "breaks")
        phase2.model.add(breaks == phase2.total_breaks)
        phase2.model.minimize(scale * phase2.excess(problem.fairness) + breaks)
    else:
        phase2.model.minimize(phase2.total_breaks)
    phase2.hint(out[-1])
    solver = _solver(deadline, seed, workers)
    solver.parameters.linearization_level = 0
    status = solver.solve(phase2.model, _Collect(phase2, out))
    if status in (cp_model.OPTIMAL, cp_model.FEASIBLE) and "unplaced" in levels:
        bound = int(solver.best_objective_bound)
        if problem.fairness is None or hard:
            bounds["breaks"] = bound
            if status == cp_model.OPTIMAL:
                levels["breaks"] = round(solver.objective_value)
        elif status == cp_model.OPTIMAL:
            levels["spread"] = problem.fairness + round(solver.objective_value) // scale
            levels["breaks"] = round(solver.objective_value) % scale
            bounds["breaks"] = levels["breaks"]
    return Found(out, levels, bounds)
