"""Steps a person takes in the browser, shared by the page tests."""

from __future__ import annotations

from playwright.async_api import Dialog, Page

from tests.harness import Platform, link_in, mail_to
from tests.people_helpers import PASSWORD


async def accept_invitation_from_mail(
    tab: Page, platform: Platform, email: str, password: str = PASSWORD
) -> None:
    """Open the invitation link found in the SMTP sink and choose a password."""
    token = link_in(await mail_to(platform, email, "accept-invitation"), "accept-invitation")
    await tab.goto(f"{platform.gateway_url}/accept-invitation?token={token}")
    await tab.get_by_label("New password", exact=True).fill(password)
    await tab.get_by_label("New password again").fill(password)
    await tab.get_by_role("button", name="Set my password").click()
    await tab.wait_for_url("**/sign-in?notice=password-set")


async def sign_in(tab: Page, platform: Platform, email: str, password: str = PASSWORD) -> None:
    await tab.goto(f"{platform.gateway_url}/sign-in")
    await tab.get_by_label("E-mail address").fill(email)
    await tab.get_by_label("Password").fill(password)
    await tab.get_by_role("button", name="Sign in").click()
    await tab.wait_for_url(lambda url: "/sign-in" not in url)


async def session_cookie(tab: Page) -> str:
    cookies = await tab.context.cookies()
    return next(c["value"] for c in cookies if c["name"] == "cb_session")


async def new_cluster(platform: Platform, tenant: str, **fields: object) -> dict[str, object]:
    """A cluster profile made by the tenant's agency key."""
    from tests.registry_helpers import cluster_payload

    async with platform.client(tenant) as c:
        r = await c.post("/v1/clusters", json=cluster_payload(tenant, **fields))
        assert r.status_code == 201, r.text
        return dict(r.json())


async def cluster_now(platform: Platform, cluster_id: object) -> dict[str, object]:
    async with platform.client("operator") as c:
        r = await c.get(f"/v1/clusters/{cluster_id}")
        assert r.status_code == 200, r.text
        return dict(r.json())


def watch_dialogs(tab: Page) -> list[str]:
    """Every alert() a page runs: an escaped script never runs one."""
    seen: list[str] = []

    async def dismiss(dialog: Dialog) -> None:
        seen.append(dialog.message)
        await dialog.dismiss()

    tab.on("dialog", dismiss)
    return seen
