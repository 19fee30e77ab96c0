"""What crosses a hop besides the payload: the W3C trace context of the current span and
the request id, as headers for HTTP calls and NATS messages.

API-only (no SDK): without a current span the propagator writes nothing, so a service
with tracing off still hands the request id on and pays for no trace context.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import httpx
from opentelemetry.context import Context
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from shared.requestid import current_request_id

REQUEST_ID_HEADER = "x-request-id"
TRACE_HEADERS = ("traceparent", "tracestate")
_TRACE_HEADERS_BYTES = frozenset(h.encode() for h in TRACE_HEADERS)

# W3C trace context only: baggage would let a caller attach data that every hop copies.
_PROPAGATOR = TraceContextTextMapPropagator()


def context_headers() -> dict[str, str]:
    """The current span's trace context and the request id, for the next hop (empty
    when there is neither)."""
    carrier: dict[str, str] = {}
    _PROPAGATOR.inject(carrier)
    request_id = current_request_id()
    if request_id:
        carrier[REQUEST_ID_HEADER] = request_id
    return carrier


async def add_context_headers(request: httpx.Request) -> None:
    """An httpx request hook: calls to other services carry the request id and the
    trace context of the work that makes them (a header set by the caller wins)."""
    for name, value in context_headers().items():
        request.headers.setdefault(name, value)


def inject_into(carrier: dict[str, str], context: Context | None = None) -> None:
    """Write the trace context of `context` (default: the current one) into `carrier`."""
    _PROPAGATOR.inject(carrier, context=context)


def extract_from(headers: Mapping[str, str] | None) -> Context | None:
    """The remote parent named by `headers`, or None when they name none."""
    if not headers or "traceparent" not in headers:
        return None
    return _PROPAGATOR.extract(headers)


def extract_from_asgi(headers: Iterable[tuple[bytes, bytes]]) -> Context | None:
    """The same for an ASGI request's raw headers."""
    found = {
        k.decode("latin-1"): v.decode("latin-1") for k, v in headers if k in _TRACE_HEADERS_BYTES
    }
    return extract_from(found)
