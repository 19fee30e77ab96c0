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


async def many_people(
    platform: Platform, specs: list[tuple[str, list[str], list[str]]]
) -> list[SignedInPerson]:
    """Active, signed-in people written straight into the gateway's tables, one per
    (tenant, roles, clusters): for tests that need dozens, where the invitation path
    (a mail round-trip each, tested in tests/gateway/test_people.py) would dominate.
    Everything they do afterwards goes through the gateway like anyone else."""
    import secrets
    from datetime import UTC, datetime, timedelta

    from sqlalchemy.ext.asyncio import create_async_engine
    from sqlalchemy.pool import NullPool

    from services.gateway.models import Person, PersonSession
    from services.gateway.sessions import digest
    from shared.db.engine import create_sessionmaker

    now = datetime.now(UTC)
    out: list[SignedInPerson] = []
    engine = create_async_engine(platform.database_url, poolclass=NullPool)
    try:
        async with create_sessionmaker(engine)() as s, s.begin():
            for tenant, roles, clusters in specs:
                pid = uuid.uuid4()
                email = f"{pid.hex[:12]}@{tenant}.example"
                s.add(
                    Person(
                        id=pid, tenant=tenant, email=email, name=f"Person {pid.hex[:6]}",
                        roles=roles, clusters=[uuid.UUID(c) for c in clusters], status="active",
                        failed_sign_ins=0, created_at=now,
                    )
                )  # fmt: skip
                await s.flush()
                session_id = secrets.token_urlsafe(32)
                s.add(
                    PersonSession(
                        digest=digest(session_id), person_id=pid, created_at=now,
                        last_seen_at=now, expires_at=now + timedelta(hours=2),
                    )
                )  # fmt: skip
                out.append(SignedInPerson(str(pid), email, tenant, session_id))
    finally:
        await engine.dispose()
    return out
