"""Sign-in sessions of people: created by a password, ended by idleness, age, sign-out.

The session id is 256 random bits, given to the web app (which keeps it in an HttpOnly
cookie) and stored only as a SHA-256. A session ends after `idle` without use and in
any case at its absolute expiry; signing out ends one, "everywhere" ends all of a
person's. Failed sign-ins slow down (each waits longer) and, after a few in a row,
lock the account for a while; an unknown address costs the same time as a wrong
password, and gets the same answer.
"""

from __future__ import annotations

import asyncio
import hashlib
import secrets
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.gateway import passwords
from services.gateway.models import Person, PersonSession
from services.gateway.people import ACTIVE, normalise_email
from services.gateway.principals import Principal, scopes_of
from services.gateway.repository import PeopleRepository
from shared.problems import Problem

WRONG = "The e-mail address or the password is wrong."
# Writing last_seen on every request would make each page a write; this is precise
# enough for an idle limit counted in minutes.
TOUCH_EVERY = timedelta(seconds=60)


@dataclass(frozen=True)
class SessionPolicy:
    idle: timedelta
    absolute: timedelta
    lock_after: int
    lock_for: timedelta
    delay_base: float


def digest(session_id: str) -> bytes:
    return hashlib.sha256(session_id.encode()).digest()


def principal_of(person: Person) -> Principal:
    return Principal(
        kind="person",
        id=person.id,
        tenant=person.tenant,
        name=person.name,
        scopes=scopes_of(person.roles),
        roles=frozenset(person.roles),
        clusters=frozenset(person.clusters),
        email=person.email,
    )


@dataclass(frozen=True)
class SignedIn:
    session_id: str
    row: PersonSession
    person: Person


async def sign_in(
    session: AsyncSession,
    policy: SessionPolicy,
    email: str,
    password: str,
    user_agent: str | None,
) -> SignedIn | Problem:
    """A new session for a correct e-mail and password, or the problem to answer.

    A refusal is returned, not raised: the failure count it updated must commit with
    the answer (raising would roll it back and make guessing free)."""
    repo = PeopleRepository(session)
    person = await repo.by_email(normalise_email(email), lock=True)
    now = datetime.now(UTC)
    if person is not None and person.locked_until is not None and person.locked_until > now:
        return Problem(
            429,
            "Too many failed sign-ins: this account is locked until "
            f"{person.locked_until:%H:%M} UTC. You can also reset your password.",
            slug="sign-in-locked",
            headers={"Retry-After": str(int((person.locked_until - now).total_seconds()) + 1)},
        )
    valid = await passwords.verify(person.password_hash if person else None, password)
    if person is None or not valid or person.status != ACTIVE:
        if person is not None:
            person.failed_sign_ins += 1
            if person.failed_sign_ins >= policy.lock_after:
                person.locked_until = now + policy.lock_for
                person.failed_sign_ins = 0
            delay = policy.delay_base * 2 ** min(person.failed_sign_ins, 4)
        else:
            delay = policy.delay_base
        # Slowed, so guessing costs time; the failure count commits with the answer.
        await asyncio.sleep(min(delay, 4.0))
        return Problem(401, WRONG, field="password", slug="sign-in-failed")
    person.failed_sign_ins = 0
    person.locked_until = None
    person.last_sign_in_at = now
    session_id = secrets.token_urlsafe(32)
    row = PersonSession(
        digest=digest(session_id),
        person_id=person.id,
        created_at=now,
        last_seen_at=now,
        expires_at=now + policy.absolute,
        user_agent=(user_agent or "")[:300] or None,
    )
    repo.add(row)
    return SignedIn(session_id, row, person)


class SessionResolver:
    """Resolves a session id to its person on the hot path, with a short cache.

    The cache holds an answer for `ttl` seconds (1 s by default): a sign-out through
    this gateway evicts at once; one through another replica takes effect within it.
    """

    def __init__(
        self, sessionmaker: async_sessionmaker[AsyncSession], policy: SessionPolicy, ttl: float
    ) -> None:
        self.sessionmaker = sessionmaker
        self.policy = policy
        self.ttl = ttl
        self._cache: dict[bytes, tuple[float, Principal | None]] = {}

    def evict(self, person_id: uuid.UUID | None = None, key: bytes | None = None) -> None:
        for k, (_, p) in list(self._cache.items()):
            if (key is not None and k == key) or (p is not None and p.id == person_id):
                del self._cache[k]

    async def resolve(self, session_id: str) -> Principal | None:
        key = digest(session_id)
        now_mono = time.monotonic()
        hit = self._cache.get(key)
        if hit is not None and hit[0] > now_mono:
            return hit[1]
        now = datetime.now(UTC)
        async with self.sessionmaker() as s, s.begin():
            repo = PeopleRepository(s)
            found = await repo.live_session(key, now)
            principal = None
            if found is not None:
                row, person = found
                if person.status == ACTIVE and row.last_seen_at + self.policy.idle > now:
                    principal = principal_of(person)
                    if now - row.last_seen_at > TOUCH_EVERY:
                        await repo.touch_session(key, now)
        if len(self._cache) > 10_000:
            self._cache.clear()
        self._cache[key] = (now_mono + self.ttl, principal)
        return principal


async def sign_out(session: AsyncSession, session_id: str, person_id: uuid.UUID) -> None:
    await PeopleRepository(session).revoke_sessions(
        person_id, datetime.now(UTC), digest=digest(session_id)
    )


async def sign_out_everywhere(session: AsyncSession, person_id: uuid.UUID) -> None:
    await PeopleRepository(session).revoke_sessions(person_id, datetime.now(UTC))
