"""Benchmark: a large synthetic brokerage event (seeded).

Default: 2,000 participants, 20,000 accepted requests, 2 sessions of 12 slots, 400
tables. Capacity binds (400 x 24 = 9,600 < 20,000), so the figure that matters is the
share of the upper bound on placed meetings actually placed, then breaks.

    python bench/large_event.py [--participants 2000] [--requests 20000] [--tables 400]
                                [--slots-per-session 12] [--time-limit 10] [--seed 0]
"""

from __future__ import annotations

import argparse
import random
import resource
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from services.events.scheduling.solve import (
    Meeting,
    Participant,
    SchedulingProblem,
    solve,
)


def generate(
    *, participants: int, requests: int, tables: int, per_session: int, seed: int
) -> SchedulingProblem:
    """Random event: popular participants get more requests; some leave early/arrive late."""
    rng = random.Random(seed)
    n_slots = 2 * per_session
    people = []
    for p in range(participants):
        unavailable: frozenset[int] = frozenset()
        if rng.random() < 0.1:
            # A tenth of participants miss a block of slots (late arrival, other duty).
            start = rng.randrange(n_slots)
            unavailable = frozenset(range(start, min(n_slots, start + rng.randint(2, 4))))
        people.append(Participant(id=p, unavailable=unavailable))
    popularity = [rng.paretovariate(2.0) for _ in range(participants)]
    pairs: set[tuple[int, int]] = set()
    while len(pairs) < requests:
        a, b = rng.choices(range(participants), weights=popularity, k=2)
        if a != b:
            pairs.add((min(a, b), max(a, b)))
    meetings = []
    for k, (a, b) in enumerate(sorted(pairs)):
        roll = rng.random()
        sessions = None if roll < 0.7 else frozenset({0 if roll < 0.85 else 1})
        meetings.append(Meeting(id=k, a=a, b=b, sessions=sessions))
    return SchedulingProblem(
        n_slots=n_slots,
        session_of_slot=tuple(s // per_session for s in range(n_slots)),
        n_tables=tables,
        participants=tuple(people),
        meetings=tuple(meetings),
        fairness=2,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--participants", type=int, default=2000)
    parser.add_argument("--requests", type=int, default=20000)
    parser.add_argument("--tables", type=int, default=400)
    parser.add_argument("--slots-per-session", type=int, default=12)
    parser.add_argument("--time-limit", type=float, default=10.0)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    problem = generate(
        participants=args.participants,
        requests=args.requests,
        tables=args.tables,
        per_session=args.slots_per_session,
        seed=args.seed,
    )
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.monotonic()
    result = solve(problem, time_limit=args.time_limit, seed=args.seed)
    wall = time.monotonic() - started
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    share = result.placed_weight / result.placed_weight_bound
    breaks = list(result.breaks_by_participant.values())
    print(f"{'participants':<28}{len(problem.participants):>12}")
    print(f"{'requests':<28}{len(problem.meetings):>12}")
    print(f"{'slots x tables':<28}{problem.n_slots:>7} x {problem.n_tables:<4}")
    print(f"{'method':<28}{result.method:>12}")
    print(f"{'placed':<28}{len(result.placements):>12}")
    print(f"{'upper bound on placed':<28}{result.placed_weight_bound:>12}")
    print(f"{'share of bound placed':<28}{share:>11.2%}")
    print(f"{'total breaks':<28}{result.total_breaks:>12}")
    print(f"{'max breaks per participant':<28}{max(breaks):>12}")
    print(f"{'fairness (d=2) met':<28}{result.fairness_met!s:>12}")
    print(f"{'seconds (solve)':<28}{wall:>12.2f}")
    print(f"{'peak RSS MiB (process)':<28}{peak_kib / 1024:>12.0f}")
    print(f"{'peak RSS MiB before solve':<28}{rss_before / 1024:>12.0f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
