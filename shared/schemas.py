"""The base of every request body: unknown fields refused, strings stripped."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class Input(BaseModel):
    """A request body. Unknown fields are an error, not silently dropped: a client that
    misspells a field must hear about it."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
