"""Labels in matching are judged when a query runs: an expired label neither passes a
minimum-label filter nor boosts a partner, and one that ends today stops counting
tomorrow without the profile being sent again."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from services.matching.engine import index as index_module
from services.matching.engine.documents import Profile
from services.matching.engine.filters import Filters
from services.matching.engine.index import MatchIndex
from shared.taxonomy import LabelLevel

TODAY = datetime.now(UTC).date()


def prof(pid: str, country: str, valid_until: date | None, level: str = "gold") -> Profile:
    data: dict[str, Any] = {
        "id": pid,
        "tenant": "eu" if country in {"DE", "FR"} else country.lower(),
        "name": f"Cluster {pid}",
        "country": country,
        "ecosystems": ["mobility-transport-automotive"],
        "competences": ["battery cell manufacturing"],
        "offers": ["battery recycling", "solid-state electrolytes"],
        "needs": ["battery management systems"],
        "label": {"level": level,
                  "valid_until": valid_until.isoformat() if valid_until else None},
        "verified": True,
        "version": 1,
    }  # fmt: skip
    return Profile.from_event_data(data)


@pytest.fixture
def index() -> MatchIndex:
    ix = MatchIndex()
    asker = Profile.from_event_data(
        {"id": "asker", "tenant": "kr", "name": "Asker", "country": "KR",
         "ecosystems": ["mobility-transport-automotive"], "offers": ["battery management systems"],
         "needs": ["battery recycling", "solid-state electrolytes"], "version": 1}
    )  # fmt: skip
    ix.build(
        [
            asker,
            prof("expired", "DE", TODAY - timedelta(days=1)),
            prof("ends-today", "FR", TODAY),
            prof("open-ended", "DE", None),
        ]
    )
    return ix


def boosts(matches: list[Any]) -> dict[str, float]:
    return {m.cluster_id: float(m.components["boost"]) for m in matches}


def test_an_expired_label_neither_filters_in_nor_boosts(index: MatchIndex) -> None:
    found = index.matches("asker", mode="complementary", limit=10)
    b = boosts(found)
    assert b["expired"] == 0
    assert b["ends-today"] > 0
    assert b["open-ended"] == b["ends-today"]
    gold = index.matches("asker", filters=Filters(min_label=LabelLevel.GOLD), limit=10)
    assert {m.cluster_id for m in gold} == {"ends-today", "open-ended"}
    searched = boosts(index.search("battery recycling", limit=10))
    assert searched["expired"] == 0 < searched["ends-today"]
    assert index.get("expired").label_on(TODAY) is LabelLevel.NONE


def test_a_label_ending_today_stops_counting_tomorrow_without_a_new_event(
    index: MatchIndex, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert boosts(index.matches("asker", limit=10))["ends-today"] > 0
    tomorrow = (TODAY + timedelta(days=1)).toordinal()
    monkeypatch.setattr(index_module, "_today", lambda: tomorrow)
    assert boosts(index.matches("asker", limit=10))["ends-today"] == 0
    gold = index.matches("asker", filters=Filters(min_label=LabelLevel.GOLD), limit=10)
    assert {m.cluster_id for m in gold} == {"open-ended"}
