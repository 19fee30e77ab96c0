"""When not everything fits and the search is cut by the time limit, a local descent
from its best schedule takes the breaks a move or a swap removes, and never a hard
constraint with them."""

from __future__ import annotations

import time

from services.events.scheduling import validate
from services.events.scheduling.model import prepare
from services.events.scheduling.solve import Meeting, Participant, _Best, _polish
from tests.events.test_scheduling_engines import day


def test_local_moves_remove_breaks_within_every_hard_constraint() -> None:
    problem = day(
        6,
        1,
        4,
        [Meeting(0, 0, 1), Meeting(1, 0, 2, after=frozenset({0})), Meeting(2, 0, 3)],
        participants=[
            *(Participant(p) for p in range(3)),
            Participant(3, unavailable=frozenset({1})),
        ],
        fairness=2,
    )
    prep = prepare(problem, ())
    best = _Best(prep)
    # Participant 0 meets in slots 0, 3 and 5: two breaks a search cut short may leave.
    assert best.offer([0, 3, 5], "sat")
    assert best.best is not None
    assert best.best.breaks == 2

    assert _polish(prep, best, time.monotonic() + 30, seed=0)

    slot_of = best.best.slot_of
    assert validate.violations(prep, slot_of) == []
    assert best.best.breaks < 2
    assert slot_of[1] > slot_of[0], "meeting 1 must come after meeting 0"
    assert slot_of[2] != 1, "participant 3 is away in slot 1"
    assert len(set(slot_of)) == 3, "one table: one meeting per slot"


def test_nothing_to_gain_leaves_the_schedule_as_it_was() -> None:
    problem = day(3, 1, 3, [Meeting(0, 0, 1), Meeting(1, 0, 2)], fairness=2)
    prep = prepare(problem, ())
    best = _Best(prep)
    assert best.offer([0, 1], "sat")
    assert not _polish(prep, best, time.monotonic() + 30, seed=0)
    assert best.best is not None
    assert best.best.breaks == 0
