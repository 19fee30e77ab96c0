"""`Idempotency-Key` on POST: same key and body replay the first response; same key
with another body is refused (422); a request still in flight under that key is 409.

Records live in PostgreSQL so every gateway replica sees them; they expire after a day.
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.gateway.models import IdempotencyRecord

RETENTION = timedelta(hours=24)
MAX_KEY_LENGTH = 255


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
    def __init__(self, sessionmaker: async_sessionmaker[AsyncSession]) -> None:
        self.sessionmaker = sessionmaker

    async def claim(self, client_id: uuid.UUID, key: str, fingerprint: bytes) -> Claim:
        async with self.sessionmaker() as s, s.begin():
            inserted = (
                await s.execute(
                    insert(IdempotencyRecord)
                    .values(
                        client_id=client_id,
                        key=key,
                        request_hash=fingerprint,
                        state="pending",
                        created_at=datetime.now(UTC),
                    )
                    .on_conflict_do_nothing()
                    .returning(IdempotencyRecord.key)
                )
            ).first()
            if inserted is not None:
                return Claim(proceed=True)
            row = (
                await s.scalars(
                    select(IdempotencyRecord).where(
                        IdempotencyRecord.client_id == client_id, IdempotencyRecord.key == key
                    )
                )
            ).one()
            if row.created_at < datetime.now(UTC) - RETENTION:
                # An expired record: start afresh under the same key.
                row.request_hash = fingerprint
                row.state = "pending"
                row.status = row.headers = row.body = None
                row.created_at = datetime.now(UTC)
                return Claim(proceed=True)
            if row.request_hash != fingerprint:
                return Claim(proceed=False, conflict="mismatch")
            if row.state != "done" or row.status is None:
                return Claim(proceed=False, conflict="in-flight")
            headers = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in row.headers or []]
            return Claim(proceed=False, replay=Stored(row.status, headers, row.body or b""))

    async def complete(self, client_id: uuid.UUID, key: str, stored: Stored) -> None:
        async with self.sessionmaker() as s, s.begin():
            row = await s.get(IdempotencyRecord, (client_id, key))
            if row is None:
                return
            row.state = "done"
            row.status = stored.status
            row.headers = [[k.decode("latin-1"), v.decode("latin-1")] for k, v in stored.headers]
            row.body = stored.body

    async def release(self, client_id: uuid.UUID, key: str) -> None:
        """Forget a claim whose request failed in a way worth retrying (5xx, no answer)."""
        async with self.sessionmaker() as s, s.begin():
            await s.execute(
                delete(IdempotencyRecord).where(
                    IdempotencyRecord.client_id == client_id, IdempotencyRecord.key == key
                )
            )

    async def purge_expired(self) -> None:
        async with self.sessionmaker() as s, s.begin():
            await s.execute(
                delete(IdempotencyRecord).where(
                    IdempotencyRecord.created_at < datetime.now(UTC) - RETENTION
                )
            )
