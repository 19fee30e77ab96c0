"""People for the tests: invited, accepted and signed in through the API, as in life."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx

from tests.harness import Platform, link_in, mail_to

PASSWORD = "correct horse battery staple"


@dataclass(frozen=True)
class SignedInPerson:
    id: str
    email: str
    tenant: str
    session_id: str


async def invite(
    platform: Platform,
    tenant: str,
    roles: list[str],
    clusters: list[str] | None = None,
    *,
    by: str = "operator",
    name: str | None = None,
) -> tuple[dict[str, object], str]:
    """Invite someone (by the operator's key unless `by` names a session id) and return
    the person and the invitation token from their mail."""
    email = f"{uuid.uuid4().hex[:10]}@{tenant}.example"
    body = {
        "email": email,
        "name": name or f"Person {email[:6]}",
        "roles": roles,
        "clusters": clusters or [],
        "tenant": tenant,
    }
    headers = (
        {"authorization": f"Bearer {platform.keys['operator']}"}
        if by == "operator"
        else {"authorization": f"Session {by}"}
    )
    async with httpx.AsyncClient(base_url=platform.gateway_url, headers=headers) as c:
        r = await c.post("/v1/people", json=body)
        assert r.status_code == 201, r.text
    token = link_in(await mail_to(platform, email, "accept-invitation"), "accept-invitation")
    return r.json(), token


async def sign_in(platform: Platform, email: str, password: str = PASSWORD) -> httpx.Response:
    async with httpx.AsyncClient(base_url=platform.gateway_url) as c:
        return await c.post("/v1/auth/sign-in", json={"email": email, "password": password})


async def person(
    platform: Platform,
    tenant: str,
    roles: list[str],
    clusters: list[str] | None = None,
    *,
    name: str | None = None,
) -> SignedInPerson:
    """A person who accepted their invitation and signed in."""
    invited, token = await invite(platform, tenant, roles, clusters, name=name)
    async with httpx.AsyncClient(base_url=platform.gateway_url) as c:
        r = await c.post("/v1/auth/invitations/accept", json={"token": token, "password": PASSWORD})
        assert r.status_code == 200, r.text
    signed = await sign_in(platform, str(invited["email"]))
    assert signed.status_code == 201, signed.text
    return SignedInPerson(
        str(invited["id"]), str(invited["email"]), tenant, signed.json()["session_id"]
    )


@contextlib.asynccontextmanager
async def as_person(platform: Platform, who: SignedInPerson) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(
        base_url=platform.gateway_url,
        headers={"authorization": f"Session {who.session_id}"},
        timeout=30,
    ) as c:
        yield c
