"""`clusterbridge stack ...`: run, inspect and stop the platform on this machine."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from deploy.local.stack import (
    MAX_REPLICAS,
    Stack,
    StackError,
    StackPorts,
    default_data_dir,
    stack_status,
    stop_stack,
    supervisor_alive,
)
from deploy.local.supervisor import RestartPolicy

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


def _port(component: str, default: int) -> Any:
    return typer.Option(
        f"--{component.replace('_', '-')}-port",
        envvar=StackPorts.env_name(component),
        min=0,
        max=65535,
        help=f"[default: {default}; 0 picks a free port]",
        show_default=False,
    )


_DEFAULT = StackPorts()


@app.command()
def run(
    data_dir: DataDir = None,
    gateway_port: Annotated[int | None, _port("gateway", _DEFAULT.gateway)] = None,
    registry_port: Annotated[int | None, _port("registry", _DEFAULT.registry)] = None,
    matching_port: Annotated[int | None, _port("matching", _DEFAULT.matching)] = None,
    events_port: Annotated[int | None, _port("events", _DEFAULT.events)] = None,
    postgres_port: Annotated[int | None, _port("postgres", _DEFAULT.postgres)] = None,
    nats_port: Annotated[int | None, _port("nats", _DEFAULT.nats)] = None,
    nats_monitor_port: Annotated[int | None, _port("nats_monitor", _DEFAULT.nats_monitor)] = None,
    web_port: Annotated[int | None, _port("web", _DEFAULT.web)] = None,
    smtp_port: Annotated[int | None, _port("smtp", _DEFAULT.smtp)] = None,
    free_ports: Annotated[
        bool, typer.Option("--free-ports", help="Any free port for every component not given.")
    ] = False,
    max_crashes: Annotated[
        int,
        typer.Option(
            envvar="CLUSTERBRIDGE_MAX_CRASHES",
            min=0,
            help="Give up when one component crashes more often than this within the window.",
        ),
    ] = RestartPolicy.max_crashes,
    crash_window: Annotated[
        float,
        typer.Option(envvar="CLUSTERBRIDGE_CRASH_WINDOW", min=1.0, help="Seconds."),
    ] = RestartPolicy.window,
    replicas: Annotated[
        int,
        typer.Option(
            envvar="CLUSTERBRIDGE_REPLICAS",
            min=1,
            max=MAX_REPLICAS,
            help="Processes of each service; the gateway replicas share the public port.",
        ),
    ] = 1,
) -> None:
    """Start PostgreSQL, NATS and the services and keep them running (a crashed one is
    restarted); Ctrl-C stops everything."""
    given = {
        "gateway": gateway_port, "registry": registry_port, "matching": matching_port,
        "events": events_port, "postgres": postgres_port, "nats": nats_port,
        "nats_monitor": nats_monitor_port, "web": web_port, "smtp": smtp_port,
    }  # fmt: skip
    if free_ports:
        given = {k: 0 if v is None else v for k, v in given.items()}
    try:
        # Typer already read the CLUSTERBRIDGE_*_PORT variables into the options.
        ports = StackPorts.from_env({}, **given)
    except StackError as exc:
        raise typer.BadParameter(str(exc)) from exc
    policy = RestartPolicy(max_crashes=max_crashes, window=crash_window, start_timeout=120.0)
    stack = Stack(data_dir or default_data_dir(), ports=ports, policy=policy, replicas=replicas)
    raise typer.Exit(stack.run())


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
                {
                    "name": c.name,
                    "pid": c.pid,
                    "url": c.url,
                    "public_url": c.public_url,
                    "healthy": c.healthy,
                    "log": c.log,
                    "state": c.state,
                    "restarts": c.restarts,
                    "last_exit": c.last_exit,
                }
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
    for column in ("component", "pid", "url", "health", "restarts", "log"):
        table.add_column(column, overflow="fold")
    for c in components:
        if c.state == "restarting":
            health = "[yellow]restarting[/]"
        else:
            health = "[green]healthy[/]" if c.healthy else "[red]unhealthy[/]"
        restarts = str(c.restarts) + (f" ({c.last_exit})" if c.last_exit else "")
        url = c.url if c.public_url is None else f"{c.url} (behind {c.public_url})"
        table.add_row(c.name, str(c.pid or "-"), url, health, restarts, c.log or "-")
    console.print(table)
    raise typer.Exit(0 if all_healthy else 1)


@app.command()
def stop(data_dir: DataDir = None) -> None:
    """Stop the stack started from this data folder."""
    if stop_stack(data_dir or default_data_dir()):
        typer.echo("stopped")
    else:
        typer.echo("no stack is running here (no state file)")
