"""Pure-ASGI middleware shared by services and the gateway (cheap on the hot path).

- request id: taken from `X-Request-Id` when safe, otherwise made; echoed on the response;
- body limit: a declared or streamed body above the limit is refused with 413 before a
  handler reads it;
- internal credential (services only): anything but probes and metrics must carry the
  gateway's token;
- hostile request lines: more or larger headers than any client needs (431), and a
  NUL in the path or a query parameter (PostgreSQL cannot store it), refused with a
  problem that names the parameter before any handler sees them;
- request latency histogram by route template (Prometheus, and OTel when configured).
"""

from __future__ import annotations

import logging
import time
from typing import Any
from urllib.parse import parse_qsl

import orjson
import structlog
from prometheus_client import Histogram
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shared.identity import INTERNAL_TOKEN_HEADER, PUBLIC_SERVICE_PATHS, token_matches
from shared.problems import PROBLEM_MEDIA_TYPE, problem_body
from shared.requestid import accept_or_new, set_request_id
from shared.telemetry.telemetry import OFF, Telemetry

_log = structlog.get_logger("http")
_ROOT = logging.getLogger()

REQUEST_SECONDS = Histogram(
    "clusterbridge_http_request_seconds",
    "HTTP request latency",
    ["service", "method", "route", "status"],
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10),
)


class BodyTooLarge(StarletteHTTPException):
    """Raised from `receive` when a streamed body passes the limit; frameworks that
    re-raise HTTP exceptions turn it into the 413 problem."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"The body exceeds {limit} bytes.")


async def send_problem(
    send: Send,
    status: int,
    detail: str,
    request_id: str,
    headers: list[tuple[bytes, bytes]] | None = None,
    **kw: Any,
) -> None:
    body = orjson.dumps(problem_body(status, detail, **kw))
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", PROBLEM_MEDIA_TYPE.encode()),
                (b"content-length", str(len(body)).encode()),
                (b"x-request-id", request_id.encode()),
                *(headers or []),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


async def _send_too_large(send: Send, limit: int, request_id: str) -> None:
    await send_problem(
        send, 413, f"The body exceeds {limit} bytes.", request_id, slug="content-too-large"
    )


# Far above what a browser or an API client sends (a few dozen headers, a few KiB), far
# below what would let one request occupy a worker's memory or be forwarded upstream.
MAX_HEADERS = 100
MAX_HEADER_BYTES = 16 * 1024


def header_refusal(headers: list[tuple[bytes, bytes]]) -> str | None:
    if len(headers) > MAX_HEADERS:
        return f"The request has {len(headers)} headers; at most {MAX_HEADERS} are accepted."
    size = sum(len(k) + len(v) for k, v in headers)
    if size > MAX_HEADER_BYTES:
        return f"The request headers take {size} bytes; at most {MAX_HEADER_BYTES} are accepted."
    return None


def nul_parameter(path: str, query_string: bytes) -> str | None:
    """The name of the first path or query parameter holding a NUL, if any."""
    if "\x00" in path:
        return "path"
    if b"%00" not in query_string.lower() and b"\x00" not in query_string:
        return None
    for name, value in parse_qsl(query_string.decode("latin-1"), keep_blank_values=True):
        if "\x00" in name or "\x00" in value:
            return name.replace("\x00", "") or "query"
    return "query"


class PlatformMiddleware:
    def __init__(
        self,
        app: ASGIApp,
        *,
        service: str,
        max_body_bytes: int,
        internal_token: str | None,
        large_body_paths: dict[str, int] | None = None,
        telemetry: Telemetry = OFF,
    ) -> None:
        self.app = app
        self.telemetry = telemetry
        self.service = service
        self.max_body_bytes = max_body_bytes
        self.internal_token = internal_token
        self.large_body_paths = large_body_paths or {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        request_id = accept_or_new(headers.get(b"x-request-id", b"").decode("latin-1") or None)
        set_request_id(request_id)
        path: str = scope["path"]
        started = time.perf_counter()
        status_holder = [500]

        refusal = header_refusal(scope["headers"])
        if refusal is not None:
            await send_problem(
                send, 431, refusal, request_id, slug="request-header-fields-too-large"
            )
            return
        bad = nul_parameter(path, scope.get("query_string", b""))
        if bad is not None:
            detail = f"{bad} must not contain NUL characters."
            await send_problem(send, 400, detail, request_id, field=bad, slug="nul-character")
            return

        if self.internal_token is not None and path not in PUBLIC_SERVICE_PATHS:
            given = headers.get(INTERNAL_TOKEN_HEADER.encode())
            if not token_matches(given.decode("latin-1") if given else None, self.internal_token):
                await send_problem(
                    send,
                    401,
                    "This service only answers calls that come through the gateway.",
                    request_id,
                    slug="gateway-only",
                )
                return

        limit = self.large_body_paths.get(path, self.max_body_bytes)
        declared = headers.get(b"content-length")
        if declared is not None:
            try:
                too_big = int(declared) > limit
            except ValueError:
                await send_problem(send, 400, "Malformed Content-Length.", request_id)
                return
            if too_big:
                await _send_too_large(send, limit, request_id)
                return

        received = 0

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLarge(limit)
            return message

        response_started = False

        async def send_with_id(message: Message) -> None:
            nonlocal response_started
            if message["type"] == "http.response.start":
                response_started = True
                status_holder[0] = message["status"]
                headers = list(message.get("headers", []))
                if not any(k.lower() == b"x-request-id" for k, _ in headers):
                    headers.append((b"x-request-id", request_id.encode()))
                message["headers"] = headers
            await send(message)

        try:
            await self.app(scope, limited_receive, send_with_id)
        except BodyTooLarge:
            if not response_started:
                status_holder[0] = 413
                await _send_too_large(send, limit, request_id)
        finally:
            route = scope.get("route")
            template = getattr(route, "path", "unmatched")
            seconds = time.perf_counter() - started
            REQUEST_SECONDS.labels(
                self.service, scope["method"], template, str(status_holder[0])
            ).observe(seconds)
            self.telemetry.record_request(scope["method"], template, status_holder[0], seconds)
            # An access log at LOG_LEVEL=DEBUG only. Asked of the standard library's root
            # logger (which configure_logging sets to the same level): ~0.1 us, where the
            # structlog proxy's filtered call costs ~3 us on every request.
            if _ROOT.isEnabledFor(logging.DEBUG):
                _log.debug(
                    "request handled",
                    method=scope["method"],
                    route=template,
                    status=status_holder[0],
                    ms=round(seconds * 1000, 2),
                )
