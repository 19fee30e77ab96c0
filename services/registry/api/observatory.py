"""Routes: the observatory, read-only public statistics of the whole registry, each
table as JSON or CSV (`Accept: text/csv` or `?format=csv`)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import Header, Query, Response
from pydantic import BaseModel

from services.registry import observatory
from services.registry.api.scopes import READ
from services.registry.schemas import (
    CountsRow,
    CountsTable,
    RegionCode,
    SpecialisationRow,
    SpecialisationTable,
    TrendRow,
    TrendTable,
)
from shared.problems import Problem
from shared.routing import api_router
from shared.runtime import SessionDep
from shared.taxonomy import ECOSYSTEMS
from shared.validation import CountryCode

router = api_router(prefix="/v1/observatory", tags=["observatory"])

CSV: dict[int | str, dict[str, Any]] = {
    200: {"content": {"text/csv": {"schema": {"type": "string"}}}}
}
Format = Annotated[
    Literal["json", "csv"] | None,
    Query(description="`csv` for a CSV file (or send `Accept: text/csv`)."),
]
By = Annotated[Literal["country", "region"], Query(description="ecosystem x country or x region")]
EcosystemQuery = Annotated[str | None, Query(max_length=64)]


def _ecosystem(code: str | None) -> str | None:
    if code is not None and code not in ECOSYSTEMS:
        raise Problem(422, f"Unknown ecosystem '{code}'.", field="ecosystem")
    return code


def _answer(
    table: BaseModel, rows: list[BaseModel], row_model: type[BaseModel],
    fmt: str | None, accept: str | None, name: str,
) -> Response:  # fmt: skip
    wants_csv = fmt == "csv" or (fmt is None and "text/csv" in (accept or "").lower())
    if wants_csv:
        return Response(
            observatory.as_csv(rows, row_model),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="{name}.csv"'},
        )
    return Response(table.model_dump_json(), media_type="application/json")


@router.get("/counts", response_model=CountsTable, dependencies=[READ], responses=CSV)
async def counts(
    session: SessionDep,
    by: By = "country",
    ecosystem: EcosystemQuery = None,
    country: CountryCode | None = None,
    labelled: Annotated[
        bool, Query(description="only clusters that hold a current (unexpired) label")
    ] = False,
    format: Format = None,
    accept: Annotated[str | None, Header()] = None,
) -> Response:
    """Clusters, members by type and current labels per ecosystem x country or region
    (regions: profiles with an ISO 3166-2 `region_code`)."""
    table = await observatory.counts(session, by, _ecosystem(ecosystem), country, labelled)
    return _answer(table, list(table.rows), CountsRow, format, accept, f"counts-by-{by}")


@router.get(
    "/specialisation", response_model=SpecialisationTable, dependencies=[READ], responses=CSV
)
async def specialisation(
    session: SessionDep,
    by: By = "region",
    measure: Annotated[
        Literal["clusters", "smes"], Query(description="count clusters or their SME members")
    ] = "clusters",
    ecosystem: EcosystemQuery = None,
    country: CountryCode | None = None,
    format: Format = None,
    accept: Annotated[str | None, Header()] = None,
) -> Response:
    """The location quotient of each area in each ecosystem: the area's share of its
    entries in the ecosystem over the ecosystem's share of the whole registry."""
    table = await observatory.specialisation(session, by, measure, _ecosystem(ecosystem), country)
    return _answer(
        table, list(table.rows), SpecialisationRow, format, accept, f"specialisation-by-{by}"
    )


@router.get("/trends", response_model=TrendTable, dependencies=[READ], responses=CSV)
async def trends(
    session: SessionDep,
    months: Annotated[int, Query(ge=1, le=120)] = 24,
    region_code: Annotated[
        RegionCode | None, Query(description="one ISO 3166-2 region (default: the registry)")
    ] = None,
    format: Format = None,
    accept: Annotated[str | None, Header()] = None,
) -> Response:
    """Profiles created and labels awarded per month, the current month last."""
    table = await observatory.trends(session, months, region_code)
    return _answer(table, list(table.rows), TrendRow, format, accept, "trends")
