"""The SAT portfolio: two differently configured searches that share their bounds.

Each configuration alone must prove the same optimum as the other and as CP-SAT; a
process told of the other's proof and schedule must stop on them; and the portfolio
through solve() must return that optimum, proven, with a valid schedule.
"""

from __future__ import annotations

import multiprocessing
import random
import time

import pytest
from pysat.examples.genhard import PHP
from pysat.solvers import Solver

from services.events.scheduling import sat, validate
from services.events.scheduling.model import Meeting, Participant, SchedulingProblem, prepare
from services.events.scheduling.solve import SAT_CONFIGS, solve
from tests.events.sat_runs import levels_of
from tests.events.schedule_validator import validate as independent


def crowded_day(seed: int) -> SchedulingProblem:
    """Twelve people, many requests, few tables: an optimum with some breaks."""
    rng = random.Random(seed)
    people = 12
    pairs = sorted({tuple(sorted(rng.sample(range(people), 2))) for _ in range(40)})
    return SchedulingProblem(
        n_slots=8,
        session_of_slot=(0, 0, 0, 0, 1, 1, 1, 1),
        n_tables=4,
        participants=tuple(Participant(p) for p in range(people)),
        meetings=tuple(
            Meeting(i, a, b, sessions=rng.choice((None, None, frozenset({0}), frozenset({1}))))
            for i, (a, b) in enumerate(pairs)
        ),
        fairness=2,
    )


@pytest.mark.parametrize("seed", [1, 2])
def test_each_configuration_proves_the_same_optimum(seed: int) -> None:
    problem = crowded_day(seed)
    found = [levels_of(problem, config)[0] for config in SAT_CONFIGS]
    assert "breaks" in found[0]
    assert found[1] == found[0]
    exact = solve(problem, time_limit=20, method="exact")
    assert exact.optimal
    assert found[0]["breaks"] == exact.total_breaks


def test_a_process_stops_on_the_others_proof_and_schedule() -> None:
    problem = crowded_day(2)
    levels, alone = levels_of(problem, SAT_CONFIGS[0])
    optimum = levels["breaks"]
    first = next(m[1] for m in alone if m[0] == "solution")
    assert isinstance(first, list)
    # Meaningful only if the first schedule is not already optimal.
    assert validate.spread_of(prepare(problem), first)[0] > optimum
    shared = sat.Shared(multiprocessing.get_context("fork"))
    shared.raise_lower("breaks", optimum)
    shared.lower_upper("breaks", optimum)
    levels, sent = levels_of(problem, SAT_CONFIGS[0], shared)
    assert levels["breaks"] == optimum
    # It proved no bound of its own: the bound came from the other process.
    assert [m[2] for m in sent if m[0] == "bound" and m[1] == "breaks"] == [optimum]
    # And it sent only its first schedule: the other holds the optimal one.
    assert [m[0] for m in sent].count("solution") == 1


def test_a_process_that_assumed_every_meeting_placed_falls_back() -> None:
    # Seed 3 cannot place every meeting within d = 2: the satisfiable-mode process,
    # which starts without a first schedule, must neither claim it nor share bounds
    # made under it, and then settle the real problem itself.
    problem = crowded_day(3)
    levels, _ = levels_of(problem, SAT_CONFIGS[0])
    assert levels["unplaced"] > 0
    shared = sat.Shared(multiprocessing.get_context("fork"))
    found, sent = levels_of(problem, SAT_CONFIGS[1], shared)
    assert found == levels
    assert ("level", "unplaced", 0) not in sent
    assert shared.bounds("breaks")[0] <= levels["breaks"]


@pytest.mark.parametrize("seed", [1, 3])
def test_the_portfolio_returns_the_proven_optimum(seed: int) -> None:
    problem = crowded_day(seed)
    optimum = levels_of(problem, SAT_CONFIGS[0])[0]["breaks"]
    result = solve(problem, time_limit=20)
    assert independent(problem, result, ()) == []
    assert result.extra.get("rejected", 0) == 0
    assert result.optimal
    assert result.method == "sat"
    assert result.total_breaks == optimum
    assert result.breaks_bound == optimum


def record_calls(monkeypatch: pytest.MonkeyPatch, give_up: int) -> list[float]:
    """The seconds asked of each call; the first `give_up` calls run out of budget."""
    real = sat._Search.limited
    asked: list[float] = []

    def limited(
        self: sat._Search, solver: Solver, assumptions: list[int], seconds: float
    ) -> bool | None:
        asked.append(seconds)
        if len(asked) <= give_up:
            return None  # as if the budget ran out
        return real(self, solver, assumptions, seconds)

    monkeypatch.setattr(sat._Search, "limited", limited)
    return asked


def test_calls_on_one_bound_get_twice_the_time(monkeypatch: pytest.MonkeyPatch) -> None:
    # Each call restarts CaDiCaL's search: a bound that a slice did not settle gets
    # a longer call next, not the same slice again.
    asked = record_calls(monkeypatch, give_up=3)
    problem = crowded_day(2)
    shared = sat.Shared(multiprocessing.get_context("fork"))
    shared.join()  # another process shares real bounds
    levels, _ = levels_of(problem, SAT_CONFIGS[0], shared)
    assert levels["breaks"] == levels_of(problem, SAT_CONFIGS[0])[0]["breaks"]
    slice_ = sat.PORTFOLIO_SLICE
    assert asked[:4] == [slice_, 2 * slice_, 4 * slice_, 8 * slice_]


@pytest.mark.parametrize("config", [0, 1])
def test_no_slices_when_nothing_can_come_in(monkeypatch: pytest.MonkeyPatch, config: int) -> None:
    # Slices are there to read the other's bounds between calls. Alone among the
    # processes that share real bounds (the other still assumes every meeting
    # placed), or itself under that assumption (it reads nothing), a process would
    # only restart its search for nothing: each call runs to the end.
    asked = record_calls(monkeypatch, give_up=0)
    problem = crowded_day(2)
    shared = sat.Shared(multiprocessing.get_context("fork"))
    if config == 1:
        shared.join()  # the first process shares; this one starts under the assumption
    levels, _ = levels_of(problem, SAT_CONFIGS[config], shared)
    assert levels["breaks"] == levels_of(problem, SAT_CONFIGS[0])[0]["breaks"]
    assert asked
    assert all(seconds > 1e8 for seconds in asked)


def test_the_first_measured_rate_replaces_the_guess(monkeypatch: pytest.MonkeyPatch) -> None:
    # Budgets are conflicts worth some seconds at the measured rate; averaged with
    # the initial guess, the first real measure made a call meant to run to the
    # switch end early, in a restart. The clock here is a fake one: one second a call.
    prep = prepare(crowded_day(2))
    goal = sat.Goal(fairness=2, fairness_hard=True, unplaced_floor=0, try_all_placed=True)
    search = sat._Search(prep, goal, SAT_CONFIGS[0], lambda message: None)
    ticks = iter(range(100))
    monkeypatch.setattr(time, "monotonic", lambda: float(next(ticks)))
    rates = []
    with Solver(name=sat.SOLVER, bootstrap_with=PHP(9).clauses) as solver:
        for _ in range(2):
            before = solver.accum_stats().get("conflicts", 0)
            assert search.limited(solver, [], 0.5) is None  # the budget ran out
            rates.append(solver.accum_stats().get("conflicts", 0) - before)
    first, second = rates
    # CaDiCaL may overshoot a budget by a few conflicts.
    assert 1_000 <= first <= 1_050  # 0.5 s at the guessed 2,000 a second
    # The first call's conflicts in one (fake) second are the rate, not their mean with
    # the guess (which would give the second call about 750): the second call's budget
    # follows from it, and then the rate is the mean of both measures.
    assert int(0.5 * first) <= second <= int(0.5 * first) + 50
    assert search.rate == 0.5 * first + 0.5 * second
