"""The conflict-clock bench (bench/b2b_search.py): the same seed gives the same run, it
finds and proves the optimum, and it leaves the scheduler's own clock alone."""

from __future__ import annotations

import time

from bench.b2b_search import _Run
from services.events.scheduling import sat
from services.events.scheduling.model import Meeting, Participant, SchedulingProblem, prepare
from services.events.scheduling.solve import solve
from tests.events.test_scheduler import random_problem


def _forced_break() -> SchedulingProblem:
    # Participant 0 cannot take slot 1 and meets 3, who can only take slot 3: one break.
    return SchedulingProblem(
        n_slots=4,
        session_of_slot=(0, 0, 0, 0),
        n_tables=2,
        participants=(
            Participant(id=0, unavailable=frozenset({1})),
            Participant(id=1),
            Participant(id=2),
            Participant(id=3, unavailable=frozenset({0, 1, 2})),
        ),
        meetings=(Meeting(1, 0, 1), Meeting(2, 0, 2), Meeting(3, 0, 3)),
    )


def test_finds_and_proves_the_optimum() -> None:
    run = _Run(prepare(_forced_break(), ()), seed=0, rate=10_000.0, budget=50_000, switch=None)
    run.go()
    assert (run.best, run.bound, run.proven) == (1, 1, True)


def test_same_seed_same_run_and_the_clock_is_put_back() -> None:
    problem = random_problem(3, participants=14, meetings=30, slots=10, tables=4, fairness=2)
    prep = prepare(problem, ())
    outcomes = []
    for _ in range(2):
        run = _Run(prep, seed=1, rate=1_000.0, budget=20_000, switch=2_000)
        run.go()
        outcomes.append((run.best, run.best_at, run.bound, run.proven))
        assert vars(sat)["time"] is time
    assert outcomes[0] == outcomes[1]
    assert outcomes[0][3], "the small instance is proven within the budget"
    # The bench's optimum is the scheduler's (same goal: d = 2, hard).
    result = solve(problem, time_limit=10.0)
    assert result.optimal
    assert result.total_breaks == outcomes[0][0]
