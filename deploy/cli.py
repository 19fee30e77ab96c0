"""The `clusterbridge` command: the one composition root that sees every service.

It mounts each service's own operator commands and the local stack's.
"""

from __future__ import annotations

from typing import Annotated

import typer

from deploy.import_cli import import_file
from deploy.local.cli import app as stack_app
from services.events.cli import app as events_app
from services.gateway.cli import app as clients_app
from services.gateway.cli import people_app
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
app.add_typer(people_app, name="people")
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


# The events service's commands (`schedule`) sit at the top level.
for command in events_app.registered_commands:
    app.registered_commands.append(command)

if __name__ == "__main__":
    app()
