"""Template filters: times always with their zone, labels for codes."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from shared.taxonomy import ECOSYSTEMS


def zone(name: str | None) -> ZoneInfo:
    try:
        return ZoneInfo(name or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def parse_time(value: str | datetime) -> datetime:
    if isinstance(value, datetime):
        return value
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def when(value: str | datetime | None, zone_name: str | None = "UTC") -> str:
    """`2027-03-10 09:00 JST (Asia/Tokyo)`: a time is never shown without its zone."""
    if value is None or value == "":
        return ""
    tz = zone(zone_name)
    local = parse_time(value).astimezone(tz)
    short = local.tzname()
    # "05:16 UTC", not "05:16 UTC (UTC)": the zone's name only when it says more.
    named = "" if short == tz.key else f" ({tz.key})"
    return f"{local:%Y-%m-%d %H:%M} {short}{named}"


def clock(value: str | datetime | None, zone_name: str | None = "UTC") -> str:
    """`09:00 JST`: for grids and agendas whose zone is named at the top too."""
    if value is None or value == "":
        return ""
    local = parse_time(value).astimezone(zone(zone_name))
    return f"{local:%H:%M} {local.tzname()}"


def ecosystem_name(code: str) -> str:
    return ECOSYSTEMS.get(code, code.replace("-", " "))
