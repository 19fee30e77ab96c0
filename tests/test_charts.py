"""The observatory's SVG pictures: well-formed, escaped, coloured by value."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from shared.charts import Scale, bars, heat_table, legend, monthly_bars, tile_map

NS = "{http://www.w3.org/2000/svg}"


def parse(svg: str) -> ET.Element:
    return ET.fromstring(svg)  # noqa: S314 - our own output, parsed to check it


def fills(root: ET.Element, tip: str) -> str:
    rect = next(r for r in root.iter(f"{NS}rect") if tip in (r.findtext(f"{NS}title") or ""))
    return rect.attrib["fill"]


def test_heat_table_has_a_cell_per_value_and_escapes_every_name() -> None:
    hostile = "<script>alert(1)</script>&"
    svg = heat_table(
        "Clusters", ["digital", "health"], ["FR", "DE"],
        {("digital", "FR"): 3, ("health", "FR"): 1, ("health", "DE"): 2},
        row_labels={"digital": hostile},
    )  # fmt: skip
    root = parse(svg)  # would raise on broken markup
    assert "<script>" not in svg
    assert hostile in "".join(root.itertext())
    assert len(list(root.iter(f"{NS}rect"))) == 4  # 2 x 2, the empty one grey
    assert fills(root, "health / DE") != fills(root, "digital / FR")
    assert fills(root, "digital / DE") == "#eeeeee"


def test_quotient_colours_diverge_around_one() -> None:
    q = Scale("quotient")
    assert q.colour(1.0) == "#ffffff"
    red, blue = q.colour(2.0), q.colour(0.5)
    assert int(red[1:3], 16) > int(red[5:7], 16)  # more red than blue
    assert int(blue[5:7], 16) > int(blue[1:3], 16)
    assert q.colour(float("nan")) == q.colour(None) == "#eeeeee"
    assert q.colour(1e9) == q.colour(4.0)  # clipped


def test_tile_maps_place_countries_and_group_regions_by_country() -> None:
    countries = parse(tile_map("LQ", {"DE": 1.5, "JP": 0.5, "ZZ": 1.0}, quotient=True))
    tips = [r.findtext(f"{NS}title") for r in countries.iter(f"{NS}rect")]
    assert sorted(t.split(":")[0] for t in tips if t) == ["DE", "JP", "ZZ"]
    regions = parse(tile_map("LQ", {"FR-ARA": 2.0, "FR-IDF": 1.0, "DE-BY": 0.5},
                             names={"FR-ARA": "Auvergne-Rhône-Alpes"}))  # fmt: skip
    assert "Auvergne-Rhône-Alpes: 2" in "".join(regions.itertext())
    ys = {
        r.findtext(f"{NS}title", "").split(":")[0]: r.attrib["y"] for r in regions.iter(f"{NS}rect")
    }
    assert ys["Auvergne-Rhône-Alpes"] == ys["FR-IDF"] != ys["DE-BY"]


def test_monthly_bars_stack_each_series() -> None:
    root = parse(
        monthly_bars("Labels", ["2026-10-01", "2026-11-01"],
                     {"bronze": [1, 0], "silver": [2, 3], "gold": [0, 1]})
    )  # fmt: skip
    bars = [r for r in root.iter(f"{NS}rect") if r.find(f"{NS}title") is not None]
    assert len(bars) == 6
    heights = {r.findtext(f"{NS}title"): float(r.attrib["height"]) for r in bars}
    assert heights["2026-11-01 silver: 3"] == 3 * heights["2026-10-01 bronze: 1"]
    assert heights["2026-11-01 bronze: 0"] == 0


def test_bars_write_each_value_and_describe_the_chart() -> None:
    svg = bars("Meetings", [("placed", 8), ("held <b>", 2)])
    root = parse(svg)
    assert root.attrib["aria-label"] == "Meetings: placed 8, held <b> 2"
    widths = {r.findtext(f"{NS}title"): float(r.attrib["width"]) for r in root.iter(f"{NS}rect")}
    assert widths["placed: 8"] == 4 * widths["held <b>: 2"]
    assert "<b>" not in svg


def test_legends_use_the_colours_of_the_cells() -> None:
    quotient = legend(Scale("quotient"))
    assert [text for text, _ in quotient][2] == "1 (as the registry)"
    assert quotient[2][1] == Scale("quotient").colour(1.0)
    counts = legend(Scale("sequential", 40))
    assert [text for text, _ in counts] == ["0", "10", "20", "30", "40"]
    assert counts[-1][1] == Scale("sequential", 40).colour(40)


def test_tile_maps_show_areas_without_a_value_and_link_tiles() -> None:
    root = parse(tile_map("LQ", {"JP-47": 2.0}, quotient=True, areas=["JP-01", "JP-47"],
                          links={"JP-47": "/observatory/regions/JP-47?a=1&b=2"}))  # fmt: skip
    tips = {r.findtext(f"{NS}title"): r.attrib["fill"] for r in root.iter(f"{NS}rect")}
    assert tips["JP-01: —"] == "#eeeeee"
    links = [a.attrib["href"] for a in root.iter(f"{NS}a")]
    assert links == ["/observatory/regions/JP-47?a=1&b=2"]
