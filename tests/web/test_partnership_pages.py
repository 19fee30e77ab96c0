"""Strategic partnerships through the pages: a consortium suggestion on /partners turned
into a partnership, two managers of other clusters (other countries, other tenants)
accept on its page, the strategy is edited (a conflict shows both texts), an event is
organised for it; and the attacks: answering for a cluster one does not manage, another
tenant's person editing the strategy, a form without its CSRF token, script in every
text field. Each refusal is checked through the API: nothing changed."""

from __future__ import annotations

import uuid
from typing import Any

from playwright.async_api import Page, expect

from tests.events.helpers import ok
from tests.harness import Platform, eventually
from tests.people_helpers import SignedInPerson, as_person, many_people
from tests.web.conftest import PHONE, screenshot
from tests.web.pages_helpers import new_cluster as agency_cluster
from tests.web.pages_helpers import watch_dialogs

# An ecosystem no other test gives its clusters: the builder then chooses among ours.
RESERVED = "cultural-creative"
SCRIPT = "<script>alert('x')</script>"
IMG = '<img src=x onerror="alert(1)">'


async def new_cluster(platform: Platform, tenant: str, **fields: object) -> dict[str, Any]:
    return dict(await agency_cluster(platform, tenant, **fields))


async def act_as(tab: Page, platform: Platform, who: SignedInPerson) -> None:
    """The browser becomes `who` (their session, as signing in would leave it)."""
    await tab.context.clear_cookies()
    await tab.context.add_cookies(
        [{"name": "cb_session", "value": who.session_id, "url": platform.gateway_url}]
    )


async def three_clusters(platform: Platform, t: str) -> list[dict[str, Any]]:
    """A Japanese lead and members to be in Germany (eu) and Brazil (br)."""
    return [
        await new_cluster(
            platform,
            "jp",
            name=f"Kansai {t}",
            country="JP",
            competences=[f"{t} cell design"],
            ecosystems=[RESERVED],
        ),
        await new_cluster(
            platform,
            "eu",
            name=f"Saxony {t}",
            country="DE",
            competences=[f"{t} recycling process"],
            ecosystems=[RESERVED],
        ),
        await new_cluster(
            platform,
            "br",
            name=f"Campinas {t}",
            country="BR",
            competences=[f"{t} lithium refining"],
            ecosystems=[RESERVED],
        ),
    ]


async def partnership_now(platform: Platform, pid: str) -> dict[str, Any]:
    async with platform.client("kr") as c:
        found: dict[str, Any] = ok(await c.get(f"/v1/partnerships/{pid}"))
        return found


async def strategy_now(platform: Platform, pid: str) -> dict[str, Any]:
    async with platform.client("kr") as c:
        found: dict[str, Any] = ok(await c.get(f"/v1/partnerships/{pid}/strategy"))
        return found


def statuses(partnership: dict[str, Any]) -> dict[str, str]:
    return {m["cluster_id"]: m["status"] for m in partnership["members"]}


async def test_a_suggestion_becomes_a_partnership_two_accept_strategy_and_event(
    tab: Page, platform: Platform
) -> None:
    t = "pq" + uuid.uuid4().hex[:8]
    lead, de, br = await three_clusters(platform, t)
    m_lead, m_de, m_br = await many_people(
        platform,
        [
            ("jp", ["cluster-manager", "organiser"], [lead["id"]]),
            ("eu", ["cluster-manager"], [de["id"]]),
            ("br", ["cluster-manager"], [br["id"]]),
        ],
    )
    wanted = [f"{t} recycling", f"{t} lithium", f"{t} cell design"]

    async def suggestion() -> list[dict[str, Any]]:
        async with as_person(platform, m_lead) as c:
            r = await c.post(
                "/v1/matching/consortia",
                json={
                    "cluster_id": lead["id"],
                    "competences": wanted,
                    "filters": {"ecosystems": [RESERVED]},
                },
            )
            return list(r.json()["consortia"]) if r.status_code == 200 else []

    # Until the matching service has indexed all three.
    await eventually(
        suggestion, until=lambda cs: bool(cs) and len(cs[0]["members"]) == 3, timeout=120
    )

    # The lead's manager asks for a consortium on /partners and turns it into a partnership.
    await act_as(tab, platform, m_lead)
    await tab.goto(f"{platform.gateway_url}/partners?cluster={lead['id']}")
    await tab.get_by_label("Competences the consortium must cover").fill("\n".join(wanted))
    await tab.get_by_label("Only clusters of the ecosystem").select_option(RESERVED)
    await tab.get_by_role("button", name="Find consortia").click()
    await tab.get_by_role("button", name="Turn this suggestion into a partnership").first.click()
    await tab.wait_for_url("**/partnerships/new?**")
    await expect(tab.get_by_label(f"Saxony {t} (DE)")).to_be_checked()
    await expect(tab.get_by_label(f"Campinas {t} (BR)")).to_be_checked()
    await tab.get_by_label("Name of the partnership").fill(f"Circular batteries {t}")
    await tab.get_by_label("Emerging field").fill("circular batteries")
    await tab.get_by_label("Target markets").fill("US, IN")
    await tab.get_by_label("First version of the joint strategy").fill("Year 1: India.")
    await tab.get_by_role("button", name="Create the partnership and invite").click()
    await expect(tab.get_by_text("Created.")).to_be_visible()
    pid = tab.url.split("/partnerships/")[1].split("?")[0]
    await expect(tab.locator("main")).to_contain_text("forming")
    made = await partnership_now(platform, pid)
    assert made["source"] == "consortium"
    assert made["target_markets"] == ["US", "IN"]
    assert statuses(made) == {lead["id"]: "accepted", de["id"]: "invited", br["id"]: "invited"}

    # Each invited cluster's own manager accepts, on the partnership's page.
    for who, cluster in ((m_de, de), (m_br, br)):
        await act_as(tab, platform, who)
        await tab.goto(f"{platform.gateway_url}/my-clusters")
        await tab.get_by_role("link", name="Partnerships and invitations").click()
        await tab.get_by_role("link", name="answer on the partnership's page").click()
        await tab.get_by_role("button", name=f"Accept for {cluster['name']}").click()
        await expect(tab.get_by_text("Your answer is recorded.")).to_be_visible()
    await expect(tab.locator("main")).to_contain_text("formed")
    await screenshot(tab, "partnership")
    formed = await partnership_now(platform, pid)
    assert formed["formed"] is True
    assert formed["countries_accepted"] == ["BR", "DE", "JP"]

    # The German manager edits the strategy while the Brazilian one saves a version.
    await act_as(tab, platform, m_de)
    await tab.goto(f"{platform.gateway_url}/partnerships/{pid}")
    await tab.get_by_role("link", name="Edit the strategy").click()
    await tab.get_by_label("Strategy").fill("Year 1: India and a mission to Detroit.")
    async with as_person(platform, m_br) as c:
        r = await c.get(f"/v1/partnerships/{pid}/strategy")
        ok(
            await c.put(
                f"/v1/partnerships/{pid}/strategy",
                json={"text": "Year 1: India and Brazil."},
                headers={"if-match": r.headers["etag"]},
            )
        )
    await tab.get_by_role("button", name="Save a new version").click()
    conflict = tab.locator("section.warning")
    await expect(conflict).to_contain_text("Year 1: India and Brazil.")
    await expect(conflict).to_contain_text("Year 1: India and a mission to Detroit.")
    await expect(tab.get_by_label("Strategy")).to_have_value(
        "Year 1: India and a mission to Detroit."
    )
    assert (await strategy_now(platform, pid))["text"] == "Year 1: India and Brazil."
    await screenshot(tab, "partnership-strategy-conflict")
    await tab.get_by_role("button", name="Save a new version").click()
    await expect(tab.get_by_text("Saved.")).to_be_visible()
    await expect(tab.locator("#strategy")).to_have_text("Year 1: India and a mission to Detroit.")
    now = await strategy_now(platform, pid)
    assert (now["version"], now["cluster_id"]) == (3, de["id"])
    await expect(tab.get_by_text("Earlier versions (2)")).to_be_visible()

    # The lead's manager (also an organiser) organises a matchmaking event under its name.
    await act_as(tab, platform, m_lead)
    await tab.goto(f"{platform.gateway_url}/partnerships/{pid}")
    await tab.get_by_role("link", name="Organise a matchmaking event for this partnership").click()
    await tab.get_by_label("Title").fill(f"Battery brokerage {t}")
    await tab.get_by_label("Venue").fill("Osaka, INTEX")
    await tab.get_by_label("Time zone of the event").fill("Asia/Tokyo")
    await tab.get_by_label("Tables").fill("4")
    await tab.get_by_label("Date").fill("2027-03-10")
    await tab.get_by_label("Starts").fill("09:00")
    await tab.get_by_label("Ends").fill("12:00")
    await tab.get_by_label("Request deadline").fill("2027-03-08T18:00")
    await tab.get_by_role("button", name="Create the event for the partnership").click()
    await expect(tab.get_by_text("Created.")).to_be_visible()
    await expect(tab.locator("main")).to_contain_text(f"Battery brokerage {t}")
    async with platform.client("br") as c:
        activities = ok(await c.get(f"/v1/partnerships/{pid}/activities"))["items"]
        assert [(a["kind"], a["starts_on"]) for a in activities] == [("event", "2027-03-10")]
        # A draft is not public yet, not even to the partnership's other tenants.
        r = await c.get(f"/v1/events/{activities[0]['event_id']}")
        assert r.status_code == 404, r.text
    async with platform.client("jp") as c:
        event = ok(await c.get(f"/v1/events/{activities[0]['event_id']}"))
    assert event["title"] == f"Battery brokerage {t}"
    assert event["timezone"] == "Asia/Tokyo"

    # A member adds a mission; the directory finds the partnership by market and country.
    await act_as(tab, platform, m_br)
    await tab.set_viewport_size({"width": PHONE["width"], "height": PHONE["height"]})
    await tab.goto(f"{platform.gateway_url}/partnerships/{pid}")
    await tab.get_by_label("Kind").select_option("mission")
    await tab.get_by_label("Title").fill("Mission to Pune")
    await tab.get_by_label("Starts on").fill("2027-06-01")
    await tab.get_by_label("Ends on").fill("2027-06-05")
    await tab.get_by_label("Country (two letters").fill("IN")
    await tab.get_by_role("button", name="Add the activity").click()
    await expect(tab.get_by_text("Saved.")).to_be_visible()
    await tab.goto(f"{platform.gateway_url}/partnerships?q={t}&market=IN&country=DE")
    await expect(tab.get_by_role("link", name=f"Circular batteries {t}")).to_be_visible()
    await tab.goto(f"{platform.gateway_url}/partnerships?q={t}&country=KR")
    await expect(tab.get_by_text("No partnership matches these filters.")).to_be_visible()
    await screenshot(tab, "partnerships-phone")


async def test_answers_strategy_and_forms_refused_across_the_walls_change_nothing(
    tab: Page, platform: Platform
) -> None:
    t = "pw" + uuid.uuid4().hex[:8]
    lead = await new_cluster(platform, "jp", name=f"Lead {t}", country="JP")
    de = await new_cluster(platform, "eu", name=f"Saxony {t}", country="DE")
    br = await new_cluster(platform, "br", name=f"Campinas {t}", country="BR")
    other_jp = await new_cluster(platform, "jp", name=f"Other {t}", country="JP")
    m_lead, m_de, m_other_jp, m_kr = await many_people(
        platform,
        [
            ("jp", ["cluster-manager"], [lead["id"]]),
            ("eu", ["cluster-manager"], [de["id"]]),
            ("jp", ["cluster-manager"], [other_jp["id"]]),
            ("kr", ["cluster-manager"], []),
        ],
    )
    async with as_person(platform, m_lead) as c:
        made = ok(
            await c.post(
                "/v1/partnerships",
                json={
                    "name": f"Walls {t}",
                    "field": "walls",
                    "lead_cluster_id": lead["id"],
                    "members": [de["id"], br["id"]],
                    "strategy": "Version one.",
                },
            ),
            201,
        )
    pid = made["id"]
    before = statuses(made)

    async def token() -> str:
        value = await tab.locator("input[name=csrf_token]").first.get_attribute("value")
        assert value
        return value

    # The manager of another cluster of the lead's tenant changes the cluster id in the
    # address to answer for the German cluster: refused, in words.
    await act_as(tab, platform, m_other_jp)
    await tab.goto(f"{platform.gateway_url}/partnerships/{pid}")
    await expect(tab.get_by_role("button", name=f"Accept for Saxony {t}")).to_have_count(0)
    r = await tab.request.post(
        f"{platform.gateway_url}/partnerships/{pid}/members/{de['id']}/accept",
        form={"csrf_token": await token()},
    )
    assert r.status == 403
    assert "Nothing was changed." in await r.text()
    # ... and so is the lead's own manager, for a member it invited.
    await act_as(tab, platform, m_lead)
    await tab.goto(f"{platform.gateway_url}/partnerships/{pid}")
    r = await tab.request.post(
        f"{platform.gateway_url}/partnerships/{pid}/members/{br['id']}/decline",
        form={"csrf_token": await token()},
    )
    assert r.status == 403
    assert statuses(await partnership_now(platform, pid)) == before

    # The German manager's own accept without the CSRF token (a form from another site).
    await act_as(tab, platform, m_de)
    await tab.goto(f"{platform.gateway_url}/partnerships/{pid}")
    r = await tab.request.post(
        f"{platform.gateway_url}/partnerships/{pid}/members/{de['id']}/accept", form={}
    )
    assert r.status == 403
    assert "security token is missing" in await r.text()
    r = await tab.request.post(
        f"{platform.gateway_url}/partnerships/{pid}/members/{de['id']}/accept",
        form={"csrf_token": "0" * 64},
    )
    assert r.status == 403
    assert statuses(await partnership_now(platform, pid)) == before

    # Another tenant's person, not a member, cannot edit the strategy: the page says so,
    # and a hand-made form is refused by the API.
    await act_as(tab, platform, m_kr)
    await tab.goto(f"{platform.gateway_url}/partnerships/{pid}/strategy")
    await expect(tab.get_by_text("Only managers of clusters that accepted")).to_be_visible()
    await tab.goto(f"{platform.gateway_url}/partnerships/{pid}")
    await expect(tab.get_by_role("link", name="Edit the strategy")).to_have_count(0)
    async with as_person(platform, m_kr) as c:
        etag = (await c.get(f"/v1/partnerships/{pid}/strategy")).headers["etag"]
    r = await tab.request.post(
        f"{platform.gateway_url}/partnerships/{pid}/strategy",
        form={"csrf_token": await token(), "etag": etag, "text": "Taken over."},
    )
    assert r.status == 403
    r = await tab.request.post(
        f"{platform.gateway_url}/partnerships/{pid}/activities",
        form={
            "csrf_token": await token(),
            "kind": "call",
            "title": "Hijack",
            "starts_on": "2027-01-01",
        },
    )
    assert r.status == 403
    now = await strategy_now(platform, pid)
    assert (now["version"], now["text"]) == (1, "Version one.")
    async with platform.client("jp") as c:
        assert ok(await c.get(f"/v1/partnerships/{pid}/activities"))["items"] == []

    # A partnership of one country only: the refusal sits next to the field.
    await act_as(tab, platform, m_lead)
    await tab.goto(f"{platform.gateway_url}/partnerships/new")
    await tab.get_by_label("Name of the partnership").fill(f"Alone {t}")
    await tab.get_by_label("Emerging field").fill("solitude")
    await tab.get_by_label("Clusters to invite").fill(
        f"{platform.gateway_url}/clusters/{other_jp['id']}\nnot a cluster"
    )
    await tab.get_by_role("button", name="Create the partnership and invite").click()
    await expect(tab.locator("#e-members")).to_contain_text("“not a cluster” is not")
    await tab.get_by_label("Clusters to invite").fill(
        f"{platform.gateway_url}/clusters/{other_jp['id']}"
    )
    await tab.get_by_role("button", name="Create the partnership and invite").click()
    await expect(tab.locator("main")).to_contain_text("countr")
    async with platform.client("jp") as c:
        assert ok(await c.get("/v1/partnerships", params={"q": f"Alone {t}"}))["items"] == []


async def test_script_in_every_text_field_is_shown_as_text(tab: Page, platform: Platform) -> None:
    t = "px" + uuid.uuid4().hex[:8]
    lead = await new_cluster(platform, "jp", name=f"Lead {t}", country="JP")
    de = await new_cluster(platform, "eu", name=f"Saxony {t}", country="DE")
    br = await new_cluster(platform, "br", name=f"Campinas {t}", country="BR")
    (m_lead,) = await many_people(platform, [("jp", ["cluster-manager"], [lead["id"]])])
    seen = watch_dialogs(tab)
    await act_as(tab, platform, m_lead)
    await tab.goto(f"{platform.gateway_url}/partnerships/new")
    await tab.get_by_label("Name of the partnership").fill(f"{t} {SCRIPT}")
    await tab.get_by_label("Emerging field").fill(IMG)
    await tab.get_by_label("Clusters to invite").fill(f"{de['id']}\n{br['id']}")
    await tab.get_by_label("Target markets").fill("US")
    await tab.get_by_label("Shared competences").fill(f"{SCRIPT}\n{IMG}")
    await tab.get_by_label("Description").fill(f"desc {SCRIPT}")
    await tab.get_by_label("First version of the joint strategy").fill(f"strategy {IMG}")
    await tab.get_by_role("button", name="Create the partnership and invite").click()
    await expect(tab.get_by_text("Created.")).to_be_visible()
    pid = tab.url.split("/partnerships/")[1].split("?")[0]
    await tab.get_by_label("Title").fill(f"activity {SCRIPT}")
    await tab.get_by_label("Starts on").fill("2027-05-01")
    await tab.get_by_label("Description", exact=True).fill(f"about {IMG}")
    await tab.get_by_role("button", name="Add the activity").click()
    await expect(tab.get_by_text("Saved.")).to_be_visible()
    main = tab.locator("main")
    for shown in (f"{t} {SCRIPT}", IMG, f"desc {SCRIPT}", f"strategy {IMG}", f"about {IMG}"):
        await expect(main).to_contain_text(shown)
    await expect(main).to_contain_text(f"activity {SCRIPT}")
    await tab.goto(f"{platform.gateway_url}/partnerships?q={t}")
    await expect(tab.locator("main")).to_contain_text(f"{t} {SCRIPT}")
    assert await tab.locator("main script").count() == 0
    assert await tab.locator("main img").count() == 0
    assert seen == []
    made = await partnership_now(platform, pid)
    assert made["name"] == f"{t} {SCRIPT}"
    assert made["competences"] == [SCRIPT, IMG]


async def test_a_cluster_finds_partnerships_and_only_the_lead_invites(
    tab: Page, platform: Platform
) -> None:
    t = "pv" + uuid.uuid4().hex[:8]
    lead = await new_cluster(platform, "jp", name=f"Lead {t}", country="JP")
    de = await new_cluster(platform, "eu", name=f"Saxony {t}", country="DE")
    br = await new_cluster(platform, "br", name=f"Campinas {t}", country="BR")
    seeker = await new_cluster(
        platform, "kr", name=f"Ulsan {t}", country="KR", needs=[f"{t} hydrogen storage partners"]
    )
    newcomer = await new_cluster(platform, "kr", name=f"Busan {t}", country="KR")
    m_lead, m_de, m_seeker, m_newcomer = await many_people(
        platform,
        [
            ("jp", ["cluster-manager"], [lead["id"]]),
            ("eu", ["cluster-manager"], [de["id"]]),
            ("kr", ["cluster-manager"], [seeker["id"]]),
            ("kr", ["cluster-manager"], [newcomer["id"]]),
        ],
    )
    async with as_person(platform, m_lead) as c:
        pid = ok(
            await c.post(
                "/v1/partnerships",
                json={
                    "name": f"Hydrogen {t}",
                    "field": "hydrogen",
                    "lead_cluster_id": lead["id"],
                    "members": [de["id"], br["id"]],
                    "competences": [f"{t} hydrogen storage"],
                },
            ),
            201,
        )["id"]

    # The Korean manager looks for partnerships for their cluster: found, with the reason.
    await act_as(tab, platform, m_seeker)
    await tab.goto(f"{platform.gateway_url}/partnerships/search")
    found = tab.locator("section.card").filter(has_text=f"Hydrogen {t}")
    await expect(found).to_contain_text(f"{t} hydrogen storage")
    await tab.goto(f"{platform.gateway_url}/partnerships/search?cluster={newcomer['id']}")
    await expect(tab.get_by_text("only for your clusters")).to_be_visible()

    # An invited member that is not the lead cannot invite (no form; a hand-made one is
    # refused by the API) ...
    await act_as(tab, platform, m_de)
    await tab.goto(f"{platform.gateway_url}/partnerships/{pid}")
    await expect(tab.get_by_label("The cluster's profile address or id")).to_have_count(0)
    token = await tab.locator("input[name=csrf_token]").first.get_attribute("value")
    r = await tab.request.post(
        f"{platform.gateway_url}/partnerships/{pid}/invite",
        form={"csrf_token": token or "", "cluster": str(newcomer["id"])},
    )
    assert r.status == 403
    assert newcomer["id"] not in statuses(await partnership_now(platform, pid))

    # ... the lead does, with the profile's address; a line that names no cluster is
    # refused next to the field.
    await act_as(tab, platform, m_lead)
    await tab.goto(f"{platform.gateway_url}/partnerships/{pid}")
    await expect(
        tab.get_by_role("heading", name="Clusters that could strengthen it")
    ).to_be_visible()
    await tab.get_by_label("The cluster's profile address or id").fill("Busan, please")
    await tab.get_by_role("button", name="Invite", exact=True).click()
    await expect(tab.locator("#e-cluster")).to_be_visible()
    await tab.get_by_label("The cluster's profile address or id").fill(
        f"{platform.gateway_url}/clusters/{newcomer['id']}"
    )
    await tab.get_by_role("button", name="Invite", exact=True).click()
    await expect(tab.get_by_text("The invitation is on its way.")).to_be_visible()
    assert statuses(await partnership_now(platform, pid))[str(newcomer["id"])] == "invited"

    # The newcomer's own manager declines; the seeker, of the same tenant, could not.
    await act_as(tab, platform, m_seeker)
    await tab.goto(f"{platform.gateway_url}/partnerships/{pid}")
    await expect(tab.get_by_role("button", name=f"Decline for Busan {t}")).to_have_count(0)
    await act_as(tab, platform, m_newcomer)
    await tab.goto(f"{platform.gateway_url}/partnerships/{pid}")
    await tab.get_by_role("button", name=f"Decline for Busan {t}").click()
    await expect(tab.get_by_text("Your answer is recorded.")).to_be_visible()
    await expect(tab.get_by_role("button", name=f"Accept for Busan {t}")).to_have_count(0)
    assert statuses(await partnership_now(platform, pid))[str(newcomer["id"])] == "declined"
