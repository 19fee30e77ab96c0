"""Per-client token buckets, answered with 429, Retry-After and RateLimit-* headers.

`SharedRateLimiter` (the default) keeps the buckets in PostgreSQL, so N gateway
replicas together allow a client its rate, not N times it; one statement per request
(bench/ratelimit_cost.py measures what that costs). `RateLimiter` keeps them in the
process: the per-address budget of the sign-in pages, and the fallback while the
database cannot answer, so a database blip slows nobody down to a 503.
"""

from __future__ import annotations

import math
import time
import uuid
from dataclasses import dataclass

import structlog
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from services.gateway.repository import RateBuckets

_log = structlog.get_logger("ratelimit")


@dataclass
class Decision:
    allowed: bool
    limit: int
    remaining: int
    reset_seconds: int
    retry_after: int
    rate: int

    def headers(self) -> list[tuple[bytes, bytes]]:
        out = [
            (b"ratelimit-limit", str(self.limit).encode()),
            (b"ratelimit-remaining", str(self.remaining).encode()),
            (b"ratelimit-reset", str(self.reset_seconds).encode()),
            # The bucket holds `limit` requests and refills at `rate` per second.
            (b"ratelimit-policy", f"{self.limit};w={max(1, self.limit // self.rate)}".encode()),
        ]
        if not self.allowed:
            out.append((b"retry-after", str(self.retry_after).encode()))
        return out


class RateLimiter:
    def __init__(self, default_rate: int, default_burst: int) -> None:
        self.default_rate = default_rate
        self.default_burst = default_burst
        # client id -> (tokens, last refill time)
        self._buckets: dict[uuid.UUID, tuple[float, float]] = {}

    def check(
        self, client_id: uuid.UUID, rate: int | None = None, burst: int | None = None
    ) -> Decision:
        rate = rate or self.default_rate
        burst = burst or self.default_burst
        now = time.monotonic()
        tokens, last = self._buckets.get(client_id, (float(burst), now))
        tokens = min(float(burst), tokens + (now - last) * rate)
        if tokens >= 1.0:
            tokens -= 1.0
            self._buckets[client_id] = (tokens, now)
            return _decision(True, tokens, rate, burst)
        self._buckets[client_id] = (tokens, now)
        return _decision(False, tokens, rate, burst)

    async def take(
        self, client_id: uuid.UUID, rate: int | None = None, burst: int | None = None
    ) -> Decision:
        return self.check(client_id, rate, burst)


def _decision(allowed: bool, tokens: float, rate: int, burst: int) -> Decision:
    if allowed:
        return Decision(True, burst, int(tokens), math.ceil((burst - tokens) / rate), 0, rate)
    wait = max(math.ceil((1.0 - tokens) / rate), 1)
    return Decision(False, burst, 0, wait, wait, rate)


class SharedRateLimiter:
    """The buckets in PostgreSQL, shared by every replica."""

    def __init__(self, buckets: RateBuckets, default_rate: int, default_burst: int) -> None:
        self.buckets = buckets
        self.default_rate = default_rate
        self.default_burst = default_burst
        self.local = RateLimiter(default_rate, default_burst)

    async def take(
        self, client_id: uuid.UUID, rate: int | None = None, burst: int | None = None
    ) -> Decision:
        rate = rate or self.default_rate
        burst = burst or self.default_burst
        try:
            allowed, tokens = await self.buckets.take(client_id, rate, burst)
        except (DBAPIError, PoolTimeout, OSError) as exc:
            _log.warning("shared rate limit unavailable; limiting in-process", error=repr(exc))
            return self.local.check(client_id, rate, burst)
        return _decision(allowed, tokens, rate, burst)
