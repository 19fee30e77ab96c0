"""The supervisor's restart policy, on real child processes (no stack: these are fast).

The whole stack under the supervisor, killed component by component, is test_faults.py.
"""

from __future__ import annotations

import signal
import socket
import sys
import time
from pathlib import Path

import pytest

from deploy.local.servers import ChildProcess, free_port
from deploy.local.supervisor import GiveUp, RestartPolicy, Supervised, Supervisor

FAST = RestartPolicy(max_crashes=2, window=60.0, first_delay=0.02, max_delay=0.1, start_timeout=30)


class CommandUnit:
    """A command run as a supervised child; ready when `port` accepts (if given)."""

    def __init__(self, argv: list[str], log: Path, port: int | None = None) -> None:
        self.argv = argv
        self.port = port
        self.process = ChildProcess("unit", log)
        self.launches = 0

    @property
    def pid(self) -> int | None:
        return self.process.pid

    @property
    def returncode(self) -> int | None:
        return self.process.returncode

    def launch(self) -> None:
        self.launches += 1
        self.process.spawn(self.argv)

    def ready(self) -> bool:
        if self.port is None:
            return self.process.is_running()
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                return True
        except OSError:
            return False

    def stop(self) -> None:
        self.process.stop(signal.SIGTERM, timeout=10)


class Recorder:
    def __init__(self) -> None:
        self.said: list[tuple[str, str]] = []
        self.changes: list[str] = []
        self.named_changes: list[tuple[str, str]] = []

    def say(self, level: str, message: str) -> None:
        self.said.append((level, message))

    def changed(self, s: Supervised) -> None:
        self.changes.append(s.state)
        self.named_changes.append((s.name, s.state))


def tick_until(supervisor: Supervisor, done: object, timeout: float = 30.0) -> None:
    """Tick as the stack does until `done()` holds; fail at the deadline."""
    assert callable(done)
    deadline = time.monotonic() + timeout
    while not done():
        assert time.monotonic() < deadline, "condition not reached in time"
        supervisor.tick()
        time.sleep(0.01)  # the supervision tick


def http_server(tmp_path: Path, port: int) -> CommandUnit:
    argv = [sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1"]
    return CommandUnit(argv, tmp_path / "unit.log", port=port)


def test_a_killed_process_is_restarted_on_its_port_and_says_so(tmp_path: Path) -> None:
    unit = http_server(tmp_path, free_port())
    unit.launch()
    rec = Recorder()
    s = Supervised("web", unit)
    supervisor = Supervisor([s], FAST, say=rec.say, changed=rec.changed)
    try:
        tick_until(supervisor, unit.ready)
        first_pid = unit.pid
        assert first_pid is not None
        supervisor.tick()
        assert rec.said == []  # nothing to say while it runs

        unit.process.send_signal(signal.SIGKILL)
        tick_until(supervisor, lambda: s.state == "running" and s.restarts == 1 and unit.ready())

        assert unit.pid not in (None, first_pid)
        assert s.last_exit == "killed by SIGKILL"
        levels = [level for level, _ in rec.said]
        assert levels == ["warning", "info"]
        assert "web killed by SIGKILL; restarting in" in rec.said[0][1]
        assert rec.said[1][1].startswith(f"web restarted (pid {unit.pid}, restart 1")
        assert rec.changes == ["backoff", "starting", "running"]
    finally:
        unit.stop()


def test_it_gives_up_on_a_process_that_keeps_crashing(tmp_path: Path) -> None:
    unit = CommandUnit(
        [sys.executable, "-c", "raise SystemExit(3)"], tmp_path / "unit.log", port=free_port()
    )
    unit.launch()
    rec = Recorder()
    supervisor = Supervisor(
        [Supervised("flaky", unit)], FAST, say=rec.say, changed=rec.changed,
        log_tail=lambda s: "last words",
    )  # fmt: skip
    with pytest.raises(GiveUp) as gave_up:
        tick_until(supervisor, lambda: False)
    message = str(gave_up.value)
    assert "flaky crashed 3 times within 60 s (last: exit status 3); giving up" in message
    assert "last words" in message
    # Restarted max_crashes times, then no more.
    assert unit.launches == 1 + FAST.max_crashes
    assert rec.said == [
        ("warning", "flaky exit status 3; restarting in 0.02 s (crash 1 of at most 2 within 60 s)"),
        ("warning", "flaky exit status 3; restarting in 0.04 s (crash 2 of at most 2 within 60 s)"),
    ]


def test_crashes_spread_wider_than_the_window_never_give_up(tmp_path: Path) -> None:
    now = [0.0]
    unit = CommandUnit(
        [sys.executable, "-c", "raise SystemExit(1)"], tmp_path / "unit.log", port=free_port()
    )
    unit.launch()
    rec = Recorder()
    s = Supervised("slow-flaky", unit)
    supervisor = Supervisor([s], FAST, say=rec.say, changed=rec.changed, clock=lambda: now[0])
    try:
        for crash in range(1, 6):  # five crashes, each 100 s after the previous one
            tick_until(supervisor, lambda: s.state == "backoff" and len(s.crashes) >= 1)
            assert list(s.crashes) == [now[0]]  # older ones left the 60 s window
            assert s.restarts == crash - 1
            now[0] += 100.0
            supervisor.tick()  # past the backoff: launched again
            assert s.state == "starting"
        assert all(level == "warning" for level, _ in rec.said)
    finally:
        unit.stop()


def test_a_process_that_never_becomes_ready_counts_as_a_crash(tmp_path: Path) -> None:
    # Listens on nothing: `ready` never holds for a port nobody binds.
    unit = CommandUnit(
        [sys.executable, "-c", "import time; time.sleep(600)"], tmp_path / "unit.log",
        port=free_port(),
    )  # fmt: skip
    policy = RestartPolicy(max_crashes=1, window=60, first_delay=0.01, start_timeout=0.3)
    rec = Recorder()
    s = Supervised("stuck", unit, state="backoff")  # as after a crash: launch on first tick
    supervisor = Supervisor([s], policy, say=rec.say, changed=rec.changed)
    try:
        tick_until(supervisor, lambda: s.last_exit is not None)
        assert s.last_exit == "not ready within 0.3 s"
        assert s.state == "backoff"
        assert unit.pid is None  # it was stopped, not left behind
        assert unit.returncode is None
        with pytest.raises(GiveUp, match="stuck crashed 2 times"):
            tick_until(supervisor, lambda: False)
    finally:
        unit.stop()


def test_a_unit_waits_for_what_it_depends_on_before_relaunching(tmp_path: Path) -> None:
    db = http_server(tmp_path / "db", free_port())
    app = http_server(tmp_path / "app", free_port())
    rec = Recorder()
    units = [Supervised("db", db), Supervised("app", app, depends_on=("db", "not-supervised"))]
    supervisor = Supervisor(units, FAST, say=rec.say, changed=rec.changed)
    try:
        for unit in (db, app):
            unit.launch()
        tick_until(supervisor, lambda: db.ready() and app.ready())
        # Both die; the app's backoff is over long before the db answers again.
        app.process.send_signal(signal.SIGKILL)
        db.process.send_signal(signal.SIGKILL)
        tick_until(supervisor, lambda: all(u.state == "running" and u.restarts == 1 for u in units))
        assert rec.named_changes.index(("app", "starting")) > rec.named_changes.index(
            ("db", "running")
        )
    finally:
        for unit in (db, app):
            unit.stop()


def test_backoff_doubles_up_to_its_cap() -> None:
    policy = RestartPolicy(first_delay=0.5, max_delay=10.0)
    assert [policy.delay(k) for k in range(1, 8)] == [0.5, 1.0, 2.0, 4.0, 8.0, 10.0, 10.0]
