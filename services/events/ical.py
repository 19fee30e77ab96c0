"""A participant's agenda as iCalendar (RFC 5545), in the event's time zone.

UIDs are the meeting ids (which are the request ids), so a calendar program that
imports a newer agenda updates the meetings it already has instead of doubling them.
"""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import icalendar

from services.events.agenda import Agenda

PRODID = "-//Clusterbridge//B2B matchmaking//EN"
UID_DOMAIN = "events.clusterbridge.dev"


def to_ical(agenda: Agenda) -> bytes:
    event = agenda.event
    tz = ZoneInfo(event.timezone)
    cal = icalendar.Calendar()
    cal.add("prodid", PRODID)
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    cal.add("method", "PUBLISH")
    cal.add("x-wr-calname", f"{event.title}: {agenda.name or agenda.cluster_id}")
    cal.add("x-wr-timezone", event.timezone)
    stamp = agenda.schedule.published_at or datetime.now(UTC)
    place = "Online" if event.online else (event.venue or "")
    for item in agenda.items:
        vevent = icalendar.Event()
        vevent.add("uid", f"{item.meeting_id}@{UID_DOMAIN}")
        vevent.add("dtstamp", stamp.astimezone(UTC))
        vevent.add("dtstart", item.start.astimezone(tz))
        vevent.add("dtend", item.end.astimezone(tz))
        who = item.counterpart_name or str(item.counterpart)
        country = f" ({item.counterpart_country})" if item.counterpart_country else ""
        vevent.add("summary", f"B2B meeting with {who}{country}")
        vevent.add("location", f"{item.location}, {place}" if place else item.location)
        vevent.add(
            "description",
            f"{event.title}\nCounterpart: {who}{country}\nWhere: {item.location}\n"
            f"Priority: {'must meet' if item.priority == 'must' else 'would like to meet'}",
        )
        vevent.add("status", "CONFIRMED")
        vevent.add("transp", "OPAQUE")
        cal.add_component(vevent)
    # One VTIMEZONE per TZID used, so programs without the zone database agree on times.
    cal.add_missing_timezones()
    ical: bytes = cal.to_ical()
    return ical
