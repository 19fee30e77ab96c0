"""`clusterbridge clients ...`: API clients of partner agencies, for the operator."""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table
from sqlalchemy.ext.asyncio import create_async_engine

from services.gateway import people
from services.gateway.clients import AGENCY_SCOPES, KNOWN_SCOPES, create_client, revoke_client
from services.gateway.models import ApiClient
from services.gateway.people import Links
from services.gateway.repository import ClientRepository
from shared.db.engine import create_sessionmaker
from shared.db.session import ANY_TENANT, scope_to_tenant
from shared.problems import Problem
from shared.settings import ServiceSettings

app = typer.Typer(name="clients", help="API clients and their keys.", no_args_is_help=True)

DatabaseUrl = Annotated[
    str | None,
    typer.Option("--database-url", envvar="DATABASE_URL", help="Defaults to the local stack's."),
]


def _url(database_url: str | None) -> str:
    return database_url or ServiceSettings().database_url


async def _create(
    url: str, tenant: str, name: str, scopes: list[str], rate: int | None
) -> tuple[ApiClient, str]:
    engine = create_async_engine(url)
    try:
        async with create_sessionmaker(engine)() as s, s.begin():
            return await create_client(
                s, tenant=tenant, name=name, scopes=scopes, rate_per_second=rate
            )
    finally:
        await engine.dispose()


@app.command("create")
def create(
    tenant: Annotated[str, typer.Option(help="Tenant code, e.g. jp.")],
    name: Annotated[str, typer.Option(help="Who holds the key, e.g. 'JETRO partner desk'.")],
    scope: Annotated[
        list[str] | None,
        typer.Option(
            help=f"Repeat for several; default: an agency's ({', '.join(AGENCY_SCOPES)})."
        ),
    ] = None,
    rate_per_second: Annotated[int | None, typer.Option(min=1)] = None,
    database_url: DatabaseUrl = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Create an API client; its key is printed once and never stored in clear."""
    scopes = scope or list(AGENCY_SCOPES)
    unknown = set(scopes) - KNOWN_SCOPES
    if unknown:
        typer.echo(f"unknown scopes: {', '.join(sorted(unknown))}", err=True)
        raise typer.Exit(2)
    client, key = asyncio.run(_create(_url(database_url), tenant, name, scopes, rate_per_second))
    if as_json:
        typer.echo(json.dumps({"id": str(client.id), "tenant": tenant, "api_key": key}))
        return
    typer.echo(f"client {client.id} for tenant {tenant}")
    typer.echo(f"API key (shown once): {key}")


async def _list(url: str, tenant: str | None) -> list[ApiClient]:
    engine = create_async_engine(url)
    try:
        async with create_sessionmaker(engine)() as s:
            return list(await ClientRepository(s).listed(tenant))
    finally:
        await engine.dispose()


@app.command("list")
def list_clients(
    tenant: Annotated[str | None, typer.Option()] = None, database_url: DatabaseUrl = None
) -> None:
    """API clients with their tenant, scopes and state (never their keys)."""
    table = Table("id", "tenant", "name", "scopes", "key prefix", "revoked")
    for c in asyncio.run(_list(_url(database_url), tenant)):
        table.add_row(str(c.id), c.tenant, c.name, " ".join(c.scopes), c.key_prefix,
                      c.revoked_at.isoformat() if c.revoked_at else "")  # fmt: skip
    Console().print(table)


async def _revoke(url: str, client_id: uuid.UUID) -> bool:
    engine = create_async_engine(url)
    try:
        async with create_sessionmaker(engine)() as s, s.begin():
            client = await ClientRepository(s).get(client_id)
            if client is None:
                return False
            if client.revoked_at is None:
                await revoke_client(s, client)
            return True
    finally:
        await engine.dispose()


@app.command("revoke")
def revoke(client_id: uuid.UUID, database_url: DatabaseUrl = None) -> None:
    """Revoke a client's key (gateways stop accepting it within seconds)."""
    if not asyncio.run(_revoke(_url(database_url), client_id)):
        typer.echo(f"no client {client_id}", err=True)
        raise typer.Exit(1)
    typer.echo(f"revoked {client_id}")


people_app = typer.Typer(
    name="people", help="People who sign in to the web app.", no_args_is_help=True
)


async def _invite(
    url: str, links: Links, tenant: str, email: str, name: str, roles: list[str]
) -> str:
    engine = create_async_engine(url)
    try:
        async with create_sessionmaker(engine)() as s, s.begin():
            await scope_to_tenant(s, ANY_TENANT)
            _, link = await people.invite(
                s, links, None, tenant=tenant, tenant_name=tenant, email=email, name=name,
                roles=roles, clusters=[],
            )  # fmt: skip
            return link
    finally:
        await engine.dispose()


@people_app.command("invite")
def invite(
    tenant: Annotated[str, typer.Option(help="Tenant code, e.g. eu.")],
    email: Annotated[str, typer.Option(help="Their e-mail address.")],
    name: Annotated[str, typer.Option(help="Their name, as shown in the pages.")],
    role: Annotated[
        list[str] | None,
        typer.Option(help="agency-admin (default), organiser; repeat for several."),
    ] = None,
    public_url: Annotated[
        str, typer.Option(envvar="PUBLIC_URL", help="Where people open the platform.")
    ] = "http://127.0.0.1:8000",
    database_url: DatabaseUrl = None,
) -> None:
    """Invite a person, typically the first agency admin of a tenant, and print their
    invitation link (it is mailed too, once the gateway runs)."""
    links = Links(public_url, invitation_days=7, reset_minutes=60)
    try:
        link = asyncio.run(
            _invite(_url(database_url), links, tenant, email, name, role or ["agency-admin"])
        )
    except Problem as exc:
        typer.echo(f"error: {exc.detail}", err=True)
        raise typer.Exit(2) from exc
    typer.echo(f"invited {email} to tenant {tenant}; invitation link (valid 7 days):")
    typer.echo(link)
