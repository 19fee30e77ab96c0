"""`clusterbridge stack ...`: run, inspect and stop the platform on this machine."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from deploy.local.stack import Stack, default_data_dir, stack_status, stop_stack, supervisor_alive

app = typer.Typer(
    name="stack",
    help="Run the whole platform on this machine (embedded PostgreSQL and NATS).",
    no_args_is_help=True,
)

DataDir = Annotated[
    Path | None,
    typer.Option(
        "--data-dir",
        envvar="CLUSTERBRIDGE_DATA_DIR",
        help="Where data, logs and the state file live [default: ./var].",
        show_default=False,
    ),
]


@app.command()
def run(data_dir: DataDir = None) -> None:
    """Start PostgreSQL, NATS and the services; Ctrl-C stops everything."""
    raise typer.Exit(Stack(data_dir or default_data_dir()).run())


@app.command()
def status(
    data_dir: DataDir = None,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """Each component with its pid, URL and health; exit 1 when any is unhealthy."""
    state, components = stack_status(data_dir or default_data_dir())
    running = state is not None and supervisor_alive(state)
    starting = state is not None and state.phase == "starting"
    all_healthy = running and not starting and all(c.healthy for c in components)
    if as_json:
        payload = {
            "running": running,
            "phase": state.phase if state else None,
            "supervisor_pid": state.supervisor_pid if state else None,
            "components": [
                {"name": c.name, "pid": c.pid, "url": c.url, "healthy": c.healthy, "log": c.log}
                for c in components
            ],
        }
        typer.echo(json.dumps(payload))
        raise typer.Exit(0 if all_healthy else 1)

    console = Console(highlight=False)
    if state is None:
        console.print("No stack is running here (no state file). Start one: `make run`.")
        raise typer.Exit(1)
    if not running:
        console.print("[red]The supervisor is gone; `clusterbridge stack stop` cleans up.[/]")
    elif starting:
        console.print("[yellow]Still starting…[/]")
    table = Table(title=f"Clusterbridge stack (supervisor pid {state.supervisor_pid})")
    for column in ("component", "pid", "url", "health", "log"):
        table.add_column(column, overflow="fold")
    for c in components:
        health = "[green]healthy[/]" if c.healthy else "[red]unhealthy[/]"
        table.add_row(c.name, str(c.pid or "-"), c.url, health, c.log or "-")
    console.print(table)
    raise typer.Exit(0 if all_healthy else 1)


@app.command()
def stop(data_dir: DataDir = None) -> None:
    """Stop the stack started from this data folder."""
    if stop_stack(data_dir or default_data_dir()):
        typer.echo("stopped")
    else:
        typer.echo("no stack is running here (no state file)")
