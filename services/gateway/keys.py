"""API keys: shown once, stored as a prefix (for look-up) and a SHA-256 of the secret.

Keys carry 256 bits of randomness, so a fast hash is enough: there is nothing to brute
force that a slow hash would protect.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass

KEY_MARK = "cb"


@dataclass(frozen=True)
class NewKey:
    plaintext: str
    prefix: str
    digest: bytes


def digest(secret: str) -> bytes:
    return hashlib.sha256(secret.encode()).digest()


def generate() -> NewKey:
    prefix = secrets.token_hex(6)
    secret = secrets.token_urlsafe(32)
    return NewKey(plaintext=f"{KEY_MARK}_{prefix}_{secret}", prefix=prefix, digest=digest(secret))


def split(key: str) -> tuple[str, str] | None:
    """(prefix, secret) of a well-formed key, else None."""
    parts = key.split("_", 2)
    if len(parts) != 3 or parts[0] != KEY_MARK or len(parts[1]) != 12 or not parts[2]:
        return None
    if len(key) > 200:
        return None
    return parts[1], parts[2]


def matches(secret: str, stored: bytes) -> bool:
    return hmac.compare_digest(digest(secret), stored)
