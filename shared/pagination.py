"""Opaque cursors for keyset pagination over (created_at, id), a stable order."""

from __future__ import annotations

import base64
import uuid
from datetime import datetime

import orjson

from shared.problems import Problem


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
