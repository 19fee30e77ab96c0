"""The gateway's hot path, as plain ASGI: authenticate, check scope, rate-limit,
honour Idempotency-Key, forward with one pooled HTTP client, answer.

It sits inside the platform middleware (request id, body limit, metrics) and in front of
the gateway's own FastAPI routes, which get every path no service claims.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
import structlog
from starlette.types import ASGIApp, Receive, Scope, Send

from services.gateway.clients import AuthenticatedClient, Authenticator
from services.gateway.idempotency import (
    MAX_KEY_LENGTH,
    IdempotencyStore,
    Stored,
    request_fingerprint,
)
from services.gateway.ratelimit import RateLimiter
from services.gateway.routing import Route, may_use, route_for
from shared.identity import (
    CLIENT_HEADER,
    INTERNAL_TOKEN_HEADER,
    SCOPES_HEADER,
    TENANT_HEADER,
)
from shared.middleware import send_problem
from shared.requestid import current_request_id

_log = structlog.get_logger("gateway.proxy")

# Never forwarded upstream: hop-by-hop headers, and any identity a client tries to forge.
_DROP_REQUEST = frozenset(
    {
        b"host", b"connection", b"keep-alive", b"proxy-authorization", b"te", b"trailer",
        b"transfer-encoding", b"upgrade", b"authorization", b"content-length",
        b"idempotency-key", INTERNAL_TOKEN_HEADER.encode(), TENANT_HEADER.encode(),
        CLIENT_HEADER.encode(), SCOPES_HEADER.encode(), b"x-request-id",
    }
)  # fmt: skip
_DROP_RESPONSE = frozenset(
    {b"connection", b"keep-alive", b"transfer-encoding", b"content-length", b"server",
     b"date", b"x-request-id", b"content-encoding"}
)  # fmt: skip

# Bodies of these paths are streamed upstream, not buffered (bulk import files).
STREAMED_PATHS = frozenset({"/v1/clusters/import"})


@dataclass
class ProxyState:
    http: httpx.AsyncClient
    upstreams: dict[str, str]  # service -> base URL
    internal_token: str
    authenticator: Authenticator
    limiter: RateLimiter
    idempotency: IdempotencyStore


def _bearer(headers: dict[bytes, bytes]) -> str | None:
    raw = headers.get(b"authorization")
    if not raw:
        return None
    try:
        value = raw.decode("ascii")
    except UnicodeDecodeError:
        return None
    scheme, _, token = value.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


async def _read_body(receive: Receive) -> bytes:
    chunks = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


async def _stream_body(receive: Receive) -> AsyncIterator[bytes]:
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return
        chunk = message.get("body", b"")
        if chunk:
            yield chunk
        if not message.get("more_body", False):
            return


async def _respond(
    send: Send, status: int, headers: list[tuple[bytes, bytes]], body: bytes
) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [*headers, (b"content-length", str(len(body)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": body})


class GatewayProxy:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        state: ProxyState | None = scope["app"].state.runtime.extras.get("proxy")
        if state is None:
            await self.app(scope, receive, send)
            return
        route = route_for(scope["path"], frozenset(state.upstreams))
        if route is None:
            await self.app(scope, receive, send)
            return
        await self._proxy(scope, receive, send, state, route)

    async def _proxy(
        self, scope: Scope, receive: Receive, send: Send, state: ProxyState, route: Route
    ) -> None:
        service = route.service
        rid = current_request_id() or uuid.uuid4().hex
        headers = dict(scope["headers"])
        key = _bearer(headers)
        client = await state.authenticator.authenticate(key) if key else None
        if client is None:
            await send_problem(
                send, 401,
                "Send a valid API key as 'Authorization: Bearer <key>'." if key is None
                else "This API key is not valid or has been revoked.",
                rid, headers=[(b"www-authenticate", b'Bearer realm="clusterbridge"')],
                slug="unauthorized",
            )  # fmt: skip
            return
        if not may_use(client.scopes, route):
            await send_problem(
                send, 403, f"This API key has no {route.scope_family} scope.", rid,
                slug="insufficient-scope",
            )  # fmt: skip
            return
        decision = state.limiter.check(client.id, client.rate_per_second, client.burst)
        limit_headers = decision.headers()
        if not decision.allowed:
            await send_problem(
                send, 429, "Too many requests for this API key; retry after the given delay.",
                rid, headers=limit_headers, slug="rate-limited",
            )  # fmt: skip
            return

        method: str = scope["method"]
        path: str = scope["path"]
        query: bytes = scope.get("query_string", b"")
        streamed = path in STREAMED_PATHS
        body: bytes | AsyncIterator[bytes]
        body = _stream_body(receive) if streamed else await _read_body(receive)

        idem_key_raw = headers.get(b"idempotency-key")
        idem_key: str | None = None
        if idem_key_raw is not None and method == "POST" and not streamed:
            idem_key = idem_key_raw.decode("latin-1").strip()
            if not idem_key or len(idem_key) > MAX_KEY_LENGTH:
                await send_problem(
                    send, 400, f"Idempotency-Key must be 1 to {MAX_KEY_LENGTH} characters.",
                    rid, headers=limit_headers, field="Idempotency-Key",
                )  # fmt: skip
                return
            assert isinstance(body, bytes)
            claim = await state.idempotency.claim(
                client.id, idem_key, request_fingerprint(method, path, query, body)
            )
            if claim.replay is not None:
                r = claim.replay
                await _respond(
                    send, r.status,
                    [*r.headers, *limit_headers, (b"idempotent-replayed", b"true")], r.body,
                )  # fmt: skip
                return
            if claim.conflict == "mismatch":
                await send_problem(
                    send, 422,
                    "This Idempotency-Key was used with a different request body.",
                    rid, headers=limit_headers, slug="idempotency-key-reused",
                    field="Idempotency-Key",
                )  # fmt: skip
                return
            if claim.conflict == "in-flight":
                await send_problem(
                    send, 409, "A request with this Idempotency-Key is still in progress.",
                    rid, headers=[*limit_headers, (b"retry-after", b"1")],
                    slug="idempotency-key-in-flight", field="Idempotency-Key",
                )  # fmt: skip
                return

        upstream_headers = self._upstream_headers(scope, state, client, rid)
        # The raw, still percent-encoded path: the decoded one may hold characters (control
        # bytes, '?', '#') that would change or break the upstream URL.
        raw_path = scope.get("raw_path") or path.encode()
        url = (
            state.upstreams[service]
            + raw_path.decode("latin-1")
            + ("?" + query.decode("latin-1") if query else "")
        )
        try:
            response = await state.http.request(
                method,
                url,
                headers=upstream_headers,
                content=body,
                timeout=httpx.Timeout(600.0, connect=1.0) if streamed else httpx.USE_CLIENT_DEFAULT,
            )
        except (httpx.ConnectError, httpx.ConnectTimeout, httpx.RemoteProtocolError) as exc:
            await self._fail(state, client, idem_key)
            _log.warning("upstream unavailable", service=service, error=repr(exc))
            await send_problem(
                send, 503, f"The {service} service is unavailable; try again shortly.", rid,
                headers=[*limit_headers, (b"retry-after", b"2")], slug="service-unavailable",
            )  # fmt: skip
            return
        except (httpx.InvalidURL, httpx.UnsupportedProtocol):
            await self._fail(state, client, idem_key)
            await send_problem(
                send, 400, "The request path or query is not a valid URL.", rid,
                headers=limit_headers, slug="bad-request",
            )  # fmt: skip
            return
        except httpx.TimeoutException:
            await self._fail(state, client, idem_key)
            await send_problem(
                send, 504, f"The {service} service did not answer in time.", rid,
                headers=limit_headers, slug="gateway-timeout",
            )  # fmt: skip
            return
        except httpx.HTTPError as exc:
            await self._fail(state, client, idem_key)
            _log.warning("upstream error", service=service, error=repr(exc))
            await send_problem(
                send, 502, f"The {service} service failed to answer.", rid,
                headers=limit_headers, slug="bad-gateway",
            )  # fmt: skip
            return

        out_headers = [
            (k.lower(), v) for k, v in response.headers.raw if k.lower() not in _DROP_RESPONSE
        ]
        content = response.content
        if idem_key is not None:
            if response.status_code >= 500:
                await state.idempotency.release(client.id, idem_key)
            else:
                await state.idempotency.complete(
                    client.id, idem_key, Stored(response.status_code, out_headers, content)
                )
        await _respond(send, response.status_code, [*out_headers, *limit_headers], content)

    @staticmethod
    def _upstream_headers(
        scope: Scope, state: ProxyState, client: AuthenticatedClient, rid: str
    ) -> list[tuple[bytes, bytes]]:
        out = [(k, v) for k, v in scope["headers"] if k not in _DROP_REQUEST]
        out += [
            (INTERNAL_TOKEN_HEADER.encode(), state.internal_token.encode()),
            (TENANT_HEADER.encode(), client.tenant.encode()),
            (CLIENT_HEADER.encode(), str(client.id).encode()),
            (SCOPES_HEADER.encode(), client.scopes_header.encode()),
            (b"x-request-id", rid.encode()),
        ]
        return out

    @staticmethod
    async def _fail(state: ProxyState, client: AuthenticatedClient, idem_key: str | None) -> None:
        if idem_key is not None:
            await state.idempotency.release(client.id, idem_key)
