"""The events list through the pages: search by words, stage and organiser, with the
filters kept on the next page, and a filter the API refuses shown as a sentence."""

from __future__ import annotations

import uuid

from playwright.async_api import Page, expect

from tests.events.helpers import move, new_event
from tests.harness import Platform
from tests.people_helpers import person
from tests.web.conftest import screenshot
from tests.web.pages_helpers import new_cluster, sign_in


async def test_a_participant_finds_events_by_words_stage_and_organiser(
    tab: Page, platform: Platform
) -> None:
    tag = uuid.uuid4().hex[:8]
    open_jp = await new_event(platform, "jp", title=f"Mobility week {tag}")
    await move(platform, "jp", open_jp["id"], "registration")
    forum_eu = await new_event(platform, "eu", title=f"Mobility forum {tag}")
    await move(platform, "eu", forum_eu["id"], "registration", "requests")
    # Another tenant's draft is not public yet: it is never listed.
    await new_event(platform, "eu", title=f"Mobility draft {tag}")
    other = await new_event(platform, "eu", title=f"Textiles <b>{tag}</b>", venue="Lille")
    await move(platform, "eu", other["id"], "registration")
    mine = await new_cluster(platform, "br")
    who = await person(platform, "br", ["cluster-manager"], [str(mine["id"])])
    await sign_in(tab, platform, who.email)

    await tab.goto(f"{platform.gateway_url}/events")
    await tab.get_by_label("Search").fill(f"mobility {tag}")
    await tab.get_by_role("button", name="Search", exact=True).click()
    listed = tab.get_by_role("list", name="Events")
    await expect(listed.locator("li")).to_have_count(2)
    await expect(listed).not_to_contain_text("Textiles")
    await expect(listed).not_to_contain_text("Mobility draft")

    await tab.get_by_label("Stage").select_option("registration")
    await tab.get_by_role("button", name="Search", exact=True).click()
    await expect(listed.locator("li")).to_have_count(1)
    await expect(listed).to_contain_text(open_jp["title"])
    await screenshot(tab, "events-filtered")

    await tab.get_by_label("Stage").select_option("")
    await tab.get_by_label("Organised by").select_option("eu")
    await tab.get_by_role("button", name="Search", exact=True).click()
    await expect(listed.locator("li")).to_have_count(1)
    await expect(listed).to_contain_text(forum_eu["title"])
    # The organiser by its name, not its tenant code.
    await expect(listed).to_contain_text("organised by European Union")

    # Markup typed into a title is shown as text, never as markup.
    await tab.get_by_label("Organised by").select_option("")
    await tab.get_by_label("Search").fill(f"textiles <b>{tag}")
    await tab.get_by_role("button", name="Search", exact=True).click()
    await expect(listed).to_contain_text(other["title"])
    assert await listed.locator("b").count() == 0

    await tab.goto(f"{platform.gateway_url}/events?q={'x' * 201}")
    await expect(tab.locator(".error").first).to_be_visible()
    await expect(tab.get_by_text("No events yet.")).to_have_count(0)
