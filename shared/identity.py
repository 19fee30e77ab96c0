"""Who is calling: the gateway's word, carried in internal headers, checked here.

Services trust only requests that carry the internal token; the gateway strips any
identity headers a client sends and sets its own.
"""

from __future__ import annotations

import hmac
import uuid
from dataclasses import dataclass, field
from typing import Annotated, Any

from fastapi import Depends, Request

from shared.db.session import ANY_TENANT
from shared.problems import Problem

INTERNAL_TOKEN_HEADER = "x-internal-token"  # noqa: S105 - a header name
TENANT_HEADER = "x-tenant"
CLIENT_HEADER = "x-client-id"
SCOPES_HEADER = "x-scopes"
REQUEST_ID_HEADER = "x-request-id"
IDEMPOTENCY_KEY_HEADER = "x-idempotency-key"  # see shared.idempotency
IDEMPOTENCY_FINGERPRINT_HEADER = "x-idempotency-fingerprint"
IDENTITY_HEADERS = (
    INTERNAL_TOKEN_HEADER,
    TENANT_HEADER,
    CLIENT_HEADER,
    SCOPES_HEADER,
    IDEMPOTENCY_KEY_HEADER,
    IDEMPOTENCY_FINGERPRINT_HEADER,
)

ADMIN_SCOPE = "admin"

# Paths a service answers without the gateway's credential: probes and metrics.
PUBLIC_SERVICE_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})


@dataclass(frozen=True)
class Caller:
    tenant: str
    client_id: uuid.UUID | None
    scopes: frozenset[str] = field(default_factory=frozenset)

    @property
    def is_admin(self) -> bool:
        return ADMIN_SCOPE in self.scopes

    def has(self, scope: str) -> bool:
        return scope in self.scopes or self.is_admin

    def require(self, scope: str) -> None:
        if not self.has(scope):
            raise Problem(
                403, f"This API key lacks the scope '{scope}'.", slug="insufficient-scope"
            )

    @property
    def db_scope(self) -> str:
        """The tenant scope of this caller's transactions (row-level security)."""
        return ANY_TENANT if self.is_admin else self.tenant

    def may_write_tenant(self, tenant: str) -> bool:
        return self.is_admin or tenant == self.tenant


def internal_headers(
    token: str, tenant: str, scopes: str, client_id: uuid.UUID | None = None
) -> dict[str, str]:
    """The headers by which the gateway (or a service asking another on the caller's
    behalf) tells a service who is calling; the one writer of this protocol."""
    headers = {INTERNAL_TOKEN_HEADER: token, TENANT_HEADER: tenant, SCOPES_HEADER: scopes}
    if client_id is not None:
        headers[CLIENT_HEADER] = str(client_id)
    return headers


def token_matches(given: str | None, expected: str) -> bool:
    return given is not None and hmac.compare_digest(given.encode(), expected.encode())


async def caller_from_request(request: Request) -> Caller:
    """The caller as the gateway described it; the internal-token middleware ran before."""
    tenant = request.headers.get(TENANT_HEADER)
    if not tenant:
        raise Problem(401, "No caller identity on this request.", slug="unauthorized")
    raw_client = request.headers.get(CLIENT_HEADER)
    try:
        client_id = uuid.UUID(raw_client) if raw_client else None
    except ValueError as exc:
        raise Problem(401, "Malformed caller identity.", slug="unauthorized") from exc
    scopes = frozenset(request.headers.get(SCOPES_HEADER, "").split())
    return Caller(tenant=tenant, client_id=client_id, scopes=scopes)


CallerDep = Annotated[Caller, Depends(caller_from_request)]


def require_scope(scope: str) -> Any:
    """A dependency (for `dependencies=[...]`) refusing callers without `scope`."""

    async def check(caller: CallerDep) -> Caller:
        caller.require(scope)
        return caller

    return Depends(check)
