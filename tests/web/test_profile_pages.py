"""The directory, a profile page and editing my cluster, in a real browser: filters and
search, pages, If-Match conflicts shown with both versions, a manager kept to their
own clusters, and script in every text field shown as text."""

from __future__ import annotations

import uuid

from playwright.async_api import Page, expect

from tests.harness import Platform
from tests.people_helpers import person
from tests.web.conftest import screenshot
from tests.web.pages_helpers import cluster_now, new_cluster, sign_in, watch_dialogs

SCRIPT = "<script>alert('x')</script><img src=x onerror=alert('y')>"


async def test_directory_filters_search_and_pages(tab: Page, platform: Platform) -> None:
    tag = f"zeolite{uuid.uuid4().hex[:6]}"
    made = [
        await new_cluster(
            platform, tenant, name=f"{tag} {tenant} {i}", description=f"{tag} membranes"
        )
        for tenant in ("jp", "br")
        for i in range(6)
    ]
    who = await person(platform, "jp", ["cluster-manager"], [str(made[0]["id"])])
    await sign_in(tab, platform, who.email)
    await tab.goto(f"{platform.gateway_url}/directory")
    await tab.get_by_label("Search").fill(tag)
    await tab.get_by_role("button", name="Search").click()
    cards = tab.get_by_role("list", name="Clusters").locator("> li")
    await expect(cards).to_have_count(10)  # one page
    await screenshot(tab, "directory")
    await tab.get_by_role("link", name="Next page").click()
    await expect(cards).to_have_count(2)
    await tab.get_by_role("link", name="First page").click()
    await expect(cards).to_have_count(10)
    await tab.get_by_label("Country").select_option("BR")
    await tab.get_by_role("button", name="Search").click()
    await expect(cards).to_have_count(6)
    await expect(cards.first).to_contain_text("BR")
    await tab.get_by_label("Tenant").select_option("jp")
    await tab.get_by_role("button", name="Search").click()
    await expect(tab.get_by_text("No cluster matches these filters.")).to_be_visible()


async def test_profile_page_shows_the_public_profile(tab: Page, platform: Platform) -> None:
    mine = await new_cluster(platform, "jp")
    other = await new_cluster(platform, "br")
    who = await person(platform, "jp", ["cluster-manager"], [str(mine["id"])])
    await sign_in(tab, platform, who.email)
    await tab.goto(f"{platform.gateway_url}/clusters/{other['id']}")
    await expect(tab.get_by_role("heading", name=str(other["name"]))).to_be_visible()
    await expect(tab.get_by_text("secretariat@example.org")).to_have_count(0)  # private
    await expect(tab.get_by_role("link", name="Edit this profile")).to_have_count(0)
    await tab.goto(f"{platform.gateway_url}/clusters/{mine['id']}")
    await expect(tab.get_by_role("link", name="Edit this profile")).to_be_visible()
    await screenshot(tab, "profile")


async def test_manager_edits_their_profile_and_sees_the_hints(
    tab: Page, platform: Platform
) -> None:
    mine = await new_cluster(platform, "jp", competences=[], offers=[])
    who = await person(platform, "jp", ["cluster-manager"], [str(mine["id"])])
    await sign_in(tab, platform, who.email)
    await tab.goto(f"{platform.gateway_url}/my-clusters")
    await tab.get_by_role("link", name="Edit profile").click()
    await expect(tab.get_by_text("What this profile lacks")).to_be_visible()
    await tab.get_by_label("City").fill("Kobe")
    await tab.get_by_label("Competences (one per line)").fill("cell design\nthermal runaway tests")
    await tab.get_by_label("SMEs").fill("-3")
    await tab.get_by_role("button", name="Save").click()
    # Refused: the sentence is next to the field, and what was typed is still there.
    await expect(tab.locator(".field.invalid").filter(has_text="SMEs")).to_contain_text(
        "greater than or equal to 0"
    )
    await expect(tab.get_by_label("City")).to_have_value("Kobe")
    await screenshot(tab, "edit-cluster-refused")
    assert (await cluster_now(platform, mine["id"]))["city"] == "Somewhere"
    await tab.get_by_label("SMEs").fill("12")
    await tab.get_by_role("button", name="Save").click()
    await expect(tab.get_by_text("Saved.")).to_be_visible()
    now = await cluster_now(platform, mine["id"])
    assert now["city"] == "Kobe"
    assert now["competences"] == ["cell design", "thermal runaway tests"]
    assert now["members"]["smes"] == 12  # type: ignore[index]


async def test_a_conflicting_edit_shows_both_versions_and_loses_nothing(
    tab: Page, platform: Platform
) -> None:
    mine = await new_cluster(platform, "jp")
    who = await person(platform, "jp", ["cluster-manager"], [str(mine["id"])])
    await sign_in(tab, platform, who.email)
    await tab.goto(f"{platform.gateway_url}/clusters/{mine['id']}/edit")
    await tab.get_by_label("City").fill("Mine-ville")
    async with platform.client("jp") as c:  # a colleague saves first
        etag = (await c.get(f"/v1/clusters/{mine['id']}")).headers["etag"]
        r = await c.patch(
            f"/v1/clusters/{mine['id']}", json={"city": "Theirs-ville"}, headers={"if-match": etag}
        )
        assert r.status_code == 200
    await tab.get_by_role("button", name="Save").click()
    await expect(tab.get_by_text("Someone else saved this profile")).to_be_visible()
    conflict = tab.locator("section.warning table")
    await expect(conflict).to_contain_text("Theirs-ville")
    await expect(conflict).to_contain_text("Mine-ville")
    await expect(tab.get_by_label("City")).to_have_value("Mine-ville")
    await screenshot(tab, "edit-conflict")
    assert (await cluster_now(platform, mine["id"]))["city"] == "Theirs-ville"
    await tab.get_by_role("button", name="Save").click()
    await expect(tab.get_by_text("Saved.")).to_be_visible()
    assert (await cluster_now(platform, mine["id"]))["city"] == "Mine-ville"


async def test_a_manager_cannot_edit_another_cluster_by_changing_the_id(
    tab: Page, platform: Platform
) -> None:
    mine = await new_cluster(platform, "jp")
    other = await new_cluster(platform, "jp")  # same tenant, someone else's
    who = await person(platform, "jp", ["cluster-manager"], [str(mine["id"])])
    await sign_in(tab, platform, who.email)
    await tab.goto(f"{platform.gateway_url}/clusters/{other['id']}/edit")
    await expect(tab.get_by_text("You do not manage")).to_be_visible()
    await screenshot(tab, "edit-refused-other-cluster")
    # The form of my own cluster, sent to the other's address with a valid CSRF token.
    await tab.goto(f"{platform.gateway_url}/clusters/{mine['id']}/edit")
    await tab.get_by_label("City").fill("Hijacked")
    await tab.evaluate(
        "id => { document.querySelector('main form').action = `/clusters/${id}/edit` }",
        str(other["id"]),
    )
    await tab.get_by_role("button", name="Save").click()
    await expect(tab.get_by_role("heading", name="Not saved")).to_be_visible()
    await expect(tab.locator(".refusal")).to_contain_text("not this one")
    assert (await cluster_now(platform, other["id"]))["city"] == "Somewhere"
    assert (await cluster_now(platform, mine["id"]))["city"] == "Somewhere"


async def test_script_in_every_text_field_is_shown_as_text(tab: Page, platform: Platform) -> None:
    hostile = await new_cluster(
        platform,
        "jp",
        name=f"Evil {SCRIPT}",
        region=SCRIPT,
        city=SCRIPT,
        description=SCRIPT,
        competences=[SCRIPT],
        technologies=[SCRIPT],
        offers=[SCRIPT],
        needs=[SCRIPT],
    )
    who = await person(platform, "jp", ["agency-admin"], [str(hostile["id"])], name=f"Eve {SCRIPT}")
    dialogs = watch_dialogs(tab)
    await sign_in(tab, platform, who.email)
    for path in (
        f"/clusters/{hostile['id']}",
        f"/clusters/{hostile['id']}/edit",
        "/directory?q=Evil",
        "/my-clusters",
        "/account",
        "/agency",
        "/agency/verify",
        f"/partners?cluster={hostile['id']}",
    ):
        await tab.goto(f"{platform.gateway_url}{path}")
        await expect(tab.get_by_text(SCRIPT).first).to_be_visible()
        assert await tab.locator("main script, main img").count() == 0, path
    assert dialogs == []
