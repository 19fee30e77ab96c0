"""Opaque cursors for keyset pagination over (created_at, id), a stable order."""

from __future__ import annotations

import base64
import uuid
from datetime import datetime
from typing import TypeVar

import orjson
from sqlalchemy import Select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from shared.problems import Problem

RowT = TypeVar("RowT")


def encode_cursor(created_at: datetime, row_id: uuid.UUID) -> str:
    raw = orjson.dumps([created_at.isoformat(), str(row_id)])
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, uuid.UUID]:
    """The position a cursor names; a 400 problem for anything this API did not give out."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        created, row_id = orjson.loads(base64.urlsafe_b64decode(padded.encode()))
        return datetime.fromisoformat(created), uuid.UUID(row_id)
    except Exception as exc:
        raise Problem(400, "The cursor is not one this API gave out.", field="cursor") from exc


async def keyset_page(
    session: AsyncSession,
    stmt: Select[RowT],
    created: InstrumentedAttribute[datetime],
    row_id: InstrumentedAttribute[uuid.UUID],
    limit: int,
    cursor: str | None,
) -> tuple[list[RowT], str | None]:
    """One page of `stmt` in (created, id) order after `cursor`, and the next cursor."""
    if cursor:
        after, after_id = decode_cursor(cursor)
        stmt = stmt.where((created > after) | ((created == after) & (row_id > after_id)))
    rows = list((await session.scalars(stmt.order_by(created, row_id).limit(limit + 1))).all())
    if len(rows) <= limit:
        return rows, None
    rows = rows[:limit]
    last = rows[-1]
    return rows, encode_cursor(getattr(last, created.key), getattr(last, row_id.key))
