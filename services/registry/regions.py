"""Regions as ISO 3166-2 subdivision codes, checked against pycountry's copy of the
standard; a profile's free-text region stays what is shown until a code is set."""

from __future__ import annotations

import re
from functools import cache

import pycountry

from shared.problems import Problem

_SHAPE = re.compile(r"[A-Z]{2}-[A-Z0-9]{1,3}")


@cache
def name_of(code: str) -> str | None:
    """The subdivision's name, or None if the code is not in ISO 3166-2."""
    found = pycountry.subdivisions.get(code=code)  # type: ignore[no-untyped-call]
    return None if found is None else str(found.name)


def normalise(value: str) -> str:
    """An upper-case ISO 3166-2 code; a ValueError says why not (for request models)."""
    code = value.strip().upper()
    if not _SHAPE.fullmatch(code) or name_of(code) is None:
        raise ValueError(f"'{value}' is not an ISO 3166-2 subdivision code (e.g. FR-ARA, JP-27)")
    return code


def check_in_country(code: str | None, country: str) -> None:
    if code is not None and not code.startswith(f"{country}-"):
        raise Problem(
            422,
            f"Region {code} is not a subdivision of {country}.",
            field="region_code",
        )


def shown_region(code: str | None, free_text: str | None) -> str | None:
    if code is not None:
        return name_of(code) or free_text
    return free_text
