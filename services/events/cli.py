"""Command line of the events service: `clusterbridge schedule --dzn FILE`.

Reads a B2B instance in MiniZinc data format and prints the schedule. Numbers on the
command line and in the output count from 1 as in the file (participants, meetings,
slots, tables). Exit codes: 0 with a schedule (meetings that cannot be placed are in
`unplaced`, each with its reason in `reasons`); 2 when the file cannot be read or does
not parse, or an option is out of range. `--time-limit` bounds the whole command,
process start included.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Annotated

import typer

from services.events.scheduling.dzn import DznError, load_problem
from services.events.scheduling.solve import Schedule, SchedulingError, SchedulingProblem, solve

app = typer.Typer(help="B2B matchmaking events.", no_args_is_help=True)

# Seconds kept back for printing the schedule and leaving the process.
EXIT_MARGIN = 0.5


@app.callback()
def _events() -> None:
    """B2B matchmaking events."""
    # A callback keeps `schedule` a named sub-command even while it is the only one.


def _fail(message: str) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(code=2)


def process_age() -> float:
    """Seconds since this process started (0 where the system does not say)."""
    try:
        with open("/proc/self/stat", encoding="ascii") as stat:
            # Field 22 counts clock ticks since boot; the name (field 2) may hold spaces.
            started = int(stat.read().rsplit(")", 1)[1].split()[19])
        with open("/proc/uptime", encoding="ascii") as up:
            uptime = float(up.read().split()[0])
    except (OSError, ValueError, IndexError):
        return 0.0
    return max(0.0, uptime - started / os.sysconf("SC_CLK_TCK"))


@app.command("schedule")
def schedule(
    dzn: Annotated[Path, typer.Option("--dzn", help="Instance in MiniZinc .dzn format.")],
    fairness: Annotated[
        int, typer.Option("--fairness", help="Max difference of breaks between participants.")
    ] = 2,
    no_fairness: Annotated[
        bool, typer.Option("--no-fairness", help="Do not limit the difference of breaks.")
    ] = False,
    fairness_mode: Annotated[
        str,
        typer.Option(
            "--fairness-mode",
            help="hard: never above the limit, fewer meetings if need be; preference: "
            "place all that can be, then keep the spread small.",
        ),
    ] = "hard",
    time_limit: Annotated[
        float, typer.Option("--time-limit", help="Seconds for the whole command.")
    ] = 10.0,
    seed: Annotated[int, typer.Option("--seed")] = 0,
    method: Annotated[str, typer.Option("--method", help="auto, exact or greedy.")] = "auto",
    json_output: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Place the requested meetings into slots and tables, minimising breaks."""
    if fairness < 0:
        raise _fail("--fairness must be >= 0")
    if fairness_mode not in ("hard", "preference"):
        raise _fail("--fairness-mode must be hard or preference")
    if method not in ("auto", "exact", "greedy"):
        raise _fail("--method must be auto, exact or greedy")
    if time_limit <= 0:
        raise _fail("--time-limit must be positive")
    try:
        problem = load_problem(dzn, fairness=None if no_fairness else fairness)
    except (DznError, SchedulingError) as exc:
        raise _fail(f"{dzn}: {exc}") from None
    problem = SchedulingProblem(
        n_slots=problem.n_slots,
        session_of_slot=problem.session_of_slot,
        n_tables=problem.n_tables,
        participants=problem.participants,
        meetings=problem.meetings,
        fairness=problem.fairness,
        fairness_mode="hard" if fairness_mode == "hard" else "preference",
    )
    # A process older than the limit is no fresh command (a test runner, a caller of
    # this function): there the limit counts from this call.
    age = process_age()
    left = time_limit - (age if age < time_limit else 0.0) - EXIT_MARGIN
    try:
        result = solve(problem, time_limit=max(0.2, left), seed=seed, method=method)
    except SchedulingError as exc:
        # Malformed data the reader let through (e.g. a meeting of a participant with
        # itself): still the file's fault.
        raise _fail(f"{dzn}: {exc}") from None
    payload = to_json(problem, result)
    if json_output:
        typer.echo(json.dumps(payload))
    else:
        typer.echo(_summary(payload))


def to_json(problem: SchedulingProblem, result: Schedule) -> dict[str, object]:
    """The schedule with 1-based slots and tables, as the command prints it."""
    by_id = {m.id: m for m in problem.meetings}
    meetings = [
        {
            "a": by_id[p.meeting_id].a,
            "b": by_id[p.meeting_id].b,
            "slot": p.slot + 1,
            "table": p.table + 1,
            "meeting": p.meeting_id,
        }
        for p in sorted(result.placements, key=lambda p: (p.slot, p.table))
    ]
    return {
        "meetings": meetings,
        "unplaced": list(result.unplaced),
        "reasons": {str(m): why for m, why in sorted(result.reasons.items())},
        "total_breaks": result.total_breaks,
        "bound": result.breaks_bound,
        "seconds": round(result.seconds, 3),
        "optimal": result.optimal,
        "placed": len(result.placements),
        "placed_weight": result.placed_weight,
        "placed_weight_bound": result.placed_weight_bound,
        "fairness": problem.fairness,
        "fairness_mode": problem.fairness_mode,
        "spread": result.spread,
        "fairness_met": result.fairness_met,
        "method": result.method,
    }


def _summary(payload: dict[str, object]) -> str:
    bound = payload["bound"]
    reasons = payload["reasons"]
    assert isinstance(reasons, dict)
    lines = [
        f"placed {payload['placed']} meetings, unplaced {len(reasons)}"
        f" (weight {payload['placed_weight']} of at most {payload['placed_weight_bound']})",
        f"total breaks {payload['total_breaks']}"
        + (f", lower bound {bound}" if bound is not None else ", no lower bound")
        + (" (optimal)" if payload["optimal"] else ""),
        f"spread of breaks {payload['spread']}, fairness d = {payload['fairness']} "
        f"({payload['fairness_mode']}) met: {payload['fairness_met']}",
        f"method {payload['method']}, {payload['seconds']} s",
    ]
    lines += [f"  unplaced meeting {m}: {why}" for m, why in reasons.items()]
    return "\n".join(lines)
