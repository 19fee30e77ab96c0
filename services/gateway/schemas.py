"""Request and response models of the gateway's own API."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, EmailStr, Field

from shared.schemas import Input
from shared.validation import Line, ShortText


def _no_nul(value: str) -> str:
    # Any character may be in a password, but NUL cannot be one (nor stored anywhere).
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    return value


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
    kind: Literal["client", "person"]
    client_id: uuid.UUID | None = Field(description="for an API key")
    person_id: uuid.UUID | None = Field(description="for a person signed in")
    tenant: str
    name: str
    scopes: list[str]
    roles: list[str] = []
    clusters: list[uuid.UUID] = []
    email: str | None = None


# ---- people ------------------------------------------------------------------------

Role = Literal["agency-admin", "organiser", "cluster-manager"]
Password = Annotated[str, Field(min_length=1, max_length=256), AfterValidator(_no_nul)]
Token = Annotated[str, Field(min_length=16, max_length=200, pattern=r"^[A-Za-z0-9_-]+$")]


class PersonInvite(Input):
    email: EmailStr
    name: Line
    roles: Annotated[list[Role], Field(min_length=1, max_length=3)]
    clusters: Annotated[list[uuid.UUID], Field(max_length=200)] = []
    tenant: Annotated[
        str | None,
        Field(
            default=None,
            pattern=r"^[a-z][a-z0-9-]{1,15}$",
            description="The operator names it; an agency admin invites into their own.",
        ),
    ] = None


class PersonPatch(Input):
    name: Line | None = None
    roles: Annotated[list[Role] | None, Field(min_length=1, max_length=3)] = None
    clusters: Annotated[list[uuid.UUID] | None, Field(max_length=200)] = None


class PersonOut(BaseModel):
    id: uuid.UUID
    tenant: str
    email: str
    name: str
    roles: list[str]
    clusters: list[uuid.UUID]
    status: Literal["invited", "active", "deactivated"]
    created_at: datetime
    last_sign_in_at: datetime | None


Address = Annotated[ShortText, Field(min_length=3, max_length=320)]


class SignIn(Input):
    email: Address
    password: Password


class SignedIn(BaseModel):
    session_id: str = Field(
        description="Keep it secret (the web app puts it in an HttpOnly cookie)"
    )
    expires_at: datetime = Field(description="absolute end of the session")
    idle_minutes: int = Field(description="the session ends after this long without use")
    person: PersonOut


class InvitationToken(Input):
    token: Token


class InvitationInfo(BaseModel):
    email: str
    name: str
    tenant: str
    roles: list[str]


class SetPassword(Input):
    token: Token
    password: Password


class ResetRequest(Input):
    email: Address


class ResetRequested(BaseModel):
    detail: str


# ---- webhooks ----------------------------------------------------------------------

EventTypeName = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[a-z_]+\.[a-z_]+$")]


class WebhookCreate(Input):
    url: Annotated[
        ShortText,
        Field(max_length=2000, description="HTTPS endpoint that receives the deliveries"),
    ]
    event_types: Annotated[list[EventTypeName], Field(min_length=1, max_length=20)]
    description: Line | None = None


class WebhookPatch(Input):
    url: Annotated[ShortText | None, Field(max_length=2000)] = None
    event_types: Annotated[list[EventTypeName] | None, Field(min_length=1, max_length=20)] = None
    description: Line | None = None


class WebhookOut(BaseModel):
    id: uuid.UUID
    tenant: str
    url: str
    description: str | None
    event_types: list[str]
    status: Literal["active", "paused"]
    paused_reason: str | None = Field(description="why deliveries stopped, while paused")
    paused_at: datetime | None
    previous_secret_until: datetime | None = Field(
        description="until when the secret before the last rotation also signs"
    )
    created_at: datetime


class WebhookCreated(WebhookOut):
    secret: str = Field(description="Shown once; verify each delivery's signature with it.")


class SecretRotated(BaseModel):
    secret: str = Field(description="The new secret, shown once.")
    previous_secret_until: datetime | None = Field(
        description="deliveries carry a signature with the old secret too until then"
    )


class WebhookPause(Input):
    reason: Line | None = None


class EventTypeOut(BaseModel):
    name: str
    scope: str
    description: str


class AttemptOut(BaseModel):
    attempted_at: datetime
    duration_ms: int
    status: int | None = Field(description="the endpoint's HTTP status; none if it did not answer")
    error: str | None
    response_body: str | None = Field(description="the start of the endpoint's answer")


class DeliveryOut(BaseModel):
    id: uuid.UUID
    event_id: uuid.UUID = Field(description="also the webhook-id header (with a msg_ prefix)")
    event_type: str
    subject: str = Field(description="deliveries of one subject arrive in order")
    state: Literal["pending", "delivered", "failed"]
    attempts: int
    next_attempt_at: datetime | None
    replay_of: uuid.UUID | None
    created_at: datetime
    delivered_at: datetime | None
    last_status: int | None
    last_error: str | None


class DeliveryDetail(DeliveryOut):
    payload: dict[str, Any]
    attempt_log: list[AttemptOut]


class DeliveryPage(BaseModel):
    items: list[DeliveryOut]
    next_cursor: str | None
