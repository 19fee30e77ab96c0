"""A service is not ready until its schema is at the revisions its code expects, so a
new release's pods wait for the migration Job instead of serving on old tables."""

from __future__ import annotations

import asyncio
import uuid

from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from deploy.local.servers import PostgresEndpoint
from shared.db.migrations import MigrationsCheck, heads, upgrade, upgrade_all


async def test_readiness_waits_for_the_migrations(postgres: PostgresEndpoint) -> None:
    name = f"readiness_{uuid.uuid4().hex[:8]}"
    admin = create_async_engine(postgres.url, isolation_level="AUTOCOMMIT")
    async with admin.connect() as conn:
        await conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = postgres.url.rsplit("/", 1)[0] + f"/{name}"
    engine = create_async_engine(url)
    try:
        check = MigrationsCheck(engine, "gateway")
        assert await check() == "schema not migrated"
        await asyncio.to_thread(upgrade_all, url, ("registry",))
        await asyncio.to_thread(upgrade, "gateway", url, "0004")
        # The head moves with every new migration; the check names whatever it is.
        expected = ", ".join(sorted(heads("gateway")))
        assert expected != "0004"
        assert await check() == f"schema at 0004, code expects {expected}"
        await asyncio.to_thread(upgrade, "gateway", url)
        assert await check() is None
        # A service without migrations (the web app) is ready as far as this goes.
        assert await MigrationsCheck(engine, "web")() is None
    finally:
        await engine.dispose()
        async with admin.connect() as conn:
            await conn.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))
        await admin.dispose()
