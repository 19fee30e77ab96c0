"""One database session per request, committed in exactly one place.

The session also carries the caller's tenant into PostgreSQL as a transaction-local
setting (`app.tenant`) and drops to the unprivileged application role, so row-level
security policies hold even if a query forgets a tenant filter. Both settings are
`is_local`, so they vanish at commit or rollback and a pooled connection never carries
one request's tenant into the next.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

APP_ROLE = "clusterbridge_app"
ANY_TENANT = "*"

_SCOPE_SQL = text("SELECT set_config('app.tenant', :tenant, true), set_config('role', :role, true)")


async def scope_to_tenant(session: AsyncSession, tenant: str) -> None:
    await session.execute(_SCOPE_SQL, {"tenant": tenant, "role": APP_ROLE})


@asynccontextmanager
async def tenant_session(
    sessionmaker: async_sessionmaker[AsyncSession], tenant: str
) -> AsyncIterator[AsyncSession]:
    """A transaction scoped to `tenant`: commits on success, rolls back on any error."""
    async with sessionmaker() as session, session.begin():
        await scope_to_tenant(session, tenant)
        yield session
