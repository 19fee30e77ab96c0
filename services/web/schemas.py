"""What the web app reads from the API for itself (pages render the rest as they come)."""

from __future__ import annotations

import uuid

from pydantic import BaseModel


class SignedInPerson(BaseModel):
    """The part of `GET /v1/me` a page needs to know who is signed in."""

    kind: str
    person_id: uuid.UUID | None = None
    tenant: str
    name: str = ""
    email: str | None = None
    roles: list[str] = []
    clusters: list[uuid.UUID] = []
    scopes: list[str] = []
