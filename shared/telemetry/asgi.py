"""The server span of each HTTP request (installed only when telemetry is configured).

Outermost, so early refusals (431, 413, 401 from the platform middleware) are traced
too. A service trusts the caller's trace context (only the gateway and other services
reach it); the gateway, the public door, does not: a client must not pick our trace ids
or force sampling, so its context becomes a link of a new trace.
"""

from __future__ import annotations

from opentelemetry.trace import Link, SpanKind, Status, StatusCode, get_current_span
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shared.identity import PUBLIC_SERVICE_PATHS
from shared.requestid import current_request_id
from shared.telemetry.propagation import extract_from_asgi
from shared.telemetry.telemetry import REQUEST_ID_ATTRIBUTE, Telemetry


class TracedRequests:
    def __init__(self, app: ASGIApp, *, telemetry: Telemetry, trust_incoming: bool) -> None:
        self.app = app
        self.telemetry = telemetry
        self.trust_incoming = trust_incoming

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or self.telemetry.tracer is None
            # Probes and scrapes come every few seconds and say nothing about a request.
            or scope["path"] in PUBLIC_SERVICE_PATHS
        ):
            await self.app(scope, receive, send)
            return
        method: str = scope["method"]
        remote = extract_from_asgi(scope["headers"])
        parent, links = remote, None
        if not self.trust_incoming:
            parent = None
            caller = get_current_span(remote).get_span_context() if remote else None
            links = [Link(caller)] if caller is not None and caller.is_valid else None
        status = 500

        async def send_watching(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        with self.telemetry.span(
            method,
            SpanKind.SERVER,
            parent=parent,
            links=links,
            attributes={
                "http.request.method": method,
                "url.path": scope["path"],
                "url.scheme": scope.get("scheme", "http"),
            },
        ) as span:
            assert span is not None  # the tracer was checked above
            try:
                await self.app(scope, receive, send_watching)
            finally:
                # The route template is known only once the router has matched.
                template = getattr(scope.get("route"), "path", None)
                if template:
                    span.update_name(f"{method} {template}")
                    span.set_attribute("http.route", template)
                span.set_attribute("http.response.status_code", status)
                # The platform middleware chose the request id (the caller's, if safe).
                request_id = current_request_id()
                if request_id:
                    span.set_attribute(REQUEST_ID_ATTRIBUTE, request_id)
                if status >= 500:
                    span.set_status(Status(StatusCode.ERROR))
