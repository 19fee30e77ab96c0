"""The observatory's API tables shaped for pages: a heat grid of ecosystems x countries
with a colour per cell, the tiles of a country's regions (from pycountry's ISO 3166-2
lists), a region's strongest ecosystems. Pure functions over the API's JSON."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any

import pycountry

from shared.charts import Scale, legend
from shared.taxonomy import ECOSYSTEMS

# What a heat table can show: (label, API table, the row field or fields summed).
MEASURES: dict[str, tuple[str, str, tuple[str, ...]]] = {
    "clusters": ("Clusters", "counts", ("clusters",)),
    "smes": ("SME members", "counts", ("members_smes",)),
    "labels": ("Current labels", "counts", ("labels_bronze", "labels_silver", "labels_gold")),
    "specialisation": ("Specialisation index (clusters)", "specialisation", ("index",)),
    "specialisation-smes": ("Specialisation index (SME members)", "specialisation", ("index",)),
}


@dataclass(frozen=True)
class Cell:
    text: str
    colour: str
    ink: str  # white on dark cells, so the number stays readable


@dataclass(frozen=True)
class HeatGrid:
    measure: str
    title: str
    quotient: bool
    columns: list[tuple[str, str]]  # (code, name)
    rows: list[tuple[str, str, list[Cell]]]  # (ecosystem code, name, one cell per column)
    legend: list[tuple[str, str]]

    @property
    def empty(self) -> bool:
        return not self.columns


@cache
def country_name(code: str) -> str:
    found = pycountry.countries.get(alpha_2=code)
    return code if found is None else str(getattr(found, "common_name", None) or found.name)


@cache
def _region_names() -> dict[str, str]:
    # Every ISO 3166-2 code once (about 5,000): a made-up code in an address is looked
    # up here and never grows a cache.
    return {str(s.code): str(s.name) for s in pycountry.subdivisions}


def region_name(code: str) -> str | None:
    return _region_names().get(code)


@cache
def top_regions(country: str) -> tuple[str, ...]:
    """The country's first-level ISO 3166-2 subdivisions (regions, not their
    departments or provinces), the tiles of its map."""
    found = pycountry.subdivisions.get(country_code=country)  # type: ignore[no-untyped-call]
    return tuple(
        sorted(str(s.code) for s in found or () if getattr(s, "parent_code", None) is None)
    )


def number(value: float | None, quotient: bool) -> str:
    if value is None or not math.isfinite(value):
        return "—"
    return f"{value:.2f}" if quotient else f"{value:,.0f}"


def _ink(colour: str) -> str:
    r, g, b = (int(colour[i : i + 2], 16) for i in (1, 3, 5))
    return "#ffffff" if 0.299 * r + 0.587 * g + 0.114 * b < 140 else "#1b2430"


def heat_grid(measure: str, rows: Sequence[Mapping[str, Any]]) -> HeatGrid:
    """Ecosystems (every one, in the taxonomy's order) x the countries that have any
    entry (most entries first), each cell its number and colour."""
    title, table, fields = MEASURES[measure]
    quotient = table == "specialisation"
    values: dict[tuple[str, str], float] = {}
    weight: dict[str, float] = {}
    for r in rows:
        v = float(sum(r[f] for f in fields))
        values[(str(r["ecosystem"]), str(r["area"]))] = v
        weight[str(r["area"])] = weight.get(str(r["area"]), 0.0) + float(
            r.get("entries", v) if quotient else v
        )
    codes = sorted(weight, key=lambda c: (-weight[c], c))
    finite = [v for v in values.values() if math.isfinite(v)]
    scale = Scale("quotient") if quotient else Scale("sequential", max(finite, default=1.0))
    grid_rows = []
    for eco, name in ECOSYSTEMS.items():
        cells = []
        for code in codes:
            # No row: no entry, which is a count of 0 but no quotient at all.
            shown: float | None = values.get((eco, code), None if quotient else 0.0)
            colour = scale.colour(shown)
            cells.append(Cell(number(shown, quotient), colour, _ink(colour)))
        grid_rows.append((eco, name, cells))
    return HeatGrid(
        measure=measure,
        title=title,
        quotient=quotient,
        columns=[(c, country_name(c)) for c in codes],
        rows=grid_rows,
        legend=legend(scale),
    )


@dataclass(frozen=True)
class AreaValue:
    code: str
    name: str
    index: float
    entries: float
    colour: str
    ink: str


def area_values(rows: Sequence[Mapping[str, Any]], *, regions: bool) -> list[AreaValue]:
    """Specialisation rows of one ecosystem as (area, index), strongest first."""
    scale = Scale("quotient")
    out = []
    for r in rows:
        code = str(r["area"])
        colour = scale.colour(float(r["index"]))
        name = (region_name(code) if regions else country_name(code)) or code
        out.append(
            AreaValue(code, name, float(r["index"]), float(r["entries"]), colour, _ink(colour))
        )
    return sorted(out, key=lambda a: (-a.index, a.code))


@dataclass(frozen=True)
class Strength:
    ecosystem: str
    name: str
    index: float
    entries: float
    area_entries: float
    colour: str
    ink: str


def strongest_ecosystems(rows: Sequence[Mapping[str, Any]], region: str) -> list[Strength]:
    """The region's ecosystems by location quotient, highest first."""
    scale = Scale("quotient")
    out = []
    for r in rows:
        if r["area"] != region:
            continue
        colour = scale.colour(float(r["index"]))
        eco = str(r["ecosystem"])
        out.append(
            Strength(
                eco,
                ECOSYSTEMS.get(eco, eco),
                float(r["index"]),
                float(r["entries"]),
                float(r["area_entries"]),
                colour,
                _ink(colour),
            )
        )
    return sorted(out, key=lambda s: (-s.index, s.ecosystem))
