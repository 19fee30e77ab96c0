"""What a running service holds: settings, database, NATS, background workers, and the
service's own typed state.

Built in the app's lifespan, kept on `app.state.runtime`, torn down on shutdown. A
service reads it through a typed dependency of its own (`services/<name>/deps.py`,
built on `runtime_of`), so its settings subclass and state are checked types, never a
string-keyed bag.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Annotated, Any, Generic, TypeVar

import structlog
from fastapi import Depends, Request
from nats.aio.client import Client as NATS
from nats.js import JetStreamContext
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from shared.db.session import scope_to_tenant, tenant_session
from shared.idempotency import (
    FINGERPRINT_HEADER,
    KEY_HEADER,
    ForwardedKey,
    IdempotencyMixin,
    claim,
    record_response,
)
from shared.identity import CallerDep
from shared.messaging.outbox import OutboxRelay
from shared.routing import IDEMPOTENCY_STATE
from shared.settings import ServiceSettings
from shared.telemetry.telemetry import OFF, Telemetry

_log = structlog.get_logger("runtime")

ReadinessCheck = Callable[[], Awaitable[str | None]]  # None when ready, else why not

SettingsT = TypeVar("SettingsT", bound=ServiceSettings)
StateT = TypeVar("StateT")


@dataclass
class Runtime(Generic[SettingsT, StateT]):
    name: str
    settings: SettingsT
    engine: AsyncEngine
    sessionmaker: async_sessionmaker[AsyncSession]
    nc: NATS | None = None
    js: JetStreamContext | None = None
    relay: OutboxRelay | None = None
    idempotency: type[IdempotencyMixin] | None = None
    # Traces and OTel metrics; OFF (tracer None) unless OTLP is configured.
    telemetry: Telemetry = OFF
    tasks: list[asyncio.Task[Any]] = field(default_factory=list)
    readiness: dict[str, ReadinessCheck] = field(default_factory=dict)
    # Extra facts for /readyz (the match index's size and freshness, say).
    readiness_info: Callable[[], dict[str, Any]] | None = None
    # The service's own state (its index, its proxy, its consumers), built at start-up.
    _state: StateT | None = None

    @property
    def state(self) -> StateT:
        if self._state is None:
            raise RuntimeError(f"{self.name}: the service state is not built yet")
        return self._state

    @state.setter
    def state(self, value: StateT) -> None:
        self._state = value

    @property
    def has_state(self) -> bool:
        return self._state is not None

    @property
    def nats(self) -> NATS:
        if self.nc is None:
            raise RuntimeError(f"{self.name}: not connected to NATS")
        return self.nc

    @property
    def jetstream(self) -> JetStreamContext:
        if self.js is None:
            raise RuntimeError(f"{self.name}: not connected to NATS")
        return self.js

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


AnyRuntime = Runtime[Any, Any]


async def runtime(request: Request) -> AnyRuntime:
    rt: AnyRuntime = request.app.state.runtime
    return rt


RuntimeDep = Annotated[AnyRuntime, Depends(runtime)]


def runtime_of(
    request: Request, settings_type: type[SettingsT], state_type: type[StateT]
) -> Runtime[SettingsT, StateT]:
    """The runtime with its service's settings and state types, checked once here."""
    rt: Runtime[Any, Any] = request.app.state.runtime
    if not isinstance(rt.settings, settings_type) or not isinstance(rt.state, state_type):
        raise RuntimeError(f"{rt.name}: runtime built with other settings or state types")
    return rt


def stateless_runtime_of(
    request: Request, settings_type: type[SettingsT]
) -> Runtime[SettingsT, None]:
    """The runtime of a service that keeps no state of its own beyond the common one."""
    rt: Runtime[Any, Any] = request.app.state.runtime
    if not isinstance(rt.settings, settings_type) or rt.has_state:
        raise RuntimeError(f"{rt.name}: runtime built with other settings or a state")
    return rt


def after_commit(rt: AnyRuntime, session: AsyncSession) -> None:
    """Wake the outbox relay when the committed transaction wrote events."""
    if session.info.pop("wrote_events", False) and rt.relay is not None:
        rt.relay.wake()


@asynccontextmanager
async def transaction(rt: AnyRuntime, tenant: str) -> AsyncIterator[AsyncSession]:
    """A transaction outside a request's session (workers, streamed imports, work that
    must not hold a transaction open while it thinks): scoped to `tenant`, committed on
    success, rolled back on error, and the relay woken if it wrote events."""
    async with tenant_session(rt.sessionmaker, tenant) as session:
        yield session
    after_commit(rt, session)


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
        after_commit(rt, session)


async def claim_in(request: Request, rt: AnyRuntime, session: AsyncSession) -> ForwardedKey | None:
    """For a route that owns its transactions: claim the request's idempotency key in
    `session` (raises `Replay` when a first attempt already committed). Call it in the
    transaction that writes, and `record_in` before that transaction ends."""
    forwarded = _forwarded_key(request, rt)
    if forwarded is not None and rt.idempotency is not None:
        await claim(session, rt.idempotency, forwarded)
    return forwarded


async def record_in(
    rt: AnyRuntime,
    session: AsyncSession,
    forwarded: ForwardedKey | None,
    status: int,
    headers: list[tuple[str, str]],
    body: bytes,
) -> None:
    if forwarded is not None and rt.idempotency is not None:
        await record_response(session, rt.idempotency, forwarded, status, headers, body)


def _forwarded_key(request: Request, rt: AnyRuntime) -> ForwardedKey | None:
    if request.method != "POST" or rt.idempotency is None:
        return None
    return ForwardedKey.from_headers(
        request.headers.get(KEY_HEADER), request.headers.get(FINGERPRINT_HEADER)
    )


SessionDep = Annotated[AsyncSession, Depends(db_session, scope="function")]
