"""First start: an operator API key, so someone can create tenants and clients, and
the first agency admin's invitation, so someone can sign in to the pages."""

from __future__ import annotations

import asyncio

from sqlalchemy.ext.asyncio import create_async_engine

from services.gateway import people
from services.gateway.clients import create_client
from services.gateway.people import Links
from services.gateway.repository import ClientRepository, PeopleRepository
from shared.db.engine import create_sessionmaker
from shared.db.session import ANY_TENANT, scope_to_tenant

OPERATOR_TENANT = "eu"
OPERATOR_NAME = "platform operator"


async def _ensure(database_url: str) -> str | None:
    engine = create_async_engine(database_url)
    try:
        async with create_sessionmaker(engine)() as s, s.begin():
            if await ClientRepository(s).live_operator_exists():
                return None
            _, key = await create_client(
                s, tenant=OPERATOR_TENANT, name=OPERATOR_NAME, scopes=["admin"]
            )
            return key
    finally:
        await engine.dispose()


def ensure_operator_key(database_url: str) -> str | None:
    """Create an operator key unless a live one exists; returns the new key or None."""
    return asyncio.run(_ensure(database_url))


async def _first_admin(database_url: str, public_url: str, tenant: str, email: str) -> str | None:
    engine = create_async_engine(database_url)
    try:
        async with create_sessionmaker(engine)() as s, s.begin():
            await scope_to_tenant(s, ANY_TENANT)
            if await PeopleRepository(s).of_tenant(tenant):
                return None
            _, link = await people.invite(
                s,
                Links(public_url, invitation_days=7, reset_minutes=60),
                None,
                tenant=tenant,
                tenant_name=tenant,
                email=email,
                name="First admin",
                roles=["agency-admin"],
                clusters=[],
            )
            return link
    finally:
        await engine.dispose()


def invite_first_admin(database_url: str, public_url: str, tenant: str, email: str) -> str | None:
    """Invite the first agency admin of `tenant` unless it has people already; returns
    the invitation link (also mailed) or None."""
    return asyncio.run(_first_admin(database_url, public_url, tenant, email))
