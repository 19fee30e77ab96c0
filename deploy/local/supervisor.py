"""Keep a set of processes running: restart one that exits, with backoff, and give up
only when one keeps crashing.

What runs (PostgreSQL, NATS, a uvicorn service, one replica or several) is a `Unit`;
this module knows nothing of them beyond that shape. It never blocks on a unit: a
restart is launched, then polled on later ticks, so one slow start (PostgreSQL's crash
recovery, scikit-learn's import) does not delay noticing another crash.
"""

from __future__ import annotations

import signal
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Literal, Protocol

__all__ = ["GiveUp", "RestartPolicy", "Supervised", "Supervisor", "Unit", "describe_exit"]

UnitState = Literal["starting", "running", "backoff"]


class Unit(Protocol):
    """A process the supervisor can start, watch and stop."""

    @property
    def pid(self) -> int | None: ...

    @property
    def returncode(self) -> int | None:
        """The exit status once the process died by itself; None while it runs."""
        ...

    def launch(self) -> None:
        """Start the process and return at once; may raise if it cannot even start."""
        ...

    def ready(self) -> bool:
        """True once the process serves (polled after `launch`)."""
        ...

    def stop(self) -> None:
        """Stop it if running; forget a dead one (closes its log)."""
        ...


@dataclass(frozen=True)
class RestartPolicy:
    """Restart with exponential backoff; more than `max_crashes` crashes of one unit
    within `window` seconds means it will not get better by itself: give up."""

    max_crashes: int = 5
    window: float = 60.0
    first_delay: float = 0.5
    max_delay: float = 10.0
    # A restarted unit that is not ready by then counts as one more crash.
    start_timeout: float = 120.0

    def delay(self, recent_crashes: int) -> float:
        return float(min(self.first_delay * 2 ** max(recent_crashes - 1, 0), self.max_delay))


class GiveUp(Exception):
    """A unit crashed too often; the message says which and why."""


def describe_exit(code: int | None) -> str:
    if code is None:
        return "no exit status"
    if code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit status {code}"


@dataclass
class Supervised:
    """One unit and what the supervisor knows about it."""

    name: str
    unit: Unit
    # Not relaunched while one of these is down: a service restarted during PostgreSQL's
    # own restart would only crash again and use up its allowance of crashes.
    depends_on: tuple[str, ...] = ()
    state: UnitState = "running"
    restarts: int = 0
    last_exit: str | None = None
    crashes: deque[float] = field(default_factory=deque)
    # Monotonic times: when to relaunch (backoff) or when to stop waiting (starting).
    due: float = 0.0
    down_since: float | None = None


Say = Callable[[str, str], None]  # (level "info" | "warning" | "error", message)
Changed = Callable[[Supervised], None]


class Supervisor:
    """Call `tick()` regularly; it restarts what died and raises `GiveUp`."""

    def __init__(
        self,
        units: Sequence[Supervised],
        policy: RestartPolicy,
        *,
        say: Say,
        changed: Changed,
        log_tail: Callable[[Supervised], str] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.units = list(units)
        self.policy = policy
        self._say = say
        self._changed = changed
        self._log_tail = log_tail
        self._clock = clock

    def add(self, supervised: Supervised) -> None:
        self.units.append(supervised)

    def tick(self) -> None:
        now = self._clock()
        running = {s.name for s in self.units if s.state == "running"}
        for s in self.units:
            if s.state == "backoff":
                deps_up = all(d in running for d in s.depends_on if self._known(d))
                if now >= s.due and deps_up:
                    self._launch(s, now)
                continue
            code = s.unit.returncode
            if code is not None:
                self._crashed(s, now, describe_exit(code))
            elif s.state == "starting":
                self._check_started(s, now)

    def _known(self, name: str) -> bool:
        # A dependency we do not supervise (an external DATABASE_URL) is never waited for.
        return any(s.name == name for s in self.units)

    def _crashed(self, s: Supervised, now: float, why: str) -> None:
        s.unit.stop()  # reap it, close its log
        s.last_exit = why
        s.crashes.append(now)
        while s.crashes and s.crashes[0] < now - self.policy.window:
            s.crashes.popleft()
        recent = len(s.crashes)
        if s.down_since is None:
            s.down_since = now
        if recent > self.policy.max_crashes:
            tail = self._log_tail(s) if self._log_tail else ""
            raise GiveUp(
                f"{s.name} crashed {recent} times within {self.policy.window:g} s "
                f"(last: {why}); giving up" + (f"\nend of its log:\n{tail}" if tail else "")
            )
        delay = self.policy.delay(recent)
        s.state = "backoff"
        s.due = now + delay
        self._say(
            "warning",
            f"{s.name} {why}; restarting in {delay:g} s (crash {recent} of at most "
            f"{self.policy.max_crashes} within {self.policy.window:g} s)",
        )
        self._changed(s)

    def _launch(self, s: Supervised, now: float) -> None:
        try:
            s.unit.launch()
        except Exception as exc:  # cannot even start (port taken, stale pid): a crash
            s.unit.stop()
            self._crashed(s, now, f"failed to start ({exc})")
            return
        s.state = "starting"
        s.due = now + self.policy.start_timeout
        s.restarts += 1
        self._changed(s)

    def _check_started(self, s: Supervised, now: float) -> None:
        if s.unit.ready():
            s.state = "running"
            down = now - s.down_since if s.down_since is not None else 0.0
            s.down_since = None
            self._say(
                "info", f"{s.name} restarted (pid {s.unit.pid}, restart {s.restarts}, "
                f"down {down:.1f} s)"
            )  # fmt: skip
            self._changed(s)
        elif now > s.due:
            s.unit.stop()
            self._crashed(s, now, f"not ready within {self.policy.start_timeout:g} s")
