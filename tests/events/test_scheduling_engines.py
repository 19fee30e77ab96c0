"""Each hard constraint on each engine: the tempting schedule breaks it, none may.

Every instance here is small, so each engine settles it in well under a second; the
schedule goes through the independent validator (schedule_validator) and the
scheduler's own one must not have refused any engine's schedule.
"""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from services.events.scheduling import validate
from services.events.scheduling.model import prepare
from services.events.scheduling.solve import (
    Meeting,
    Participant,
    Placement,
    Schedule,
    SchedulingProblem,
    solve,
)
from tests.events.schedule_validator import validate as independent

ENGINES = ("auto", "exact", "greedy")


def run(
    problem: SchedulingProblem, method: str, keep: Sequence[Placement] = (), limit: float = 3.0
) -> Schedule:
    result = solve(problem, time_limit=limit, method=method, keep=keep)
    assert independent(problem, result, keep) == []
    assert result.extra.get("rejected", 0) == 0
    assert set(result.reasons) == set(result.unplaced)
    return result


def day(
    n_slots: int,
    n_tables: int,
    people: int,
    meetings: Sequence[Meeting],
    *,
    sessions: tuple[int, ...] | None = None,
    participants: Sequence[Participant] | None = None,
    fairness: int | None = None,
) -> SchedulingProblem:
    return SchedulingProblem(
        n_slots=n_slots,
        session_of_slot=sessions or (0,) * n_slots,
        n_tables=n_tables,
        participants=tuple(participants or (Participant(p) for p in range(people))),
        meetings=tuple(meetings),
        fairness=fairness,
    )


def slots(result: Schedule) -> dict[int, int]:
    return {p.meeting_id: p.slot for p in result.placements}


@pytest.mark.parametrize("method", ENGINES)
def test_one_meeting_per_participant_and_slot(method: str) -> None:
    # Five meetings of participant 0 in four slots: one must wait, whatever the tables.
    problem = day(4, 5, 6, [Meeting(k, 0, k) for k in range(1, 6)])
    result = run(problem, method)
    assert len(result.placements) == 4
    assert len(set(slots(result).values())) == 4
    (left,) = result.unplaced
    assert "no room" in result.reasons[left]


@pytest.mark.parametrize("method", ENGINES)
def test_tables(method: str) -> None:
    # Three meetings of disjoint pairs, two slots, one table.
    problem = day(2, 1, 6, [Meeting(1, 0, 1), Meeting(2, 2, 3), Meeting(3, 4, 5)])
    result = run(problem, method)
    assert len(result.placements) == 2
    assert {p.table for p in result.placements} == {0}


@pytest.mark.parametrize("method", ENGINES)
def test_sessions(method: str) -> None:
    # 0 meets 1 and 2; the meeting with 2 is afternoon-only, the morning is free.
    problem = day(
        4, 1, 3, [Meeting(1, 0, 1), Meeting(2, 0, 2, sessions=frozenset({1}))],
        sessions=(0, 0, 1, 1),
    )  # fmt: skip
    result = run(problem, method)
    assert slots(result)[2] in (2, 3)


@pytest.mark.parametrize("method", ENGINES)
def test_forbidden_slots(method: str) -> None:
    # 0 meets 1, 2, 3 in three slots; 3 is away in slots 0 and 1.
    people = [Participant(0), Participant(1), Participant(2), Participant(3, frozenset({0, 1}))]
    problem = day(3, 1, 4, [Meeting(k, 0, k) for k in (1, 2, 3)], participants=people)
    result = run(problem, method)
    assert slots(result)[3] == 2
    assert result.unplaced == ()


@pytest.mark.parametrize("method", ENGINES)
def test_fixed_slot_and_table(method: str) -> None:
    # Fixing meeting 2 to the last slot costs a break; the engines must still obey.
    meetings = [
        Meeting(1, 0, 1),
        Meeting(2, 0, 2, fixed_slot=3, fixed_table=1),
        Meeting(3, 0, 3),
    ]
    result = run(day(4, 2, 4, meetings), method)
    where = {p.meeting_id: p for p in result.placements}
    assert (where[2].slot, where[2].table) == (3, 1)
    assert result.unplaced == ()


@pytest.mark.parametrize("method", ENGINES)
def test_precedences(method: str) -> None:
    # 3 before 2 before 1, all meetings of participant 0, one table.
    meetings = [
        Meeting(1, 0, 1, after=frozenset({2})),
        Meeting(2, 0, 2, after=frozenset({3})),
        Meeting(3, 0, 3),
    ]
    result = run(day(3, 1, 4, meetings), method)
    where = slots(result)
    assert result.unplaced == ()
    assert where[3] < where[2] < where[1]


@pytest.mark.parametrize("method", ENGINES)
def test_precedence_between_participants_with_one_slot_each(method: str) -> None:
    # Meeting 2 must follow meeting 1, but 2's participants can only meet in slot 0:
    # placing both would break the order, so one of them stays out.
    people = [Participant(0), Participant(1), Participant(2, frozenset({1})), Participant(3)]
    meetings = [Meeting(1, 0, 1), Meeting(2, 2, 3, after=frozenset({1}))]
    result = run(day(2, 2, 4, meetings, participants=people), method)
    where = slots(result)
    if 1 in where and 2 in where:
        assert where[1] < where[2]


@pytest.mark.parametrize("method", ENGINES)
def test_kept_placements_stay(method: str) -> None:
    problem = day(4, 2, 5, [Meeting(k, 0, k) for k in range(1, 5)])
    keep = (Placement(1, 3, 1), Placement(2, 0, 0))
    result = run(problem, method, keep)
    assert Placement(1, 3, 1) in result.placements
    assert Placement(2, 0, 0) in result.placements
    assert result.displaced == {}


@pytest.mark.parametrize("method", ENGINES)
def test_hosts_keep_their_table(method: str) -> None:
    people = [Participant(0, host=True), Participant(1), Participant(2), Participant(3)]
    meetings = [Meeting(1, 0, 1), Meeting(2, 0, 2), Meeting(3, 1, 3), Meeting(4, 2, 3)]
    result = run(day(3, 2, 4, meetings, participants=people), method)
    host_tables = {p.table for p in result.placements if p.meeting_id in (1, 2)}
    assert len(host_tables) == 1
    others = {p.table for p in result.placements if p.meeting_id in (3, 4)}
    assert not host_tables & others


@pytest.mark.parametrize("method", ENGINES)
def test_maximum_of_meetings(method: str) -> None:
    people = [Participant(0, max_meetings=2), *(Participant(p) for p in range(1, 5))]
    result = run(day(4, 4, 5, [Meeting(k, 0, k) for k in range(1, 5)], participants=people), method)
    assert len(result.placements) == 2
    assert all("maximum" in why for why in result.reasons.values())


def test_the_schedulers_validator_refuses_each_kind_of_violation() -> None:
    problem = day(
        3, 1, 4,
        [Meeting(1, 0, 1, sessions=frozenset({0})), Meeting(2, 0, 2, after=frozenset({1})),
         Meeting(3, 2, 3, fixed_slot=0)],
        participants=[Participant(0), Participant(1, frozenset({2})), Participant(2),
                      Participant(3)],
    )  # fmt: skip
    prep = prepare(problem)
    assert validate.violations(prep, [1, 2, 0]) == []
    assert any("must come before" in v for v in validate.violations(prep, [2, 1, 0]))
    assert any("unavailable" in v for v in validate.violations(prep, [2, -1, 0]))
    assert any("fixed" in v for v in validate.violations(prep, [1, 2, 1]))
    assert any("in meetings" in v for v in validate.violations(prep, [1, 1, 0]))
    assert any("holds 2 meetings" in v for v in validate.violations(prep, [0, 2, 0]))
    assert any("table 0 holds" in v for v in validate.violations(prep, [0, 2, 0], [0, 0, 0]))
