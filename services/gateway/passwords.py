"""Passwords: argon2id hashes (argon2-cffi's defaults, RFC 9106's second recommended
setting), and the few rules that matter (NIST SP 800-63B: length, not the obvious)."""

from __future__ import annotations

import asyncio

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

MIN_LENGTH = 12
MAX_LENGTH = 256
_HASHER = PasswordHasher()
# Verified when the e-mail is unknown, so a wrong address takes as long as a wrong
# password and sign-in does not tell who has an account.
_DUMMY = _HASHER.hash("not a password anyone has")


def weakness(password: str, email: str, name: str) -> str | None:
    """Why the password would be refused, in words; None when it is acceptable."""
    if len(password) < MIN_LENGTH:
        return f"Use at least {MIN_LENGTH} characters (a few words make a good one)."
    if len(password) > MAX_LENGTH:
        return f"Use at most {MAX_LENGTH} characters."
    if len(set(password)) < 4:
        return "Use more different characters."
    lowered = password.lower()
    local = email.split("@", 1)[0].lower()
    if (len(local) >= 4 and local in lowered) or (len(name) >= 4 and name.lower() in lowered):
        return "Do not use your name or e-mail address in your password."
    return None


async def hash_password(password: str) -> str:
    # ~50 ms of CPU and 64 MiB by design: off the event loop.
    return await asyncio.to_thread(_HASHER.hash, password)


async def verify(stored: str | None, password: str) -> bool:
    def check() -> bool:
        try:
            return _HASHER.verify(stored or _DUMMY, password) and stored is not None
        except (VerificationError, InvalidHashError):
            return False

    return await asyncio.to_thread(check)
