"""Reading the caller's credential from a request, the same way on every gateway path.

One parser for the proxy and the gateway's own routes: two `Authorization` headers are
refused rather than read differently by each (a proxy that takes the last and an
application that takes the first can be made to authorise one key and act as another).
"""

from __future__ import annotations

from collections.abc import Iterable


class BearerRefused(ValueError):
    """The credential is malformed in a way worth saying (not merely absent)."""


def bearer_token(headers: Iterable[tuple[bytes, bytes]]) -> str | None:
    """The bearer token, None when there is none (or another scheme), or BearerRefused."""
    values = [v for k, v in headers if k.lower() == b"authorization"]
    if not values:
        return None
    if len(values) > 1:
        raise BearerRefused("Send one Authorization header, not several.")
    try:
        value = values[0].decode("ascii")
    except UnicodeDecodeError:
        return None
    scheme, _, token = value.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()
