"""Consortium builder on a small hand-made set of profiles."""

from __future__ import annotations

from collections.abc import Iterable

import pytest

from services.matching.engine.consortium import build_consortia
from services.matching.engine.documents import Profile
from services.matching.engine.errors import EmptyQuery, InvalidQuery, UnknownCluster
from services.matching.engine.index import MatchIndex

WANTED = ["battery recycling", "hydrogen fuel cells", "charging stations", "solid-state batteries"]


def prof(pid: str, country: str, comp: Iterable[str] = (), offers: Iterable[str] = ()) -> Profile:
    return Profile.from_event_data(
        {
            "id": pid,
            "tenant": "eu" if country in {"DE", "FR", "PL", "NL"} else country.lower(),
            "name": pid,
            "country": country,
            "ecosystems": ["mobility-transport-automotive"],
            "competences": list(comp),
            "offers": list(offers),
            "needs": ["anything new"],
            "version": 1,
        }
    )


def dataset() -> list[Profile]:
    return [
        prof("asker", "DE", comp=("vehicle engineering",)),
        prof("recycler", "KR", comp=("recycling of Li-ion batteries",)),
        prof("fuelcell", "JP", offers=("hydrogen fuel-cell systems",)),
        prof("charger", "FR", comp=("EV charging stations",)),
        prof("solid", "PL", comp=("solid state battery chemistry",)),
        # Covers everything but sits in asker's country: cannot make 3 countries alone.
        prof(
            "allrounder",
            "DE",
            comp=("battery recycling", "hydrogen fuel cells"),
            offers=("charging stations", "solid-state batteries"),
        ),
        prof("unrelated", "NL", comp=("tulip breeding",)),
    ]


@pytest.fixture
def index() -> MatchIndex:
    ix = MatchIndex()
    ix.build(dataset())
    return ix


def test_consortia_cover_wanted_competences_across_three_countries(index: MatchIndex) -> None:
    result = build_consortia(index, "asker", WANTED, limit=5)
    assert result
    for c in result:
        assert 3 <= len(c.members) <= 5
        assert c.members[0] == "asker"
        assert len(set(c.members)) == len(c.members)
        countries = {index.get(m).country_code for m in c.members}
        assert len(countries) >= 3
        assert set(c.countries) == countries
        for cov in c.coverage:
            if cov.covered:
                assert cov.member_id in c.members
                assert cov.field is not None
                member = index.get(cov.member_id)
                assert cov.phrase in member.phrases(cov.field)
    best = result[0]
    assert best.covered == len(WANTED)
    assert [cov.competence for cov in best.coverage] == WANTED
    assert all(cov.covered for cov in best.coverage)
    assert "unrelated" not in best.members
    # Ranked best first.
    keys = [(-c.covered, -c.score) for c in result]
    assert keys == sorted(keys)


def test_consortium_names_who_covers_what(index: MatchIndex) -> None:
    best = build_consortia(index, "asker", ["battery recycling", "hydrogen fuel cells"])[0]
    by_competence = {cov.competence: cov for cov in best.coverage}
    assert by_competence["hydrogen fuel cells"].member_id in {"fuelcell", "allrounder"}
    assert by_competence["battery recycling"].member_id in {"recycler", "allrounder"}


def test_consortia_are_deterministic(index: MatchIndex) -> None:
    assert build_consortia(index, "asker", WANTED) == build_consortia(index, "asker", WANTED)


def test_impossible_country_spread_gives_no_consortium() -> None:
    ix = MatchIndex()
    ix.build(
        [
            prof("asker", "DE"),
            prof("a", "FR", comp=("battery recycling",)),
            prof("b", "FR", comp=("hydrogen fuel cells",)),
        ]
    )
    assert build_consortia(ix, "asker", ["battery recycling", "hydrogen fuel cells"]) == []


def test_uncovered_competence_is_reported() -> None:
    ix = MatchIndex()
    ix.build(dataset())
    best = build_consortia(ix, "asker", ["battery recycling", "deep sea mining"])[0]
    cov = {c.competence: c for c in best.coverage}
    assert cov["battery recycling"].covered
    assert not cov["deep sea mining"].covered
    assert best.covered == 1


def test_bad_input(index: MatchIndex) -> None:
    with pytest.raises(UnknownCluster):
        build_consortia(index, "ghost", WANTED)
    with pytest.raises(EmptyQuery):
        build_consortia(index, "asker", [])
    with pytest.raises(EmptyQuery):
        build_consortia(index, "asker", ["  "])
    with pytest.raises(InvalidQuery):
        build_consortia(index, "asker", "battery recycling")
    with pytest.raises(InvalidQuery):
        build_consortia(index, "asker", WANTED, limit=0)
    with pytest.raises(InvalidQuery):
        build_consortia(index, "asker", WANTED, min_members=4, max_members=3)
