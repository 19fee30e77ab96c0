"""Alembic, one history per service, run programmatically (no alembic.ini to keep in sync)."""

from __future__ import annotations

import asyncio
import importlib.resources
from collections.abc import Sequence
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from shared.db.session import APP_ROLE

# Order matters only for readability; the services share no tables.
SERVICES: tuple[str, ...] = ("registry", "matching", "events", "gateway")


def migrations_dir(service: str) -> Path | None:
    try:
        root = importlib.resources.files(f"services.{service}")
    except ModuleNotFoundError:
        return None
    path = Path(str(root)) / "migrations"
    return path if (path / "env.py").exists() else None


def alembic_config(service: str, database_url: str) -> Config:
    location = migrations_dir(service)
    if location is None:
        raise LookupError(f"service {service!r} has no migrations")
    cfg = Config()
    cfg.set_main_option("script_location", str(location))
    cfg.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    cfg.attributes["service"] = service
    return cfg


async def _ensure_app_role(database_url: str) -> None:
    # The role every request drops to (see shared.db.session); NOLOGIN, so it is only
    # reachable through SET ROLE by a member, never by a password.
    engine = create_async_engine(database_url)
    try:
        async with engine.begin() as conn:
            exists = await conn.scalar(
                text("SELECT 1 FROM pg_roles WHERE rolname = :r"), {"r": APP_ROLE}
            )
            if not exists:
                await conn.execute(text(f"CREATE ROLE {APP_ROLE} NOLOGIN"))
            user = await conn.scalar(text("SELECT current_user"))
            await conn.execute(text(f'GRANT {APP_ROLE} TO "{user}"'))
    finally:
        await engine.dispose()


def upgrade(service: str, database_url: str, revision: str = "head") -> None:
    command.upgrade(alembic_config(service, database_url), revision)


def upgrade_all(database_url: str, services: Sequence[str] = SERVICES) -> list[str]:
    """Apply every service's migrations; returns the services migrated."""
    asyncio.run(_ensure_app_role(database_url))
    done = []
    for service in services:
        if migrations_dir(service) is not None:
            upgrade(service, database_url)
            done.append(service)
    return done


def heads(service: str) -> frozenset[str]:
    """The revisions this code expects its schema at (empty: no migrations)."""
    from alembic.script import ScriptDirectory

    location = migrations_dir(service)
    if location is None:
        return frozenset()
    return frozenset(ScriptDirectory(str(location)).get_heads())


class MigrationsCheck:
    """Readiness: not ready until the service's schema is at the revisions its code
    expects, so a pod of a new release waits for the migration Job instead of serving
    against old tables. Once at head it stays ready (migrations only move forward)."""

    def __init__(self, engine: AsyncEngine, service: str) -> None:
        self.engine = engine
        self.schema = service  # each service's schema is named after it
        self.expected = heads(service)
        self._done = not self.expected

    async def __call__(self) -> str | None:
        if self._done:
            return None
        query = text(f'SELECT version_num FROM "{self.schema}".alembic_version')  # noqa: S608 - a fixed schema name
        try:
            async with self.engine.connect() as conn:
                found = frozenset(str(v) for v in (await conn.scalars(query)).all())
        except Exception:
            return "schema not migrated"
        if found != self.expected:
            at = ", ".join(sorted(found)) or "nothing"
            return f"schema at {at}, code expects {', '.join(sorted(self.expected))}"
        self._done = True
        return None
