"""B2B meeting scheduler: place accepted meeting requests into (slot, table).

Pure algorithm, no database. Slots and tables are 0-based; participant and meeting
ids are the caller's. Hard constraints: one meeting per participant and slot,
availability, sessions, at most n_tables meetings per slot (one per table), fixed
slots and tables, precedences, kept (published) placements, hosts keep one table that
nobody else uses, per-participant maximum. Objective, lexicographic: (1) placed
weight, (2) with fairness as a preference, the spread of breaks above d, (3) total
breaks (see scheduling.breaks). With fairness hard (the default) the spread never
exceeds d and (1) is the weight placeable within it.

Data that cannot all hold is reported, not refused (see scheduling.model): such
meetings are unplaced with a reason, published ones that cannot stay are listed as
displaced, and the rest is scheduled.

Method ("auto"): a greedy schedule first (always there, within the fairness limit when
it is hard); then, up to SAT_MAX_VARIABLES (meeting, slot) pairs, the SAT search of
scheduling.sat in child processes (exact: it proves the optimum and sends every
improvement, so the deadline always finds a schedule in hand); beyond that size, local
improvement of the greedy schedule. "exact" uses CP-SAT (scheduling.exact) instead of
the SAT search, "greedy" the heuristic only. Whatever an engine returns goes through
scheduling.validate; the best valid schedule wins.
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace

from services.events.scheduling import heuristic, sat, validate
from services.events.scheduling.bounds import placed_weight_bound
from services.events.scheduling.breaks import breaks_of
from services.events.scheduling.model import (
    FairnessMode,
    Meeting,
    Participant,
    Placement,
    Prepared,
    Schedule,
    SchedulingError,
    SchedulingProblem,
    prepare,
)

__all__ = [
    "SAT_MAX_VARIABLES",
    "FairnessMode",
    "Meeting",
    "Participant",
    "Placement",
    "Schedule",
    "SchedulingError",
    "SchedulingProblem",
    "solve",
]

UNPLACED = -1
# Above this many (meeting, slot) pairs the SAT formula takes too long to build.
SAT_MAX_VARIABLES = 15_000
# The same when not everything can be placed: there the search proves little and
# improves slowly, and beyond this size the greedy schedule improved for the whole
# time does better.
SAT_MAX_OPTIONAL = 8_000
# Seconds kept back for table assignment and bookkeeping after the search.
MARGIN = 0.1
# The SAT search processes, a portfolio that shares its bounds (sat.Shared): CaDiCaL's
# default mode, strong at the proofs below the optimum, and its satisfiable mode
# (stabilising search only, false phases first: almost every x is false), which finds
# the schedule at the bound in fewer conflicts on most instances. Run times are
# heavy-tailed, so two different searches also cut the tail. The second goes straight
# for the bounds: the first sends a schedule in hand. Where only one core is available,
# the first alone.
SAT_CONFIGS = (
    sat.Config(seed=0),
    sat.Config(seed=1, first_solution=False, cadical=(("stabilizeonly", 1), ("phase", 0))),
)


def _sat_configs() -> tuple[sat.Config, ...]:
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return SAT_CONFIGS if (cores or 1) >= 2 else SAT_CONFIGS[:1]


# Share of the search time spent bottom-up only; after it, the search also improves
# the schedule in hand (see sat._Search.minimise). The top-down steps cost the call at
# the optimum about twice its conflicts (bench/b2b_search.py: forum-13crafb 51k -> 101k
# and 79k -> not in 120k when they start at 45k), so they come late.
SWITCH_SHARE = 0.8
# Share of the time for improving the greedy schedule before the search, when not
# everything can be placed (the search starts from it).
HINT_SHARE = 0.1
# Seconds kept, when not everything fits and the search is cut by the time limit, for a
# local descent (moves and swaps) from its best schedule. The search spends its time on
# the placed weight, whose proof rarely comes, and its schedule at the deadline is often
# several breaks above a local optimum: on four held-out variants with 40 % forbidden
# slots the descent took 57 -> 48 and 63 -> 57 breaks at the same number placed, in
# a millisecond or two.
POLISH_SECONDS = 0.05


@dataclass
class _Candidate:
    slot_of: list[int]
    method: str
    weight: int
    breaks: int
    spread: int


class _Best:
    """Keeps the best valid schedule offered; invalid ones are counted and dropped."""

    def __init__(self, prep: Prepared) -> None:
        self.prep = prep
        self.best: _Candidate | None = None
        self.rejected: list[str] = []
        problem = prep.problem
        self.d = problem.fairness
        self.hard = problem.fairness is not None and problem.fairness_mode == "hard"

    def key(self, c: _Candidate) -> tuple[bool, int, int, int]:
        excess = 0 if self.d is None else max(0, c.spread - self.d)
        return (not self.hard or excess == 0, c.weight, -excess, -c.breaks)

    def offer(self, slot_of: Sequence[int], method: str) -> bool:
        """True when `slot_of` is valid and better than what was kept."""
        slot_of = list(slot_of)
        problems = validate.violations(self.prep, slot_of)
        if problems:
            self.rejected.append(f"{method}: {problems[0]}")
            return False
        breaks, spread = validate.spread_of(self.prep, slot_of)
        weight = sum(self.prep.weight[m] for m, s in enumerate(slot_of) if s != UNPLACED)
        candidate = _Candidate(slot_of, method, weight, breaks, spread)
        # Ties go to the later engine: it is the one that proves things.
        if self.best is None or self.key(candidate) >= self.key(self.best):
            self.best = candidate
            return True
        return False


def solve(
    problem: SchedulingProblem,
    *,
    time_limit: float = 10.0,
    seed: int = 0,
    keep: Sequence[Placement] = (),
    method: str = "auto",
) -> Schedule:
    """Schedule `problem`; `keep` are published placements that should stay put.

    method: "auto" (SAT search where the size allows, else heuristic), "exact"
    (CP-SAT) or "greedy" (heuristic only). Raises SchedulingError for malformed input
    only; conflicts are reported in the schedule (Schedule.reasons, .displaced).
    """
    started = time.monotonic()
    if time_limit <= 0:
        raise SchedulingError("time_limit must be positive")
    if method not in ("auto", "exact", "greedy"):
        raise SchedulingError(f"unknown method {method!r}")
    deadline = started + time_limit - MARGIN
    prep = prepare(problem, tuple(keep))
    weight_bound = placed_weight_bound(prep)
    best = _Best(prep)
    d = problem.fairness
    hard = d is not None and problem.fairness_mode == "hard"

    size = sum(len(allowed) for allowed in prep.allowed)
    everything = _everything(prep, weight_bound)
    limit = SAT_MAX_VARIABLES if everything else SAT_MAX_OPTIONAL
    greedy_only = method == "greedy" or (method == "auto" and size > limit)
    # A valid schedule at once (within the fairness limit when it is hard).
    state = heuristic.construct(prep, seed)
    if hard and d is not None:
        heuristic.enforce_cap(state, d)
    best.offer(state.slot_of, "greedy")

    levels: dict[str, int] = {}
    bounds: dict[str, int] = {}
    used = "greedy"
    if not greedy_only:
        if not everything:
            # Capacity or caps bind: the search starts from an improved greedy schedule
            # (it finds good ones slowly from scratch).
            heuristic.improve(state, started + HINT_SHARE * time_limit, seed)
            if hard and d is not None:
                heuristic.enforce_cap(state, d)
                heuristic.insert_within_cap(state, d, deadline)
            best.offer(state.slot_of, "greedy")
        polish = 0.0 if everything or method != "auto" else min(POLISH_SECONDS, 0.05 * time_limit)
        found = _search(
            prep, weight_bound, everything, deadline - polish, method, seed, best, state.slot_of
        )
        if found is not None:
            levels, bounds, used = found
            if polish and used.endswith("(time limit)") and _polish(prep, best, deadline, seed):
                used += " + local moves"
    if best.best is None or best.best.method == "greedy":
        # No engine did better (or none ran): improve the greedy schedule.
        heuristic.improve(state, deadline, seed)
        if d is not None:
            heuristic.repair_fairness(state, deadline)
        if hard and d is not None:
            heuristic.enforce_cap(state, d)
            heuristic.insert_within_cap(state, d, deadline)
        best.offer(state.slot_of, "greedy")
    chosen = best.best
    assert chosen is not None  # the greedy schedule is always valid
    return _schedule(prep, chosen, weight_bound, levels, bounds, used, best.rejected, started)


def _polish(prep: Prepared, best: _Best, deadline: float, seed: int) -> bool:
    """Moves and swaps from the best schedule until none pays or the deadline; True
    when that gave a better one (kept in `best`, which validates it like any other)."""
    chosen = best.best
    if chosen is None:
        return False
    state = heuristic.State(prep)
    for m, s in enumerate(chosen.slot_of):
        if s != UNPLACED:
            state.place(m, s)
    heuristic.improve(state, deadline, seed)
    before = best.key(chosen)
    if not best.offer(state.slot_of, "local moves") or best.best is None:
        return False
    return best.key(best.best) > before


def _everything(prep: Prepared, weight_bound: int) -> bool:
    """Whether the bounds allow placing every meeting that has a slot."""
    total = sum(prep.weight[m] for m in range(len(prep.a)) if prep.allowed[m])
    return weight_bound >= total and all(
        prep.max_meetings[p] >= sum(1 for m in mine if prep.allowed[m])
        for p, mine in enumerate(prep.meetings_of)
    )


def _search(
    prep: Prepared,
    weight_bound: int,
    everything: bool,
    deadline: float,
    method: str,
    seed: int,
    best: _Best,
    hint: list[int],
) -> tuple[dict[str, int], dict[str, int], str] | None:
    """Run the exact engine; its schedules go to `best`. Returns (levels proven,
    lower bounds, engine name), None when it found nothing."""
    problem = prep.problem
    total = sum(prep.weight[m] for m in range(len(prep.a)) if prep.allowed[m])
    goal = sat.Goal(
        fairness=problem.fairness,
        fairness_hard=problem.fairness_mode == "hard",
        unplaced_floor=max(0, total - weight_bound),
        try_all_placed=everything,
    )
    if method == "auto":
        # Not everything fits: the proof of the placed weight rarely comes, improving
        # the schedule in hand is what counts from the start.
        share = SWITCH_SHARE if everything else 0.0
        switch = time.monotonic() + share * max(0.0, deadline - time.monotonic())
        configs = [
            replace(c, seed=c.seed + seed, switch_at=switch, hint=tuple(hint))
            for c in _sat_configs()
        ]
        outcome = sat.run(prep, goal, deadline, configs)
        if outcome.ran:
            for slot_of in outcome.solutions:
                best.offer(slot_of, "sat")
            return outcome.levels, outcome.bounds, "sat" if outcome.done else "sat (time limit)"
    # Imported here: OR-Tools takes about a second to load, the SAT path never needs it.
    from services.events.scheduling import exact

    found = exact.solve_lexicographic(prep, weight_bound, deadline, seed)
    if found is None:
        return None
    for slot_of in found.solutions:
        best.offer(slot_of, "cp-sat")
    return found.levels, found.bounds, "cp-sat"


def _schedule(
    prep: Prepared,
    chosen: _Candidate,
    weight_bound: int,
    levels: dict[str, int],
    bounds: dict[str, int],
    used: str,
    rejected: list[str],
    started: float,
) -> Schedule:
    problem = prep.problem
    slot_of = chosen.slot_of
    tables = heuristic.assign_tables(prep, slot_of)
    problems = validate.violations(prep, slot_of, tables)
    if problems:
        raise AssertionError(f"scheduler bug, invalid tables: {problems[:3]}")
    placements = tuple(
        Placement(problem.meetings[m].id, s, tables[m])
        for m, s in enumerate(slot_of)
        if s != UNPLACED
    )
    unplaced = tuple(problem.meetings[m].id for m, s in enumerate(slot_of) if s == UNPLACED)
    slots_of: list[list[int]] = [[] for _ in problem.participants]
    for m, s in enumerate(slot_of):
        if s != UNPLACED:
            slots_of[prep.a[m]].append(s)
            slots_of[prep.b[m]].append(s)
    by_participant = {p.id: breaks_of(slots_of[i]) for i, p in enumerate(problem.participants)}
    d = problem.fairness
    fairness_met = d is None or chosen.spread <= d

    # The bounds of a level hold among schedules at the optimum of the levels before.
    total = sum(prep.weight[m] for m in range(len(prep.a)) if prep.allowed[m])
    weight_proven = "unplaced" in levels
    if weight_proven:
        weight_bound = min(weight_bound, total - levels["unplaced"])
    weight_bound = max(weight_bound, chosen.weight)
    at_weight = weight_proven and chosen.weight >= weight_bound
    spread_ok = d is None or problem.fairness_mode == "hard" or "spread" in levels
    spread_at = (
        d is None
        or problem.fairness_mode == "hard"
        or ("spread" in levels and chosen.spread <= levels["spread"])
    )
    breaks_bound: int | None = None
    if at_weight and spread_ok and spread_at and "breaks" in bounds:
        breaks_bound = min(bounds["breaks"], chosen.breaks)
    optimal = breaks_bound is not None and breaks_bound >= chosen.breaks

    reasons = _Reasons(prep, slot_of).all()
    return Schedule(
        placements=placements,
        unplaced=unplaced,
        total_breaks=chosen.breaks,
        breaks_by_participant=by_participant,
        placed_weight=chosen.weight,
        placed_weight_bound=weight_bound,
        breaks_bound=breaks_bound,
        optimal=optimal,
        fairness_met=fairness_met,
        seconds=time.monotonic() - started,
        method=used if chosen.method != "greedy" else "greedy",
        extra={"rejected": float(len(rejected))},
        reasons=reasons,
        displaced={problem.meetings[m].id: why for m, why in prep.displaced.items()},
        spread=chosen.spread,
    )


class _Reasons:
    """Why each unplaced meeting is unplaced, as far as the schedule shows it."""

    def __init__(self, prep: Prepared, slot_of: list[int]) -> None:
        self.prep = prep
        self.slot_of = slot_of
        self.busy: list[set[int]] = [set() for _ in prep.meetings_of]
        self.count = [0] * len(prep.meetings_of)
        self.per_slot = [0] * prep.n_slots
        self.free = set(prep.free_tables)
        self.tables: set[tuple[int, int]] = set()
        self.per: list[int] | None = None
        self.ranked: list[int] = []
        self.successors: list[list[int]] = [[] for _ in slot_of]
        for m, preds in enumerate(prep.predecessors):
            for q in preds:
                self.successors[q].append(m)
        for m, s in enumerate(slot_of):
            if s == UNPLACED:
                continue
            t = prep.table[m]
            if t is None or t in self.free:
                self.per_slot[s] += 1
            if t is not None:
                self.tables.add((s, t))
            for p in (prep.a[m], prep.b[m]):
                self.busy[p].add(s)
                self.count[p] += 1

    def all(self) -> dict[int, str]:
        meetings = self.prep.problem.meetings
        return {meetings[m].id: self.of(m) for m, s in enumerate(self.slot_of) if s == UNPLACED}

    def of(self, m: int) -> str:
        prep = self.prep
        if m in prep.conflicts:
            return prep.conflicts[m]
        problem = prep.problem
        slot_of = self.slot_of
        a, b = prep.a[m], prep.b[m]
        ids = (problem.participants[a].id, problem.participants[b].id)
        for p in (a, b):
            if self.count[p] >= prep.max_meetings[p]:
                return (
                    f"participant {problem.participants[p].id} has reached its maximum of meetings"
                )
        t = prep.table[m]
        uses_free = t is None or t in self.free
        open_slots = [
            s
            for s in prep.allowed[m]
            if s not in self.busy[a]
            and s not in self.busy[b]
            and not (uses_free and self.per_slot[s] >= len(prep.free_tables))
            and not (t is not None and (s, t) in self.tables)
            and all(slot_of[q] == UNPLACED or slot_of[q] < s for q in prep.predecessors[m])
            and all(slot_of[r] == UNPLACED or slot_of[r] > s for r in self.successors[m])
        ]
        if not open_slots:
            return (
                f"no room: in each of its {len(prep.allowed[m])} possible slots participant "
                f"{ids[0]} or participant {ids[1]} has another meeting, every table is taken, or a "
                "meeting that must come before or after it is in the way"
            )
        d = problem.fairness
        if d is not None and problem.fairness_mode == "hard":
            fair = [s for s in open_slots if self._spread_with(m, s) <= d]
            if not fair:
                return (
                    f"slot {open_slots[0] + 1} is free for both, but the meeting would put the "
                    f"spread of breaks beyond the fairness limit d = {d}"
                )
            open_slots = fair
        return f"slot {open_slots[0] + 1} is free for both, but the search did not place it in time"

    def _spread_with(self, m: int, s: int) -> int:
        """Spread of breaks over all participants if m were added in slot s."""
        a, b = self.prep.a[m], self.prep.b[m]
        if self.per is None:
            counted = [breaks_of(slots) for slots in self.busy]
            self.per = counted
            self.ranked = sorted(range(len(counted)), key=lambda p: counted[p])
        per, ranked = self.per, self.ranked
        others = [p for p in ranked[:3] + ranked[-3:] if p not in (a, b)]
        values = [per[p] for p in others]
        values += [breaks_of(self.busy[a] | {s}), breaks_of(self.busy[b] | {s})]
        return max(values) - min(values)
