"""Gateway: the platform's only public door."""

from __future__ import annotations

import asyncio
import contextlib
from datetime import timedelta
from typing import Literal

import httpx
from fastapi import FastAPI
from httpx_aiohttp import AiohttpTransport

from services.gateway.api import router
from services.gateway.clients import Authenticator
from services.gateway.idempotency import IdempotencyStore
from services.gateway.models import Outbox
from services.gateway.openapi import OpenApiCache
from services.gateway.proxy import STREAMED_PATHS, GatewayProxy, ProxyState
from services.gateway.ratelimit import RateLimiter
from shared.app import create_service_app
from shared.runtime import Runtime
from shared.settings import ServiceSettings


class GatewaySettings(ServiceSettings):
    registry_url: str | None = None
    matching_url: str | None = None
    events_url: str | None = None
    # Per API client, unless the client has its own figures.
    rate_per_second: int = 50
    rate_burst: int = 100
    # Upstream read timeout: a slow service answers 504 after this, never hangs a client.
    upstream_timeout: float = 10.0
    upstream_connections: int = 200
    # "aiohttp" (default) or "httpx" (its own pool), so the benchmark can compare them.
    upstream_transport: Literal["aiohttp", "httpx"] = "aiohttp"
    auth_cache_seconds: float = 5.0
    max_upload_bytes: int = 1_073_741_824

    def upstreams(self) -> dict[str, str]:
        pairs = {
            "registry": self.registry_url,
            "matching": self.matching_url,
            "events": self.events_url,
        }
        return {k: v.rstrip("/") for k, v in pairs.items() if v}


def create_app(settings: GatewaySettings | None = None) -> FastAPI:
    cfg = settings or GatewaySettings()

    async def start(rt: Runtime) -> None:
        # aiohttp's transport: httpx's own async pool is several times slower under
        # concurrency (encode/httpx#3215); measured in bench/gateway.py.
        limits = httpx.Limits(
            max_connections=cfg.upstream_connections,
            max_keepalive_connections=cfg.upstream_connections,
            # Below uvicorn's 5 s keep-alive: a connection the service is about to close
            # must never be picked for the next request ("cannot write request body").
            keepalive_expiry=2.0,
        )
        transport: httpx.AsyncBaseTransport = (
            AiohttpTransport(limits=limits)
            if cfg.upstream_transport == "aiohttp"
            else httpx.AsyncHTTPTransport(limits=limits)
        )
        http = httpx.AsyncClient(
            transport=transport, timeout=httpx.Timeout(cfg.upstream_timeout, connect=1.0)
        )
        rt.extras["proxy"] = ProxyState(
            http=http,
            upstreams=cfg.upstreams(),
            internal_token=cfg.internal_token,
            authenticator=Authenticator(rt.sessionmaker, ttl=cfg.auth_cache_seconds),
            limiter=RateLimiter(cfg.rate_per_second, cfg.rate_burst),
            # The lease outlives the upstream timeout: a pending key is only taken over
            # once its first request can no longer be running through this gateway.
            idempotency=IdempotencyStore(
                rt.sessionmaker, lease=timedelta(seconds=cfg.upstream_timeout + 5.0)
            ),
        )
        rt.extras["openapi"] = OpenApiCache()
        if cfg.run_workers:
            rt.start("idempotency-purge", _purge_forever(rt))

    async def stop(rt: Runtime) -> None:
        state: ProxyState | None = rt.extras.get("proxy")
        if state is not None:
            await state.http.aclose()

    return create_service_app(
        name="gateway",
        title="Clusterbridge gateway",
        settings=cfg,
        routers=[router],
        outbox=Outbox,
        own_stream="GATEWAY",
        on_startup=[start],
        on_shutdown=[stop],
        require_internal_token=False,
        default_probes=False,
        inner_middleware=[GatewayProxy],
        # The public /openapi.json is the merged one (services.gateway.api).
        openapi_url="/_gateway/openapi.json",
        large_body_paths=dict.fromkeys(STREAMED_PATHS, cfg.max_upload_bytes),
    )


async def _purge_forever(rt: Runtime) -> None:
    state: ProxyState = rt.extras["proxy"]
    while True:
        with contextlib.suppress(Exception):
            await state.idempotency.purge_expired()
        await asyncio.sleep(3600)
