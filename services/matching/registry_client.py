"""Reading every public profile from the registry, for a rebuild on demand.

The matching service calls the registry the way the gateway does (internal token), as a
caller of a tenant that owns nothing, so private fields can never come back.
"""

from __future__ import annotations

from typing import Any

import httpx

from shared.identity import INTERNAL_TOKEN_HEADER, SCOPES_HEADER, TENANT_HEADER
from shared.telemetry.propagation import add_context_headers

READER_TENANT = "_matching"  # owns no cluster: the registry returns public fields only


async def fetch_all_profiles(
    registry_url: str, token: str, page: int = 200
) -> list[dict[str, Any]]:
    headers = {
        INTERNAL_TOKEN_HEADER: token,
        TENANT_HEADER: READER_TENANT,
        SCOPES_HEADER: "registry:read",
    }
    out: list[dict[str, Any]] = []
    cursor: str | None = None
    async with httpx.AsyncClient(
        base_url=registry_url,
        headers=headers,
        timeout=httpx.Timeout(30.0, connect=2.0),
        event_hooks={"request": [add_context_headers]},
    ) as client:
        while True:
            params: dict[str, str | int] = {"limit": page}
            if cursor:
                params["cursor"] = cursor
            r = await client.get("/v1/clusters", params=params)
            r.raise_for_status()
            body = r.json()
            out.extend(body["items"])
            cursor = body.get("next_cursor")
            if not cursor:
                return out


async def fetch_partnership(
    registry_url: str, token: str, partnership_id: str
) -> dict[str, Any] | None:
    """A partnership's public page from the registry (None if there is none)."""
    headers = {
        INTERNAL_TOKEN_HEADER: token,
        TENANT_HEADER: READER_TENANT,
        SCOPES_HEADER: "registry:read",
    }
    async with httpx.AsyncClient(
        base_url=registry_url,
        headers=headers,
        timeout=httpx.Timeout(10.0, connect=2.0),
        event_hooks={"request": [add_context_headers]},
    ) as client:
        r = await client.get(f"/v1/partnerships/{partnership_id}")
        if r.status_code == 404:
            return None
        r.raise_for_status()
        body: dict[str, Any] = r.json()
        return body
