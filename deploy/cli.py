"""The `clusterbridge` command: mounts each part's Typer sub-app.

Minimal for now (only `stack`); the composition root grows as services add their CLIs.
"""

from __future__ import annotations

import typer

from deploy.local.cli import app as stack_app

app = typer.Typer(name="clusterbridge", help="Clusterbridge platform.", no_args_is_help=True)
app.add_typer(stack_app, name="stack")
