"""Row-level security keyed on a transaction-local tenant: the database is a wall too."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest
from sqlalchemy import select, text, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import create_async_engine

from services.registry.models import Cluster
from shared.db.engine import create_sessionmaker
from shared.db.session import tenant_session


async def test_pooled_connection_never_carries_a_tenant_into_the_next_request(
    database_url: str,
) -> None:
    # One connection in the pool: the second transaction surely reuses the first's.
    engine = create_async_engine(database_url, pool_size=1, max_overflow=0)
    sessionmaker = create_sessionmaker(engine)
    try:
        async with tenant_session(sessionmaker, "jp") as s:
            backend = await s.scalar(text("SELECT pg_backend_pid()"))
            assert await s.scalar(text("SELECT current_setting('app.tenant', true)")) == "jp"
            assert await s.scalar(text("SELECT current_user")) == "clusterbridge_app"
        async with sessionmaker() as s, s.begin():
            assert await s.scalar(text("SELECT pg_backend_pid()")) == backend
            leftover = await s.scalar(text("SELECT current_setting('app.tenant', true)"))
            assert leftover in (None, "")
            assert await s.scalar(text("SELECT current_user")) != "clusterbridge_app"
        # Even after an error and rollback, nothing lingers.
        try:
            async with tenant_session(sessionmaker, "br") as s:
                raise RuntimeError("handler failed")
        except RuntimeError:
            pass
        async with sessionmaker() as s, s.begin():
            assert await s.scalar(text("SELECT current_setting('app.tenant', true)")) in (None, "")
    finally:
        await engine.dispose()


async def test_rls_blocks_writes_to_another_tenants_rows_even_without_a_filter(
    database_url: str,
) -> None:
    engine = create_async_engine(database_url)
    sessionmaker = create_sessionmaker(engine)
    cid = uuid.uuid4()
    now = datetime.now(UTC)
    try:
        async with tenant_session(sessionmaker, "jp") as s:
            s.add(Cluster(id=cid, tenant="jp", name="RLS probe", country="JP", description="",
                          version=1, created_at=now, updated_at=now))  # fmt: skip
        async with tenant_session(sessionmaker, "br") as s:
            # Readable: public profiles cross tenants by design.
            assert (await s.scalars(select(Cluster.name).where(Cluster.id == cid))).one()
            # A query that "forgot" its tenant filter changes nothing of jp's.
            result = await s.execute(
                update(Cluster).where(Cluster.id == cid).values(name="Hijacked")
            )
            assert result.rowcount == 0  # type: ignore[attr-defined]
            result = await s.execute(
                text("DELETE FROM registry.clusters WHERE id = :id"), {"id": cid}
            )
            assert result.rowcount == 0  # type: ignore[attr-defined]
        with pytest.raises(DBAPIError, match="row-level security"):
            async with tenant_session(sessionmaker, "br") as s:
                s.add(Cluster(id=uuid.uuid4(), tenant="jp", name="Planted", country="JP",
                              description="", version=1, created_at=now, updated_at=now))  # fmt: skip
                await s.flush()
        async with tenant_session(sessionmaker, "jp") as s:
            assert (await s.get(Cluster, cid)).name == "RLS probe"  # type: ignore[union-attr]
    finally:
        await engine.dispose()
