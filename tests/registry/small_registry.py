"""A registry of its own for tests whose figures depend on every profile stored: a
fresh database in the run's PostgreSQL, migrated, and a real registry service on it,
called with the internal headers the gateway would send."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

from services.registry.main import RegistrySettings
from services.registry.main import create_app as create_registry
from shared.db.migrations import upgrade_all
from tests.harness import INTERNAL_TOKEN, serve

AGENCY = "registry:read registry:write registry:verify"


@dataclass
class SmallRegistry:
    url: str

    def client(self, tenant: str, scopes: str = AGENCY, **person: str) -> httpx.AsyncClient:
        headers = {"x-internal-token": INTERNAL_TOKEN, "x-tenant": tenant, "x-scopes": scopes}
        headers |= {f"x-person-{k}": v for k, v in person.items()}
        return httpx.AsyncClient(base_url=self.url, headers=headers, timeout=30)

    async def create(self, tenant: str, **fields: Any) -> dict[str, Any]:
        body = {"name": f"Cluster {uuid.uuid4().hex[:8]}", "description": "x"} | fields
        async with self.client(tenant) as c:
            r = await c.post("/v1/clusters", json=body)
        assert r.status_code == 201, r.text
        created: dict[str, Any] = r.json()
        return created


@contextlib.asynccontextmanager
async def small_registry(database_url: str, nats_url: str) -> AsyncIterator[SmallRegistry]:
    name = f"small_{uuid.uuid4().hex[:12]}"
    admin = create_async_engine(database_url, isolation_level="AUTOCOMMIT")
    async with admin.connect() as conn:
        await conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(database_url).set(database=name).render_as_string(hide_password=False)
    await asyncio.to_thread(upgrade_all, url, ["registry"])
    settings = RegistrySettings(
        database_url=url,
        nats_url=nats_url,
        internal_token=INTERNAL_TOKEN,
        environment="test",
        run_workers=False,
    )
    service = await serve("registry", create_registry(settings))
    try:
        yield SmallRegistry(service.url)
    finally:
        await service.stop()
        async with admin.connect() as conn:
            await conn.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))
        await admin.dispose()
