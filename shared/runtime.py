"""What a running service holds: settings, database, NATS, background workers.

Built in the app's lifespan, kept on `app.state.runtime`, torn down on shutdown.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from typing import Annotated, Any

import structlog
from fastapi import Depends, Request
from nats.aio.client import Client as NATS
from nats.js import JetStreamContext
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from shared.db.session import scope_to_tenant
from shared.idempotency import FINGERPRINT_HEADER, KEY_HEADER, ForwardedKey, IdempotencyMixin, claim
from shared.identity import CallerDep
from shared.messaging.outbox import OutboxRelay
from shared.routing import IDEMPOTENCY_STATE
from shared.settings import ServiceSettings

_log = structlog.get_logger("runtime")

ReadinessCheck = Callable[[], Awaitable[str | None]]  # None when ready, else why not


@dataclass
class Runtime:
    name: str
    settings: ServiceSettings
    engine: AsyncEngine
    sessionmaker: async_sessionmaker[AsyncSession]
    nc: NATS | None = None
    js: JetStreamContext | None = None
    relay: OutboxRelay | None = None
    idempotency: type[IdempotencyMixin] | None = None
    tasks: list[asyncio.Task[Any]] = field(default_factory=list)
    readiness: dict[str, ReadinessCheck] = field(default_factory=dict)
    extras: dict[str, Any] = field(default_factory=dict)

    def start(self, name: str, coro: Coroutine[Any, Any, Any]) -> None:
        task = asyncio.create_task(coro, name=f"{self.name}:{name}")
        task.add_done_callback(_report_crash)
        self.tasks.append(task)

    async def stop_tasks(self) -> None:
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        self.tasks.clear()

    async def check(self) -> dict[str, str]:
        """Problems by component; empty when ready."""
        problems: dict[str, str] = {}
        try:
            async with self.engine.connect() as conn:
                await conn.execute(text("SELECT 1"))
        except Exception as exc:
            problems["database"] = type(exc).__name__
        if self.nc is not None and not self.nc.is_connected:
            problems["nats"] = "disconnected"
        for name, fn in self.readiness.items():
            why = await fn()
            if why:
                problems[name] = why
        return problems


def _report_crash(task: asyncio.Task[Any]) -> None:
    if not task.cancelled() and task.exception() is not None:
        _log.error("background task died", task=task.get_name(), error=repr(task.exception()))


async def runtime(request: Request) -> Runtime:
    rt: Runtime = request.app.state.runtime
    return rt


RuntimeDep = Annotated[Runtime, Depends(runtime)]


async def db_session(
    request: Request, rt: RuntimeDep, caller: CallerDep
) -> AsyncIterator[AsyncSession]:
    """The request's transaction, scoped to the caller's tenant (operators: any).

    Commits when the handler returns, rolls back when it raises; services never commit.
    `SessionDep` runs it in FastAPI's "function" scope, so the commit happens before
    the response is sent: no 2xx leaves for a write that did not commit, and a failed
    commit becomes the problem the client sees. A POST that carries the gateway's
    idempotency key claims it here, in the same transaction as its work.
    """
    async with rt.sessionmaker() as session:
        async with session.begin():
            await scope_to_tenant(session, caller.db_scope)
            forwarded = _forwarded_key(request, rt)
            if forwarded is not None and rt.idempotency is not None:
                await claim(session, rt.idempotency, forwarded)
                setattr(request.state, IDEMPOTENCY_STATE, (session, rt.idempotency, forwarded))
            yield session
        if session.info.pop("wrote_events", False) and rt.relay is not None:
            rt.relay.wake()


def _forwarded_key(request: Request, rt: Runtime) -> ForwardedKey | None:
    if request.method != "POST" or rt.idempotency is None:
        return None
    return ForwardedKey.from_headers(
        request.headers.get(KEY_HEADER), request.headers.get(FINGERPRINT_HEADER)
    )


SessionDep = Annotated[AsyncSession, Depends(db_session, scope="function")]
