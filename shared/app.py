"""The app factory every service uses: one place for logging, middleware, problems,
probes, metrics, database and NATS wiring."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from typing import Any, TypeVar

import structlog
from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from shared.db.engine import create_engine, create_sessionmaker
from shared.db.migrations import MigrationsCheck
from shared.db.problems import install_database_problem_handlers
from shared.idempotency import IdempotencyMixin, Replay, purge_expired
from shared.logging import configure_logging
from shared.messaging.outbox import OutboxMixin, OutboxRelay
from shared.messaging.streams import connect, ensure_stream
from shared.middleware import PlatformMiddleware
from shared.problems import document_problems, install_problem_handlers, problem_response
from shared.runtime import AnyRuntime, Runtime
from shared.settings import ServiceSettings
from shared.telemetry.asgi import TracedRequests
from shared.telemetry.telemetry import Telemetry, TelemetryConfig

_log = structlog.get_logger("app")

SettingsT = TypeVar("SettingsT", bound=ServiceSettings)
StateT = TypeVar("StateT")

Hook = Callable[[AnyRuntime], Awaitable[None]]


def create_service_app(
    *,
    name: str,
    title: str,
    settings: SettingsT,
    routers: Sequence[APIRouter],
    build_state: Callable[[Runtime[SettingsT, Any]], Awaitable[StateT]] | None = None,
    outbox: type[OutboxMixin] | None = None,
    idempotency: type[IdempotencyMixin] | None = None,
    own_stream: str | None = None,
    on_startup: Sequence[Hook] = (),
    on_shutdown: Sequence[Hook] = (),
    description: str = "",
    require_internal_token: bool = True,
    large_body_paths: dict[str, int] | None = None,
    default_probes: bool = True,
    inner_middleware: Sequence[type] = (),
    openapi_url: str = "/openapi.json",
) -> FastAPI:
    configure_logging(name, settings.log_level)
    # One line per upstream call would drown the logs; failures are logged where handled.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    telemetry = Telemetry(TelemetryConfig.from_settings(name, settings))

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        telemetry.start()
        engine = create_engine(settings, application_name=f"clusterbridge-{name}")
        rt: Runtime[SettingsT, StateT] = Runtime(
            name=name,
            settings=settings,
            engine=engine,
            sessionmaker=create_sessionmaker(engine),
            idempotency=idempotency,
            telemetry=telemetry,
        )
        app.state.runtime = rt
        rt.readiness["migrations"] = MigrationsCheck(engine, name)
        rt.nc = await connect(settings.nats_url, name=f"clusterbridge-{name}")
        rt.js = rt.nc.jetstream()
        if own_stream:
            await ensure_stream(rt.js, own_stream, replicas=settings.nats_stream_replicas)
        if outbox is not None:
            rt.relay = OutboxRelay(
                name,
                outbox,
                rt.sessionmaker,
                rt.js,
                poll_seconds=settings.outbox_poll_seconds,
                telemetry=telemetry,
            )
            if settings.run_workers:
                rt.start("outbox-relay", rt.relay.run())
        if idempotency is not None and settings.run_workers:
            rt.start("idempotency-purge", _purge_idempotency(rt, idempotency))
        if build_state is not None:
            rt.state = await build_state(rt)
        for hook in on_startup:
            await hook(rt)
        try:
            yield
        finally:
            await rt.stop_tasks()
            for hook in on_shutdown:
                await hook(rt)
            if rt.nc is not None and not rt.nc.is_closed:
                try:
                    await rt.nc.drain()
                except Exception:  # a drain that times out must not fail the shutdown
                    await rt.nc.close()
            await engine.dispose()
            await telemetry.stop()

    app = FastAPI(
        title=title,
        description=description,
        version="1.0.0",
        lifespan=lifespan,
        docs_url=None,
        openapi_url=openapi_url,
        redoc_url=None,
        # FastAPI's own telemetry follows the process-global providers; ours are per app
        # (shared.telemetry). Off, it also skips its per-request look-up of them.
        telemetry={"tracing": False, "metrics": False, "logs": False, "auto_configure": False},
    )
    install_problem_handlers(app)
    install_database_problem_handlers(app)
    app.add_exception_handler(Replay, _replay)  # type: ignore[arg-type]
    # Added first, so they sit inside the platform middleware (request id, limits).
    for middleware in inner_middleware:
        app.add_middleware(middleware)  # type: ignore[arg-type]
    app.add_middleware(
        PlatformMiddleware,
        service=name,
        max_body_bytes=settings.max_body_bytes,
        internal_token=settings.internal_token if require_internal_token else None,
        large_body_paths=large_body_paths or {},
        telemetry=telemetry,
    )
    if telemetry.configured:
        # Outermost: early refusals are traced too. Only services trust a caller's trace
        # context (the gateway's token guards them); the public door starts its own.
        app.add_middleware(
            TracedRequests,
            telemetry=telemetry,
            trust_incoming=require_internal_token,
        )

    if default_probes:

        @app.get("/healthz", include_in_schema=False)
        async def healthz() -> dict[str, str]:
            return {"status": "ok", "service": name}

    @app.get("/readyz", include_in_schema=False)
    async def readyz(request: Request) -> Response:
        rt: AnyRuntime = request.app.state.runtime
        problems = await rt.check()
        if problems:
            return problem_response(
                503, "Not ready: " + ", ".join(f"{k} ({v})" for k, v in problems.items())
            )
        body: dict[str, Any] = {"status": "ready", "service": name}
        if rt.readiness_info is not None:
            body.update(rt.readiness_info())
        return JSONResponse(body)

    @app.get("/metrics", include_in_schema=False)
    async def metrics() -> Response:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    for router in routers:
        app.include_router(router)

    plain_openapi = app.openapi

    def openapi_with_problems() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = document_problems(plain_openapi())
        return app.openapi_schema

    app.openapi = openapi_with_problems  # type: ignore[method-assign]
    return app


async def _replay(request: Request, exc: Replay) -> Response:
    headers = {k: v for k, v in exc.headers if k.lower() != "content-type"}
    headers["Idempotent-Replayed"] = "true"
    media = next((v for k, v in exc.headers if k.lower() == "content-type"), None)
    return Response(exc.body, status_code=exc.status, headers=headers, media_type=media)


async def _purge_idempotency(rt: AnyRuntime, model: type[IdempotencyMixin]) -> None:
    """Forget answers older than the retention, hourly; a failure only delays it."""
    while True:
        try:
            async with rt.sessionmaker() as session, session.begin():
                await purge_expired(session, model)
        except Exception as exc:
            _log.warning("idempotency purge failed", error=repr(exc))
        await asyncio.sleep(3600)
