"""Times on pages: always with their zone, and the zone's name only when it says more."""

from __future__ import annotations

from services.web.formatting import clock, when


def test_a_named_zone_shows_its_abbreviation_and_its_name() -> None:
    assert when("2027-03-10T00:00:00+00:00", "Asia/Tokyo") == "2027-03-10 09:00 JST (Asia/Tokyo)"
    assert (
        when("2027-07-01T07:00:00Z", "Europe/Brussels") == "2027-07-01 09:00 CEST (Europe/Brussels)"
    )


def test_utc_is_said_once() -> None:
    assert when("2027-03-10T05:16:00+00:00", "UTC") == "2027-03-10 05:16 UTC"
    assert when("2027-03-10T05:16:00+00:00") == "2027-03-10 05:16 UTC"


def test_nothing_for_no_time() -> None:
    assert when(None) == ""
    assert clock("") == ""
