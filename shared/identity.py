"""Who is calling: the gateway's word, carried in internal headers, checked here.

Services trust only requests that carry the internal token; the gateway strips any
identity headers a client sends and sets its own.

A caller is an agency's API client (acting for its whole tenant) or a person signed
in to the web app. A person holds roles in one tenant: `agency-admin` acts for every
cluster of the tenant; a `cluster-manager` acts only for the clusters named in their
role; an `organiser` runs the tenant's events. Services decide cluster-level rights
from this (`Caller.acts_for_cluster`), never from what a page chose to show.
"""

from __future__ import annotations

import hmac
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Annotated, Any

from fastapi import Depends, Request

from shared.db.session import ANY_TENANT
from shared.problems import Problem

INTERNAL_TOKEN_HEADER = "x-internal-token"  # noqa: S105 - a header name
TENANT_HEADER = "x-tenant"
CLIENT_HEADER = "x-client-id"
SCOPES_HEADER = "x-scopes"
PERSON_HEADER = "x-person-id"
ROLES_HEADER = "x-person-roles"
CLUSTERS_HEADER = "x-person-clusters"
REQUEST_ID_HEADER = "x-request-id"
IDEMPOTENCY_KEY_HEADER = "x-idempotency-key"  # see shared.idempotency
IDEMPOTENCY_FINGERPRINT_HEADER = "x-idempotency-fingerprint"
IDENTITY_HEADERS = (
    INTERNAL_TOKEN_HEADER,
    TENANT_HEADER,
    CLIENT_HEADER,
    SCOPES_HEADER,
    PERSON_HEADER,
    ROLES_HEADER,
    CLUSTERS_HEADER,
    IDEMPOTENCY_KEY_HEADER,
    IDEMPOTENCY_FINGERPRINT_HEADER,
)

ADMIN_SCOPE = "admin"
AGENCY_ADMIN = "agency-admin"
ORGANISER = "organiser"
CLUSTER_MANAGER = "cluster-manager"
ROLES = (AGENCY_ADMIN, ORGANISER, CLUSTER_MANAGER)

# Paths a service answers without the gateway's credential: probes and metrics.
PUBLIC_SERVICE_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})


@dataclass(frozen=True)
class Caller:
    tenant: str
    client_id: uuid.UUID | None
    scopes: frozenset[str] = field(default_factory=frozenset)
    person_id: uuid.UUID | None = None
    roles: frozenset[str] = field(default_factory=frozenset)
    # The clusters a cluster manager manages (empty for everyone else).
    clusters: frozenset[uuid.UUID] = field(default_factory=frozenset)

    @property
    def is_admin(self) -> bool:
        return ADMIN_SCOPE in self.scopes

    @property
    def is_person(self) -> bool:
        return self.person_id is not None

    def has(self, scope: str) -> bool:
        return scope in self.scopes or self.is_admin

    def require(self, scope: str) -> None:
        if not self.has(scope):
            who = "Your role" if self.is_person else "This API key"
            raise Problem(403, f"{who} lacks the scope '{scope}'.", slug="insufficient-scope")

    @property
    def db_scope(self) -> str:
        """The tenant scope of this caller's transactions (row-level security)."""
        return ANY_TENANT if self.is_admin else self.tenant

    def may_write_tenant(self, tenant: str) -> bool:
        return self.is_admin or tenant == self.tenant

    @property
    def acts_for_whole_tenant(self) -> bool:
        """An agency's API key or an agency admin: every cluster of the tenant."""
        return self.is_admin or not self.is_person or AGENCY_ADMIN in self.roles

    def acts_for_cluster(self, tenant: str, cluster_id: uuid.UUID) -> bool:
        """May change this cluster, and speak for it (meeting requests, agendas)."""
        if self.is_admin:
            return True
        if tenant != self.tenant:
            return False
        return self.acts_for_whole_tenant or cluster_id in self.clusters

    def require_cluster(self, tenant: str, cluster_id: uuid.UUID) -> None:
        if not self.acts_for_cluster(tenant, cluster_id):
            if tenant != self.tenant and not self.is_admin:
                raise Problem(
                    403, "This cluster belongs to another tenant.", slug="tenant-forbidden"
                )
            raise Problem(
                403,
                "You manage other clusters of this tenant, not this one.",
                slug="not-your-cluster",
            )

    def require_whole_tenant(self, action: str) -> None:
        if not self.acts_for_whole_tenant:
            raise Problem(
                403, f"Only an agency admin of your tenant may {action}.", slug="agency-admin-only"
            )


def internal_headers(
    token: str,
    tenant: str,
    scopes: str,
    client_id: uuid.UUID | None = None,
    *,
    person_id: uuid.UUID | None = None,
    roles: Iterable[str] = (),
    clusters: Iterable[uuid.UUID] = (),
) -> dict[str, str]:
    """The headers by which the gateway (or a service asking another on the caller's
    behalf) tells a service who is calling; the one writer of this protocol."""
    headers = {INTERNAL_TOKEN_HEADER: token, TENANT_HEADER: tenant, SCOPES_HEADER: scopes}
    if client_id is not None:
        headers[CLIENT_HEADER] = str(client_id)
    if person_id is not None:
        headers[PERSON_HEADER] = str(person_id)
        headers[ROLES_HEADER] = " ".join(sorted(roles))
        headers[CLUSTERS_HEADER] = " ".join(sorted(str(c) for c in clusters))
    return headers


def token_matches(given: str | None, expected: str) -> bool:
    return given is not None and hmac.compare_digest(given.encode(), expected.encode())


def _uuid(raw: str | None) -> uuid.UUID | None:
    try:
        return uuid.UUID(raw) if raw else None
    except ValueError as exc:
        raise Problem(401, "Malformed caller identity.", slug="unauthorized") from exc


async def caller_from_request(request: Request) -> Caller:
    """The caller as the gateway described it; the internal-token middleware ran before."""
    headers = request.headers
    tenant = headers.get(TENANT_HEADER)
    if not tenant:
        raise Problem(401, "No caller identity on this request.", slug="unauthorized")
    person = _uuid(headers.get(PERSON_HEADER))
    clusters: frozenset[uuid.UUID] = frozenset()
    roles: frozenset[str] = frozenset()
    if person is not None:
        roles = frozenset(headers.get(ROLES_HEADER, "").split()) & frozenset(ROLES)
        parsed = (_uuid(c) for c in headers.get(CLUSTERS_HEADER, "").split())
        clusters = frozenset(c for c in parsed if c is not None)
    return Caller(
        tenant=tenant,
        client_id=_uuid(headers.get(CLIENT_HEADER)),
        scopes=frozenset(headers.get(SCOPES_HEADER, "").split()),
        person_id=person,
        roles=roles,
        clusters=clusters,
    )


CallerDep = Annotated[Caller, Depends(caller_from_request)]


def require_scope(scope: str) -> Any:
    """A dependency (for `dependencies=[...]`) refusing callers without `scope`."""

    async def check(caller: CallerDep) -> Caller:
        caller.require(scope)
        return caller

    return Depends(check)
