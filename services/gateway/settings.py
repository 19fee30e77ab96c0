"""The gateway's settings: where the services are, rate limits, upstream behaviour, and
how people sign in (sessions, lock-outs, one-time links, mail)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from shared.settings import ServiceSettings


class GatewaySettings(ServiceSettings):
    registry_url: str | None = None
    matching_url: str | None = None
    events_url: str | None = None
    # The web app (pages for people): every path outside the API goes there.
    web_url: str | None = None
    # Per API client, unless the client has its own figures.
    rate_per_second: int = 50
    rate_burst: int = 100
    # "shared": buckets in PostgreSQL, one limit across every replica; "process": each
    # replica its own (N replicas allow N times the rate), no database round trip.
    rate_limit_store: Literal["shared", "process"] = "shared"
    # Upstream read timeout: a slow service answers 504 after this, never hangs a client.
    upstream_timeout: float = 10.0
    # The same for the calls that think for long by design (routing.LONG_CALLS: a
    # scheduler run of up to 30 s, then storing its draft).
    long_upstream_timeout: float = 45.0
    upstream_connections: int = 200
    # "aiohttp" (default) or "httpx" (its own pool), so the benchmark can compare them.
    upstream_transport: Literal["aiohttp", "httpx"] = "aiohttp"
    auth_cache_seconds: float = 5.0
    max_upload_bytes: int = 1_073_741_824

    # People. Links in mail point at the public address of the platform.
    public_url: str = "http://127.0.0.1:8000"
    smtp_url: str = "smtp://127.0.0.1:8025"
    invitation_days: int = Field(default=7, ge=1, le=60)
    reset_minutes: int = Field(default=60, ge=5, le=1440)
    # A session ends after this long without use, and in any case after the absolute
    # limit (a long brokerage day fits in it).
    session_idle_minutes: int = Field(default=120, ge=1, le=1440)
    session_absolute_hours: int = Field(default=14, ge=1, le=168)
    session_cache_seconds: float = Field(default=1.0, ge=0, le=30)
    # Repeated failed sign-ins: each one waits longer (base x 2^n, at most 4 s), and after
    # this many in a row the account is locked for a while.
    sign_in_lock_after: int = Field(default=5, ge=2, le=100)
    sign_in_lock_minutes: int = Field(default=15, ge=1, le=1440)
    sign_in_delay_base: float = Field(default=0.25, ge=0, le=2)

    # Webhooks. Targets must be public HTTPS addresses; an operator may allow private
    # ones (a partner system on the same network; tests use loopback) and plain HTTP.
    webhooks_allow_private: bool = False
    webhooks_allow_http: bool = False
    # Retries: base x 2^(n-1) seconds after the n-th failure, at most the cap, for the
    # whole window; then the delivery has failed and its subscription is paused.
    webhook_retry_base_seconds: float = Field(default=5.0, gt=0)
    webhook_retry_max_seconds: float = Field(default=6 * 3600.0, gt=0)
    webhook_retry_hours: float = Field(default=72.0, gt=0)
    # Also give up after this many attempts (None: only the window decides).
    webhook_max_attempts: int | None = Field(default=None, ge=1)
    webhook_timeout_seconds: float = Field(default=10.0, gt=0, le=60)
    # The dispatcher sleeps until the next retry is due, at most this long (new events
    # wake it at once).
    webhook_poll_seconds: float = Field(default=2.0, gt=0)
    webhook_concurrency: int = Field(default=16, ge=1, le=256)
    # After a rotation the previous secret also signs for this long.
    webhook_secret_overlap_hours: float = Field(default=24.0, ge=0, le=24 * 30)

    def upstreams(self) -> dict[str, str | None]:
        """Service -> its URL, or its replicas' URLs comma-separated (the gateway takes
        turns and fails over: services.gateway.upstreams)."""
        return {
            "registry": self.registry_url,
            "matching": self.matching_url,
            "events": self.events_url,
            "web": self.web_url,
        }
