"""RFC 9457 problem documents for every error a service or the gateway returns."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import orjson
import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from shared.requestid import current_request_id

PROBLEM_MEDIA_TYPE = "application/problem+json"
TYPE_BASE = "https://clusterbridge.dev/problems/"

_log = structlog.get_logger("problems")

_TITLES = {
    400: "Bad request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not found",
    405: "Method not allowed",
    406: "Not acceptable",
    409: "Conflict",
    412: "Precondition failed",
    413: "Content too large",
    415: "Unsupported media type",
    422: "Unprocessable content",
    428: "Precondition required",
    429: "Too many requests",
    431: "Request header fields too large",
    500: "Internal server error",
    502: "Bad gateway",
    503: "Service unavailable",
    504: "Gateway timeout",
}

_SLUGS = {
    400: "bad-request",
    401: "unauthorized",
    403: "forbidden",
    404: "not-found",
    405: "method-not-allowed",
    406: "not-acceptable",
    409: "conflict",
    412: "precondition-failed",
    413: "content-too-large",
    415: "unsupported-media-type",
    422: "validation-error",
    428: "precondition-required",
    429: "rate-limited",
    500: "internal-error",
    502: "bad-gateway",
    503: "service-unavailable",
    504: "gateway-timeout",
}


class Problem(Exception):
    """An error that becomes a problem document. `slug` gives the stable `type` URI."""

    def __init__(
        self,
        status: int,
        detail: str,
        *,
        slug: str | None = None,
        title: str | None = None,
        field: str | None = None,
        errors: Sequence[dict[str, Any]] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.slug = slug or _SLUGS.get(status, "error")
        self.title = title or _TITLES.get(status, "Error")
        self.field = field
        self.errors = list(errors) if errors else None
        self.headers = headers or {}


def not_found(what: str = "resource") -> Problem:
    return Problem(404, f"No such {what}.", slug="not-found")


def problem_body(
    status: int,
    detail: str,
    *,
    slug: str | None = None,
    title: str | None = None,
    field: str | None = None,
    errors: Sequence[dict[str, Any]] | None = None,
    instance: str | None = None,
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "type": TYPE_BASE + (slug or _SLUGS.get(status, "error")),
        "title": title or _TITLES.get(status, "Error"),
        "status": status,
        "detail": detail,
    }
    if instance:
        body["instance"] = instance
    if field:
        body["field"] = field
    if errors:
        body["errors"] = list(errors)
    rid = current_request_id()
    if rid:
        body["request_id"] = rid
    return body


def problem_response(
    status: int,
    detail: str,
    *,
    headers: dict[str, str] | None = None,
    **kwargs: Any,
) -> JSONResponse:
    return JSONResponse(
        problem_body(status, detail, **kwargs),
        status_code=status,
        media_type=PROBLEM_MEDIA_TYPE,
        headers=headers,
    )


def _field_path(loc: Sequence[Any]) -> str:
    # Drop the "body"/"query" prefix: users name fields, not FastAPI's locations.
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header")]
    return ".".join(parts) if parts else str(loc[0]) if loc else ""


def _clean_errors(exc: RequestValidationError) -> list[dict[str, Any]]:
    out = []
    for err in exc.errors():
        msg = str(err.get("msg", "invalid"))
        out.append(
            {
                "field": _field_path(err.get("loc", ())),
                "message": msg,
                "code": str(err.get("type", "invalid")),
            }
        )
    return out


async def _on_validation(request: Request, exc: RequestValidationError) -> JSONResponse:
    errors = _clean_errors(exc)
    if any(e["code"] == "json_invalid" for e in errors):
        return problem_response(
            400, "The body is not valid JSON.", slug="malformed-json", errors=errors
        )
    first = errors[0] if errors else {"field": "", "message": "invalid"}
    detail = f"{first['field']}: {first['message']}" if first["field"] else first["message"]
    return problem_response(422, detail, field=first["field"] or None, errors=errors)


async def _on_problem(request: Request, exc: Problem) -> JSONResponse:
    return problem_response(
        exc.status,
        exc.detail,
        slug=exc.slug,
        title=exc.title,
        field=exc.field,
        errors=exc.errors,
        headers=exc.headers,
    )


def _leaf_routes(routes: Sequence[Any]) -> list[Any]:
    # FastAPI keeps included routers as nodes; their routes carry the full path.
    out: list[Any] = []
    for route in routes:
        nested = getattr(route, "original_router", None)
        out.extend(_leaf_routes(nested.routes) if nested is not None else [route])
    return out


def _allowed_methods(request: Request) -> list[str]:
    """Every method some route answers on this path (Starlette names only the first
    route's, and a path served by several routes has more)."""
    methods: set[str] = set()
    probe = {**request.scope, "method": "__NONE__"}
    for route in _leaf_routes(request.app.router.routes):
        match, _ = route.matches(probe)
        if match != Match.NONE:
            methods |= set(getattr(route, "methods", None) or ())
    if "GET" in methods:
        methods.add("HEAD")
    return sorted(methods)


async def _on_http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
    detail = exc.detail if isinstance(exc.detail, str) else _TITLES.get(exc.status_code, "Error")
    headers = dict(exc.headers or {})
    if exc.status_code == 405:
        allowed = _allowed_methods(request)
        if allowed:
            headers["Allow"] = ", ".join(allowed)
            detail = f"{request.method} is not allowed here; use {', '.join(allowed)}."
    return problem_response(exc.status_code, detail, headers=headers)


async def _on_unexpected(request: Request, exc: Exception) -> JSONResponse:
    _log.exception("unhandled error", path=request.url.path)
    return problem_response(500, "An unexpected error occurred; it has been logged.")


def install_problem_handlers(app: FastAPI) -> None:
    app.add_exception_handler(RequestValidationError, _on_validation)  # type: ignore[arg-type]
    app.add_exception_handler(Problem, _on_problem)  # type: ignore[arg-type]
    app.add_exception_handler(StarletteHTTPException, _on_http)  # type: ignore[arg-type]
    app.add_exception_handler(Exception, _on_unexpected)


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    """JSON bytes by orjson, for handlers that build their body by hand."""
    return Response(
        orjson.dumps(body), status_code=status, media_type="application/json", headers=headers
    )


# A header the handler requires (and answers 428 without) but reads as optional, so
# that what it checks first (a 404, a 403) still comes first. `json_schema_extra` of
# the Header(); the OpenAPI document then says `required: true`.
REQUIRED_HEADER: dict[str, Any] = {"x-required-header": True}


def _mark_required_headers(operation: dict[str, Any]) -> None:
    for param in operation.get("parameters", []):
        schema = param.get("schema", {})
        if param.get("in") == "header" and schema.pop("x-required-header", False):
            param["required"] = True
            # The document shows a plain string, not FastAPI's "string or null".
            param["schema"] = {"type": "string"}


PROBLEM_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "An RFC 9457 problem document; every error of this API is one.",
    "required": ["type", "title", "status", "detail"],
    "properties": {
        "type": {"type": "string", "format": "uri", "description": "Stable error kind"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string", "description": "What went wrong, for a person"},
        "field": {"type": "string", "description": "The field, parameter or header at fault"},
        "errors": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "field": {"type": "string"},
                    "message": {"type": "string"},
                    "code": {"type": "string"},
                },
            },
        },
        "request_id": {"type": "string"},
        "instance": {"type": "string"},
    },
}


def _problem_response(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {PROBLEM_MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}},
    }


def document_problems(schema: dict[str, Any]) -> dict[str, Any]:
    """Make an OpenAPI document say what the API does on errors: every operation may
    answer a 4xx or 5xx problem document (FastAPI documents only a JSON 422)."""
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    components["Problem"] = PROBLEM_SCHEMA
    for item in schema.get("paths", {}).values():
        for operation in item.values():
            if not isinstance(operation, dict) or "responses" not in operation:
                continue
            _mark_required_headers(operation)
            responses = operation["responses"]
            if "422" in responses:
                responses["422"] = _problem_response("Invalid input: the field at fault is named")
            responses.setdefault("4XX", _problem_response("Client error"))
            responses.setdefault("5XX", _problem_response("Server error, or a service unavailable"))
    for unused in ("HTTPValidationError", "ValidationError"):
        components.pop(unused, None)
    return schema
