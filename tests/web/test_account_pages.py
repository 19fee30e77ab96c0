"""Signing in, out, invitations, resets and my account, in a real browser; and the
attacks on them: replayed or forged session cookies, missing or wrong CSRF tokens,
invitation links used twice or after expiry, open redirects through ?next=."""

from __future__ import annotations

import httpx
from playwright.async_api import Browser, Page, expect
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from tests.harness import Platform, link_in, mail_to
from tests.people_helpers import PASSWORD, invite, person
from tests.people_helpers import sign_in as api_sign_in
from tests.web.conftest import screenshot
from tests.web.pages_helpers import accept_invitation_from_mail, session_cookie, sign_in


async def test_first_admin_signs_in_from_the_mailed_link(tab: Page, platform: Platform) -> None:
    invited, _ = await invite(platform, "jp", ["agency-admin"], name="Aiko Admin")
    email = str(invited["email"])
    token = link_in(await mail_to(platform, email, "accept-invitation"), "accept-invitation")
    await tab.goto(f"{platform.gateway_url}/accept-invitation?token={token}")
    await expect(tab.get_by_text("Welcome, Aiko Admin")).to_be_visible()
    await screenshot(tab, "accept-invitation")
    await accept_invitation_from_mail(tab, platform, email)
    await expect(tab.get_by_text("Your password is set")).to_be_visible()
    await screenshot(tab, "sign-in")
    await sign_in(tab, platform, email)
    await expect(tab.get_by_role("heading", name="Welcome, Aiko Admin")).to_be_visible()
    await screenshot(tab, "home")
    cookie = next(c for c in await tab.context.cookies() if c["name"] == "cb_session")
    assert cookie["httpOnly"] is True
    assert cookie["sameSite"] == "Lax"
    await tab.goto(f"{platform.gateway_url}/account")
    await expect(tab.get_by_text(email)).to_be_visible()
    await screenshot(tab, "account")


async def test_a_browser_never_gets_another_browser_s_session(
    tab: Page, platform: Platform, browser: Browser
) -> None:
    who = await person(platform, "jp", ["organiser"])
    await sign_in(tab, platform, who.email)
    other = await browser.new_context()
    try:
        stranger = await other.new_page()
        await stranger.goto(f"{platform.gateway_url}/account")
        assert "/sign-in" in stranger.url
        await expect(stranger.get_by_text(who.email)).to_have_count(0)
    finally:
        await other.close()


async def test_an_invitation_link_works_once(tab: Page, platform: Platform) -> None:
    invited, token = await invite(platform, "jp", ["organiser"])
    await accept_invitation_from_mail(tab, platform, str(invited["email"]))
    await tab.goto(f"{platform.gateway_url}/accept-invitation?token={token}")
    await expect(tab.get_by_text("was used already")).to_be_visible()
    await expect(tab.get_by_label("New password", exact=True)).to_have_count(0)
    # And the old password still signs in: the second use changed nothing.
    assert (await api_sign_in(platform, str(invited["email"]))).status_code == 201


async def test_an_expired_invitation_link_is_refused(tab: Page, platform: Platform) -> None:
    invited, token = await invite(platform, "jp", ["organiser"])
    engine = create_async_engine(platform.database_url)
    async with engine.begin() as conn:
        await conn.execute(
            text(
                "UPDATE gateway.person_tokens SET expires_at = now() - interval '1 minute' "
                "WHERE person_id = :id"
            ),
            {"id": invited["id"]},
        )
    await engine.dispose()
    await tab.goto(f"{platform.gateway_url}/accept-invitation?token={token}")
    await expect(tab.get_by_text("has expired")).to_be_visible()
    await screenshot(tab, "invitation-expired")
    async with httpx.AsyncClient(base_url=platform.gateway_url) as c:
        r = await c.post("/v1/auth/invitations/accept", json={"token": token, "password": PASSWORD})
    assert r.status_code == 410
    assert (await api_sign_in(platform, str(invited["email"]))).status_code == 401


async def test_wrong_password_is_said_next_to_the_form_and_keeps_the_address(
    tab: Page, platform: Platform
) -> None:
    who = await person(platform, "jp", ["organiser"])
    await tab.goto(f"{platform.gateway_url}/sign-in")
    await tab.get_by_label("E-mail address").fill(who.email)
    await tab.get_by_label("Password").fill("not my password at all")
    await tab.get_by_role("button", name="Sign in").click()
    await expect(tab.locator(".errors")).to_contain_text("not")
    await expect(tab.get_by_label("E-mail address")).to_have_value(who.email)


async def test_a_cookie_replayed_after_sign_out_is_refused(tab: Page, platform: Platform) -> None:
    who = await person(platform, "jp", ["organiser"])
    await sign_in(tab, platform, who.email)
    old = await session_cookie(tab)
    await tab.get_by_role("button", name="Sign out").click()
    await expect(tab.get_by_text("You are signed out.")).to_be_visible()
    await tab.context.add_cookies(
        [{"name": "cb_session", "value": old, "url": platform.gateway_url}]
    )
    await tab.goto(f"{platform.gateway_url}/account")
    await expect(tab.get_by_text("Your session has ended")).to_be_visible()
    assert "/sign-in" in tab.url
    async with httpx.AsyncClient(base_url=platform.gateway_url) as c:
        r = await c.get("/v1/me", headers={"authorization": f"Session {old}"})
    assert r.status_code == 401


async def test_a_forged_cookie_is_refused(tab: Page, platform: Platform) -> None:
    await tab.context.add_cookies(
        [{"name": "cb_session", "value": "forged-" + "x" * 40, "url": platform.gateway_url}]
    )
    await tab.goto(f"{platform.gateway_url}/account")
    await expect(tab.get_by_text("Your session has ended")).to_be_visible()
    assert not [c for c in await tab.context.cookies() if c["name"] == "cb_session"]


async def test_forms_without_the_right_csrf_token_change_nothing(
    tab: Page, platform: Platform
) -> None:
    who = await person(platform, "jp", ["organiser"])
    await sign_in(tab, platform, who.email)
    for token in (None, "0" * 64):
        # A form another site would post: the browser sends the cookie (a top-level
        # POST), but not the token.
        fields = "" if token is None else f'<input name="csrf_token" value="{token}">'
        await tab.set_content(
            f'<form method="post" action="{platform.gateway_url}/sign-out-everywhere">'
            f"{fields}<button>go</button></form>"
        )
        await tab.click("button")
        await expect(tab.get_by_text("This form was not accepted")).to_be_visible()
        await expect(tab.get_by_text("Nothing was changed")).to_be_visible()
    await screenshot(tab, "csrf-refused")
    async with httpx.AsyncClient(base_url=platform.gateway_url) as c:
        r = await c.get("/v1/me", headers={"authorization": f"Session {who.session_id}"})
    assert r.status_code == 200  # the API session the test holds still works
    await tab.goto(f"{platform.gateway_url}/account")
    await expect(tab.get_by_role("heading", name="My account")).to_be_visible()


async def test_next_goes_only_to_local_paths(tab: Page, platform: Platform) -> None:
    who = await person(platform, "jp", ["organiser"])
    for evil in (
        "https://evil.example/x",
        "//evil.example",
        "/\\evil.example",
        "javascript:alert(1)",
    ):
        await tab.context.clear_cookies()
        await tab.goto(f"{platform.gateway_url}/sign-in?next={httpx.QueryParams({'n': evil})['n']}")
        await expect(tab.get_by_text("asked to send you to another site")).to_be_visible()
        await tab.get_by_label("E-mail address").fill(who.email)
        await tab.get_by_label("Password").fill(PASSWORD)
        await tab.get_by_role("button", name="Sign in").click()
        await tab.wait_for_url(f"{platform.gateway_url}/")
    await tab.context.clear_cookies()
    await tab.goto(f"{platform.gateway_url}/account")
    assert "/sign-in?next=%2Faccount" in tab.url
    await tab.get_by_label("E-mail address").fill(who.email)
    await tab.get_by_label("Password").fill(PASSWORD)
    await tab.get_by_role("button", name="Sign in").click()
    await tab.wait_for_url(f"{platform.gateway_url}/account")


async def test_password_reset_by_mailed_link(tab: Page, platform: Platform) -> None:
    who = await person(platform, "jp", ["organiser"])
    await tab.goto(f"{platform.gateway_url}/reset-password")
    await tab.get_by_label("E-mail address").fill(who.email)
    await tab.get_by_role("button", name="Mail me a link").click()
    await expect(tab.get_by_text("a link to choose a new password is on its way")).to_be_visible()
    token = link_in(await mail_to(platform, who.email, "reset-password"), "reset-password")
    await tab.goto(f"{platform.gateway_url}/reset-password?token={token}")
    new = "a brand new passphrase for the day"
    await tab.get_by_label("New password", exact=True).fill(new)
    await tab.get_by_label("New password again").fill("something else entirely")
    await tab.get_by_role("button", name="Set my password").click()
    await expect(tab.get_by_text("The two passwords are not the same.")).to_be_visible()
    await tab.get_by_label("New password", exact=True).fill(new)
    await tab.get_by_label("New password again").fill(new)
    await tab.get_by_role("button", name="Set my password").click()
    await tab.wait_for_url("**/sign-in?notice=password-set")
    await sign_in(tab, platform, who.email, new)
    assert (await api_sign_in(platform, who.email)).status_code == 401  # the old one is gone
