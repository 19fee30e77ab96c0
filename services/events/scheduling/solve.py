"""B2B meeting scheduler: place accepted meeting requests into (slot, table).

Pure algorithm, no database. Slots and tables are 0-based; participant and meeting
ids are the caller's. Hard constraints: one meeting per participant and slot,
availability, sessions, at most n_tables meetings per slot (one per table), fixed
slots/tables, precedences, hosts keep one table that nobody else uses, per-participant
maximum. Objective, lexicographic: (1) placed weight, (2) total breaks (see
scheduling.breaks for the exact reading), (3) fairness: breaks of two participants
differ by at most `fairness`; it is imposed while minimising breaks but never at the
cost of placed weight (`Schedule.fairness_met` tells whether it holds).

Method: when every meeting must be placed (the weight bound allows it, no host or
fixed table, no binding maximum) and the instance is not too large, MaxSAT first
(scheduling.maxsat, PySAT's RC2, as in the JAIR 2022 paper); if it does not prove the
optimum in its share of the time, the search below continues from its schedule. By
size: CP-SAT (exact, with a greedy start as hint) while the slot model stays small
enough to solve in the time limit; beyond, greedy capacity-bounded matching per slot
plus local improvement. Both stop at the time limit. For a given seed the result
is reproducible whenever CP-SAT finishes (proves optimality) before the time limit
and always for the heuristic; a search cut short by the wall clock may differ.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

from services.events.scheduling import exact, heuristic, local_search, maxsat
from services.events.scheduling.bounds import placed_weight_bound
from services.events.scheduling.breaks import breaks_of
from services.events.scheduling.model import (
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
    "EXACT_MAX_VARIABLES",
    "Meeting",
    "Participant",
    "Placement",
    "Schedule",
    "SchedulingError",
    "SchedulingProblem",
    "solve",
]

# Above this many (meeting, slot) pairs CP-SAT rarely beats the heuristic in seconds.
EXACT_MAX_VARIABLES = 40_000
# Share of the time limit spent polishing the greedy start before CP-SAT takes over.
HINT_SHARE = 0.1
# Share of the time limit for annealing (see scheduling.local_search) before CP-SAT.
ANNEAL_SHARE = 0.4
# Seconds kept back for table assignment and bookkeeping after the search.
MARGIN = 0.05
# Share of the time limit for the MaxSAT engine (auto, everything must be placed);
# when it does not prove the optimum, CP-SAT gets the rest, starting from its schedule.
MAXSAT_SHARE = 0.85


def solve(
    problem: SchedulingProblem,
    *,
    time_limit: float = 10.0,
    seed: int = 0,
    keep: Sequence[Placement] = (),
    method: str = "auto",
) -> Schedule:
    """Schedule `problem`; `keep` are published placements that must stay where they are.

    method: "auto" (MaxSAT first when every meeting must be placed, then by size),
    "maxsat" (MaxSAT for the whole time limit where it applies, else as auto),
    "exact" (CP-SAT) or "greedy" (heuristic only).
    Raises SchedulingError for inconsistent input or when the fixed/kept meetings
    cannot all be placed together.
    """
    started = time.monotonic()
    if time_limit <= 0:
        raise SchedulingError("time_limit must be positive")
    if method not in ("auto", "maxsat", "exact", "greedy"):
        raise SchedulingError(f"unknown method {method!r}")
    deadline = started + time_limit - MARGIN
    prep = prepare(problem, tuple(keep))
    bound = placed_weight_bound(prep)

    start: dict[int, int] | None = None
    maxsat_bound: int | None = None
    total_weight = sum(prep.weight[m] for m in range(len(prep.a)) if prep.allowed[m])
    if method in ("auto", "maxsat") and bound >= total_weight and maxsat.eligible(prep):
        share = 1.0 if method == "maxsat" else MAXSAT_SHARE
        found = maxsat.solve_maxsat(prep, min(deadline, started + share * time_limit))
        if found is not None and (found.optimal or method == "maxsat"):
            return _schedule(
                prep,
                found.slot_of,
                bound,
                found.bound,
                True,
                found.optimal,
                "maxsat",
                started,
            )
        if found is not None:
            start = dict(enumerate(found.slot_of))
            maxsat_bound = found.bound
        method = "auto"

    state = heuristic.construct(prep, seed, start)
    size = sum(len(allowed) for allowed in prep.allowed)
    use_exact = method == "exact" or (method == "auto" and size <= EXACT_MAX_VARIABLES)
    # The shares below are of the time MaxSAT left.
    begun = time.monotonic()
    left = max(0.0, deadline + MARGIN - begun)
    if use_exact:
        heuristic.improve(state, begun + HINT_SHARE * left, seed)
        anneal_deadline = begun + ANNEAL_SHARE * left
        # Building a CP-SAT model takes time the solver's own limit does not see.
        exact_deadline = deadline - min(0.5, 0.05 * left)
        # Annealing on past its share when it has no full placement starved CP-SAT's
        # plain search on capacity-tight instances (forumt-14crafe lost 15 meetings).
        last_call = anneal_deadline

        annealed: list[list[int]] = []

        def anneal(stop: Callable[[], bool]) -> list[int] | None:
            found = _anneal(prep, state.slot_of, bound, anneal_deadline, seed, stop, last_call)
            if found is not None:
                annealed.append(found)
            return found

        result = exact.solve_exact(
            prep,
            start=state.slot_of,
            weight_bound=bound,
            deadline=exact_deadline,
            seed=seed,
            anneal=anneal,
        )
        if result is None:
            raise SchedulingError("the fixed and kept meetings cannot all be placed together")
        slot_of = result.slot_of
        bound = result.weight_bound
        breaks_bound = result.breaks_bound
        weight_optimal = result.weight_optimal
        if maxsat_bound is not None and _weight(prep, slot_of) >= total_weight:
            # MaxSAT's bound holds for schedules placing everything.
            breaks_bound = max(breaks_bound or 0, maxsat_bound)
        breaks_optimal = result.breaks_optimal or (
            weight_optimal
            and breaks_bound is not None
            and _total_breaks(prep, slot_of) <= breaks_bound
            and (prep.problem.fairness is None or _spread(prep, slot_of) <= prep.problem.fairness)
        )
        used = "cp-sat" if maxsat_bound is None else "maxsat+cp-sat"
        # CP-SAT may not have found (or kept) the annealer's schedule: the better wins.
        if annealed and _better(prep, annealed[0], slot_of):
            if _weight(prep, annealed[0]) > _weight(prep, slot_of):
                # CP-SAT's bound on breaks was for a smaller placed weight.
                breaks_bound = None
                weight_optimal = _weight(prep, annealed[0]) >= bound
            slot_of = annealed[0]
            used = "cp-sat+anneal"
            breaks_optimal = (
                breaks_bound is not None
                and weight_optimal
                and _total_breaks(prep, slot_of) <= breaks_bound
            )
    else:
        heuristic.improve(state, deadline, seed)
        heuristic.repair_fairness(state, deadline)
        slot_of = state.slot_of
        breaks_bound = None
        weight_optimal = False
        breaks_optimal = False
        used = "greedy"

    missing_forced = [
        problem.meetings[m].id
        for m in range(len(slot_of))
        if prep.forced[m] and slot_of[m] == heuristic.UNPLACED
    ]
    if missing_forced:
        raise SchedulingError(
            f"fixed or kept meetings {missing_forced[:5]} could not be placed "
            "(conflicting fixed data, or no solution found within the time limit)"
        )
    return _schedule(
        prep, slot_of, bound, breaks_bound, weight_optimal, breaks_optimal, used, started
    )


def _anneal(
    prep: Prepared,
    start: list[int],
    bound: int,
    deadline: float,
    seed: int,
    stop: Callable[[], bool],
    last_call: float,
) -> list[int] | None:
    """Anneal from `start`; the result if it places more weight or has fewer breaks.

    When the weight bound allows placing every meeting (and no participant maximum
    forbids it), the annealer places them all and searches for a schedule without
    clashes; otherwise it keeps the set of placed meetings and moves them around.
    None when it found nothing better than `start`.
    """
    n = len(start)
    placeable = [bool(prep.allowed[m]) for m in range(n)]
    total = sum(prep.weight[m] for m in range(n) if placeable[m])
    everything = bound >= total and all(
        prep.max_meetings[p] >= len(mine) for p, mine in enumerate(prep.meetings_of)
    )
    active = placeable if everything else [s != heuristic.UNPLACED for s in start]
    annealer = local_search.Annealer(prep, start, active, seed)
    found = annealer.run(deadline, stop=stop)
    if found is None and everything and _weight(prep, start) < total:
        # No full placement yet, and CP-SAT's plain search would only polish the
        # greedy one: keep annealing, a full placement outranks any break count.
        found = annealer.run(last_call, stop=stop)
    if found is None:
        return None
    slot_of, breaks = found
    weight = sum(prep.weight[m] for m in range(n) if slot_of[m] != heuristic.UNPLACED)
    old_weight = sum(prep.weight[m] for m in range(n) if start[m] != heuristic.UNPLACED)
    if weight > old_weight or (weight == old_weight and breaks < _total_breaks(prep, start)):
        return slot_of
    return None


def _better(prep: Prepared, one: list[int], other: list[int]) -> bool:
    """Whether `one` places more weight than `other`, or as much with fewer breaks."""

    if _weight(prep, one) != _weight(prep, other):
        return _weight(prep, one) > _weight(prep, other)
    if prep.problem.fairness is not None and _spread(prep, one) > prep.problem.fairness:
        return False
    return _total_breaks(prep, one) < _total_breaks(prep, other)


def _weight(prep: Prepared, slot_of: list[int]) -> int:
    return sum(prep.weight[m] for m, s in enumerate(slot_of) if s != heuristic.UNPLACED)


def _spread(prep: Prepared, slot_of: list[int]) -> int:
    masks = [0] * len(prep.meetings_of)
    for m, s in enumerate(slot_of):
        if s != heuristic.UNPLACED:
            masks[prep.a[m]] |= 1 << s
            masks[prep.b[m]] |= 1 << s
    per = [heuristic.mask_breaks(mask) for mask in masks]
    return max(per, default=0) - min(per, default=0)


def _total_breaks(prep: Prepared, slot_of: list[int]) -> int:
    slots_of: list[list[int]] = [[] for _ in prep.meetings_of]
    for m, s in enumerate(slot_of):
        if s != heuristic.UNPLACED:
            slots_of[prep.a[m]].append(s)
            slots_of[prep.b[m]].append(s)
    return sum(breaks_of(slots) for slots in slots_of)


def _schedule(
    prep: Prepared,
    slot_of: list[int],
    bound: int,
    breaks_bound: int | None,
    weight_optimal: bool,
    breaks_optimal: bool,
    method: str,
    started: float,
) -> Schedule:
    problem = prep.problem
    tables = heuristic.assign_tables(prep, slot_of)
    placements = tuple(
        Placement(problem.meetings[m].id, s, tables[m])
        for m, s in enumerate(slot_of)
        if s != heuristic.UNPLACED
    )
    unplaced = tuple(
        problem.meetings[m].id for m, s in enumerate(slot_of) if s == heuristic.UNPLACED
    )
    slots_of: list[list[int]] = [[] for _ in problem.participants]
    for m, s in enumerate(slot_of):
        if s != heuristic.UNPLACED:
            slots_of[prep.a[m]].append(s)
            slots_of[prep.b[m]].append(s)
    by_participant = {p.id: breaks_of(slots_of[i]) for i, p in enumerate(problem.participants)}
    total = sum(by_participant.values())
    placed_weight = sum(prep.weight[m] for m, s in enumerate(slot_of) if s != heuristic.UNPLACED)
    spread = max(by_participant.values(), default=0) - min(by_participant.values(), default=0)
    fairness_met = problem.fairness is None or spread <= problem.fairness
    bound = max(bound, placed_weight)
    return Schedule(
        placements=placements,
        unplaced=unplaced,
        total_breaks=total,
        breaks_by_participant=by_participant,
        placed_weight=placed_weight,
        placed_weight_bound=bound,
        breaks_bound=breaks_bound,
        optimal=weight_optimal and breaks_optimal,
        fairness_met=fairness_met,
        seconds=time.monotonic() - started,
        method=method,
    )
