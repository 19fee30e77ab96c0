"""At most one execution per `Idempotency-Key`, decided where the write commits.

The gateway keeps its own record of each key, but it cannot know what a service did
once it stopped waiting (a timeout, a lost connection, its own crash). So it forwards
the key, scoped to the API client, and a fingerprint of the request; a service that
declares an idempotency table claims the key *in the request's own transaction*:

- the first request inserts the key row, does its work, stores its response in the
  row, and commits it all at once: the write and the record of it cannot part;
- a retry whose first attempt has committed finds the row and replays the stored
  response; one whose first attempt is still running blocks on the row's unique index
  (PostgreSQL waits for the other transaction) and then replays or, if that attempt
  rolled back, runs as the first;
- the same key with another request is refused (422), as at the gateway.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import DateTime, Integer, LargeBinary, String, delete, func, select, update
from sqlalchemy.dialects.postgresql import JSONB, insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from shared.identity import IDEMPOTENCY_FINGERPRINT_HEADER, IDEMPOTENCY_KEY_HEADER
from shared.problems import Problem

# Set by the gateway only (it strips any a client sends): "<client id>:<key>" and the
# hex SHA-256 fingerprint of method, path, query and body.
KEY_HEADER = IDEMPOTENCY_KEY_HEADER
FINGERPRINT_HEADER = IDEMPOTENCY_FINGERPRINT_HEADER

RETENTION = timedelta(hours=24)
MAX_SCOPED_KEY_LENGTH = 300
# Response headers worth replaying: the ones a client acts on.
REPLAYED_HEADERS = frozenset({"content-type", "location", "etag"})


class IdempotencyMixin:
    """Columns of a service's idempotency table; the service declares the mapped class."""

    key: Mapped[str] = mapped_column(String(MAX_SCOPED_KEY_LENGTH), primary_key=True)
    fingerprint: Mapped[str] = mapped_column(String(64))
    status: Mapped[int | None] = mapped_column(Integer)
    headers: Mapped[list[list[str]] | None] = mapped_column(JSONB)
    body: Mapped[bytes | None] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), index=True
    )


@dataclass(frozen=True)
class ForwardedKey:
    key: str
    fingerprint: str

    @classmethod
    def from_headers(cls, key: str | None, fingerprint: str | None) -> ForwardedKey | None:
        if not key or not fingerprint or len(key) > MAX_SCOPED_KEY_LENGTH:
            return None
        return cls(key, fingerprint)


class Replay(Exception):
    """Raised before the handler runs: answer with the first attempt's response."""

    def __init__(self, status: int, headers: list[tuple[str, str]], body: bytes) -> None:
        super().__init__(status)
        self.status = status
        self.headers = headers
        self.body = body


async def claim(session: AsyncSession, model: type[IdempotencyMixin], fwd: ForwardedKey) -> None:
    """Claim the key in this transaction, or raise `Replay` / a 422 or 409 problem."""
    inserted = (
        await session.execute(
            insert(model)
            .values(key=fwd.key, fingerprint=fwd.fingerprint, created_at=datetime.now(UTC))
            .on_conflict_do_nothing()
            .returning(model.key)
        )
    ).first()
    if inserted is not None:
        return
    row = (await session.execute(select(model).where(model.key == fwd.key))).scalar_one()
    if row.created_at < datetime.now(UTC) - RETENTION:
        # An expired record: the key starts afresh, in this transaction.
        await session.execute(
            update(model)
            .where(model.key == fwd.key)
            .values(
                fingerprint=fwd.fingerprint,
                status=None,
                headers=None,
                body=None,
                created_at=datetime.now(UTC),
            )
        )
        return
    if row.fingerprint != fwd.fingerprint:
        raise Problem(
            422,
            "This Idempotency-Key was used with a different request body.",
            slug="idempotency-key-reused",
            field="Idempotency-Key",
        )
    if row.status is None:
        raise Problem(
            409,
            "A request with this Idempotency-Key was carried out, but its answer was "
            "not kept; read the resource to see its state.",
            slug="idempotency-answer-lost",
            field="Idempotency-Key",
        )
    headers = [(k, v) for k, v in row.headers or []]
    raise Replay(row.status, headers, row.body or b"")


async def record_response(
    session: AsyncSession,
    model: type[IdempotencyMixin],
    fwd: ForwardedKey,
    status: int,
    headers: list[tuple[str, str]],
    body: bytes,
) -> None:
    """Store the answer in the claimed row; it commits with the request's work."""
    kept = [[k, v] for k, v in headers if k.lower() in REPLAYED_HEADERS]
    await session.execute(
        update(model).where(model.key == fwd.key).values(status=status, headers=kept, body=body)
    )


async def purge_expired(session: AsyncSession, model: type[IdempotencyMixin]) -> int:
    result = await session.execute(
        delete(model).where(model.created_at < datetime.now(UTC) - RETENTION)
    )
    return int(getattr(result, "rowcount", 0) or 0)


def scoped_key(client_id: uuid.UUID, key: str) -> str:
    """The key as services store it: one client's keys never meet another's."""
    return f"{client_id}:{key}"
