"""Data that cannot all hold is reported with reasons, never refused; the rest is placed."""

from __future__ import annotations

import pytest

from services.events.scheduling.solve import (
    Meeting,
    Participant,
    Placement,
    SchedulingProblem,
    solve,
)
from tests.events.schedule_validator import validate

ENGINES = ("auto", "exact", "greedy")


def problem(*meetings: Meeting, away: dict[int, set[int]] | None = None) -> SchedulingProblem:
    away = away or {}
    return SchedulingProblem(
        n_slots=4,
        session_of_slot=(0, 0, 1, 1),
        n_tables=2,
        participants=tuple(Participant(p, frozenset(away.get(p, ()))) for p in range(6)),
        meetings=(*meetings, Meeting(90, 4, 5), Meeting(91, 3, 4)),
        fairness=2,
    )


@pytest.mark.parametrize("method", ENGINES)
@pytest.mark.parametrize(
    ("meetings", "away", "out", "reason"),
    [
        # Fixed where a participant is away.
        ((Meeting(1, 0, 1, fixed_slot=2),), {1: {2}}, {1}, "unavailable in slot 3"),
        # Fixed outside its session.
        ((Meeting(1, 0, 1, fixed_slot=0, sessions=frozenset({1})),), {}, {1}, "outside its sessions"),
        # Two fixed meetings of one participant in one slot.
        ((Meeting(1, 0, 1, fixed_slot=1), Meeting(2, 0, 2, fixed_slot=1)), {}, {2}, "clashes with fixed meeting 1"),
        # A precedence cycle.
        ((Meeting(1, 0, 1, after=frozenset({2})), Meeting(2, 0, 2, after=frozenset({1}))), {}, None, "precedence cycle"),
        # No common free slot.
        ((Meeting(1, 0, 1),), {0: {0, 1}, 1: {2, 3}}, {1}, "no slot in its sessions"),
        # Must come before a meeting fixed to the first slot.
        ((Meeting(1, 0, 1, fixed_slot=0, after=frozenset({2})), Meeting(2, 0, 2)), {}, {2}, "no slot between"),
    ],
)  # fmt: skip
def test_conflicts_are_unplaced_with_a_reason(
    method: str,
    meetings: tuple[Meeting, ...],
    away: dict[int, set[int]],
    out: set[int] | None,
    reason: str,
) -> None:
    p = problem(*meetings, away=away)
    result = solve(p, time_limit=2.0, method=method)
    assert validate(p, result) == []
    unplaced = set(result.unplaced)
    if out is None:
        assert len(unplaced & {1, 2}) == 1
        out = unplaced & {1, 2}
    else:
        assert out <= unplaced
    for m in out:
        assert reason in result.reasons[m], result.reasons[m]
    # The rest is scheduled.
    placed = {pl.meeting_id for pl in result.placements}
    assert {90, 91} <= placed
    assert placed | unplaced == {m.id for m in p.meetings}


@pytest.mark.parametrize("method", ENGINES)
def test_a_kept_meeting_over_a_new_unavailability_is_displaced(method: str) -> None:
    p = problem(Meeting(1, 0, 1), Meeting(2, 0, 2), away={1: {0}})
    keep = (Placement(1, 0, 0), Placement(2, 1, 0), Placement(90, 0, 1))
    result = solve(p, time_limit=2.0, method=method, keep=keep)
    assert validate(p, result, keep[1:]) == []
    assert set(result.displaced) == {1}
    assert "participant 1 is unavailable in slot 1" in result.displaced[1]
    where = {pl.meeting_id: pl for pl in result.placements}
    assert where[2] == Placement(2, 1, 0)
    assert where[90] == Placement(90, 0, 1)
    assert 1 in result.unplaced or where[1].slot != 0
