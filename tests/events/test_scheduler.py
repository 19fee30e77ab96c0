"""Scheduler tests on instances built here; every schedule goes through the validator."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from services.events.scheduling.solve import (
    Meeting,
    Participant,
    Placement,
    Schedule,
    SchedulingError,
    SchedulingProblem,
    solve,
)
from tests.events.schedule_validator import participant_breaks, validate

DATA = Path(__file__).resolve().parents[3] / "shared" / "data" / "b2b"


def random_problem(
    seed: int,
    *,
    participants: int = 12,
    meetings: int = 24,
    slots: int = 8,
    tables: int = 4,
    fairness: int | None = 2,
) -> SchedulingProblem:
    rng = random.Random(seed)
    people = tuple(
        Participant(
            id=p,
            unavailable=frozenset(rng.sample(range(slots), 1))
            if rng.random() < 0.3
            else frozenset(),
        )
        for p in range(participants)
    )
    pairs: set[tuple[int, int]] = set()
    while len(pairs) < meetings:
        a, b = rng.sample(range(participants), 2)
        pairs.add((min(a, b), max(a, b)))
    reqs = tuple(
        Meeting(
            id=100 + k,
            a=a,
            b=b,
            weight=rng.choice((1, 1, 2)),
            sessions=rng.choice((None, None, frozenset({0}), frozenset({1}))),
        )
        for k, (a, b) in enumerate(sorted(pairs))
    )
    half = slots // 2
    return SchedulingProblem(
        n_slots=slots,
        session_of_slot=tuple(0 if s < half else 1 for s in range(slots)),
        n_tables=tables,
        participants=people,
        meetings=reqs,
        fairness=fairness,
    )


def checked(problem: SchedulingProblem, **kwargs: object) -> Schedule:
    result = solve(problem, **kwargs)  # type: ignore[arg-type]
    keep = kwargs.get("keep", ())
    assert validate(problem, result, keep) == []  # type: ignore[arg-type]
    # No engine may have offered a schedule the scheduler's own validator refused.
    assert result.extra.get("rejected", 0) == 0
    return result


def line(
    n_slots: int, n_tables: int, people: int, pairs: list[tuple[int, int]]
) -> SchedulingProblem:
    return SchedulingProblem(
        n_slots=n_slots,
        session_of_slot=(0,) * n_slots,
        n_tables=n_tables,
        participants=tuple(Participant(id=p) for p in range(people)),
        meetings=tuple(Meeting(id=k, a=a, b=b) for k, (a, b) in enumerate(pairs)),
    )


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("method", ["auto", "exact", "greedy"])
def test_random_instances_are_valid(seed: int, method: str) -> None:
    problem = random_problem(seed)
    result = checked(problem, time_limit=3.0, seed=seed, method=method)
    assert result.placed_weight <= result.placed_weight_bound


def test_exact_is_at_least_as_good_as_greedy() -> None:
    problem = random_problem(11, participants=10, meetings=20, slots=6, tables=3)
    exact = checked(problem, time_limit=5.0, method="exact")
    greedy = checked(problem, time_limit=5.0, method="greedy")
    assert (exact.placed_weight, -exact.total_breaks) >= (
        greedy.placed_weight,
        -greedy.total_breaks,
    )


def test_star_is_placed_without_breaks() -> None:
    # Participant 0 meets four others in four slots: a contiguous block is possible.
    problem = line(4, 1, 5, [(0, 1), (0, 2), (0, 3), (0, 4)])
    result = checked(problem, time_limit=5.0)
    assert result.unplaced == ()
    assert result.total_breaks == 0
    assert result.optimal
    assert result.breaks_bound == 0


def test_unavailable_slot_forces_a_break() -> None:
    # 0 meets 1, 2, 3 in slots 0..3 but is away in slot 1, and 3 only comes in slot 3:
    # slots {0, 2, 3} are the only way, with one break.
    problem = SchedulingProblem(
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
    result = checked(problem, time_limit=5.0)
    assert result.unplaced == ()
    assert result.total_breaks == 1
    assert result.breaks_bound == 1


def test_lunch_gap_between_sessions_is_no_break_but_idle_slots_around_it_are() -> None:
    # Morning-only then afternoon-only meeting, slots 0-1 morning, 2-3 afternoon.
    problem = SchedulingProblem(
        n_slots=4,
        session_of_slot=(0, 0, 1, 1),
        n_tables=1,
        participants=(Participant(0), Participant(1), Participant(2)),
        meetings=(
            Meeting(1, 0, 1, sessions=frozenset({0})),
            Meeting(2, 0, 2, sessions=frozenset({1})),
        ),
    )
    result = checked(problem, time_limit=5.0)
    slots = sorted(p.slot for p in result.placements)
    assert slots == [1, 2]
    assert result.total_breaks == 0


def test_capacity_bound_when_not_everything_fits() -> None:
    # One table, two slots, four disjoint meetings: two fit.
    problem = line(2, 1, 8, [(0, 1), (2, 3), (4, 5), (6, 7)])
    result = checked(problem, time_limit=5.0)
    assert len(result.placements) == 2
    assert len(result.unplaced) == 2
    assert result.placed_weight_bound == 2


def test_heavier_meetings_win_the_capacity() -> None:
    problem = SchedulingProblem(
        n_slots=1,
        session_of_slot=(0,),
        n_tables=1,
        participants=tuple(Participant(p) for p in range(4)),
        meetings=(Meeting(1, 0, 1, weight=1), Meeting(2, 2, 3, weight=5)),
    )
    for method in ("exact", "greedy"):
        result = checked(problem, time_limit=5.0, method=method)
        assert [p.meeting_id for p in result.placements] == [2]


def test_max_meetings_is_respected() -> None:
    problem = SchedulingProblem(
        n_slots=4,
        session_of_slot=(0,) * 4,
        n_tables=4,
        participants=(Participant(0, max_meetings=2), *(Participant(p) for p in range(1, 5))),
        meetings=tuple(Meeting(k, 0, k) for k in range(1, 5)),
    )
    result = checked(problem, time_limit=5.0)
    assert len(result.placements) == 2
    assert result.placed_weight_bound == 2


def test_hosts_keep_one_table_that_nobody_else_uses() -> None:
    problem = SchedulingProblem(
        n_slots=4,
        session_of_slot=(0, 0, 1, 1),
        n_tables=3,
        participants=(
            Participant(0, host=True),
            Participant(1, host=True),
            *(Participant(p) for p in range(2, 8)),
        ),
        meetings=(
            *(Meeting(10 + p, 0, p) for p in range(2, 6)),
            *(Meeting(20 + p, 1, p) for p in range(4, 8)),
            Meeting(30, 2, 3),
            Meeting(31, 6, 7),
        ),
    )
    for method in ("exact", "greedy"):
        result = checked(problem, time_limit=5.0, method=method)
        assert not result.unplaced


def test_fixed_slots_and_tables_are_honoured() -> None:
    problem = SchedulingProblem(
        n_slots=3,
        session_of_slot=(0, 0, 0),
        n_tables=2,
        participants=tuple(Participant(p) for p in range(4)),
        meetings=(
            Meeting(1, 0, 1, fixed_slot=2, fixed_table=1),
            Meeting(2, 0, 2),
            Meeting(3, 2, 3, fixed_slot=0),
            Meeting(4, 1, 3),
        ),
    )
    result = checked(problem, time_limit=5.0)
    where = {p.meeting_id: p for p in result.placements}
    assert (where[1].slot, where[1].table) == (2, 1)
    assert where[3].slot == 0


def test_precedences_order_meetings() -> None:
    problem = SchedulingProblem(
        n_slots=3,
        session_of_slot=(0, 0, 0),
        n_tables=3,
        participants=tuple(Participant(p) for p in range(6)),
        meetings=(
            Meeting(1, 0, 1, after=frozenset({2})),
            Meeting(2, 2, 3, after=frozenset({3})),
            Meeting(3, 4, 5),
        ),
    )
    for method in ("exact", "greedy"):
        result = checked(problem, time_limit=5.0, method=method)
        where = {p.meeting_id: p.slot for p in result.placements}
        assert where == {3: 0, 2: 1, 1: 2}


def test_fairness_limits_the_spread_of_breaks() -> None:
    for seed in range(3):
        problem = random_problem(seed + 20, fairness=0, meetings=18)
        result = checked(problem, time_limit=3.0, method="exact")
        spread = max(result.breaks_by_participant.values()) - min(
            result.breaks_by_participant.values()
        )
        assert result.fairness_met == (spread == 0)


def test_incremental_rescheduling_keeps_published_placements() -> None:
    problem = random_problem(5, participants=10, meetings=16, slots=6, tables=3)
    first = checked(problem, time_limit=3.0)
    cancelled = first.placements[0].meeting_id
    late = (Meeting(900, 0, 9), Meeting(901, 1, 8))
    changed = SchedulingProblem(
        n_slots=problem.n_slots,
        session_of_slot=problem.session_of_slot,
        n_tables=problem.n_tables,
        participants=problem.participants,
        meetings=tuple(m for m in problem.meetings if m.id != cancelled) + late,
        fairness=problem.fairness,
    )
    for method in ("exact", "greedy"):
        second = checked(changed, time_limit=3.0, keep=first.placements, method=method)
        kept = {p.meeting_id: p for p in first.placements if p.meeting_id != cancelled}
        assert all(p in second.placements for p in kept.values())


def test_kept_meetings_that_cannot_both_stay_are_displaced_not_refused() -> None:
    # Both kept in slot 0, but participant 0 is in both: the second must move.
    problem = line(2, 2, 3, [(0, 1), (0, 2)])
    keep = (Placement(0, 0, 0), Placement(1, 0, 1))
    result = solve(problem, keep=keep, time_limit=2.0)
    assert validate(problem, result, keep[:1]) == []
    assert set(result.displaced) == {1}
    assert "clashes with fixed meeting 0" in result.displaced[1]
    assert Placement(0, 0, 0) in result.placements
    assert {p.meeting_id: p.slot for p in result.placements}[1] == 1


def test_same_seed_same_schedule() -> None:
    problem = random_problem(3, participants=30, meetings=80, slots=10, tables=6)
    one = checked(problem, time_limit=2.0, seed=4, method="greedy")
    two = checked(problem, time_limit=2.0, seed=4, method="greedy")
    assert one.placements == two.placements
    small = random_problem(4)
    exact_one = checked(small, time_limit=5.0, seed=1, method="exact")
    exact_two = checked(small, time_limit=5.0, seed=1, method="exact")
    if exact_one.optimal and exact_two.optimal:
        assert (exact_one.placed_weight, exact_one.total_breaks) == (
            exact_two.placed_weight,
            exact_two.total_breaks,
        )


def test_short_time_limit_still_gives_a_valid_schedule() -> None:
    problem = random_problem(8, participants=60, meetings=300, slots=12, tables=12)
    result = checked(problem, time_limit=0.5)
    # Generous: only catches a solver ignoring its limit altogether.
    assert result.seconds < 30


def test_large_instance_uses_the_heuristic() -> None:
    problem = random_problem(9, participants=400, meetings=3000, slots=24, tables=40)
    result = checked(problem, time_limit=1.0)
    assert result.method == "greedy"
    assert result.placed_weight > 0


@pytest.mark.parametrize(
    ("meetings", "message"),
    [
        ((Meeting(1, 0, 0),), "meets itself"),
        ((Meeting(1, 0, 7),), "unknown participant"),
        ((Meeting(1, 0, 1, fixed_slot=9),), "out of range"),
        ((Meeting(1, 0, 1, fixed_table=0),), "needs a fixed slot"),
        ((Meeting(1, 0, 1, after=frozenset({5})),), "unknown meeting"),
        ((Meeting(1, 0, 1), Meeting(1, 0, 1)), "twice"),
    ],
)
def test_malformed_input_is_rejected(meetings: tuple[Meeting, ...], message: str) -> None:
    problem = SchedulingProblem(
        n_slots=2,
        session_of_slot=(0, 0),
        n_tables=1,
        participants=(Participant(0), Participant(1)),
        meetings=meetings,
    )
    with pytest.raises(SchedulingError, match=message):
        solve(problem, time_limit=1.0)


def test_two_hosts_cannot_meet_and_say_why() -> None:
    problem = SchedulingProblem(
        n_slots=2,
        session_of_slot=(0, 0),
        n_tables=2,
        participants=(Participant(0, host=True), Participant(1, host=True), Participant(2)),
        meetings=(Meeting(1, 0, 1), Meeting(2, 0, 2)),
    )
    result = checked(problem, time_limit=1.0)
    assert result.unplaced == (1,)
    assert "both participants" in result.reasons[1]


def test_validator_catches_a_broken_schedule() -> None:
    problem = line(2, 1, 3, [(0, 1), (0, 2)])
    good = checked(problem, time_limit=2.0)
    broken = Schedule(
        placements=tuple(Placement(p.meeting_id, 0, 0) for p in good.placements),
        unplaced=(),
        total_breaks=0,
        breaks_by_participant={0: 0, 1: 0, 2: 0},
        placed_weight=2,
        placed_weight_bound=2,
        breaks_bound=0,
        optimal=True,
        fairness_met=True,
        seconds=0.0,
        method="fake",
    )
    errors = validate(problem, broken)
    assert any("2 meetings in slot 0" in e for e in errors)
    assert any("table 0 used 2 times" in e for e in errors)
    assert participant_breaks([0, 2, 3, 6]) == 2


def test_real_instance_if_available() -> None:
    path = DATA / "tic-12.original.dzn"
    if not path.is_file():
        pytest.skip(f"B2B instances not found in {DATA} (download b2b.zip, see bench/b2b.py)")
    from services.events.scheduling.dzn import load_problem

    problem = load_problem(path)
    result = checked(problem, time_limit=5.0)
    assert result.placed_weight <= result.placed_weight_bound


def _sat(problem: SchedulingProblem) -> Schedule:
    result = checked(problem, time_limit=20.0)
    assert result.method == "sat"
    assert result.unplaced == ()
    assert result.optimal
    assert result.breaks_bound == result.total_breaks
    assert result.fairness_met
    return result


def test_sat_finds_the_forced_break() -> None:
    problem = SchedulingProblem(
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
    assert _sat(problem).total_breaks == 1


def test_sat_round_robin_fills_every_table_without_breaks() -> None:
    # Four participants meet each other: 6 meetings in 3 slots of 2 tables, no idle slot.
    pairs = [(a, b) for a in range(4) for b in range(a + 1, 4)]
    result = _sat(line(3, 2, 4, pairs))
    assert result.total_breaks == 0


def test_sat_lunch_is_no_break_but_idle_slots_around_it_are() -> None:
    # 0 meets 1 in the morning and 2 in the afternoon. 1 is away in slot 0 and 2 in
    # slot 3: slots 1 and 2 are adjacent on the day's timeline, no break.
    def problem(away_1: int, away_2: int) -> SchedulingProblem:
        return SchedulingProblem(
            n_slots=4,
            session_of_slot=(0, 0, 1, 1),
            n_tables=1,
            participants=(
                Participant(id=0),
                Participant(id=1, unavailable=frozenset({away_1})),
                Participant(id=2, unavailable=frozenset({away_2})),
            ),
            meetings=(
                Meeting(1, 0, 1, sessions=frozenset({0})),
                Meeting(2, 0, 2, sessions=frozenset({1})),
            ),
        )

    assert _sat(problem(0, 3)).total_breaks == 0
    # 1 only in slot 0 and 2 only in slot 3 of the afternoon... 2 away in slot 2: a break.
    assert _sat(problem(1, 2)).total_breaks == 1


def test_sat_respects_precedences() -> None:
    # A chain 0-1, 0-2, 0-3 with 3 before 2 before 1: still contiguous for 0.
    base = line(5, 1, 4, [(0, 1), (0, 2), (0, 3)])
    meetings = (
        Meeting(0, 0, 1, after=frozenset({1})),
        Meeting(1, 0, 2, after=frozenset({2})),
        Meeting(2, 0, 3),
    )
    problem = SchedulingProblem(
        n_slots=base.n_slots,
        session_of_slot=base.session_of_slot,
        n_tables=1,
        participants=base.participants,
        meetings=meetings,
    )
    result = _sat(problem)
    assert result.total_breaks == 0
    slot = {pl.meeting_id: pl.slot for pl in result.placements}
    assert slot[2] < slot[1] < slot[0]


@pytest.mark.parametrize("seed", range(4))
def test_sat_matches_cp_sat_on_small_random_instances(seed: int) -> None:
    rng = random.Random(seed)
    people = 8
    pairs = sorted({tuple(sorted(rng.sample(range(people), 2))) for _ in range(14)})
    problem = SchedulingProblem(
        n_slots=7,
        session_of_slot=(0, 0, 0, 1, 1, 1, 1),
        n_tables=3,
        participants=tuple(
            Participant(id=p, unavailable=frozenset({rng.randrange(7)})) for p in range(people)
        ),
        meetings=tuple(Meeting(id=k, a=a, b=b) for k, (a, b) in enumerate(pairs)),
    )
    exact = checked(problem, time_limit=20.0, method="exact")
    if exact.unplaced or not exact.optimal:
        pytest.skip("CP-SAT did not settle this instance")
    assert _sat(problem).total_breaks == exact.total_breaks


def test_sat_handles_hosts() -> None:
    problem = SchedulingProblem(
        n_slots=3,
        session_of_slot=(0, 0, 0),
        n_tables=2,
        participants=(Participant(id=0, host=True), Participant(id=1), Participant(id=2)),
        meetings=(Meeting(1, 0, 1), Meeting(2, 0, 2)),
    )
    result = _sat(problem)
    assert result.total_breaks == 0
    assert len({p.table for p in result.placements}) == 1


def test_fairness_repair_exchanges_a_run_for_unplaced_meetings_of_equal_weight() -> None:
    """When every table-slot is taken, a participant over the cap can only be helped by
    dropping a run of its meetings and placing others there instead."""
    import time

    from services.events.scheduling import heuristic
    from services.events.scheduling.model import prepare

    # One table, three slots, all taken. Participant 0 meets 1 in slot 0 and 2 in slot
    # 2, so it has a break; fairness d=0 allows none. Meeting 5-6 waits unplaced.
    base = line(3, 1, 7, [(0, 1), (3, 4), (0, 2), (5, 6)])
    problem = SchedulingProblem(
        n_slots=base.n_slots, session_of_slot=base.session_of_slot, n_tables=1,
        participants=base.participants, meetings=base.meetings, fairness=0,
    )  # fmt: skip
    prep = prepare(problem)
    state = heuristic.State(prep)
    for meeting, slot in ((0, 0), (1, 1), (2, 2)):
        state.place(meeting, slot)
    assert heuristic.mask_breaks(state.busy[0]) == 1
    assert heuristic.repair_fairness(state, time.monotonic() + 5) == 1
    assert all(heuristic.mask_breaks(mask) == 0 for mask in state.busy)
    assert sum(1 for s in state.slot_of if s != heuristic.UNPLACED) == 3  # weight kept
    assert state.slot_of[3] != heuristic.UNPLACED  # the waiting meeting got a slot
