"""`Idempotency-Key` on POST: same key and body replay the first response; same key
with another body is refused (422); a request still in flight under that key is 409.

Records live in PostgreSQL so every gateway replica sees them; they expire after a day.

A claimed key holds a lease while its request is forwarded. When the gateway cannot
know the service's outcome (a timeout, a lost connection, a 5xx, or the gateway itself
died and the lease ran out), the record is not released but marked `unknown`: the next
retry is forwarded with the same key, and the service, which stored the key with its
write in one transaction (shared.idempotency), replays its first answer instead of
running the request again.
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.gateway.repository import IdempotencyRepository
from shared.problems import Problem

RETENTION = timedelta(hours=24)
MAX_KEY_LENGTH = 255

PENDING = "pending"
DONE = "done"
UNKNOWN = "unknown"  # forwarded, outcome not known to the gateway


def request_fingerprint(method: str, path: str, query: bytes, body: bytes) -> bytes:
    h = hashlib.sha256()
    for part in (method.encode(), path.encode(), query, body):
        h.update(len(part).to_bytes(8, "big"))
        h.update(part)
    return h.digest()


@dataclass(frozen=True)
class Stored:
    status: int
    headers: list[tuple[bytes, bytes]]
    body: bytes


@dataclass(frozen=True)
class Claim:
    """Outcome of claiming a key: proceed, replay, or refuse."""

    proceed: bool
    replay: Stored | None = None
    conflict: str | None = None  # "mismatch" or "in-flight"


class IdempotencyStore:
    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        lease: timedelta = timedelta(seconds=15),
    ) -> None:
        self.sessionmaker = sessionmaker
        self.lease = lease

    async def claim(
        self, client_id: uuid.UUID, key: str, fingerprint: bytes, lease: timedelta | None = None
    ) -> Claim:
        """`lease`: this call's, when it may run longer than the usual one."""
        now = datetime.now(UTC)
        until = now + (lease or self.lease)
        async with self.sessionmaker() as s, s.begin():
            repo = IdempotencyRepository(s)
            if await repo.insert_pending(client_id, key, fingerprint, now, until):
                return Claim(proceed=True)
            # Locked, so two retries racing for an abandoned key cannot both take it.
            row = await repo.locked(client_id, key)
            if row.created_at < now - RETENTION:
                # An expired record: start afresh under the same key.
                row.request_hash = fingerprint
                row.status = row.headers = row.body = None
                row.created_at = now
                row.state, row.lease_until = PENDING, until
                return Claim(proceed=True)
            if row.request_hash != fingerprint:
                return Claim(proceed=False, conflict="mismatch")
            if row.state == DONE and row.status is not None:
                headers = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in row.headers or []]
                return Claim(proceed=False, replay=Stored(row.status, headers, row.body or b""))
            if row.state == PENDING and row.lease_until is not None and row.lease_until > now:
                return Claim(proceed=False, conflict="in-flight")
            # Its first attempt's outcome is unknown here: forward again; the service
            # replays what it did, or runs it if it never committed.
            row.state, row.lease_until = PENDING, until
            return Claim(proceed=True)

    async def complete(self, client_id: uuid.UUID, key: str, stored: Stored) -> None:
        async with self.sessionmaker() as s, s.begin():
            row = await IdempotencyRepository(s).get(client_id, key)
            if row is None:
                return
            row.state = DONE
            row.lease_until = None
            row.status = stored.status
            row.headers = [[k.decode("latin-1"), v.decode("latin-1")] for k, v in stored.headers]
            row.body = stored.body

    async def abandon(self, client_id: uuid.UUID, key: str) -> None:
        """The outcome is unknown (no answer, or a 5xx): the next retry goes through."""
        async with self.sessionmaker() as s, s.begin():
            await IdempotencyRepository(s).set_state(client_id, key, UNKNOWN)

    async def purge_expired(self) -> None:
        async with self.sessionmaker() as s, s.begin():
            await IdempotencyRepository(s).delete_older_than(datetime.now(UTC) - RETENTION)


async def claim_in(
    session: AsyncSession, client_id: uuid.UUID, key: str, fingerprint: bytes
) -> Stored | None:
    """For the gateway's own POSTs: claim the key in the transaction that writes, so the
    write and its record commit together. A concurrent retry waits on the key's row and
    then replays; returns the first answer to replay, or None to go ahead."""
    now = datetime.now(UTC)
    repo = IdempotencyRepository(session)
    if await repo.insert_pending(client_id, key, fingerprint, now, now):
        return None
    row = await repo.locked(client_id, key)
    if row.created_at >= now - RETENTION:
        if row.request_hash != fingerprint:
            raise Problem(
                422,
                "This Idempotency-Key was used with a different request body.",
                slug="idempotency-key-reused",
                field="Idempotency-Key",
            )
        if row.state == DONE and row.status is not None:
            headers = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in row.headers or []]
            return Stored(row.status, headers, row.body or b"")
    row.request_hash, row.created_at = fingerprint, now
    row.state, row.lease_until = PENDING, None
    return None


async def keep_in(session: AsyncSession, client_id: uuid.UUID, key: str, stored: Stored) -> None:
    """Store the answer in the claimed row, in the same transaction as the write."""
    row = await IdempotencyRepository(session).locked(client_id, key)
    row.state, row.lease_until, row.status, row.body = DONE, None, stored.status, stored.body
    row.headers = [[k.decode("latin-1"), v.decode("latin-1")] for k, v in stored.headers]
