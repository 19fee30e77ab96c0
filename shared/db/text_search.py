"""Substring filters typed by people: `%` and `_` are letters to them, not wildcards."""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement
from sqlalchemy.orm import QueryableAttribute

ESCAPE = "\\"


def contains_pattern(text: str) -> str:
    """An ILIKE pattern matching `text` anywhere, its wildcards and escape escaped."""
    for char in (ESCAPE, "%", "_"):
        text = text.replace(char, ESCAPE + char)
    return f"%{text}%"


def contains(
    column: ColumnElement[Any] | QueryableAttribute[Any], text: str
) -> ColumnElement[bool]:
    """`column` holds `text` somewhere, case-insensitively."""
    return column.ilike(contains_pattern(text), escape=ESCAPE)
