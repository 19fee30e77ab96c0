"""Attacks on the event pages: a cluster manager changing the id in the URL to reach
another cluster's request, agenda or answer buttons; and script in every text field of
an event, its clusters and a request message, escaped on every page."""

from __future__ import annotations

from playwright.async_api import Page, expect

from tests.harness import Platform
from tests.people_helpers import person
from tests.web.pages_helpers import event_with_request, new_cluster, sign_in, watch_dialogs

SCRIPT = "<script>alert('x')</script><img src=x onerror=alert('y')>"


async def _request_status(platform: Platform, event_id: str, request_id: str) -> str:
    async with platform.client("operator") as c:
        r = await c.get(f"/v1/events/{event_id}/requests/{request_id}")
        return str(r.json()["status"])


async def test_a_manager_cannot_reach_another_cluster_s_request_by_its_id(
    tab: Page, platform: Platform
) -> None:
    host = str((await new_cluster(platform, "jp"))["id"])
    bystander = str((await new_cluster(platform, "jp"))["id"])  # same tenant, not theirs
    guest = str((await new_cluster(platform, "br"))["id"])
    ev, req = await event_with_request(
        platform, host, guest, title="Walls day", message="private words", publish=False
    )
    snoop = await person(platform, "jp", ["cluster-manager"], [bystander])
    await sign_in(tab, platform, snoop.email)
    await tab.goto(f"{platform.gateway_url}/events/{ev}/requests/{req}")
    await expect(tab.get_by_role("heading", name="Not found")).to_be_visible()
    await expect(tab.get_by_text("private words")).to_have_count(0)
    # A hand-made accept with a valid CSRF token of this person's session.
    token = await tab.locator("input[name=csrf_token]").first.get_attribute("value")
    await tab.set_content(
        f'<form method="post" action="{platform.gateway_url}/events/{ev}/requests/{req}/accept">'
        f'<input name="csrf_token" value="{token}"><button>accept</button></form>'
    )
    await tab.click("button")
    await expect(tab.get_by_role("heading", name="Not done")).to_be_visible()
    await expect(tab.locator(".refusal")).to_contain_text("Nothing was changed")
    assert await _request_status(platform, ev, req) == "pending"
    # Nor another cluster's agenda.
    await tab.goto(f"{platform.gateway_url}/events/{ev}/agenda/{host}")
    await expect(tab.get_by_role("heading", name="No agenda")).to_be_visible()


async def test_script_in_event_cluster_and_message_fields_is_escaped_everywhere(
    tab: Page, platform: Platform
) -> None:
    host = str((await new_cluster(platform, "jp", name=f"Host {SCRIPT}"))["id"])
    guest = str((await new_cluster(platform, "br", name=f"Guest {SCRIPT}"))["id"])
    ev, req = await event_with_request(
        platform, host, guest, title=f"Day {SCRIPT}", message=SCRIPT, publish=True
    )
    async with platform.client("jp") as jp:
        await jp.patch(f"/v1/events/{ev}", json={"venue": SCRIPT})
        schedule = (await jp.get(f"/v1/events/{ev}/schedules")).json()["items"][0]["id"]
    admin = await person(platform, "jp", ["agency-admin"])
    dialogs = watch_dialogs(tab)
    await sign_in(tab, platform, admin.email)
    for path in (
        "/events",
        f"/events/{ev}",
        f"/events/{ev}/requests/{req}",
        f"/events/{ev}/agenda/{host}",
        f"/events/{ev}/agenda/{host}/print",
        "/desk",
        f"/desk/events/{ev}",
        f"/desk/events/{ev}/edit",
        f"/desk/events/{ev}/schedules/{schedule}",
        f"/desk/events/{ev}/schedules/{schedule}/details",
        f"/desk/events/{ev}/check-in",
        f"/desk/events/{ev}/stats",
    ):
        response = await tab.goto(f"{platform.gateway_url}{path}")
        assert response is not None, path
        assert response.status == 200, path
        # Lists page through the session's other events until this one shows.
        for _ in range(100):
            assert await tab.locator("main script, main img").count() == 0, path
            text = await tab.locator("main").inner_text()
            more = tab.get_by_role("link", name="Next page")
            if SCRIPT in text or not path.endswith(("/events", "/desk")) or not await more.count():
                break
            await more.first.click()
        assert SCRIPT in text, path
    assert dialogs == []
