"""Reading the caller's credential from a request, the same way on every gateway path.

Two kinds: `Authorization: Bearer <api key>` (an agency's integration) and
`Authorization: Session <session id>` (a person signed in to the web app; the web
service forwards the id from its HttpOnly cookie). The session cookie itself is never
accepted on the API: a browser cannot be tricked into sending an Authorization header
to another site, so the API needs no CSRF defence of its own.

Two `Authorization` headers are refused rather than read differently by each part (a
proxy that takes the last and an application that takes the first can be made to
authorise one credential and act as another).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal


class BearerRefused(ValueError):
    """The credential is malformed in a way worth saying (not merely absent)."""


@dataclass(frozen=True)
class Credential:
    kind: Literal["key", "session"]
    secret: str


def credential(headers: Iterable[tuple[bytes, bytes]]) -> Credential | None:
    """The request's credential, None when there is none (or an unknown scheme)."""
    values = [v for k, v in headers if k.lower() == b"authorization"]
    if not values:
        return None
    if len(values) > 1:
        raise BearerRefused("Send one Authorization header, not several.")
    try:
        value = values[0].decode("ascii")
    except UnicodeDecodeError:
        return None
    scheme, _, secret = value.partition(" ")
    secret = secret.strip()
    if not secret or len(secret) > 512:
        return None
    if scheme.lower() == "bearer":
        return Credential("key", secret)
    if scheme.lower() == "session":
        return Credential("session", secret)
    return None


def bearer_token(headers: Iterable[tuple[bytes, bytes]]) -> str | None:
    found = credential(headers)
    return found.secret if found is not None and found.kind == "key" else None
