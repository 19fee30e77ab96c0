"""The route class every service's routers use, and the router factory that sets it.

It does two things FastAPI's own route cannot:

- parses JSON bodies with orjson, which refuses what PostgreSQL cannot store or a
  client cannot mean (lone surrogates, NaN, integers beyond 64 bits) as malformed JSON,
  where the standard library's parser lets them through to fail later as a 500;
- stores a route's answer in the request's idempotency row (shared.idempotency) after
  the handler returned and *before* the request's transaction commits: the session
  dependency runs in FastAPI's "function" scope, so its commit happens when this
  handler has returned and before the response is sent.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

import orjson
from fastapi import APIRouter, Request, Response
from fastapi.routing import APIRoute
from starlette.responses import StreamingResponse

from shared.idempotency import record_response

IDEMPOTENCY_STATE = "idempotency_claim"


class StrictJSONRequest(Request):
    async def json(self) -> Any:
        if not hasattr(self, "_json"):
            self._json = orjson.loads(await self.body())
        return self._json


class PlatformRoute(APIRoute):
    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def route(request: Request) -> Response:
            request = StrictJSONRequest(request.scope, request.receive)
            response = await handler(request)
            claim = getattr(request.state, IDEMPOTENCY_STATE, None)
            if (
                claim is not None
                and response.status_code < 500
                and not isinstance(response, StreamingResponse)
            ):
                session, model, forwarded = claim
                headers = [
                    (k.decode("latin-1"), v.decode("latin-1")) for k, v in response.raw_headers
                ]
                await record_response(
                    session, model, forwarded, response.status_code, headers, bytes(response.body)
                )
            return response

        return route


def api_router(**kwargs: Any) -> APIRouter:
    """An APIRouter whose routes are PlatformRoutes (tests/test_architecture.py checks
    that every service route is one)."""
    return APIRouter(route_class=PlatformRoute, **kwargs)
