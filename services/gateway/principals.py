"""The principals the gateway resolves a credential to, and what a person's roles grant.

An API client acts for its whole tenant with the scopes its key was given. A person's
scopes follow from their roles; the services add the cluster-level rights (a cluster
manager changes only the clusters they manage) from the roles and clusters the gateway
passes on (shared.identity).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Literal

from shared.identity import AGENCY_ADMIN, CLUSTER_MANAGER, ORGANISER

# Gateway-only scopes: managing a tenant's people, its API keys, and its webhooks.
PEOPLE_ADMIN = "people:admin"
CLIENTS_MANAGE = "clients:manage"
WEBHOOKS_MANAGE = "webhooks:manage"

ROLE_SCOPES: dict[str, frozenset[str]] = {
    AGENCY_ADMIN: frozenset(
        {
            "registry:read", "registry:write", "registry:verify",
            "matching:read", "matching:feedback",
            "events:read", "events:participate", "events:organise",
            PEOPLE_ADMIN, CLIENTS_MANAGE, WEBHOOKS_MANAGE,
        }
    ),
    ORGANISER: frozenset({"registry:read", "matching:read", "events:read", "events:organise"}),
    CLUSTER_MANAGER: frozenset(
        {
            "registry:read", "registry:write", "matching:read", "matching:feedback",
            "events:read", "events:participate",
        }
    ),
}  # fmt: skip


def scopes_of(roles: Iterable[str]) -> frozenset[str]:
    out: frozenset[str] = frozenset()
    for role in roles:
        out |= ROLE_SCOPES.get(role, frozenset())
    return out


@dataclass(frozen=True)
class Principal:
    """Who is calling, once the gateway checked the credential."""

    kind: Literal["client", "person"]
    id: uuid.UUID
    tenant: str
    name: str
    scopes: frozenset[str]
    rate_per_second: int | None = None
    burst: int | None = None
    roles: frozenset[str] = field(default_factory=frozenset)
    clusters: frozenset[uuid.UUID] = field(default_factory=frozenset)
    email: str | None = None

    @property
    def scopes_header(self) -> str:
        return " ".join(sorted(self.scopes))

    @property
    def is_person(self) -> bool:
        return self.kind == "person"
