"""Request and response models of the gateway's own API."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from shared.validation import Line


class ClientCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    tenant: Annotated[str, Field(pattern=r"^[a-z][a-z0-9-]{1,15}$")]
    name: Line
    scopes: Annotated[list[str], Field(min_length=1, max_length=20)]
    rate_per_second: Annotated[int | None, Field(ge=1, le=100_000)] = None
    burst: Annotated[int | None, Field(ge=1, le=1_000_000)] = None


class ClientOut(BaseModel):
    id: uuid.UUID
    tenant: str
    name: str
    scopes: list[str]
    key_prefix: str
    rate_per_second: int | None
    burst: int | None
    created_at: datetime
    revoked_at: datetime | None
    last_used_at: datetime | None


class ClientCreated(ClientOut):
    api_key: str = Field(description="Shown once; store it now. Only its hash is kept.")


class Me(BaseModel):
    client_id: uuid.UUID
    tenant: str
    name: str
    scopes: list[str]
