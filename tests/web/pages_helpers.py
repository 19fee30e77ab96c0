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


async def known_to_events(platform: Platform, cluster_id: object) -> None:
    """Wait until the events service has heard of the cluster (it follows the registry)."""
    from tests.harness import eventually

    async def probe() -> int:
        async with platform.client("operator") as c:
            return (await c.get(f"/v1/events/clusters/{cluster_id}")).status_code

    await eventually(probe, until=lambda s: s == 200, timeout=120)


EVENT = {
    "venue": "Osaka",
    "timezone": "Asia/Tokyo",
    "sessions": [{"date": "2027-03-10", "start": "09:00", "end": "11:00"}],
    "meeting_minutes": 30,
    "tables": 3,
    "request_deadline": "2027-03-08T18:00:00+09:00",
}


async def event_with_request(
    platform: Platform, host: str, guest: str, *, title: str, message: str, publish: bool
) -> tuple[str, str]:
    """A jp event with `host` (jp) and `guest` (br) registered, the guest's request to
    the host sent with `message` (accepted and published when `publish`)."""
    await known_to_events(platform, host)
    await known_to_events(platform, guest)
    async with platform.client("jp") as jp, platform.client("br") as br:
        r = await jp.post("/v1/events", json={**EVENT, "title": title})
        assert r.status_code == 201, r.text
        ev = r.json()["id"]
        assert (
            await jp.post(f"/v1/events/{ev}/transitions", json={"status": "registration"})
        ).status_code == 200
        assert (
            await jp.post(
                f"/v1/events/{ev}/participants", json={"cluster_id": host, "role": "host"}
            )
        ).status_code == 201
        assert (
            await br.post(f"/v1/events/{ev}/participants", json={"cluster_id": guest})
        ).status_code == 201
        assert (
            await jp.post(f"/v1/events/{ev}/transitions", json={"status": "requests"})
        ).status_code == 200
        r = await br.post(
            f"/v1/events/{ev}/requests",
            json={"sender": guest, "receiver": host, "message": message},
        )
        assert r.status_code == 201, r.text
        req = r.json()["id"]
        if publish:
            assert (await jp.post(f"/v1/events/{ev}/requests/{req}/accept")).status_code == 200
            assert (
                await jp.post(f"/v1/events/{ev}/transitions", json={"status": "scheduling"})
            ).status_code == 200
            r = await jp.post(f"/v1/events/{ev}/schedules", json={"time_limit": 2})
            assert r.status_code == 201, r.text
            assert (await jp.post(f"/v1/events/{ev}/publish")).status_code == 200
        return ev, req
