"""The gateway's facts: API clients created and revoked."""

from __future__ import annotations

import uuid

from shared.contracts.base import Payload

STREAM = "GATEWAY"
SUBJECTS = ("gateway.>",)
CLIENT_CREATED = "gateway.client.created"
CLIENT_REVOKED = "gateway.client.revoked"


class ClientCreated(Payload):
    id: uuid.UUID
    tenant: str
    name: str
    scopes: list[str]


class ClientRevoked(Payload):
    id: uuid.UUID
    tenant: str
