"""Start literals of the SAT encoding: one run of busy slots for a participant without
a break, and only the runs its meetings can fill.

They are implied constraints: the optimum must not move (checked against the encoding
without them and against CP-SAT), and they must propagate what the per-slot literals
alone do not (a run that no matching of the participant's meetings fills).
"""

from __future__ import annotations

import functools
import random

import pytest
from pysat.solvers import Solver

from services.events.scheduling import sat
from services.events.scheduling.model import Meeting, Participant, SchedulingProblem, prepare
from services.events.scheduling.solve import SAT_CONFIGS, solve
from tests.events.sat_runs import levels_of


def varied_day(seed: int) -> SchedulingProblem:
    """Ten people on eight slots with sessions, forbidden slots and a fixed meeting."""
    rng = random.Random(seed)
    people = 10
    pairs = sorted({tuple(sorted(rng.sample(range(people), 2))) for _ in range(26)})
    meetings = [
        Meeting(i, a, b, sessions=rng.choice((None, None, frozenset({0}), frozenset({1}))))
        for i, (a, b) in enumerate(pairs)
    ]
    participants = tuple(
        Participant(p, unavailable=frozenset(rng.sample(range(8), rng.choice((0, 0, 1, 2)))))
        for p in range(people)
    )
    # One meeting fixed to a slot both can attend (a conflict is another test's case).
    free = next(i for i, m in enumerate(meetings) if m.sessions is None)
    a, b = meetings[free].a, meetings[free].b
    slot = min(set(range(8)) - participants[a].unavailable - participants[b].unavailable)
    meetings[free] = Meeting(free, a, b, fixed_slot=slot)
    return SchedulingProblem(
        n_slots=8,
        session_of_slot=(0, 0, 0, 0, 1, 1, 1, 1),
        n_tables=4,
        participants=participants,
        meetings=tuple(meetings),
        fairness=2,
    )


def optimum(problem: SchedulingProblem, *, starts: bool) -> dict[str, int]:
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(sat, "Options", functools.partial(sat.Options, starts=starts))
        return levels_of(problem, SAT_CONFIGS[0])[0]


@pytest.mark.parametrize("seed", [0, 1, 2, 3, 4, 5])
def test_the_optimum_is_the_same_with_and_without_starts(seed: int) -> None:
    problem = varied_day(seed)
    with_starts = optimum(problem, starts=True)
    assert with_starts == optimum(problem, starts=False)
    # CP-SAT takes about 8 s to prove one of these: one seed is the independent check.
    if seed == 0:
        assert with_starts["unplaced"] == 0
        exact = solve(problem, time_limit=20, method="exact")
        assert exact.optimal
        assert exact.total_breaks == with_starts["breaks"]


def test_a_run_no_matching_fills_is_refused_by_propagation() -> None:
    # P (0) meets A, B and D, who can only come to slots 0-2, and C and E, who can
    # only come to slots 2-7. Without a break P's five meetings take the run 0-4:
    # any later run leaves A, B and D at most two slots (Hall). So P without a break
    # and busy in slot 5 is impossible, which propagation over the per-slot literals
    # alone does not see: nothing tells it that slot 0 must be busy.
    early, late = frozenset(range(3, 8)), frozenset({0, 1})
    problem = SchedulingProblem(
        n_slots=8,
        session_of_slot=(0,) * 8,
        n_tables=3,
        participants=(
            Participant(0),
            *(Participant(p, unavailable=early) for p in (1, 2, 3)),
            *(Participant(p, unavailable=late) for p in (4, 5)),
        ),
        meetings=tuple(Meeting(i, 0, p) for i, p in enumerate((1, 2, 3, 4, 5))),
        fairness=None,
    )
    prep = prepare(problem)
    refused = {}
    for starts in (False, True):
        enc = sat.Encoding(prep, sat.Options(starts=starts))
        assert enc.floors[0] == 0
        busy_5 = enc.busy[0][5]
        assert busy_5 is not None
        with Solver(name=sat.SOLVER, bootstrap_with=enc.clauses) as solver:
            ok, _ = solver.propagate(assumptions=[*(-e for e in enc.ends[0]), busy_5])
            refused[starts] = not ok
            # Implied only: P can still be busy in slot 5 with a break.
            assert solver.solve(assumptions=[busy_5])
            assert not solver.solve(assumptions=[*(-e for e in enc.ends[0]), busy_5])
    assert refused == {False: False, True: True}
