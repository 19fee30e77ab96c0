"""The envelope every event travels in: id, type, tenant, time, version, data."""

from __future__ import annotations

import builtins
import uuid
from datetime import UTC, datetime
from typing import Any, TypeVar

import orjson
from pydantic import BaseModel, ConfigDict, Field

from shared.contracts.base import Payload

P = TypeVar("P", bound=Payload)

TENANT_HEADER = "Clusterbridge-Tenant"
MSG_ID_HEADER = "Nats-Msg-Id"


class Envelope(BaseModel):
    """A past-tense fact (`registry.cluster.upserted`); the subject equals `type`."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    id: uuid.UUID = Field(default_factory=uuid.uuid4)
    type: str
    tenant: str
    occurred_at: datetime = Field(default_factory=lambda: datetime.now(UTC))
    version: int = 1
    data: dict[str, Any]

    def to_bytes(self) -> bytes:
        return orjson.dumps(self.model_dump(mode="json"))

    @classmethod
    def from_bytes(cls, raw: bytes) -> Envelope:
        return cls.model_validate_json(raw)

    def payload(self, model: builtins.type[P]) -> P:
        """The data as the contract's model (raises pydantic's ValidationError)."""
        return model.model_validate(self.data)
