"""The replicas of one backend service: round-robin, and failover when a replica is gone.

`REGISTRY_URL` (and the others) may name several replicas, comma-separated. Each request
goes to the next replica in turn. When one cannot be reached (connection refused or not
accepted in time) the request never reached it, so the next replica gets it at once and
the dead one sits out a short cool-off instead of costing every caller a failed connect.

A connection that drops after the request was sent (a replica killed mid-request, or a
pooled keep-alive connection to a replica that has since died) is retried elsewhere only
when doing it twice cannot do anything twice: a safe method, or a request carrying a
forwarded idempotency key (the service claims the key in the transaction of the effect,
so a second try either replays the committed answer or finds nothing was committed).
Otherwise the caller gets the error, which the proxy turns into a 503 with Retry-After.
Behind Kubernetes a Service is one URL and the cluster balances; this is for the local
stack and any place that lists replicas itself.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Mapping
from typing import Any, Literal

import aiohttp
import httpx
import structlog

_log = structlog.get_logger("gateway.upstreams")

# Long enough that a dead replica stops costing connects, short enough that a restarted
# one gets traffic again within a moment of answering.
COOL_OFF_SECONDS = 1.0
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
_NOT_REACHED = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)
_DROPPED = (httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError)


def failure_kind(exc: httpx.HTTPError) -> Literal["not-reached", "dropped", "other"]:
    """ "not-reached": the replica never got the request, trying another is always safe;
    "dropped": the connection broke after the request may have reached it; "other":
    an answer came too late, or the request itself is wrong (never retried).

    httpx_aiohttp maps every aiohttp connection error, a server that disconnected after
    reading the request included, to ConnectTimeout, so aiohttp's own error, kept as
    the cause, decides first."""
    cause = exc.__cause__
    if isinstance(cause, aiohttp.ClientError):
        if isinstance(cause, aiohttp.ClientConnectorError):
            return "not-reached"
        if isinstance(cause, aiohttp.ServerTimeoutError):
            return "other"
        if isinstance(cause, aiohttp.ClientConnectionError | aiohttp.ClientPayloadError):
            return "dropped"
        return "other"
    if isinstance(exc, _NOT_REACHED):
        return "not-reached"
    if isinstance(exc, _DROPPED):
        return "dropped"
    return "other"


def parse_urls(raw: str | None) -> tuple[str, ...]:
    """`http://a:1,http://b:2` -> ("http://a:1", "http://b:2"), trailing slashes gone."""
    if not raw:
        return ()
    return tuple(u.strip().rstrip("/") for u in raw.split(",") if u.strip())


class Upstream:
    """One service's replicas, in turn; `request` fails over as described above."""

    def __init__(
        self,
        service: str,
        urls: tuple[str, ...],
        *,
        clock: Callable[[], float] = time.monotonic,
        cool_off: float = COOL_OFF_SECONDS,
    ) -> None:
        if not urls:
            raise ValueError(f"no URL for the {service} service")
        self.service = service
        self.urls = urls
        self._turn = itertools.cycle(range(len(urls)))
        self._down_until = dict.fromkeys(urls, 0.0)
        self._clock = clock
        self._cool_off = cool_off

    @property
    def base(self) -> str:
        """The first replica's URL (what one-replica callers and messages name)."""
        return self.urls[0]

    def order(self) -> list[str]:
        """Every replica once, starting with the next in turn; those cooling off last."""
        start = next(self._turn)
        ring = [*self.urls[start:], *self.urls[:start]]
        now = self._clock()
        return sorted(ring, key=lambda u: self._down_until[u] > now)

    def mark_down(self, url: str) -> None:
        self._down_until[url] = self._clock() + self._cool_off

    def mark_up(self, url: str) -> None:
        self._down_until[url] = 0.0

    async def request(
        self,
        http: httpx.AsyncClient,
        method: str,
        path: str,
        *,
        retry_dropped: bool | None = None,
        **kwargs: Any,
    ) -> httpx.Response:
        """`method path` on one replica, failing over per the module's rules.

        `path` starts with "/" (and carries the query). `retry_dropped`: whether a
        connection dropped after sending may be retried elsewhere (default: safe methods
        only). The last error is raised when no replica answered."""
        may_retry_dropped = method in SAFE_METHODS if retry_dropped is None else retry_dropped
        last: httpx.HTTPError | None = None
        for url in self.order():
            try:
                response = await http.request(method, url + path, **kwargs)
            except httpx.HTTPError as exc:
                kind = failure_kind(exc)
                if kind == "other" or (kind == "dropped" and not may_retry_dropped):
                    if kind == "dropped":
                        self.mark_down(url)
                    raise
                last = exc
            else:
                self.mark_up(url)
                return response
            self.mark_down(url)
            _log.warning(
                "replica unreachable; trying the next",
                service=self.service,
                replica=url,
                error=repr(last),
            )
        assert last is not None
        raise last


def upstreams_from(urls: Mapping[str, str | None]) -> dict[str, Upstream]:
    """Service name -> its replicas, for every service that has a URL."""
    return {
        name: Upstream(name, parsed) for name, raw in urls.items() if (parsed := parse_urls(raw))
    }
