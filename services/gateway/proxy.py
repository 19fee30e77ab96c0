"""The gateway's hot path, as plain ASGI: authenticate, check scope, rate-limit,
honour Idempotency-Key, forward with one pooled HTTP client, answer.

It sits inside the platform middleware (request id, body and header limits, metrics)
and in front of the gateway's own FastAPI routes, which get every path no service
claims. Each step either lets the request through or raises a `Refusal`, which one
place turns into the problem document; the policy reads in order in `_proxy`.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import timedelta

import httpx
import structlog
from opentelemetry.trace import SpanKind
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from services.gateway.clients import Authenticator
from services.gateway.credentials import BearerRefused, credential
from services.gateway.idempotency import (
    MAX_KEY_LENGTH,
    IdempotencyStore,
    Stored,
    request_fingerprint,
)
from services.gateway.principals import Principal
from services.gateway.ratelimit import RateLimiter, SharedRateLimiter
from services.gateway.routing import WEB, Route, is_long, may_use, route_for
from services.gateway.sessions import SessionResolver
from services.gateway.upstreams import Upstream, failure_kind
from shared.idempotency import scoped_key
from shared.identity import (
    IDEMPOTENCY_FINGERPRINT_HEADER,
    IDEMPOTENCY_KEY_HEADER,
    IDENTITY_HEADERS,
    INTERNAL_TOKEN_HEADER,
    internal_headers,
)
from shared.middleware import send_problem
from shared.requestid import current_request_id
from shared.telemetry.propagation import TRACE_HEADERS, inject_into
from shared.telemetry.telemetry import OFF, Telemetry

_log = structlog.get_logger("gateway.proxy")

# Never forwarded upstream: hop-by-hop headers, and any identity a client tries to forge.
_DROP_REQUEST = frozenset(
    {
        b"host",
        b"connection",
        b"keep-alive",
        b"proxy-authorization",
        b"te",
        b"trailer",
        b"transfer-encoding",
        b"upgrade",
        b"authorization",
        b"content-length",
        b"idempotency-key",
        b"x-request-id",
        # A client's trace context is a link of our trace, never its parent (see
        # shared.telemetry.asgi); upstream gets ours.
        *(h.encode() for h in TRACE_HEADERS),
        *(h.encode() for h in IDENTITY_HEADERS),
    }
)
_DROP_RESPONSE = frozenset(
    {
        b"connection",
        b"keep-alive",
        b"transfer-encoding",
        b"content-length",
        b"server",
        b"date",
        b"x-request-id",
        b"content-encoding",
    }
)
_AUTHENTICATE = [(b"www-authenticate", b'Bearer realm="clusterbridge"')]

# Bodies of these paths are streamed upstream, not buffered (bulk import files).
STREAMED_PATHS = frozenset({"/v1/clusters/import"})


@dataclass
class ProxyState:
    http: httpx.AsyncClient
    upstreams: dict[str, Upstream]  # service -> its replicas
    internal_token: str
    authenticator: Authenticator
    sessions: SessionResolver
    limiter: RateLimiter | SharedRateLimiter
    idempotency: IdempotencyStore
    telemetry: Telemetry = OFF
    # Read timeout of the calls routing.LONG_CALLS names (the others: the client's).
    long_timeout: float = 45.0


class Refusal(Exception):
    """A step's "no": the status, the sentence for the client, and the problem's extras."""

    def __init__(
        self,
        status: int,
        detail: str,
        *,
        slug: str | None = None,
        field: str | None = None,
        headers: list[tuple[bytes, bytes]] | None = None,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.slug = slug
        self.field = field
        self.headers = headers or []


@dataclass
class _Call:
    """What the steps learn about one request as it goes through them."""

    scope: Scope
    route: Route
    request_id: str
    client: Principal | None = None
    limit_headers: list[tuple[bytes, bytes]] = field(default_factory=list)
    idempotency_key: str | None = None
    fingerprint: bytes = b""

    @property
    def streamed(self) -> bool:
        return self.scope["path"] in STREAMED_PATHS


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
        rt = scope["app"].state.runtime
        if not rt.has_state:  # still starting: the app's own routes answer (503 probes)
            await self.app(scope, receive, send)
            return
        state: ProxyState = rt.state.proxy
        route = route_for(scope["path"], frozenset(state.upstreams))
        if route is None:
            await self.app(scope, receive, send)
            return
        call = _Call(scope, route, current_request_id() or uuid.uuid4().hex)
        started = False

        async def tracked(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            try:
                await self._proxy(call, receive, tracked, state)
            except (DBAPIError, PoolTimeout, OSError, TimeoutError) as exc:
                # The gateway's own database (keys, sessions, idempotency records) away:
                # the caller retries, with the same Idempotency-Key for a POST.
                _log.warning("gateway database unavailable", error=repr(exc))
                if started:
                    raise
                raise Refusal(
                    503,
                    "The platform is unavailable for a moment; retry shortly (with the "
                    "same Idempotency-Key for a POST).",
                    slug="service-unavailable",
                    headers=[(b"retry-after", b"1")],
                ) from exc
        except Refusal as no:
            await send_problem(
                send,
                no.status,
                no.detail,
                call.request_id,
                headers=[*no.headers, *call.limit_headers],
                slug=no.slug,
                field=no.field,
            )

    async def _proxy(self, call: _Call, receive: Receive, send: Send, state: ProxyState) -> None:
        if call.route is WEB:
            # Pages: the web app reads its own session cookie and calls this API as
            # the person; here it only gets the gateway's word that the call came through.
            await self._forward(call, state, None, _stream_body(receive), send)
            return
        client = call.client = await self._authenticate(call, state)
        self._authorise(call, client)
        await self._limit(call, state, client)
        body: bytes | AsyncIterator[bytes]
        body = _stream_body(receive) if call.streamed else await _read_body(receive)
        if isinstance(body, bytes) and await self._claim_idempotency(
            call, state, client, body, send
        ):
            return
        await self._forward(call, state, client, body, send)

    @staticmethod
    async def _authenticate(call: _Call, state: ProxyState) -> Principal:
        try:
            found = credential(call.scope["headers"])
        except BearerRefused as exc:
            raise Refusal(400, str(exc), field="Authorization", slug="bad-credentials") from exc
        client: Principal | None = None
        if found is not None and found.kind == "key":
            client = await state.authenticator.authenticate(found.secret)
        elif found is not None:
            client = await state.sessions.resolve(found.secret)
        if client is None:
            raise Refusal(
                401,
                "Send a valid API key as 'Authorization: Bearer <key>'."
                if found is None
                else "This credential is not valid, has expired, or has been revoked.",
                slug="unauthorized",
                headers=_AUTHENTICATE,
            )
        return client

    @staticmethod
    def _authorise(call: _Call, client: Principal) -> None:
        if not may_use(client.scopes, call.route):
            raise Refusal(
                403,
                f"This API key has no {call.route.scope_family} scope.",
                slug="insufficient-scope",
            )

    @staticmethod
    async def _limit(call: _Call, state: ProxyState, client: Principal) -> None:
        decision = await state.limiter.take(client.id, client.rate_per_second, client.burst)
        call.limit_headers = decision.headers()
        if not decision.allowed:
            raise Refusal(
                429,
                "Too many requests for this API key; retry after the given delay.",
                slug="rate-limited",
            )

    @staticmethod
    async def _claim_idempotency(
        call: _Call, state: ProxyState, client: Principal, body: bytes, send: Send
    ) -> bool:
        """Claim the request's Idempotency-Key; True when it was answered (a replay)."""
        raw = dict(call.scope["headers"]).get(b"idempotency-key")
        if raw is None or call.scope["method"] != "POST":
            return False
        key = raw.decode("latin-1").strip()
        if not key or len(key) > MAX_KEY_LENGTH:
            raise Refusal(
                400,
                f"Idempotency-Key must be 1 to {MAX_KEY_LENGTH} characters.",
                field="Idempotency-Key",
            )
        fingerprint = request_fingerprint(
            call.scope["method"], call.scope["path"], call.scope.get("query_string", b""), body
        )
        # A long call holds its key as long as it may run; the others, the usual lease
        # (a key left pending by a crash is taken over once its lease runs out).
        lease = (
            timedelta(seconds=state.long_timeout + 5.0)
            if is_long(call.scope["method"], call.scope["path"])
            else None
        )
        claim = await state.idempotency.claim(client.id, key, fingerprint, lease)
        if claim.replay is not None:
            r = claim.replay
            headers = [*r.headers, *call.limit_headers, (b"idempotent-replayed", b"true")]
            await _respond(send, r.status, headers, r.body)
            return True
        if claim.conflict == "mismatch":
            raise Refusal(
                422,
                "This Idempotency-Key was used with a different request body.",
                slug="idempotency-key-reused",
                field="Idempotency-Key",
            )
        if claim.conflict == "in-flight":
            raise Refusal(
                409,
                "A request with this Idempotency-Key is still in progress; retry shortly.",
                slug="idempotency-key-in-flight",
                field="Idempotency-Key",
                headers=[(b"retry-after", b"1")],
            )
        call.idempotency_key, call.fingerprint = key, fingerprint
        return False

    async def _forward(
        self,
        call: _Call,
        state: ProxyState,
        client: Principal | None,
        body: bytes | AsyncIterator[bytes],
        send: Send,
    ) -> None:
        service = call.route.service
        # The raw, still percent-encoded path: the decoded one may hold characters (control
        # bytes, '?', '#') that would change or break the upstream URL.
        raw_path = call.scope.get("raw_path") or call.scope["path"].encode()
        query: bytes = call.scope.get("query_string", b"")
        path = raw_path.decode("latin-1") + ("?" + query.decode("latin-1") if query else "")
        headers = self._upstream_headers(call, state, client)
        method: str = call.scope["method"]
        with state.telemetry.span(
            method,
            SpanKind.CLIENT,
            attributes={"http.request.method": method, "clusterbridge.upstream": service},
        ) as span:
            if span is not None:
                carrier: dict[str, str] = {}
                inject_into(carrier)
                headers += [(k.encode(), v.encode()) for k, v in carrier.items()]
            try:
                response = await state.upstreams[service].request(
                    state.http,
                    method,
                    path,
                    # A forwarded key makes a second try a replay, never a second write; a
                    # streamed body cannot be sent twice.
                    retry_dropped=None if call.idempotency_key is None or call.streamed else True,
                    headers=headers,
                    content=body,
                    timeout=self._timeout(call, state, method),
                )
            except httpx.HTTPError as exc:
                await self._outcome_unknown(call, state, client)
                raise self._upstream_failure(service, exc) from exc
            if span is not None:
                span.set_attribute("http.response.status_code", response.status_code)
        out_headers = [
            (k.lower(), v) for k, v in response.headers.raw if k.lower() not in _DROP_RESPONSE
        ]
        content = response.content
        if call.idempotency_key is not None and client is not None:
            if response.status_code >= 500:
                await self._outcome_unknown(call, state, client)
            else:
                # A service's own replay is the first answer to the client: kept plain.
                kept = [(k, v) for k, v in out_headers if k != b"idempotent-replayed"]
                await state.idempotency.complete(
                    client.id, call.idempotency_key, Stored(response.status_code, kept, content)
                )
        await _respond(send, response.status_code, [*out_headers, *call.limit_headers], content)

    @staticmethod
    def _timeout(call: _Call, state: ProxyState, method: str) -> httpx.Timeout:
        if call.streamed:
            return httpx.Timeout(600.0, connect=1.0)
        if is_long(method, call.scope["path"]):
            return httpx.Timeout(state.long_timeout, connect=1.0)
        return state.http.timeout

    @staticmethod
    def _upstream_failure(service: str, exc: httpx.HTTPError) -> Refusal:
        retry = " Retry with the same Idempotency-Key: it will not be carried out twice."
        if isinstance(exc, httpx.InvalidURL | httpx.UnsupportedProtocol):
            return Refusal(400, "The request path or query is not a valid URL.")
        # Every replica unreachable, or the connection dropped (a replica killed with the
        # request): the documented 503, whatever the transport calls it.
        if failure_kind(exc) in ("not-reached", "dropped"):
            _log.warning("upstream unavailable", service=service, error=repr(exc))
            return Refusal(
                503,
                f"The {service} service is unavailable; try again shortly.{retry}",
                slug="service-unavailable",
                headers=[(b"retry-after", b"2")],
            )
        if isinstance(exc, httpx.TimeoutException):
            return Refusal(
                504,
                f"The {service} service did not answer in time.{retry}",
                slug="gateway-timeout",
            )
        _log.warning("upstream error", service=service, error=repr(exc))
        return Refusal(502, f"The {service} service failed to answer.{retry}", slug="bad-gateway")

    @staticmethod
    def _upstream_headers(
        call: _Call, state: ProxyState, client: Principal | None
    ) -> list[tuple[bytes, bytes]]:
        out = [(k, v) for k, v in call.scope["headers"] if k not in _DROP_REQUEST]
        if client is None:  # the web app: the gateway vouches for the path, not a caller
            out.append((INTERNAL_TOKEN_HEADER.encode(), state.internal_token.encode()))
            out.append((b"x-request-id", call.request_id.encode()))
            out.append((b"x-forwarded-proto", call.scope.get("scheme", "http").encode()))
            return out
        identity = internal_headers(
            state.internal_token,
            client.tenant,
            client.scopes_header,
            client.id if not client.is_person else None,
            person_id=client.id if client.is_person else None,
            roles=client.roles,
            clusters=client.clusters,
        )
        out += [(k.encode(), v.encode()) for k, v in identity.items()]
        out.append((b"x-request-id", call.request_id.encode()))
        if call.idempotency_key is not None:
            out += [
                (
                    IDEMPOTENCY_KEY_HEADER.encode(),
                    scoped_key(client.id, call.idempotency_key).encode("latin-1"),
                ),
                (IDEMPOTENCY_FINGERPRINT_HEADER.encode(), call.fingerprint.hex().encode()),
            ]
        return out

    @staticmethod
    async def _outcome_unknown(call: _Call, state: ProxyState, client: Principal | None) -> None:
        if call.idempotency_key is not None and client is not None:
            await state.idempotency.abandon(client.id, call.idempotency_key)
