"""The observatory, label and benchmarking pages in a real browser: the heat table and
its CSV against the API's own answers, the tile maps, a region's page, a label set by
an agency admin and refused to a manager and to another tenant's admin, an expired
label shown as expired, the self-assessment with percentiles and a peer group too
small to show any, and script in text fields shown as text."""

from __future__ import annotations

import csv
import io
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pycountry
from playwright.async_api import Page, expect

from tests.harness import Platform
from tests.people_helpers import person
from tests.web.conftest import screenshot
from tests.web.pages_helpers import cluster_now, new_cluster, sign_in, watch_dialogs

SCRIPT = "<script>alert('x')</script><img src=x onerror=alert('y')>"
NO_LABEL = {"level": "none"}


async def api(platform: Platform, path: str, **params: Any) -> Any:
    async with platform.client("kr") as c:
        r = await c.get(path, params=params)
        assert r.status_code == 200, r.text
        return r.json()


async def cell_of(tab: Page, row: str, column: str) -> str:
    """The text of the heat table's cell in the row headed `row`, column `column`."""
    heads = [h.strip() for h in await tab.locator("table.heat thead th").all_inner_texts()]
    line = tab.locator("table.heat tbody tr").filter(has=tab.get_by_role("rowheader", name=row))
    return (await line.locator("td").nth(heads.index(column) - 1).inner_text()).strip()


def counted(table: dict[str, Any], ecosystem: str, area: str, *fields: str) -> int:
    row = next(r for r in table["rows"] if (r["ecosystem"], r["area"]) == (ecosystem, area))
    return sum(int(row[f]) for f in fields)


async def download(tab: Page, link: str) -> str:
    async with tab.expect_download() as got:
        await tab.get_by_role("link", name=link).first.click()
    return Path(await (await got.value).path()).read_text(encoding="utf-8")


async def test_heat_table_shows_the_apis_figures_with_a_legend_and_its_csv(
    tab: Page, platform: Platform
) -> None:
    far = (datetime.now(UTC).date() + timedelta(days=400)).isoformat()
    gold = {"level": "gold", "issuer": "ESCA", "benchmarked_on": "2026-01-05", "valid_until": far}
    for label in (gold, NO_LABEL, NO_LABEL):
        await new_cluster(platform, "jp", ecosystems=["textiles"], label=label)
    reader = await person(platform, "br", ["organiser"])  # any tenant, any role
    await sign_in(tab, platform, reader.email)
    await tab.get_by_role("link", name="Observatory").click()
    await expect(tab.get_by_role("heading", name="Clusters", exact=True)).to_be_visible()
    await expect(tab.get_by_role("list", name="Colour legend").locator("li")).to_have_count(5)
    counts = await api(platform, "/v1/observatory/counts", by="country")
    assert counted(counts, "textiles", "JP", "clusters") >= 3
    assert await cell_of(tab, "Textiles", "JP") == str(
        counted(counts, "textiles", "JP", "clusters")
    )
    await screenshot(tab, "observatory-heat-table")

    # The CSV link gives the API's own CSV of the same table.
    text = await download(tab, "Download this table as CSV")
    rows = list(csv.DictReader(io.StringIO(text)))
    jp = next(r for r in rows if (r["ecosystem"], r["area"]) == ("textiles", "JP"))
    assert int(jp["clusters"]) == counted(counts, "textiles", "JP", "clusters")
    assert len(rows) == len(counts["rows"])

    # SME members, then only clusters holding a current label.
    await tab.get_by_label("Measure").select_option("smes")
    await tab.get_by_role("button", name="Show").click()
    smes = counted(counts, "textiles", "JP", "members_smes")
    assert await cell_of(tab, "Textiles", "JP") == f"{smes:,}"
    await tab.get_by_label("Measure").select_option("clusters")
    await tab.get_by_label("Only clusters with a current label").check()
    await tab.get_by_role("button", name="Show").click()
    labelled = await api(platform, "/v1/observatory/counts", by="country", labelled="true")
    mine = counted(labelled, "textiles", "JP", "clusters")
    assert 1 <= mine < counted(counts, "textiles", "JP", "clusters")
    assert await cell_of(tab, "Textiles", "JP") == str(mine)
    text = await download(tab, "Download this table as CSV")
    jp = next(
        r
        for r in csv.DictReader(io.StringIO(text))
        if r["ecosystem"] == "textiles" and r["area"] == "JP"
    )
    assert int(jp["clusters"]) == mine

    # The specialisation index, coloured on its own scale; the label filter is refused
    # next to its field rather than silently ignored.
    await tab.get_by_label("Measure").select_option("specialisation")
    await tab.get_by_role("button", name="Show").click()
    await expect(tab.locator(".field.invalid")).to_contain_text("applies to counts only")
    spec = await api(platform, "/v1/observatory/specialisation", by="country")
    lq = next(r for r in spec["rows"] if (r["ecosystem"], r["area"]) == ("textiles", "JP"))
    assert await cell_of(tab, "Textiles", "JP") == f"{lq['index']:.2f}"
    await expect(tab.get_by_text("1 (as the registry)")).to_be_visible()

    # A measure made up in the address is a sentence next to the field, not an error.
    r = await tab.goto(f"{platform.gateway_url}/observatory?measure=turnover")
    assert r is not None
    assert r.status == 422
    await expect(tab.locator(".field.invalid")).to_contain_text("Choose one of the measures")


async def test_observatory_pages_need_a_signed_in_person(tab: Page, platform: Platform) -> None:
    for path in ("/observatory", "/observatory/map", "/observatory/regions/JP-47",
                 "/observatory/counts.csv"):  # fmt: skip
        await tab.goto(f"{platform.gateway_url}{path}")
        assert "/sign-in" in tab.url


async def test_tile_maps_colour_countries_and_regions_and_lead_to_a_region(
    tab: Page, platform: Platform
) -> None:
    for _ in range(2):
        await new_cluster(platform, "jp", ecosystems=["tourism"], region_code="JP-47")
    await new_cluster(platform, "br", ecosystems=["tourism", "agri-food"], region_code="BR-BA")
    reader = await person(platform, "kr", ["organiser"])
    await sign_in(tab, platform, reader.email)
    await tab.goto(f"{platform.gateway_url}/observatory/map")
    await tab.get_by_label("Ecosystem").select_option("tourism")
    await tab.get_by_role("button", name="Show").click()
    by_country = await api(
        platform, "/v1/observatory/specialisation", by="country", ecosystem="tourism"
    )
    jp = next(r for r in by_country["rows"] if r["area"] == "JP")
    countries = tab.locator("section.map").first
    # The tile says its number (not colour alone), and the table below says it again.
    await expect(countries.locator("svg title", has_text="Japan:")).to_have_text(
        f"Japan: {jp['index']:.2f}"
    )
    row = countries.get_by_role("row").filter(has_text="(JP)")
    await expect(row).to_contain_text(f"{jp['index']:.2f}")
    await expect(countries.locator("svg rect")).to_have_count(33)  # every partner country
    await screenshot(tab, "observatory-map")
    text = await download(tab, "Download this table as CSV")
    assert {r["area"] for r in csv.DictReader(io.StringIO(text))} == {
        r["area"] for r in by_country["rows"]
    }

    # A country's tile opens its regions; every first-level region is a tile.
    await countries.locator("svg a[href*='country=JP']").click()
    await expect(tab.get_by_role("heading", name="Tourism by region of Japan")).to_be_visible()
    regions = tab.locator("section.map").nth(1)
    await expect(regions.locator("svg rect")).to_have_count(47)
    by_region = await api(
        platform, "/v1/observatory/specialisation", by="region", country="JP", ecosystem="tourism"
    )
    okinawa = next(r for r in by_region["rows"] if r["area"] == "JP-47")
    await expect(regions.get_by_role("row").filter(has_text="(JP-47)")).to_contain_text(
        f"{okinawa['index']:.2f}"
    )
    await regions.locator("svg a[href='/observatory/regions/JP-47']").click()
    await expect(tab.get_by_role("heading", level=1)).to_contain_text("Okinawa (JP-47, Japan)")

    r = await tab.goto(f"{platform.gateway_url}/observatory/map?ecosystem=mining&country=ZZ")
    assert r is not None
    assert r.status == 422
    await expect(tab.locator(".field.invalid").filter(has_text="Ecosystem")).to_contain_text(
        "Choose an ecosystem"
    )
    await expect(tab.locator(".field.invalid").filter(has_text="Regions of")).to_contain_text(
        "Choose a country"
    )


async def test_region_page_lists_its_clusters_strengths_and_trend(
    tab: Page, platform: Platform
) -> None:
    seen = watch_dialogs(tab)
    busan = pycountry.subdivisions.get(code="KR-26").name  # type: ignore[no-untyped-call]
    tag = uuid.uuid4().hex[:6]
    made = [
        await new_cluster(platform, "kr", name=f"Busan {tag} {SCRIPT}", region_code="KR-26",
                          ecosystems=["health", "digital"]),
        await new_cluster(platform, "kr", name=f"Busan {tag} two", region_code="KR-26",
                          ecosystems=["health"]),
    ]  # fmt: skip
    await new_cluster(platform, "kr", name=f"Seoul {tag}", region_code="KR-11")
    reader = await person(platform, "jp", ["organiser"])
    await sign_in(tab, platform, reader.email)
    await tab.goto(f"{platform.gateway_url}/observatory/regions/kr-26")
    await expect(tab.get_by_role("heading", level=1)).to_contain_text(
        f"{busan} (KR-26, South Korea)"
    )
    listed = tab.get_by_role("list", name=f"Clusters in {busan}")
    await expect(listed.get_by_role("link").filter(has_text=tag)).to_have_count(2)
    await expect(listed).to_contain_text(SCRIPT)  # the name as text, not markup
    await expect(tab.get_by_text(f"Seoul {tag}")).to_have_count(0)

    spec = await api(platform, "/v1/observatory/specialisation", by="region", country="KR")
    mine = sorted((r for r in spec["rows"] if r["area"] == "KR-26"), key=lambda r: -r["index"])
    strengths = tab.get_by_role("table", name=f"Ecosystems of {busan} by specialisation")
    first = strengths.locator("tbody tr").first
    await expect(first).to_contain_text(f"{mine[0]['index']:.2f}")
    await expect(strengths.locator("tbody tr")).to_have_count(len(mine))

    charts = tab.locator("figure.chart svg[role=img]")
    await expect(charts).to_have_count(2)
    await expect(charts.first).to_have_attribute(
        "aria-label", f"Profiles created per month in {busan}"
    )
    trend = await api(platform, "/v1/observatory/trends", months=24, region_code="KR-26")
    this_month = trend["rows"][-1]
    assert this_month["profiles_created"] >= 2
    await expect(charts.first.locator("title").last).to_have_text(
        f"{this_month['month']} profiles created: {this_month['profiles_created']}"
    )
    text = await download(tab, "Download the trend as CSV")
    rows = list(csv.DictReader(io.StringIO(text)))
    assert rows[-1]["profiles_created"] == str(this_month["profiles_created"])
    await screenshot(tab, "observatory-region")

    await listed.get_by_role("link").filter(has_text="two").click()
    await expect(tab.get_by_role("heading", name=f"Busan {tag} two")).to_be_visible()
    assert str(made[1]["id"]) in tab.url
    for code in ("XX-999", "KR-99", "<b>x"):
        r = await tab.goto(f"{platform.gateway_url}/observatory/regions/{code}")
        assert r is not None
        assert r.status == 404
        await expect(
            tab.get_by_text("There is no ISO 3166-2 region with this code.")
        ).to_be_visible()
    assert seen == []


async def test_an_agency_admin_sets_a_label_with_errors_next_to_the_fields(
    tab: Page, platform: Platform
) -> None:
    seen = watch_dialogs(tab)
    cluster = await new_cluster(platform, "jp", label=NO_LABEL)
    admin = await person(platform, "jp", ["agency-admin"])
    await sign_in(tab, platform, admin.email)
    await tab.goto(f"{platform.gateway_url}/clusters/{cluster['id']}")
    await expect(tab.get_by_text("No current label.")).to_be_visible()
    form = tab.locator("form", has=tab.get_by_role("heading", name="Set or change the label"))
    await form.get_by_label("Level").select_option("gold")
    await form.get_by_label("Benchmarking date").fill("2026-05-04")
    await form.get_by_label("Valid until").fill("2026-05-01")
    await form.get_by_role("button", name="Save the label").click()
    await expect(tab.locator(".field.invalid").filter(has_text="Awarded by")).to_contain_text(
        "Needed for a gold label"
    )
    await expect(tab.locator(".field.invalid").filter(has_text="Valid until")).to_contain_text(
        "cannot end before its benchmarking date"
    )
    await expect(form.get_by_label("Benchmarking date")).to_have_value("2026-05-04")
    await screenshot(tab, "label-form-refused")
    assert (await cluster_now(platform, cluster["id"]))["label"]["level"] == "none"  # type: ignore[index]

    until = (datetime.now(UTC).date() + timedelta(days=700)).isoformat()
    await form.get_by_label("Awarded by").fill(f"ESCA {SCRIPT}")
    await form.get_by_label("Valid until").fill(until)
    await form.get_by_role("button", name="Save the label").click()
    await expect(tab.get_by_text("Saved.")).to_be_visible()
    section = tab.locator("section.label-section")
    await expect(section.locator("dl")).to_contain_text(f"ESCA {SCRIPT}")
    await expect(section.locator("dl")).to_contain_text("2026-05-04")
    await expect(section.locator("dl")).to_contain_text(until)
    await expect(section.locator(".badge.ok")).to_have_text("valid")
    history = tab.get_by_role("table", name="Label history").locator("tbody tr")
    await expect(history).to_have_count(1)
    await expect(history.first).to_contain_text("gold")
    label = (await cluster_now(platform, cluster["id"]))["label"]
    assert label == {"level": "gold", "issuer": f"ESCA {SCRIPT}", "benchmarked_on": "2026-05-04",
                     "valid_until": until, "status": "valid"}  # fmt: skip
    await screenshot(tab, "label-set")
    assert seen == []


async def _post_label_by_hand(tab: Page, platform: Platform, cluster_id: object) -> None:
    """A hand-made label form with a valid CSRF token of this person's session."""
    token = await tab.locator("input[name=csrf_token]").first.get_attribute("value")
    await tab.set_content(
        f'<form method="post" action="{platform.gateway_url}/clusters/{cluster_id}/label">'
        f'<input name="csrf_token" value="{token}"><input name="level" value="gold">'
        '<input name="issuer" value="Self"><input name="benchmarked_on" value="2026-01-01">'
        '<input name="valid_until" value="2030-01-01"><button>set</button></form>'
    )
    await tab.click("button")


async def test_a_manager_and_another_tenants_admin_cannot_set_a_label(
    tab: Page, platform: Platform
) -> None:
    cluster = await new_cluster(platform, "jp", label=NO_LABEL)
    manager = await person(platform, "jp", ["cluster-manager"], [str(cluster["id"])])
    foreign = await person(platform, "br", ["agency-admin"])
    for who in (manager, foreign):
        await tab.context.clear_cookies()
        await sign_in(tab, platform, who.email)
        await tab.goto(f"{platform.gateway_url}/clusters/{cluster['id']}")
        await expect(
            tab.get_by_role("heading", name="Cluster management excellence label")
        ).to_be_visible()
        await expect(tab.get_by_role("heading", name="Set or change the label")).to_have_count(0)
        await _post_label_by_hand(tab, platform, cluster["id"])
        await expect(tab.get_by_role("heading", name="Label not changed")).to_be_visible()
        await expect(tab.locator(".refusal")).to_contain_text(
            "Only an agency admin of the cluster's own tenant sets or changes its label. "
            "Nothing was changed."
        )
    assert (await cluster_now(platform, cluster["id"]))["label"]["level"] == "none"  # type: ignore[index]
    assert (await api(platform, f"/v1/clusters/{cluster['id']}/labels"))["history"] == []


async def test_an_expired_label_shows_as_expired(tab: Page, platform: Platform) -> None:
    yesterday = (datetime.now(UTC).date() - timedelta(days=1)).isoformat()
    cluster = await new_cluster(
        platform, "br",
        label={"level": "silver", "issuer": "ESCA", "benchmarked_on": "2024-01-10",
               "valid_until": yesterday},
    )  # fmt: skip
    reader = await person(platform, "jp", ["organiser"])
    await sign_in(tab, platform, reader.email)
    await tab.goto(f"{platform.gateway_url}/clusters/{cluster['id']}")
    section = tab.locator("section.label-section")
    await expect(section.locator(".badge.expired")).to_have_text("expired")
    await expect(section.locator(".badge.ok")).to_have_count(0)
    await expect(section).to_contain_text(f"{yesterday} (expired")
    await expect(
        tab.get_by_role("table", name="Label history").locator("tbody tr").first
    ).to_contain_text("expired")
    await screenshot(tab, "label-expired")


ASSESSMENT = {
    "reference_year": 2025, "staff_fte": 4.5, "budget_eur": 620_000,
    "private_funding_pct": 45, "international_members_pct": 12, "services_offered": 9,
    "projects_2y": 6, "cooperation_agreements_2y": 3,
}  # fmt: skip
PEER_BUDGET = 777_123


async def test_benchmarking_form_percentiles_and_a_small_peer_group(
    tab: Page, platform: Platform
) -> None:
    # Five assessed peers in retail; proximity (the cluster's other ecosystem) has none.
    for i in range(5):
        peer = await new_cluster(platform, "br", ecosystems=["retail"], label=NO_LABEL)
        async with platform.client("br") as br:
            body = ASSESSMENT | {"staff_fte": 1 + 2 * i, "budget_eur": PEER_BUDGET + i}
            r = await br.put(f"/v1/clusters/{peer['id']}/self-assessment", json=body)
            assert r.status_code == 200, r.text
    mine = await new_cluster(
        platform, "jp", ecosystems=["retail", "proximity-social-economy"], label=NO_LABEL
    )
    manager = await person(platform, "jp", ["cluster-manager"], [str(mine["id"])])
    await sign_in(tab, platform, manager.email)
    await tab.goto(f"{platform.gateway_url}/clusters/{mine['id']}")
    await tab.get_by_role("link", name="Benchmarking against peers").click()
    await expect(tab.get_by_text("Fill in the self-assessment below")).to_be_visible()
    for name, value in ASSESSMENT.items():
        label = {"reference_year": "Reference year", "staff_fte": "Management staff",
                 "budget_eur": "Annual budget", "private_funding_pct": "Private share",
                 "international_members_pct": "International members",
                 "services_offered": "Services offered", "projects_2y": "Collaborative projects",
                 "cooperation_agreements_2y": "Cooperation agreements"}[name]  # fmt: skip
        await tab.get_by_label(label).fill(str(value))
    await tab.get_by_label("Private share").fill("150")
    await tab.get_by_label("Management staff").fill("")
    await tab.get_by_role("button", name="Save the self-assessment").click()
    await expect(tab.locator(".field.invalid").filter(has_text="Private share")).to_contain_text(
        "100"
    )
    await expect(tab.locator(".field.invalid").filter(has_text="Management staff")).to_contain_text(
        "required"
    )
    await expect(tab.get_by_label("Annual budget")).to_have_value("620000")
    async with platform.client("jp") as jp:
        assert (await jp.get(f"/v1/clusters/{mine['id']}/self-assessment")).status_code == 404

    await tab.get_by_label("Private share").fill("45")
    await tab.get_by_label("Management staff").fill("4.5")
    await tab.get_by_role("button", name="Save the self-assessment").click()
    await expect(tab.get_by_text("Saved.")).to_be_visible()
    async with platform.client("jp") as jp:
        bench = (await jp.get(f"/v1/clusters/{mine['id']}/benchmark")).json()
    groups = {g["ecosystem"]: g for g in bench["groups"]}
    assert groups["retail"]["enough_peers"]
    assert not groups["proximity-social-economy"]["enough_peers"]
    retail = tab.get_by_role("table", name="Standing in Retail")
    staff = next(s for s in groups["retail"]["standings"] if s["indicator"] == "staff_fte")
    await expect(retail.get_by_role("row").filter(has_text="Management staff")).to_contain_text(
        f"4.5 {staff['percentile']}"
    )
    await expect(retail.locator("thead")).to_contain_text(
        f"among {groups['retail']['peers']} peers"
    )
    await expect(tab.get_by_text("Fewer than 5 other clusters of this ecosystem")).to_have_count(1)
    await expect(
        tab.get_by_role("table", name="Standing in Proximity, social economy & civil security")
    ).to_have_count(0)
    html = await tab.content()
    assert all(
        f"{PEER_BUDGET + i}" not in html and f"{PEER_BUDGET + i:,}" not in html for i in range(5)
    )
    await screenshot(tab, "benchmarking")

    # Another cluster's manager of the same tenant, and another tenant's admin: refused.
    other = await new_cluster(platform, "jp", label=NO_LABEL)
    bystander = await person(platform, "jp", ["cluster-manager"], [str(other["id"])])
    foreign = await person(platform, "br", ["agency-admin"])
    for who in (bystander, foreign):
        await tab.context.clear_cookies()
        await sign_in(tab, platform, who.email)
        answer = await tab.goto(f"{platform.gateway_url}/clusters/{mine['id']}/benchmarking")
        assert answer is not None
        assert answer.status == 403
        await expect(tab.locator(".refusal")).to_contain_text("you can neither see nor fill in")
        await expect(tab.get_by_text("620")).to_have_count(0)
        token = await tab.locator("input[name=csrf_token]").first.get_attribute("value")
        fields = "".join(
            f'<input name="{k}" value="{v}">' for k, v in (ASSESSMENT | {"staff_fte": 99}).items()
        )
        await tab.set_content(
            f'<form method="post" action="{platform.gateway_url}/clusters/{mine["id"]}/benchmarking">'
            f'<input name="csrf_token" value="{token}">{fields}<button>save</button></form>'
        )
        await tab.click("button")
        await expect(tab.locator(".refusal")).to_contain_text("Nothing was changed")
    async with platform.client("jp") as jp:
        own = (await jp.get(f"/v1/clusters/{mine['id']}/self-assessment")).json()
    assert (own["staff_fte"], own["reference_year"]) == (4.5, 2025)


async def test_made_up_observatory_addresses_are_sentences_never_errors(
    tab: Page, platform: Platform
) -> None:
    seen = watch_dialogs(tab)
    reader = await person(platform, "kr", ["organiser"])
    await sign_in(tab, platform, reader.email)
    for path, status, sentence in [
        ("/observatory/nothing.csv", 404, "There is no such observatory table."),
        ("/observatory/counts.csv?by=planet", 422, "Refused"),
        ("/observatory/trends.csv?region_code=Lyon", 422, "Refused"),
        (f"/observatory/map?ecosystem={SCRIPT}", 422, "Choose an ecosystem from the list."),
        (f"/observatory/map?country={SCRIPT}", 422, "Choose a country from the list."),
        (f"/observatory?measure={SCRIPT}", 422, "Choose one of the measures in the list."),
        (
            "/observatory/regions/KR-26?cursor=forged",
            400,
            "The cursor is not one this API gave out.",
        ),
    ]:
        answer = await tab.goto(f"{platform.gateway_url}{path}")
        assert answer is not None
        assert answer.status == status, path
        await expect(tab.locator("main")).to_contain_text(sentence)
        assert "<script>alert" not in await tab.content()
    assert seen == []
