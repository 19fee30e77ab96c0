"""CSRF tokens: an HMAC of what ties the form to its browser.

Signed in, the anchor is the session id in the HttpOnly cookie; before that, a random
pre-session cookie. A page on another site can neither read the cookie nor compute the
token, so a form it posts carries no valid one. Keyed per deployment, so any replica
of the web app checks a token another rendered.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

PRE_SESSION_COOKIE = "cb_csrf"
FIELD = "csrf_token"


def derive_key(csrf_secret: str, internal_token: str) -> bytes:
    seed = csrf_secret or f"csrf-from-internal-token:{internal_token}"
    return hashlib.sha256(seed.encode()).digest()


def token_for(key: bytes, anchor: str) -> str:
    return hmac.new(key, b"csrf:" + anchor.encode(), hashlib.sha256).hexdigest()


def is_valid(key: bytes, anchor: str | None, given: str | None) -> bool:
    if not anchor or not given:
        return False
    return hmac.compare_digest(token_for(key, anchor), given)


def new_anchor() -> str:
    return secrets.token_urlsafe(32)
