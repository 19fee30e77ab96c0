"""The gateway's settings: where the services are, rate limits, upstream behaviour."""

from __future__ import annotations

from typing import Literal

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
