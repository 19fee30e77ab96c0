"""Partners for my cluster through the pages: matches with reasons in words, feedback
buttons, free-text search, the consortium builder, and no partner search for a
cluster that is not mine."""

from __future__ import annotations

import uuid

from playwright.async_api import Page, expect

from tests.harness import Platform, eventually
from tests.people_helpers import person
from tests.web.conftest import screenshot
from tests.web.pages_helpers import new_cluster, sign_in


async def test_partners_with_reasons_feedback_search_and_consortia(
    tab: Page, platform: Platform
) -> None:
    tag = uuid.uuid4().hex[:6]
    mine = await new_cluster(
        platform,
        "jp",
        name=f"Kansai cells {tag}",
        needs=[f"lithium recycling {tag}"],
        offers=["solid-state cell pilot lines"],
    )
    theirs = await new_cluster(
        platform,
        "br",
        name=f"Recicla {tag}",
        offers=[f"lithium recycling {tag} services"],
        needs=["solid-state cell pilot lines"],
    )
    other = await new_cluster(platform, "jp")

    async def ranked() -> list[str]:
        async with platform.client("jp") as c:
            r = await c.get(f"/v1/matching/clusters/{mine['id']}/matches", params={"limit": 10})
            return [m["partner"]["id"] for m in r.json().get("matches", [])]

    await eventually(ranked, until=lambda ids: str(theirs["id"]) in ids, timeout=120)
    who = await person(platform, "jp", ["cluster-manager"], [str(mine["id"])])
    await sign_in(tab, platform, who.email)
    await tab.goto(f"{platform.gateway_url}/partners?cluster={mine['id']}&mode=complementary")
    card = tab.locator("li.card").filter(has_text=f"Recicla {tag}")
    await expect(card).to_contain_text("recycling")
    await screenshot(tab, "partners")
    await card.get_by_role("button", name="Relevant", exact=True).click()
    await expect(tab.get_by_text("Thank you for your feedback.")).to_be_visible()
    async with platform.client("jp") as c:
        precision = (await c.get("/v1/matching/feedback/precision")).json()
    assert precision["overall"]["judged"] >= 1

    await tab.get_by_label("Describe who you look for").fill(f"lithium recycling {tag}")
    await tab.get_by_role("button", name="Search", exact=True).click()
    await expect(tab.locator("main")).to_contain_text(f"Recicla {tag}")

    await tab.get_by_label("Competences the consortium must cover").fill(
        f"lithium recycling {tag}\nsolid-state cell pilot lines"
    )
    await tab.get_by_role("button", name="Find consortia").click()
    await expect(tab.get_by_role("heading", name="Build a consortium")).to_be_visible()

    await tab.goto(f"{platform.gateway_url}/partners?cluster={other['id']}")
    await expect(tab.get_by_text("only for your clusters")).to_be_visible()
