"""API clients: creation, revocation, and authentication with a short-lived cache."""

from __future__ import annotations

import time
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.gateway import keys, messaging
from services.gateway.models import ApiClient
from services.gateway.principals import Principal
from services.gateway.repository import ClientRepository

KNOWN_SCOPES = frozenset(
    {
        "registry:read",
        "registry:write",
        "registry:verify",
        "matching:read",
        "matching:feedback",
        "events:read",
        "events:participate",
        "events:organise",
        "webhooks:manage",
        "admin",
    }
)
AGENCY_SCOPES = (
    "registry:read",
    "registry:write",
    "matching:read",
    "matching:feedback",
    "events:read",
    "events:participate",
    "events:organise",
    "webhooks:manage",
)


# An API client as the proxy sees it once its key checked out.
AuthenticatedClient = Principal


def _view(c: ApiClient) -> Principal:
    return Principal(
        kind="client",
        id=c.id,
        tenant=c.tenant,
        name=c.name,
        scopes=frozenset(c.scopes),
        rate_per_second=c.rate_per_second,
        burst=c.burst,
    )


async def create_client(
    session: AsyncSession,
    *,
    tenant: str,
    name: str,
    scopes: Sequence[str],
    rate_per_second: int | None = None,
    burst: int | None = None,
) -> tuple[ApiClient, str]:
    """A new client and its key (plaintext, to show once)."""
    unknown = set(scopes) - KNOWN_SCOPES
    if unknown:
        raise ValueError(f"unknown scopes: {', '.join(sorted(unknown))}")
    new = keys.generate()
    client = ApiClient(
        id=uuid.uuid4(),
        tenant=tenant,
        name=name,
        key_prefix=new.prefix,
        key_hash=new.digest,
        scopes=sorted(set(scopes)),
        rate_per_second=rate_per_second,
        burst=burst,
        created_at=datetime.now(UTC),
    )
    ClientRepository(session).add(client)
    await session.flush()
    messaging.client_created(session, client)
    return client, new.plaintext


async def revoke_client(session: AsyncSession, client: ApiClient) -> None:
    client.revoked_at = datetime.now(UTC)
    messaging.client_revoked(session, client)


class Authenticator:
    """Resolves a bearer key to its client.

    A verified key is cached for `ttl` seconds so the hot path costs no database round
    trip; a revocation evicts it at once on every replica (the revocation fact on NATS,
    services.gateway.messaging.hear_revocations), and within `ttl` on a replica that
    was cut off from NATS at that moment.
    """

    def __init__(self, sessionmaker: async_sessionmaker[AsyncSession], ttl: float = 5.0) -> None:
        self.sessionmaker = sessionmaker
        self.ttl = ttl
        self._cache: dict[bytes, tuple[float, AuthenticatedClient | None]] = {}

    def evict(self, client_id: uuid.UUID) -> None:
        for k, (_, c) in list(self._cache.items()):
            if c is not None and c.id == client_id:
                del self._cache[k]

    async def authenticate(self, key: str) -> AuthenticatedClient | None:
        parts = keys.split(key)
        if parts is None:
            return None
        cache_key = keys.digest(key)
        now = time.monotonic()
        hit = self._cache.get(cache_key)
        if hit is not None and hit[0] > now:
            return hit[1]
        prefix, secret = parts
        async with self.sessionmaker() as session:
            row = await ClientRepository(session).by_prefix(prefix)
        client = None
        if row is not None and row.revoked_at is None and keys.matches(secret, row.key_hash):
            client = _view(row)
        if len(self._cache) > 10_000:
            self._cache.clear()
        self._cache[cache_key] = (now + self.ttl, client)
        return client
