"""At most a few scheduler runs at once in one events process.

Each run forks up to two search processes (scheduling.sat) for up to its time limit,
and a large event takes up to 2 GiB: twenty organisers pressing "Schedule" together
would otherwise start forty solvers on two cores, each run slower and the machine out
of memory. A run beyond the limit is told when to come back (503, Retry-After: when
the first run in flight ends) instead of waiting in line inside a request.
"""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Iterator

from shared.problems import Problem


class RunGate:
    def __init__(self, size: int) -> None:
        self.size = size
        # When each run in flight is due to end (time.monotonic()).
        self.ends: list[float] = []

    @contextlib.contextmanager
    def slot(self, seconds: float) -> Iterator[None]:
        """Hold one of the slots for a run of about `seconds`, or refuse with 503."""
        now = time.monotonic()
        if len(self.ends) >= self.size:
            wait = max(1, math.ceil(min(self.ends) - now))
            raise Problem(
                503,
                f"The scheduler is busy with {len(self.ends)} other run(s); "
                f"try again in about {wait} s. Nothing was scheduled.",
                slug="scheduler-busy",
                headers={"Retry-After": str(wait)},
            )
        end = now + seconds
        self.ends.append(end)
        try:
            yield
        finally:
            self.ends.remove(end)
