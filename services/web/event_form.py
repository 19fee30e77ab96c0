"""An event as a form: sessions as rows, the deadline typed in the event's own zone."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from services.web.formatting import parse_time
from services.web.formatting import zone as zone_of
from services.web.pages import Form

SESSION_ROWS = 3
FIELDS = {
    "title": "title",
    "venue": "venue",
    "timezone": "time zone",
    "sessions": "sessions",
    "meeting_minutes": "meeting length",
    "break_minutes": "break between meetings",
    "tables": "tables",
    "request_deadline": "request deadline",
    "max_meetings": "meetings per participant",
}


def _int_or_raw(value: str) -> int | str | None:
    value = value.strip()
    if not value:
        return None
    try:
        return int(value)
    except ValueError:
        return value


def deadline_in_zone(local: str, zone: str) -> str:
    """`2027-03-08T18:00` typed in the event's zone -> an aware ISO time for the API
    (what cannot be read goes as typed, so the API's refusal names the field)."""
    try:
        naive = datetime.fromisoformat(local.strip())
        tz = ZoneInfo(zone)
    except (ValueError, ZoneInfoNotFoundError):
        return local
    if naive.tzinfo is not None:
        return naive.isoformat()
    return naive.replace(tzinfo=tz).isoformat()


def body_of(form: Form) -> dict[str, Any]:
    zone = form.get("timezone").strip()
    sessions = []
    for i in range(SESSION_ROWS):
        date, start, end = (form.get(f"session_{i}_{k}").strip() for k in ("date", "start", "end"))
        if date or start or end:
            sessions.append({"date": date, "start": start, "end": end})
    body: dict[str, Any] = {
        "title": form.get("title"),
        "venue": form.get("venue").strip() or None,
        "online": form.get("online") == "on",
        "timezone": zone,
        "sessions": sessions,
        "request_deadline": deadline_in_zone(form.get("request_deadline"), zone),
    }
    for name in ("meeting_minutes", "break_minutes", "tables", "max_meetings"):
        value = _int_or_raw(form.get(name))
        if value is not None or name in ("tables", "max_meetings"):
            body[name] = value
    return body


def values_of(event: dict[str, Any]) -> dict[str, str]:
    zone = str(event["timezone"])
    out = {
        "title": str(event["title"]),
        "venue": str(event.get("venue") or ""),
        "online": "on" if event.get("online") else "",
        "timezone": zone,
        "meeting_minutes": str(event["meeting_minutes"]),
        "break_minutes": str(event["break_minutes"]),
        "tables": str(event.get("tables") or ""),
        "max_meetings": str(event.get("max_meetings") or ""),
    }
    deadline = parse_time(event["request_deadline"]).astimezone(zone_of(zone))
    out["request_deadline"] = f"{deadline:%Y-%m-%dT%H:%M}"
    for i, s in enumerate(event.get("sessions", [])[:SESSION_ROWS]):
        out[f"session_{i}_date"] = str(s["date"])
        out[f"session_{i}_start"] = str(s["start"])[:5]
        out[f"session_{i}_end"] = str(s["end"])[:5]
    return out
