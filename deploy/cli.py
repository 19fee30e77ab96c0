"""The `clusterbridge` command: the one composition root that sees every service.

It mounts each service's own operator commands and the local stack's.
"""

from __future__ import annotations

import importlib
from typing import Annotated

import typer

from deploy.import_cli import import_file
from deploy.local.cli import app as stack_app
from services.gateway.cli import app as clients_app
from services.registry.cli import app as tenants_app
from shared.db.migrations import upgrade_all
from shared.settings import ServiceSettings

app = typer.Typer(
    name="clusterbridge",
    help="Clusterbridge: registry, partner matching and B2B events for cluster organisations.",
    no_args_is_help=True,
)
app.add_typer(stack_app, name="stack")
app.add_typer(tenants_app, name="tenants")
app.add_typer(clients_app, name="clients")
app.command("import")(import_file)

db_app = typer.Typer(name="db", help="Database schema.", no_args_is_help=True)
app.add_typer(db_app, name="db")


@db_app.command("upgrade")
def db_upgrade(
    database_url: Annotated[str | None, typer.Option(envvar="DATABASE_URL")] = None,
) -> None:
    """Apply every service's migrations (run by `stack run` and by the deploy job)."""
    done = upgrade_all(database_url or ServiceSettings().database_url)
    typer.echo("migrated: " + ", ".join(done))


def _mount_optional() -> None:
    # Services that land later add their commands here; a missing one is not an error
    # while the platform grows.
    try:
        events_cli = importlib.import_module("services.events.cli")
    except ImportError:
        return
    for command in events_cli.app.registered_commands:
        app.registered_commands.append(command)


_mount_optional()

if __name__ == "__main__":
    app()
