"""The observatory: counts, the specialisation index computed by hand on a small
registry of its own, trends, CSV, expiry at read time, bad input, every tenant."""

from __future__ import annotations

import csv
import io
import xml.etree.ElementTree as ET
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from shared.charts import heat_table, tile_map
from tests.harness import Platform
from tests.registry.small_registry import SmallRegistry, small_registry
from tests.registry_helpers import cluster_payload

SVG = "{http://www.w3.org/2000/svg}"
LABEL = {"issuer": "ESCA", "benchmarked_on": "2024-01-15"}


@pytest.fixture(scope="module")
async def registry(platform: Platform) -> AsyncIterator[SmallRegistry]:
    """Five profiles, the index worked out by hand below:

    A FR-ARA digital+health, 10 SMEs, gold valid     B FR-ARA digital, 20 SMEs, silver expired
    C DE-BY health, 30 SMEs                          D DE-BY health+agri-food, 40 SMEs
    E FR (region not coded) digital, 50 SMEs
    """
    yesterday = (datetime.now(UTC).date() - timedelta(days=1)).isoformat()
    async with small_registry(platform.database_url, platform.nats_url) as reg:
        for country, code, ecos, smes, label in [
            ("FR", "FR-ARA", ["digital", "health"], 10, {"level": "gold", "valid_until": "2099-12-31"}),
            ("FR", "FR-ARA", ["digital"], 20, {"level": "silver", "valid_until": yesterday}),
            ("DE", "DE-BY", ["health"], 30, None),
            ("DE", "DE-BY", ["health", "agri-food"], 40, None),
            ("FR", None, ["digital"], 50, None),
        ]:  # fmt: skip
            fields: dict[str, Any] = {"country": country, "ecosystems": ecos,
                                      "members": {"smes": smes, "large_firms": 1}}  # fmt: skip
            if code:
                fields["region_code"] = code
            if label:
                fields["label"] = label | LABEL
            await reg.create("eu", **fields)
        yield reg


async def _get(reg: SmallRegistry, path: str, **params: Any) -> dict[str, Any]:
    async with reg.client("br", "registry:read") as c:
        r = await c.get(path, params=params)
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


def _index(table: dict[str, Any]) -> dict[tuple[str, str], float]:
    return {(r["area"], r["ecosystem"]): r["index"] for r in table["rows"]}


async def test_specialisation_by_region_is_the_location_quotient_worked_by_hand(
    registry: SmallRegistry,
) -> None:
    # Entries (cluster x ecosystem): FR-ARA digital 2, health 1 (n_r 3); DE-BY health 2,
    # agri-food 1 (n_r 3); uncoded FR digital 1. Registry: digital 3, health 3, agri 1; n 7.
    table = await _get(registry, "/v1/observatory/specialisation", by="region")
    assert _index(table) == {
        ("DE-BY", "agri-food"): pytest.approx((1 / 3) / (1 / 7)),  # 7/3
        ("DE-BY", "health"): pytest.approx((2 / 3) / (3 / 7)),  # 14/9
        ("FR-ARA", "digital"): pytest.approx((2 / 3) / (3 / 7)),  # 14/9
        ("FR-ARA", "health"): pytest.approx((1 / 3) / (3 / 7)),  # 7/9
    }
    row = next(r for r in table["rows"] if r["area"] == "FR-ARA" and r["ecosystem"] == "digital")
    assert (row["entries"], row["area_entries"], row["ecosystem_entries"], row["all_entries"]) == (
        2, 3, 3, 7,
    )  # fmt: skip
    assert row["area_name"] == "Auvergne-Rhône-Alpes"


async def test_specialisation_by_sme_members_and_by_country(registry: SmallRegistry) -> None:
    # SMEs: FR-ARA digital 30, health 10 (40); DE-BY health 70, agri 40 (110); FR 50 digital.
    # Registry: digital 80, health 80, agri 40; 200.
    smes = _index(await _get(registry, "/v1/observatory/specialisation", measure="smes"))
    assert smes[("FR-ARA", "digital")] == pytest.approx((30 / 40) / (80 / 200))
    assert smes[("DE-BY", "agri-food")] == pytest.approx((40 / 110) / (40 / 200))
    # Countries: FR digital 3, health 1 (4); DE as DE-BY.
    by_country = _index(await _get(registry, "/v1/observatory/specialisation", by="country"))
    assert by_country[("FR", "digital")] == pytest.approx((3 / 4) / (3 / 7))
    assert by_country[("FR", "health")] == pytest.approx((1 / 4) / (3 / 7))
    assert by_country[("DE", "agri-food")] == pytest.approx((1 / 3) / (1 / 7))
    only = await _get(registry, "/v1/observatory/specialisation", by="country", country="DE")
    assert {r["area"] for r in only["rows"]} == {"DE"}


async def test_counts_skip_expired_labels_at_read_time(registry: SmallRegistry) -> None:
    table = await _get(registry, "/v1/observatory/counts", by="region")
    rows = {(r["area"], r["ecosystem"]): r for r in table["rows"]}
    ara = rows[("FR-ARA", "digital")]
    assert (ara["clusters"], ara["members_smes"], ara["members_large_firms"]) == (2, 30, 2)
    # B's silver label ended yesterday: it is stored as silver, and counts for nothing.
    assert (ara["labels_gold"], ara["labels_silver"], ara["labels_bronze"]) == (1, 0, 0)
    assert table["as_of"] == datetime.now(UTC).date().isoformat()
    by_country = await _get(registry, "/v1/observatory/counts", ecosystem="digital")
    assert {(r["area"], r["clusters"]) for r in by_country["rows"]} == {("FR", 3)}
    async with registry.client("br", "registry:read") as c:
        listed = (await c.get("/v1/clusters", params={"label": "bronze"})).json()["items"]
        every = (await c.get("/v1/clusters")).json()["items"]
    assert [i["label"]["level"] for i in listed] == ["gold"]
    silver = next(i for i in every if i["label"]["level"] == "silver")
    assert silver["label"]["status"] == "expired"


async def test_trends_count_profiles_and_labels_of_this_month(registry: SmallRegistry) -> None:
    table = await _get(registry, "/v1/observatory/trends", months=3)
    assert len(table["rows"]) == 3
    this_month = date.today().replace(day=1).isoformat()
    last = table["rows"][-1]
    assert last["month"] == this_month
    assert (last["profiles_created"], last["labels_gold"], last["labels_silver"]) == (5, 1, 1)
    assert [r["profiles_created"] for r in table["rows"][:-1]] == [0, 0]


async def test_a_region_has_its_own_clusters_and_trend(registry: SmallRegistry) -> None:
    async with registry.client("br", "registry:read") as c:
        bad = await c.get("/v1/clusters", params={"region_code": "Lyon"})
        r = await c.get("/v1/clusters", params={"region_code": "fr-ara"})
    assert bad.status_code == 422
    assert r.status_code == 200, r.text
    assert {i["region_code"] for i in r.json()["items"]} == {"FR-ARA"}
    assert len(r.json()["items"]) == 2
    ara = await _get(registry, "/v1/observatory/trends", months=2, region_code="FR-ARA")
    assert ara["region_code"] == "FR-ARA"
    last = ara["rows"][-1]
    # Both labels were recorded this month, the expired one too: a trend is history.
    assert (last["profiles_created"], last["labels_gold"], last["labels_silver"]) == (2, 1, 1)
    by = await _get(registry, "/v1/observatory/trends", months=2, region_code="DE-BY")
    assert (by["rows"][-1]["profiles_created"], by["rows"][-1]["labels_gold"]) == (2, 0)


async def test_counts_of_labelled_clusters_leave_out_expired_and_unlabelled(
    registry: SmallRegistry,
) -> None:
    table = await _get(registry, "/v1/observatory/counts", by="country", labelled="true")
    # Only A holds a current label (B's ended yesterday, C, D and E have none).
    assert {(r["area"], r["ecosystem"], r["clusters"]) for r in table["rows"]} == {
        ("FR", "digital", 1),
        ("FR", "health", 1),
    }


async def test_every_table_comes_as_csv(registry: SmallRegistry) -> None:
    async with registry.client("jp", "registry:read") as c:
        for path in ("counts", "specialisation", "trends"):
            as_json = (await c.get(f"/v1/observatory/{path}")).json()
            r = await c.get(f"/v1/observatory/{path}", headers={"accept": "text/csv"})
            assert r.status_code == 200
            assert r.headers["content-type"].startswith("text/csv")
            rows = list(csv.DictReader(io.StringIO(r.text)))
            assert len(rows) == len(as_json["rows"])
            assert set(rows[0]) == set(as_json["rows"][0])
            r2 = await c.get(f"/v1/observatory/{path}", params={"format": "csv"})
            assert r2.text == r.text
    spec = list(csv.DictReader(io.StringIO(r2.text)))  # trends
    assert spec[-1]["profiles_created"] == "5"


@pytest.mark.parametrize(
    ("path", "params"),
    [
        ("counts", {"by": "planet"}),
        ("counts", {"ecosystem": "mining"}),
        ("counts", {"country": "XX"}),
        ("counts", {"format": "xml"}),
        ("specialisation", {"measure": "turnover"}),
        ("specialisation", {"country": "\u0000"}),
        ("trends", {"months": 0}),
        ("trends", {"months": 1000}),
        ("trends", {"months": "many"}),
        ("trends", {"region_code": "FR-XYZ"}),
        ("trends", {"region_code": "Lyon"}),
        ("counts", {"labelled": "maybe"}),
    ],
)
async def test_bad_observatory_input_is_a_problem(
    platform: Platform, path: str, params: dict[str, Any]
) -> None:
    async with platform.client("br") as c:
        r = await c.get(f"/v1/observatory/{path}", params=params)
    assert 400 <= r.status_code < 500, r.text
    assert r.headers["content-type"].startswith("application/problem+json")


async def test_every_tenant_reads_the_same_public_tables_and_nothing_private(
    platform: Platform,
) -> None:
    async with platform.client("jp") as jp:
        r = await jp.post(
            "/v1/clusters",
            json=cluster_payload("jp", region_code="JP-27", contact_email="secret@jp.example"),
        )
        assert r.status_code == 201, r.text
    answers = []
    for who in ("jp", "br", "jp_readonly"):
        async with platform.client(who) as c:
            r = await c.get("/v1/observatory/counts", params={"by": "region", "country": "JP"})
            assert r.status_code == 200, r.text
            answers.append(r.json())
            csv_text = (await c.get("/v1/observatory/counts", params={"format": "csv"})).text
            assert "secret@jp.example" not in csv_text
    assert answers[0] == answers[1] == answers[2]
    assert any(r["area"] == "JP-27" for r in answers[0]["rows"])
    async with platform.client(None) as anonymous:
        assert (await anonymous.get("/v1/observatory/counts")).status_code == 401


async def test_the_tables_render_as_svg_pictures(registry: SmallRegistry) -> None:
    table = await _get(registry, "/v1/observatory/specialisation", by="region")
    values = {(r["ecosystem"], r["area"]): r["index"] for r in table["rows"]}
    svg = heat_table(
        "Specialisation by region", sorted({e for e, _ in values}),
        sorted({a for _, a in values}), values, quotient=True,
    )  # fmt: skip
    root = ET.fromstring(svg)  # noqa: S314 - our own output, parsed to check it
    cell = next(
        r for r in root.iter(f"{SVG}rect")
        if (r.findtext(f"{SVG}title") or "").startswith("agri-food / DE-BY")
    )  # fmt: skip
    assert cell.findtext(f"{SVG}title") == "agri-food / DE-BY: 2.33"
    assert cell.attrib["fill"] != "#ffffff"  # LQ 7/3: clearly coloured
    digital = {r["area"]: r["index"] for r in table["rows"] if r["ecosystem"] == "digital"}
    names = {r["area"]: r["area_name"] for r in table["rows"]}
    tiles = ET.fromstring(tile_map("Digital", digital, quotient=True, names=names))  # noqa: S314
    assert "Auvergne-Rhône-Alpes: 1.56" in "".join(tiles.itertext())
