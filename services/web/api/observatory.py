"""Pages: the observatory for every signed-in person. An ecosystem x country heat table,
tile maps of countries and of a country's regions coloured by specialisation, a
region's page (its clusters, strongest ecosystems, trend), and each table as CSV
through the API's own CSV answers."""

from __future__ import annotations

import asyncio
from typing import Any
from urllib.parse import urlencode

from fastapi import Response
from markupsafe import Markup

from services.web.observatory_tables import (
    MEASURES,
    area_values,
    country_name,
    heat_grid,
    region_name,
    strongest_ecosystems,
    top_regions,
)
from services.web.pages import Refused, SignedInDep, refusal
from services.web.wording import Errors
from shared.charts import COUNTRY_TILES, Scale, legend, monthly_bars, tile_map
from shared.routing import api_router
from shared.taxonomy import ECOSYSTEMS

router = api_router(include_in_schema=False, tags=["pages"])

# What a CSV link may pass on to the API (anything else a person adds is dropped).
CSV_TABLES = {
    "counts": ("by", "ecosystem", "country", "labelled"),
    "specialisation": ("by", "measure", "ecosystem", "country"),
    "trends": ("months", "region_code"),
}
TREND_MONTHS = 24


def svg(text: str) -> Markup:
    # Our own SVG text: shared.charts escapes every name and label in it.
    return Markup(text)  # noqa: S704


@router.get("/observatory")
async def heat_table(p: SignedInDep) -> Response:
    query = p.request.query_params
    measure = query.get("measure", "clusters")
    labelled = query.get("labelled", "") == "yes"
    errors = Errors()
    if measure not in MEASURES:
        errors.add("measure", "Choose one of the measures in the list.")
        measure = "clusters"
    _, table, _ = MEASURES[measure]
    if table == "counts":
        params = {"by": "country", **({"labelled": "true"} if labelled else {})}
    else:
        params = {"by": "country", "measure": "smes" if measure.endswith("smes") else "clusters"}
        if labelled:
            errors.add(
                "labelled",
                "The specialisation index counts every cluster; the label filter applies "
                "to counts only.",
            )
            labelled = False
    found = await p.read(f"/v1/observatory/{table}", params=params)
    grid = heat_grid(measure, found["rows"])
    return p.render(
        "observatory.html",
        status=422 if errors else 200,
        grid=grid,
        legend=grid.legend,
        measures=[(k, v[0]) for k, v in MEASURES.items()],
        values={"measure": measure, "labelled": labelled},
        errors=errors,
        as_of=found.get("as_of"),
        csv=csv_link(table, params),
    )


def csv_link(table: str, params: dict[str, str]) -> str:
    return f"/observatory/{table}.csv" + (f"?{urlencode(params)}" if params else "")


@router.get("/observatory/map")
async def tile_maps(p: SignedInDep) -> Response:
    query = p.request.query_params
    ecosystem = query.get("ecosystem", "digital")
    country = query.get("country", "").upper()
    errors = Errors()
    if ecosystem not in ECOSYSTEMS:
        errors.add("ecosystem", "Choose an ecosystem from the list.")
        ecosystem = "digital"
    # Checked against the partner grid before any lookup: the lookups are cached, and a
    # made-up value must not grow the cache.
    if country and (country not in COUNTRY_TILES or not top_regions(country)):
        errors.add("country", "Choose a country from the list.")
        country = ""
    by_country = {"by": "country", "ecosystem": ecosystem}
    by_region = {"by": "region", "ecosystem": ecosystem, "country": country}
    countries_rows, regions_rows = await asyncio.gather(
        p.read("/v1/observatory/specialisation", params=by_country),
        p.read("/v1/observatory/specialisation", params=by_region) if country else _none(),
    )
    countries = area_values(countries_rows["rows"], regions=False)
    name = ECOSYSTEMS[ecosystem]
    country_map = tile_map(
        f"{name}: specialisation by country",
        {a.code: a.index for a in countries},
        quotient=True,
        names={a.code: a.name for a in countries},
        areas=sorted(COUNTRY_TILES),
        links={c: f"/observatory/map?ecosystem={ecosystem}&country={c}" for c in COUNTRY_TILES},
    )
    regions: list[Any] = []
    region_map = None
    if country:
        regions = area_values(regions_rows["rows"], regions=True)
        shown = {a.code: a.index for a in regions}
        tiles = sorted(set(top_regions(country)) | set(shown))
        region_map = tile_map(
            f"{name}: specialisation by region of {country_name(country)}",
            shown,
            quotient=True,
            names={c: region_name(c) or c for c in tiles},
            areas=tiles,
            links={c: f"/observatory/regions/{c}" for c in tiles},
        )
    return p.render(
        "observatory_map.html",
        status=422 if errors else 200,
        errors=errors,
        values={"ecosystem": ecosystem, "country": country},
        countries=countries,
        regions=regions,
        country_map=svg(country_map),
        region_map=svg(region_map) if region_map else None,
        country_choices=sorted((c, country_name(c)) for c in COUNTRY_TILES),
        country_name=country_name(country) if country else "",
        legend=_quotient_legend(),
        csv_countries=csv_link("specialisation", by_country),
        csv_regions=csv_link("specialisation", by_region) if country else None,
    )


async def _none() -> dict[str, Any]:
    return {"rows": []}


def _quotient_legend() -> list[tuple[str, str]]:
    return legend(Scale("quotient"))


@router.get("/observatory/regions/{code}")
async def region_page(code: str, p: SignedInDep) -> Response:
    code = code.strip().upper()
    name = region_name(code) if len(code) <= 6 else None
    if name is None:
        raise Refused(404, "Not found", "There is no ISO 3166-2 region with this code.")
    country = code.split("-")[0]
    params: list[tuple[str, str]] = [("region_code", code), ("limit", "50")]
    cursor = p.request.query_params.get("cursor", "")
    if cursor:
        params.append(("cursor", cursor))
    spec_params = {"by": "region", "country": country}
    trend_params = {"months": str(TREND_MONTHS), "region_code": code}
    clusters, spec, trend = await asyncio.gather(
        p.read("/v1/clusters", params=params),
        p.read("/v1/observatory/specialisation", params=spec_params),
        p.read("/v1/observatory/trends", params=trend_params),
    )
    months = [str(r["month"]) for r in trend["rows"]]
    created = monthly_bars(
        f"Profiles created per month in {name}",
        months,
        {"profiles created": [int(r["profiles_created"]) for r in trend["rows"]]},
    )
    labelled = monthly_bars(
        f"Labels awarded per month in {name}",
        months,
        {
            lvl: [int(r[f"labels_{lvl}"]) for r in trend["rows"]]
            for lvl in ("bronze", "silver", "gold")
        },
    )
    return p.render(
        "observatory_region.html",
        code=code,
        name=name,
        country=country,
        country_name=country_name(country),
        clusters=clusters["items"],
        next_cursor=clusters.get("next_cursor"),
        strengths=strongest_ecosystems(spec["rows"], code),
        charts=[svg(created), svg(labelled)],
        trend_rows=trend["rows"],
        csv_strengths=csv_link("specialisation", spec_params),
        csv_trends=csv_link("trends", trend_params),
    )


@router.get("/observatory/{table}.csv")
async def csv_download(table: str, p: SignedInDep) -> Response:
    allowed = CSV_TABLES.get(table)
    if allowed is None:
        raise Refused(404, "Not found", "There is no such observatory table.")
    query = p.request.query_params
    params = [(k, query[k]) for k in allowed if query.get(k)] + [("format", "csv")]
    r = await p.call("GET", f"/v1/observatory/{table}", params=params)
    if r.status_code != 200:
        raise refusal(r)
    return Response(
        r.content,
        media_type="text/csv; charset=utf-8",
        headers={
            "content-disposition": r.headers.get(
                "content-disposition", f'attachment; filename="{table}.csv"'
            ),
            "cache-control": "no-store",
        },
    )
