"""`clusterbridge tenants ...`: the operator's view of tenants, straight on the database."""

from __future__ import annotations

import asyncio
import json
from typing import Annotated

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.table import Table
from sqlalchemy.ext.asyncio import create_async_engine

from services.registry.models import Tenant
from services.registry.repository import TenantRepository
from services.registry.schemas import TenantCreate
from shared.db.engine import create_sessionmaker
from shared.db.session import ANY_TENANT, tenant_session
from shared.settings import ServiceSettings

app = typer.Typer(name="tenants", help="Partner-country tenants.", no_args_is_help=True)

DatabaseUrl = Annotated[
    str | None,
    typer.Option("--database-url", envvar="DATABASE_URL", help="Defaults to the local stack's."),
]


def _url(database_url: str | None) -> str:
    return database_url or ServiceSettings().database_url


async def _all(url: str) -> list[Tenant]:
    engine = create_async_engine(url)
    try:
        async with tenant_session(create_sessionmaker(engine), ANY_TENANT) as s:
            return await TenantRepository(s).all()
    finally:
        await engine.dispose()


@app.command("list")
def list_tenants(
    database_url: DatabaseUrl = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Every tenant with its countries, time zone and language."""
    tenants = asyncio.run(_all(_url(database_url)))
    if as_json:
        typer.echo(json.dumps([
            {"code": t.code, "name": t.name, "countries": t.countries,
             "timezone": t.timezone, "language": t.language} for t in tenants
        ]))  # fmt: skip
        return
    table = Table("code", "name", "countries", "time zone", "language")
    for t in tenants:
        table.add_row(t.code, t.name, " ".join(t.countries), t.timezone, t.language)
    Console().print(table)


async def _create(url: str, body: TenantCreate) -> bool:
    engine = create_async_engine(url)
    try:
        async with tenant_session(create_sessionmaker(engine), ANY_TENANT) as s:
            repo = TenantRepository(s)
            if await repo.get(body.code) is not None:
                return False
            repo.add(Tenant(code=body.code, name=body.name, countries=sorted(set(body.countries)),
                            timezone=body.timezone, language=body.language))  # fmt: skip
            return True
    finally:
        await engine.dispose()


@app.command("create")
def create_tenant(
    code: Annotated[str, typer.Argument(help="Short code, e.g. 'mx'.")],
    name: Annotated[str, typer.Option(help="Display name.")],
    country: Annotated[list[str], typer.Option(help="ISO 3166-1 alpha-2; repeat for several.")],
    timezone: Annotated[str, typer.Option(help="IANA zone, e.g. America/Mexico_City.")],
    language: Annotated[str, typer.Option(help="ISO 639-1, e.g. es.")] = "en",
    database_url: DatabaseUrl = None,
) -> None:
    """Create a tenant (a partner-country agency's space)."""
    try:
        body = TenantCreate(
            code=code, name=name, countries=country, timezone=timezone, language=language
        )
    except ValidationError as exc:
        for err in exc.errors():
            typer.echo(f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}", err=True)
        raise typer.Exit(2) from exc
    if not asyncio.run(_create(_url(database_url), body)):
        typer.echo(f"tenant '{code}' already exists", err=True)
        raise typer.Exit(1)
    typer.echo(f"created tenant {code}")
