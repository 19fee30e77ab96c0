"""Command line of the events service: `clusterbridge schedule --dzn FILE`.

Reads a B2B instance in MiniZinc data format and prints the schedule. Numbers on the
command line and in the output count from 1 as in the file (participants, meetings,
slots, tables). Bad input ends with a message on stderr and exit code 2.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from services.events.scheduling.dzn import DznError, load_problem
from services.events.scheduling.solve import Schedule, SchedulingError, SchedulingProblem, solve

app = typer.Typer(help="B2B matchmaking events.", no_args_is_help=True)


@app.callback()
def _events() -> None:
    """B2B matchmaking events."""
    # A callback keeps `schedule` a named sub-command even while it is the only one.


def _fail(message: str) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(code=2)


@app.command("schedule")
def schedule(
    dzn: Annotated[Path, typer.Option("--dzn", help="Instance in MiniZinc .dzn format.")],
    fairness: Annotated[
        int, typer.Option("--fairness", help="Max difference of breaks between participants.")
    ] = 2,
    no_fairness: Annotated[
        bool, typer.Option("--no-fairness", help="Do not limit the difference of breaks.")
    ] = False,
    time_limit: Annotated[float, typer.Option("--time-limit", help="Seconds.")] = 10.0,
    seed: Annotated[int, typer.Option("--seed")] = 0,
    method: Annotated[str, typer.Option("--method", help="auto, exact or greedy.")] = "auto",
    json_output: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Place the requested meetings into slots and tables, minimising breaks."""
    if fairness < 0:
        raise _fail("--fairness must be >= 0")
    if time_limit <= 0:
        raise _fail("--time-limit must be positive")
    try:
        problem = load_problem(dzn, fairness=None if no_fairness else fairness)
        result = solve(problem, time_limit=time_limit, seed=seed, method=method)
    except (DznError, SchedulingError) as exc:
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
        "total_breaks": result.total_breaks,
        "bound": result.breaks_bound,
        "seconds": round(result.seconds, 3),
        "optimal": result.optimal,
        "placed": len(result.placements),
        "placed_weight": result.placed_weight,
        "placed_weight_bound": result.placed_weight_bound,
        "fairness_met": result.fairness_met,
        "method": result.method,
    }


def _summary(payload: dict[str, object]) -> str:
    bound = payload["bound"]
    return "\n".join(
        [
            f"placed {payload['placed']} meetings, unplaced {len(payload['unplaced'])}"  # type: ignore[arg-type]
            f" (weight {payload['placed_weight']} of at most {payload['placed_weight_bound']})",
            f"total breaks {payload['total_breaks']}"
            + (f", lower bound {bound}" if bound is not None else ", no lower bound")
            + (" (optimal)" if payload["optimal"] else ""),
            f"fairness met: {payload['fairness_met']}",
            f"method {payload['method']}, {payload['seconds']} s",
        ]
    )
