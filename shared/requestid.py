"""The request id of the request being served, for logs and problem documents."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

_request_id: ContextVar[str | None] = ContextVar("request_id", default=None)

# Accept a caller's id only if it is short and plain, so it is safe in logs and headers.
_SAFE_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")


def current_request_id() -> str | None:
    return _request_id.get()


def set_request_id(value: str | None) -> None:
    _request_id.set(value)


def accept_or_new(candidate: str | None) -> str:
    if candidate and _SAFE_ID.match(candidate):
        return candidate
    return uuid.uuid4().hex


@contextmanager
def request_id_bound(value: str | None) -> Iterator[None]:
    """The request id of work done on a request's behalf outside it (a consumer handling
    the event the request caused), for the log lines of that work."""
    token = _request_id.set(value if value and _SAFE_ID.match(value) else None)
    try:
        yield
    finally:
        _request_id.reset(token)
