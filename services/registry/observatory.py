"""The observatory's tables: counts, specialisation and trends, from the registry's own
public data, shaped for the API (JSON or CSV)."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from datetime import date
from functools import cache

import pycountry
from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession

from services.registry import labels, regions
from services.registry.repository import ObservatoryRepository
from services.registry.schemas import (
    CountsRow,
    CountsTable,
    SpecialisationRow,
    SpecialisationTable,
    TrendRow,
    TrendTable,
)

LEVELS = ("bronze", "silver", "gold")


@cache
def area_name(by: str, code: str) -> str | None:
    if by == "region":
        return regions.name_of(code)
    found = pycountry.countries.get(alpha_2=code)
    return None if found is None else str(found.name)


async def counts(
    session: AsyncSession,
    by: str,
    ecosystem: str | None,
    country: str | None,
    labelled: bool = False,
) -> CountsTable:
    on = labels.today()
    rows = await ObservatoryRepository(session).counts(by, on, ecosystem, country, labelled)
    return CountsTable(
        by=by,
        as_of=on,
        # Rows come from our own aggregate, typed by the query: built without
        # re-validating thousands of them (most of an answer's time otherwise).
        rows=[CountsRow.model_construct(**r, area_name=area_name(by, r["area"])) for r in rows],
    )


async def specialisation(
    session: AsyncSession, by: str, measure: str, ecosystem: str | None, country: str | None
) -> SpecialisationTable:
    rows = await ObservatoryRepository(session).specialisation(by, measure, ecosystem, country)
    return SpecialisationTable(
        by=by,
        measure=measure,
        rows=[
            SpecialisationRow.model_construct(
                area=r["area"],
                area_name=area_name(by, r["area"]),
                ecosystem=r["ecosystem"],
                entries=r["n"],
                area_entries=r["n_r"],
                ecosystem_entries=r["n_e"],
                all_entries=r["n_all"],
                index=round(r["lq"], 6),
            )
            for r in rows
        ],
    )


def month_starts(until: date, months: int) -> list[date]:
    out, y, m = [], until.year, until.month
    for _ in range(months):
        out.append(date(y, m, 1))
        y, m = (y, m - 1) if m > 1 else (y - 1, 12)
    return out[::-1]


async def trends(session: AsyncSession, months: int, region: str | None = None) -> TrendTable:
    series = month_starts(labels.today(), months)
    repo = ObservatoryRepository(session)
    created = await repo.profiles_created(series[0], region)
    gained = await repo.labels_gained(series[0], region)
    return TrendTable(
        months=months,
        region_code=region,
        rows=[
            TrendRow(
                month=m,
                profiles_created=created.get(m, 0),
                labels_bronze=gained.get((m, "bronze"), 0),
                labels_silver=gained.get((m, "silver"), 0),
                labels_gold=gained.get((m, "gold"), 0),
            )
            for m in series
        ],
    )


def as_csv(rows: Sequence[BaseModel], model: type[BaseModel]) -> str:
    """One table as CSV, its header the row model's fields (empty tables keep it)."""
    buf = io.StringIO()
    names = list(model.model_fields)
    writer = csv.writer(buf, lineterminator="\r\n")
    writer.writerow(names)
    for row in rows:
        data = row.model_dump(mode="json")
        writer.writerow(["" if data[n] is None else _safe(data[n]) for n in names])
    return buf.getvalue()


def _safe(value: object) -> object:
    # A cell starting with = + - @ is a formula to a spreadsheet; names come from
    # pycountry and codes from our own validators, but a quote costs nothing.
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@"):
        return "'" + value
    return value
