"""The whole day through the pages, as its people live it: the first admin signs in
from the mailed link, invites a cluster manager and an organiser; the manager fills
the profile; the organiser creates the event; clusters register, send and accept
requests; the organiser schedules, sees the grid and publishes; the manager reads
the agenda and downloads it; check-in on a phone."""

from __future__ import annotations

import uuid
from urllib.parse import urlsplit

from playwright.async_api import Browser, BrowserContext, Page, expect

from tests.harness import Platform, eventually
from tests.people_helpers import invite, person
from tests.web.conftest import PHONE, screenshot
from tests.web.pages_helpers import (
    accept_invitation_from_mail,
    cluster_now,
    new_cluster,
    sign_in,
)


def last_segment(url: str) -> str:
    return urlsplit(url).path.rsplit("/", 1)[-1]


async def _known_to_events(platform: Platform, cluster_id: str) -> None:
    async def probe() -> int:
        async with platform.client("jp") as c:
            return (await c.get(f"/v1/events/clusters/{cluster_id}")).status_code

    await eventually(probe, until=lambda s: s == 200, timeout=120)


async def _tab(browser: Browser, **kw: object) -> tuple[BrowserContext, Page]:
    ctx = await browser.new_context(**kw)  # type: ignore[arg-type]
    ctx.set_default_timeout(20_000)
    return ctx, await ctx.new_page()


async def test_a_whole_brokerage_day_through_the_pages(
    tab: Page, browser: Browser, platform: Platform
) -> None:
    gw = platform.gateway_url
    tag = uuid.uuid4().hex[:6]
    contexts: list[BrowserContext] = []
    try:
        # The operator's CLI invites the first admin; the link is in the mail sink.
        admin, _ = await invite(platform, "jp", ["agency-admin"], name=f"Admin {tag}")
        await accept_invitation_from_mail(tab, platform, str(admin["email"]))
        await sign_in(tab, platform, str(admin["email"]))

        # The admin creates the tenant's cluster profile in the pages.
        await tab.goto(f"{gw}/clusters-new")
        await tab.get_by_label("Name").fill(f"Kansai Battery {tag}")
        await tab.get_by_label("Country (two letters, e.g. JP)").fill("JP")
        await tab.get_by_label("City").fill("Osaka")
        await tab.get_by_label("Energy-renewables").check()
        await screenshot(tab, "new-cluster")
        await tab.get_by_role("button", name="Create the profile").click()
        await expect(tab.get_by_text("Created.")).to_be_visible()
        kansai = last_segment(tab.url)

        # ... and invites a cluster manager for it, and an organiser.
        emails = {role: f"{role}-{tag}@jp.example" for role in ("cluster-manager", "organiser")}
        for role, email in emails.items():
            await tab.goto(f"{gw}/agency" + (f"?cluster={kansai}" if "manager" in role else ""))
            await tab.get_by_label("E-mail address").fill(email)
            await tab.get_by_label("Name", exact=True).fill(f"{role} {tag}")
            await tab.locator(f"#role-{role}").check()
            if role == "organiser":
                await tab.locator("#role-cluster-manager").uncheck()
            await tab.get_by_role("button", name="Send the invitation", exact=True).click()
            await expect(tab.get_by_text("The invitation is on its way.")).to_be_visible()
        await screenshot(tab, "agency-people")

        # The manager accepts and fills the profile.
        ctx, manager = await _tab(browser)
        contexts.append(ctx)
        await accept_invitation_from_mail(manager, platform, emails["cluster-manager"])
        await sign_in(manager, platform, emails["cluster-manager"])
        await manager.goto(f"{gw}/clusters/{kansai}/edit")
        await manager.get_by_label("Description").fill("Cell makers around Osaka Bay.")
        await manager.get_by_label("What you offer (one per line)").fill("pilot line for cells")
        await manager.get_by_label("What you need (one per line)").fill("battery recycling")
        await manager.get_by_role("button", name="Save").click()
        await expect(manager.get_by_text("Saved.")).to_be_visible()
        assert (await cluster_now(platform, kansai))["offers"] == ["pilot line for cells"]

        # A Brazilian cluster and its manager take part too.
        recicla = str((await new_cluster(platform, "br", name=f"Recicla {tag}"))["id"])
        br_manager = await person(platform, "br", ["cluster-manager"], [recicla])
        ctx, brazil = await _tab(browser)
        contexts.append(ctx)
        await sign_in(brazil, platform, br_manager.email)

        # The organiser creates the event and opens registration.
        ctx, organiser = await _tab(browser)
        contexts.append(ctx)
        await accept_invitation_from_mail(organiser, platform, emails["organiser"])
        await sign_in(organiser, platform, emails["organiser"])
        await organiser.goto(f"{gw}/desk/events/new")
        await organiser.get_by_label("Title").fill(f"EU-Japan Battery Day {tag}")
        await organiser.get_by_label("Venue").fill("Osaka, INTEX hall 6")
        await organiser.get_by_label("Time zone of the event").fill("Asia/Tokyo")
        await organiser.get_by_label("Session 1: date").fill("2027-03-10")
        await organiser.get_by_label("Session 1: starts").fill("09:00")
        await organiser.get_by_label("Session 1: ends").fill("10:30")
        await organiser.get_by_label("Session 2: date").fill("2027-03-10")
        await organiser.get_by_label("Session 2: starts").fill("14:00")
        await organiser.get_by_label("Session 2: ends").fill("15:00")
        await organiser.get_by_label("Meeting length (minutes)").fill("25")
        await organiser.get_by_label("Break between meetings (minutes)").fill("5")
        await organiser.get_by_label("Tables").fill("4")
        await organiser.get_by_label("Request deadline").fill("2027-03-08T18:00")
        await screenshot(organiser, "event-form")
        await organiser.get_by_role("button", name="Create the event").click()
        await expect(organiser.get_by_text("Created.")).to_be_visible()
        event_id = last_segment(organiser.url)
        desk = f"{gw}/desk/events/{event_id}"
        await organiser.get_by_role("button", name="Open registration").click()
        await expect(organiser.get_by_text("registration", exact=True)).to_be_visible()

        # Both clusters register.
        await _known_to_events(platform, kansai)
        await _known_to_events(platform, recicla)
        for who, role in ((manager, "host"), (brazil, "guest")):
            await who.goto(f"{gw}/events/{event_id}")
            await who.get_by_label("Role").select_option(role)
            await who.get_by_role("button", name="Register").click()
            await expect(who.get_by_text("Registered.")).to_be_visible()
        await organiser.goto(desk)
        await organiser.get_by_role("button", name="Open meeting requests").click()
        await expect(organiser.get_by_text("The event moved")).to_be_visible()

        # Brazil asks for a meeting; Kansai reads the message and accepts.
        await brazil.goto(f"{gw}/events/{event_id}")
        await expect(brazil.locator("main")).to_contain_text("organised by Japan ·")
        await brazil.get_by_label("Partner").select_option(kansai)
        await brazil.get_by_label("Message").fill("We recycle your scrap cells.")
        await brazil.get_by_label("Priority").select_option("must")
        await brazil.get_by_role("button", name="Send the request").click()
        await expect(brazil.get_by_text("Your meeting request is sent.")).to_be_visible()
        await screenshot(brazil, "event-page")
        await manager.goto(f"{gw}/events/{event_id}")
        await manager.get_by_role("link", name="Read").click()
        await expect(manager.get_by_text("We recycle your scrap cells.")).to_be_visible()
        await screenshot(manager, "request")
        await manager.get_by_role("button", name="Accept").click()
        await expect(manager.get_by_text("Your answer is recorded.")).to_be_visible()
        await expect(manager.locator("table")).to_contain_text("accepted")

        # The organiser schedules, sees the grid, publishes.
        await organiser.goto(desk)
        await organiser.get_by_role("button", name="Close requests and schedule").click()
        await organiser.get_by_label("Time limit").fill("2")
        await organiser.get_by_role("button", name="Run the scheduler").click()
        grid = organiser.locator("table.grid")
        await expect(grid).to_contain_text(f"Recicla {tag}")
        await expect(grid).to_contain_text(f"Kansai Battery {tag}")
        await expect(organiser.get_by_text("Requests placed, by priority")).to_be_visible()
        await expect(organiser.locator("main")).to_contain_text(
            "points (a “must” counts more than a “like”)"
        )
        await screenshot(organiser, "grid")
        await organiser.get_by_role("link", name="Details").click()
        await expect(organiser.get_by_text("Nobody waits between meetings.")).to_be_visible()
        await organiser.go_back()
        await organiser.get_by_role("button", name="Publish this schedule").click()
        await expect(organiser.get_by_text("The schedule is published")).to_be_visible()
        await screenshot(organiser, "desk-published")

        # The manager reads the agenda, in the event's zone and theirs, and downloads it.
        await manager.goto(f"{gw}/events/{event_id}")
        await manager.get_by_role("link", name="My agenda").click()
        await manager.get_by_label("My time zone").fill("Europe/Berlin")
        await manager.get_by_role("button", name="Show").click()
        table = manager.locator("table")
        await expect(table).to_contain_text("(Asia/Tokyo)")
        await expect(table).to_contain_text("(Europe/Berlin)")
        await expect(table).to_contain_text(f"Recicla {tag}")
        await screenshot(manager, "agenda")
        async with manager.expect_download() as download_info:
            await manager.get_by_role("link", name="Download for my calendar (.ics)").click()
        download = await download_info.value
        ics = (await download.path()).read_text()
        assert "BEGIN:VCALENDAR" in ics
        assert f"Recicla {tag}" in ics
        await manager.get_by_role("link", name="Print view").click()
        await expect(manager.locator("header.top")).to_be_hidden()
        await manager.emulate_media(media="print")
        await screenshot(manager, "agenda-print")

        # On the day: check-in on a phone.
        ctx, phone = await _tab(browser, viewport=PHONE, is_mobile=True, has_touch=True)
        contexts.append(ctx)
        await sign_in(phone, platform, emails["organiser"])
        await phone.goto(f"{gw}/desk/events/{event_id}/check-in")
        row = phone.locator("li").filter(has_text=f"Recicla {tag}")
        await row.get_by_role("button", name="Check in").tap()
        await expect(phone.get_by_text("Checked in.")).to_be_visible()
        await expect(phone.locator("li").filter(has_text=f"Recicla {tag}")).to_contain_text("✓")
        width = await phone.evaluate("document.documentElement.scrollWidth")
        assert width <= PHONE["width"], "the check-in page scrolls sideways on a phone"
        await screenshot(phone, "check-in-phone")
        async with platform.client("operator") as c:
            p = await c.get(f"/v1/events/{event_id}/participants/{recicla}")
            assert p.json()["checked_in_at"] is not None

        # Outcomes and statistics.
        await organiser.goto(f"{gw}/desk/events/{event_id}")
        await organiser.get_by_role("link", name="Grid").first.click()
        await organiser.get_by_role("button", name="Held").first.click()
        await expect(organiser.locator("table.grid")).to_contain_text("held")
        await organiser.goto(f"{gw}/desk/events/{event_id}/stats")
        await expect(organiser.locator("svg[role=img]").first).to_be_visible()
        await expect(organiser.get_by_role("img", name="Meetings: placed 1")).to_be_visible()
        await screenshot(organiser, "stats")
    finally:
        for ctx in contexts:
            await ctx.close()
