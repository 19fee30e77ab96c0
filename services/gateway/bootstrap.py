"""First start: an operator API key, so someone can create tenants and clients."""

from __future__ import annotations

import asyncio

from sqlalchemy.ext.asyncio import create_async_engine

from services.gateway.clients import create_client
from services.gateway.repository import ClientRepository
from shared.db.engine import create_sessionmaker

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
