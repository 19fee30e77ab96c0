"""People as principals: invitations by mail, passwords, sessions, lock-outs, roles.

Every case that acts on people is also tried across the tenant wall.
"""

from __future__ import annotations

import uuid

import asyncpg
import httpx

from tests.harness import Platform, link_in, mail_to
from tests.people_helpers import PASSWORD, as_person, invite, person, sign_in
from tests.registry_helpers import cluster_payload

PROBLEM = "application/problem+json"


def _dsn(platform: Platform) -> str:
    return platform.database_url.replace("postgresql+asyncpg://", "postgresql://")


async def test_an_invited_admin_sets_a_password_signs_in_and_invites_others(
    platform: Platform,
) -> None:
    invited, token = await invite(platform, "jp", ["agency-admin"], name="Aiko Tanaka")
    assert invited["status"] == "invited"
    async with httpx.AsyncClient(base_url=platform.gateway_url) as anon:
        info = await anon.post("/v1/auth/invitations/inspect", json={"token": token})
        assert info.json() == {
            "email": invited["email"], "name": "Aiko Tanaka", "tenant": "jp",
            "roles": ["agency-admin"],
        }  # fmt: skip
        weak = await anon.post(
            "/v1/auth/invitations/accept", json={"token": token, "password": "short"}
        )
        assert weak.status_code == 422
        assert weak.json()["field"] == "password"
        ok = await anon.post(
            "/v1/auth/invitations/accept", json={"token": token, "password": PASSWORD}
        )
        assert ok.status_code == 200
        assert ok.json()["status"] == "active"
        # The link works once.
        again = await anon.post(
            "/v1/auth/invitations/accept", json={"token": token, "password": PASSWORD}
        )
        assert again.status_code == 410
        assert again.json()["type"].endswith("link-used")

    signed = await sign_in(platform, str(invited["email"]))
    assert signed.status_code == 201
    session_id = signed.json()["session_id"]
    async with httpx.AsyncClient(
        base_url=platform.gateway_url, headers={"authorization": f"Session {session_id}"}
    ) as admin:
        me = (await admin.get("/v1/me")).json()
        assert (me["kind"], me["tenant"], me["roles"]) == ("person", "jp", ["agency-admin"])
        assert "registry:verify" in me["scopes"]
        # The admin invites an organiser of its own tenant: the mail goes out.
        org = await admin.post(
            "/v1/people",
            json={"email": "org@jp.example", "name": "Kenji", "roles": ["organiser"]},
        )
        assert org.status_code == 201, org.text
        assert "accept-invitation?token=" in await mail_to(platform, "org@jp.example")
        listed = (await admin.get("/v1/people")).json()
        assert {p["tenant"] for p in listed} == {"jp"}
        # Across the wall: another tenant's people do not exist, nor can it invite there.
        br_person, _ = await invite(platform, "br", ["organiser"])
        assert (await admin.get(f"/v1/people/{br_person['id']}")).status_code == 404
        r = await admin.post(
            "/v1/people",
            json={"email": "x@br.example", "name": "X", "roles": ["organiser"], "tenant": "br"},
        )
        assert r.status_code == 403
        r = await admin.patch(f"/v1/people/{br_person['id']}", json={"name": "Taken"})
        assert r.status_code == 404


async def test_only_an_agency_admin_manages_people(platform: Platform) -> None:
    organiser = await person(platform, "jp", ["organiser"])
    async with as_person(platform, organiser) as c:
        r = await c.post(
            "/v1/people", json={"email": "y@jp.example", "name": "Y", "roles": ["organiser"]}
        )
        assert r.status_code == 403
        assert (await c.get("/v1/people")).status_code == 403
    async with platform.client("jp") as agency_key:  # an API key is not a person admin
        assert (await agency_key.get("/v1/people")).status_code == 403


async def test_an_expired_or_unknown_link_is_refused_and_changes_nothing(
    platform: Platform,
) -> None:
    invited, token = await invite(platform, "kr", ["organiser"])
    conn = await asyncpg.connect(_dsn(platform))
    try:
        await conn.execute(
            "UPDATE gateway.person_tokens SET expires_at = now() - interval '1 minute' "
            "WHERE person_id = $1",
            uuid.UUID(str(invited["id"])),
        )
    finally:
        await conn.close()
    async with httpx.AsyncClient(base_url=platform.gateway_url) as anon:
        r = await anon.post(
            "/v1/auth/invitations/accept", json={"token": token, "password": PASSWORD}
        )
        assert r.status_code == 410
        assert r.json()["type"].endswith("link-expired")
        r = await anon.post(
            "/v1/auth/invitations/accept",
            json={"token": "x" * 43, "password": PASSWORD},
        )
        assert r.status_code == 404
    assert (await sign_in(platform, str(invited["email"]))).status_code == 401


async def test_failed_sign_ins_lock_the_account_for_a_while(platform: Platform) -> None:
    who = await person(platform, "eu", ["organiser"])
    for _ in range(4):
        assert (await sign_in(platform, who.email, "wrong password, sorry")).status_code == 401
    locked = await sign_in(platform, who.email, "wrong password, sorry")
    assert locked.status_code == 401  # the fifth failure locks
    refused = await sign_in(platform, who.email)  # even with the right password now
    assert refused.status_code == 429
    assert refused.json()["type"].endswith("sign-in-locked")
    assert int(refused.headers["retry-after"]) > 60
    # An unknown address gets the same answer as a wrong password.
    unknown = await sign_in(platform, "nobody@nowhere.example", "whatever it is")
    assert unknown.status_code == 401
    assert unknown.json()["detail"] == (await sign_in(platform, who.email + "x")).json()["detail"]


async def test_signing_out_ends_the_session_and_everywhere_ends_all(platform: Platform) -> None:
    who = await person(platform, "eu", ["organiser"])
    second = (await sign_in(platform, who.email)).json()["session_id"]
    async with as_person(platform, who) as c:
        assert (await c.get("/v1/me")).status_code == 200
        assert (await c.post("/v1/auth/sign-out")).status_code == 204
        assert (await c.get("/v1/me")).status_code == 401
    async with httpx.AsyncClient(
        base_url=platform.gateway_url, headers={"authorization": f"Session {second}"}
    ) as other:
        assert (await other.get("/v1/me")).status_code == 200
        third = (await sign_in(platform, who.email)).json()["session_id"]
        assert (await other.post("/v1/auth/sign-out-everywhere")).status_code == 204
        assert (await other.get("/v1/me")).status_code == 401
    async with httpx.AsyncClient(
        base_url=platform.gateway_url, headers={"authorization": f"Session {third}"}
    ) as last:
        assert (await last.get("/v1/clusters")).status_code == 401


async def test_forged_sessions_and_the_cookie_itself_are_not_credentials(
    platform: Platform,
) -> None:
    who = await person(platform, "eu", ["organiser"])
    async with httpx.AsyncClient(base_url=platform.gateway_url) as c:
        r = await c.get("/v1/me", headers={"authorization": "Session " + "A" * 43})
        assert r.status_code == 401
        # The browser's cookie is never accepted by the API (no CSRF on the API).
        r = await c.get("/v1/clusters", headers={"cookie": f"cb_session={who.session_id}"})
        assert r.status_code == 401


async def test_deactivation_signs_out_and_keeps_out(platform: Platform) -> None:
    who = await person(platform, "br", ["organiser"])
    async with platform.client("operator") as op:
        r = await op.post(f"/v1/people/{who.id}/deactivate")
        assert r.status_code == 200
        assert r.json()["status"] == "deactivated"
    async with as_person(platform, who) as c:
        assert (await c.get("/v1/me")).status_code == 401
    assert (await sign_in(platform, who.email)).status_code == 401


async def test_a_password_reset_by_mail_ends_the_old_sessions(platform: Platform) -> None:
    who = await person(platform, "ma", ["organiser"])
    async with httpx.AsyncClient(base_url=platform.gateway_url) as anon:
        asked = await anon.post("/v1/auth/password-resets", json={"email": who.email})
        assert asked.status_code == 202
        # An unknown address gets the same answer and no mail.
        nobody = await anon.post("/v1/auth/password-resets", json={"email": "no@one.example"})
        assert nobody.status_code == 202
        token = link_in(await mail_to(platform, who.email, "reset-password"), "reset-password")
        done = await anon.post(
            "/v1/auth/password-resets/complete",
            json={"token": token, "password": "a brand new passphrase"},
        )
        assert done.status_code == 200, done.text
    async with as_person(platform, who) as c:
        assert (await c.get("/v1/me")).status_code == 401
    assert (await sign_in(platform, who.email)).status_code == 401
    assert (await sign_in(platform, who.email, "a brand new passphrase")).status_code == 201
    assert not [m for m in platform.mail.messages() if "no@one.example" in str(m["To"])]


async def test_an_agency_admin_manages_its_own_tenants_api_keys_only(platform: Platform) -> None:
    admin = await person(platform, "tn", ["agency-admin"])
    async with as_person(platform, admin) as c:
        made = await c.post(
            "/v1/clients", json={"tenant": "tn", "name": "ERP sync", "scopes": ["registry:read"]}
        )
        assert made.status_code == 201, made.text
        assert {k["tenant"] for k in (await c.get("/v1/clients")).json()} == {"tn"}
        r = await c.post(
            "/v1/clients", json={"tenant": "ma", "name": "not mine", "scopes": ["registry:read"]}
        )
        assert r.status_code == 403
        r = await c.post(
            "/v1/clients", json={"tenant": "tn", "name": "too much", "scopes": ["admin"]}
        )
        assert r.status_code == 403
    async with platform.client("operator") as op:
        others = [k for k in (await op.get("/v1/clients")).json() if k["tenant"] != "tn"]
    async with as_person(platform, admin) as c:
        assert (await c.delete(f"/v1/clients/{others[0]['id']}")).status_code == 404
        assert (await c.delete(f"/v1/clients/{made.json()['id']}")).status_code == 204


async def test_a_cluster_managers_clusters_must_be_of_its_tenant(platform: Platform) -> None:
    async with platform.client("br") as br:
        theirs = (await br.post("/v1/clusters", json=cluster_payload("br"))).json()
    async with platform.client("operator") as op:
        r = await op.post(
            "/v1/people",
            json={
                "email": f"{uuid.uuid4().hex[:6]}@jp.example", "name": "M",
                "roles": ["cluster-manager"], "clusters": [theirs["id"]], "tenant": "jp",
            },
        )  # fmt: skip
        assert r.status_code == 422
        assert r.json()["field"] == "clusters"
