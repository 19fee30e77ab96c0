"""Gateway: the platform's only public door."""

from __future__ import annotations

import asyncio
import contextlib
import urllib.request
from datetime import timedelta
from http.cookiejar import Cookie, CookieJar, DefaultCookiePolicy

import aiohttp
import httpx
from fastapi import FastAPI
from httpx_aiohttp import AiohttpTransport

from services.gateway import messaging
from services.gateway.api import routers
from services.gateway.clients import Authenticator
from services.gateway.deps import GatewayRuntime
from services.gateway.idempotency import IdempotencyStore
from services.gateway.mail import MailSender
from services.gateway.messaging import hear_revocations, webhook_consumers
from services.gateway.models import Outbox
from services.gateway.openapi import OpenApiCache
from services.gateway.people import Links
from services.gateway.proxy import STREAMED_PATHS, GatewayProxy, ProxyState
from services.gateway.ratelimit import RateLimiter, SharedRateLimiter
from services.gateway.repository import RateBuckets
from services.gateway.sessions import SessionPolicy, SessionResolver
from services.gateway.settings import GatewaySettings
from services.gateway.state import GatewayState
from services.gateway.upstreams import upstreams_from
from services.gateway.webhook_dispatch import RetryPolicy, WebhookDispatcher
from shared.app import create_service_app
from shared.contracts import events, registry
from shared.keepalive import KEEPALIVE_EXPIRY
from shared.messaging.envelope import Envelope
from shared.messaging.streams import ensure_stream
from shared.runtime import AnyRuntime

__all__ = ["GatewaySettings", "create_app"]


def _upstream_client(cfg: GatewaySettings) -> httpx.AsyncClient:
    # aiohttp's transport: httpx's own async pool is several times slower under
    # concurrency (encode/httpx#3215); measured in bench/gateway.py.
    limits = httpx.Limits(
        max_connections=cfg.upstream_connections,
        max_keepalive_connections=cfg.upstream_connections,
        keepalive_expiry=KEEPALIVE_EXPIRY,
    )

    def aiohttp_session() -> aiohttp.ClientSession:
        return aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(
                limit=cfg.upstream_connections, keepalive_timeout=limits.keepalive_expiry
            ),
            cookie_jar=aiohttp.DummyCookieJar(),
        )

    transport: httpx.AsyncBaseTransport = (
        AiohttpTransport(limits=limits, client=aiohttp_session)
        if cfg.upstream_transport == "aiohttp"
        else httpx.AsyncHTTPTransport(limits=limits)
    )
    # One client serves every caller: a cookie a response sets (the web app's session
    # cookie) must go back to that browser only, never into a jar sent with the next
    # caller's request.
    return httpx.AsyncClient(
        transport=transport,
        timeout=httpx.Timeout(cfg.upstream_timeout, connect=1.0),
        cookies=CookieJar(policy=_NoCookies()),
    )


class _NoCookies(DefaultCookiePolicy):
    def set_ok(self, cookie: Cookie, request: urllib.request.Request) -> bool:
        return False


def create_app(settings: GatewaySettings | None = None) -> FastAPI:
    cfg = settings or GatewaySettings()

    async def build_state(rt: GatewayRuntime) -> GatewayState:
        policy = SessionPolicy(
            idle=timedelta(minutes=cfg.session_idle_minutes),
            absolute=timedelta(hours=cfg.session_absolute_hours),
            lock_after=cfg.sign_in_lock_after,
            lock_for=timedelta(minutes=cfg.sign_in_lock_minutes),
            delay_base=cfg.sign_in_delay_base,
        )
        authenticator = Authenticator(rt.sessionmaker, ttl=cfg.auth_cache_seconds)
        await hear_revocations(rt, authenticator.evict)
        proxy = ProxyState(
            http=_upstream_client(cfg),
            upstreams=upstreams_from(cfg.upstreams()),
            internal_token=cfg.internal_token,
            authenticator=authenticator,
            sessions=SessionResolver(rt.sessionmaker, policy, ttl=cfg.session_cache_seconds),
            limiter=_limiter(rt, cfg),
            # The lease outlives the upstream timeout: a pending key is only taken over
            # once its first request can no longer be running through this gateway.
            idempotency=IdempotencyStore(
                rt.sessionmaker, lease=timedelta(seconds=cfg.upstream_timeout + 5.0)
            ),
            telemetry=rt.telemetry,
            long_timeout=cfg.long_upstream_timeout,
        )
        mail = MailSender(rt.sessionmaker, cfg.smtp_url)
        dispatcher = _webhook_dispatcher(rt, cfg)
        # The events service may start after us; its stream must exist for our consumers.
        await ensure_stream(rt.jetstream, events.STREAM, cfg.nats_stream_replicas)
        await ensure_stream(rt.jetstream, registry.STREAM, cfg.nats_stream_replicas)

        def wake(applied: list[Envelope]) -> None:
            if applied:
                mail.wake()

        people_mail = messaging.people_mail_consumer(rt, rt.sessionmaker, wake)
        partnership_mail = messaging.partnership_mail_consumer(
            rt, rt.sessionmaker, cfg.public_url, wake
        )
        if cfg.run_workers:
            rt.start("idempotency-purge", _purge_forever(proxy.idempotency))
            rt.start("mail-sender", mail.run())
            rt.start("people-mail-consumer", people_mail.run())
            rt.start("partnership-mail-consumer", partnership_mail.run())
            rt.start("webhook-dispatcher", dispatcher.run())
            for consumer in webhook_consumers(rt, dispatcher.wake):
                rt.start(consumer.name, consumer.run())
        links = Links(cfg.public_url, cfg.invitation_days, cfg.reset_minutes)
        return GatewayState(
            proxy=proxy,
            openapi=OpenApiCache(),
            mail=mail,
            links=links,
            policy=policy,
            webhooks=dispatcher,
            people_mail=people_mail,
            partnership_mail=partnership_mail,
        )

    async def stop(rt: AnyRuntime) -> None:
        if rt.has_state:
            await rt.state.proxy.http.aclose()
            await rt.state.webhooks.close()

    return create_service_app(
        name="gateway",
        title="Clusterbridge gateway",
        settings=cfg,
        routers=list(routers),
        build_state=build_state,
        outbox=Outbox,
        own_stream="GATEWAY",
        on_shutdown=[stop],
        require_internal_token=False,
        default_probes=False,
        inner_middleware=[GatewayProxy],
        # The public /openapi.json is the merged one (services.gateway.api.platform).
        openapi_url="/_gateway/openapi.json",
        large_body_paths=dict.fromkeys(STREAMED_PATHS, cfg.max_upload_bytes),
    )


def _limiter(rt: GatewayRuntime, cfg: GatewaySettings) -> RateLimiter | SharedRateLimiter:
    if cfg.rate_limit_store == "process":
        return RateLimiter(cfg.rate_per_second, cfg.rate_burst)
    return SharedRateLimiter(RateBuckets(rt.engine), cfg.rate_per_second, cfg.rate_burst)


def _webhook_dispatcher(rt: GatewayRuntime, cfg: GatewaySettings) -> WebhookDispatcher:
    policy = RetryPolicy(
        base_seconds=cfg.webhook_retry_base_seconds,
        max_seconds=cfg.webhook_retry_max_seconds,
        window=timedelta(hours=cfg.webhook_retry_hours),
        max_attempts=cfg.webhook_max_attempts,
    )
    return WebhookDispatcher(
        rt.sessionmaker,
        policy,
        allow_private=cfg.webhooks_allow_private,
        timeout=cfg.webhook_timeout_seconds,
        concurrency=cfg.webhook_concurrency,
        poll_seconds=cfg.webhook_poll_seconds,
    )


async def _purge_forever(store: IdempotencyStore) -> None:
    while True:
        with contextlib.suppress(Exception):
            await store.purge_expired()
        await asyncio.sleep(3600)
