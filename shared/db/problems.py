"""Database failures as the problems a client can act on, never a 500.

They can surface anywhere in a request: in a handler's flush, or in the commit that
runs after the handler returned. In every case the transaction has rolled back, so the
answer may say plainly that nothing was written.

- a unique or foreign-key violation that validation could not foresee (two concurrent
  creates with the same `external_id`): 409;
- a value PostgreSQL refuses (out of its range, a character it cannot store): 422;
- the database unreachable, restarting or the pool exhausted: 503 with `Retry-After`.
"""

from __future__ import annotations

import re

import structlog
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DataError, DBAPIError, IntegrityError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from shared.problems import problem_response

_log = structlog.get_logger("db")

_CONSTRAINT = re.compile(r'constraint "([a-z0-9_]+)"')
# SQLSTATE classes: 08 connection exception, 57 operator intervention (admin shutdown,
# cannot connect now), 53 insufficient resources, 40 transaction rollback (deadlock,
# serialization): all worth a retry.
_RETRYABLE_CLASSES = ("08", "57", "53", "40")


def _sqlstate(exc: DBAPIError) -> str:
    orig = exc.orig
    return str(getattr(orig, "sqlstate", "") or getattr(orig, "pgcode", "") or "")


def conflicting_field(message: str) -> str | None:
    """`uq_clusters_tenant_external_id` → `external_id` (the naming convention of
    shared.db.base: uq_<table>_<columns>; the tenant column scopes, it is not at fault)."""
    match = _CONSTRAINT.search(message)
    if not match or not match.group(1).startswith("uq_"):
        return None
    parts = match.group(1).split("_")[2:]
    joined = "_".join(parts)
    for prefix in ("tenant_", "event_id_", "schedule_id_"):
        if joined.startswith(prefix):
            joined = joined[len(prefix) :]
    return joined or None


async def _on_integrity(request: Request, exc: IntegrityError) -> JSONResponse:
    message = str(exc.orig)
    field = conflicting_field(message)
    if _sqlstate(exc) == "23505":
        detail = (
            f"Another record already has this {field}; nothing was written."
            if field
            else "This conflicts with a record that already exists; nothing was written."
        )
        return problem_response(409, detail, field=field, slug="conflict")
    _log.warning("integrity error", path=request.url.path, error=message)
    return problem_response(
        409, "This change conflicts with the stored data; nothing was written.", slug="conflict"
    )


async def _on_data(request: Request, exc: DBAPIError) -> JSONResponse:
    _log.info("value refused by the database", path=request.url.path, error=str(exc.orig))
    return problem_response(
        422,
        "A value is outside what the platform can store (a date or number out of range, "
        "or a character that cannot be kept); nothing was written.",
        slug="value-out-of-range",
    )


def _unavailable() -> JSONResponse:
    return problem_response(
        503,
        "The database is unavailable for a moment; nothing was written. Retry shortly "
        "(with the same Idempotency-Key for a POST).",
        slug="database-unavailable",
        headers={"Retry-After": "1"},
    )


async def _on_dbapi(request: Request, exc: DBAPIError) -> JSONResponse:
    if exc.connection_invalidated or _sqlstate(exc)[:2] in _RETRYABLE_CLASSES:
        _log.warning("database unavailable", path=request.url.path, error=repr(exc.orig))
        return _unavailable()
    if isinstance(exc, DataError) or _sqlstate(exc)[:2] == "22":  # class 22: data exception
        return await _on_data(request, exc)
    if isinstance(exc, IntegrityError):
        return await _on_integrity(request, exc)
    _log.exception("database error", path=request.url.path)
    return problem_response(500, "An unexpected database error occurred; it has been logged.")


async def _on_pool_timeout(request: Request, exc: PoolTimeout) -> JSONResponse:
    _log.warning("database pool exhausted", path=request.url.path)
    return _unavailable()


async def _on_connection_lost(request: Request, exc: OSError) -> JSONResponse:
    # asyncpg raises OSError subclasses (ConnectionRefusedError, ConnectionResetError)
    # when the server is gone before SQLAlchemy wraps anything.
    _log.warning("database connection failed", path=request.url.path, error=repr(exc))
    return _unavailable()


async def _on_timeout(request: Request, exc: TimeoutError) -> JSONResponse:
    # A statement past its command timeout, or a broker request that got no answer.
    _log.warning("timed out", path=request.url.path)
    return problem_response(
        503,
        "The service is busy and could not finish in time; nothing was written. Retry shortly.",
        slug="service-busy",
        headers={"Retry-After": "2"},
    )


async def _on_unicode(request: Request, exc: UnicodeError) -> JSONResponse:
    return problem_response(
        400, "The request holds text that is not valid Unicode.", slug="invalid-text"
    )


def install_database_problem_handlers(app: FastAPI) -> None:
    app.add_exception_handler(IntegrityError, _on_integrity)  # type: ignore[arg-type]
    app.add_exception_handler(DataError, _on_data)  # type: ignore[arg-type]
    app.add_exception_handler(DBAPIError, _on_dbapi)  # type: ignore[arg-type]
    app.add_exception_handler(PoolTimeout, _on_pool_timeout)  # type: ignore[arg-type]
    app.add_exception_handler(ConnectionError, _on_connection_lost)  # type: ignore[arg-type]
    app.add_exception_handler(TimeoutError, _on_timeout)  # type: ignore[arg-type]
    app.add_exception_handler(UnicodeError, _on_unicode)  # type: ignore[arg-type]
