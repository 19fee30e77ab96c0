"""Per-client token buckets, answered with 429, Retry-After and RateLimit-* headers.

Buckets live in the gateway process: with N replicas behind a balancer a client gets up
to N times its rate. That is the usual trade for no shared state on the hot path.
"""

from __future__ import annotations

import math
import time
import uuid
from dataclasses import dataclass


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
            reset = math.ceil((burst - tokens) / rate)
            return Decision(True, burst, int(tokens), reset, 0, rate)
        self._buckets[client_id] = (tokens, now)
        wait = math.ceil((1.0 - tokens) / rate)
        return Decision(False, burst, 0, max(wait, 1), max(wait, 1), rate)
