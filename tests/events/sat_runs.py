"""Runs of the SAT search in the test process, read back as the levels it proved."""

from __future__ import annotations

from services.events.scheduling import sat
from services.events.scheduling.model import SchedulingProblem, prepare


def levels_of(
    problem: SchedulingProblem, config: sat.Config, shared: sat.Shared | None = None
) -> tuple[dict[str, int], list[tuple[object, ...]]]:
    """The levels proven optimal (name -> value) by one search with d = 2 hard, and
    every message it sent."""
    prep = prepare(problem)
    goal = sat.Goal(fairness=2, fairness_hard=True, unplaced_floor=0, try_all_placed=True)
    sent: list[tuple[object, ...]] = []
    sat.search(prep, goal, sent.append, config, shared)
    levels: dict[str, int] = {}
    for message in sent:
        if message[0] == "level":
            name, value = message[1], message[2]
            assert isinstance(name, str)
            assert isinstance(value, int)
            levels[name] = value
    return levels, sent
