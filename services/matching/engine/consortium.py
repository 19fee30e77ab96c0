"""Partnership builder: consortia of 3-5 clusters from 3+ countries covering wanted competences.

Calls for joint projects typically ask for partners from at least three countries who
together bring a list of competences. For an asking cluster and that list we:

1. gather candidates: the best search hits for each wanted competence (anywhere but the
   asking cluster itself; compatriots are allowed, the country rule is on the whole);
2. score how well each candidate covers each competence: the best phrase similarity of
   the competence to any of the candidate's competences, technologies or offers;
3. beam-search member sets, growing from the asking cluster, ranked by competences
   covered, then coverage strength, then how well the members suit the asking cluster.

Deterministic: every tie is broken by cluster id.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from .documents import Profile
from .errors import EmptyQuery, InvalidQuery
from .explain import phrase_similarity
from .filters import NO_FILTERS, Filters
from .index import MatchIndex
from .scoring import Mode

COVER_THRESHOLD = 0.25
MAX_COMPETENCES = 20
MAX_RESULTS = 20
COVER_FIELDS = ("competences", "technologies", "offers")


@dataclass(frozen=True, slots=True)
class CompetenceCoverage:
    competence: str
    covered: bool
    score: float
    member_id: str | None  # best member for it (None if nobody reaches anything)
    field: str | None  # the public field of that member's phrase
    phrase: str | None


@dataclass(frozen=True, slots=True)
class Consortium:
    members: tuple[str, ...]  # asking cluster first
    countries: tuple[str, ...]
    coverage: tuple[CompetenceCoverage, ...]
    covered: int
    score: float


def best_cover(p: Profile, competence: str) -> tuple[float, str | None, str | None]:
    """How well a profile covers one competence: the best similarity over its offers,
    competences and technologies, with the field and phrase that gave it (the reason
    shown to people)."""
    best: tuple[float, str | None, str | None] = (0.0, None, None)
    for field in COVER_FIELDS:
        for phrase in p.phrases(field):
            s, _ = phrase_similarity(competence, phrase)
            if s > best[0]:
                best = (s, field, phrase)
    return best


def _check(competences: Sequence[str], limit: int, min_members: int, max_members: int) -> list[str]:
    if isinstance(competences, str):
        raise InvalidQuery("competences must be a list of strings")
    wanted = list(dict.fromkeys(c.strip() for c in competences if c and c.strip()))
    if not wanted:
        raise EmptyQuery("no competences to cover")
    if len(wanted) > MAX_COMPETENCES:
        raise InvalidQuery(f"at most {MAX_COMPETENCES} competences")
    if not isinstance(limit, int) or isinstance(limit, bool) or not 1 <= limit <= MAX_RESULTS:
        raise InvalidQuery(f"limit must be an integer between 1 and {MAX_RESULTS}")
    if not 2 <= min_members <= max_members <= 8:
        raise InvalidQuery("need 2 <= min_members <= max_members <= 8")
    return wanted


def build_consortia(
    index: MatchIndex,
    cluster_id: str,
    competences: Sequence[str],
    *,
    limit: int = 5,
    min_members: int = 3,
    max_members: int = 5,
    min_countries: int = 3,
    threshold: float = COVER_THRESHOLD,
    candidates_per_competence: int = 15,
    beam_width: int = 12,
    filters: Filters = NO_FILTERS,
) -> list[Consortium]:
    """Best consortia for cluster_id covering `competences`, best first (may be empty)."""
    wanted = _check(competences, limit, min_members, max_members)
    asker = index.get(cluster_id)  # UnknownCluster if absent
    pool_filters = Filters(
        countries=filters.countries,
        tenants=filters.tenants,
        ecosystems=filters.ecosystems,
        min_label=filters.min_label,
        verified_only=filters.verified_only,
        exclude_own_country=False,
    )
    pool: dict[str, None] = {}
    for competence in wanted:
        try:
            hits = index.search(
                competence,
                limit=min(candidates_per_competence, 100),
                filters=pool_filters,
                understand=False,
                explain=False,
            )
        except EmptyQuery:
            continue  # a competence made only of stop words: reported as uncovered
        for hit in hits:
            if hit.cluster_id != asker.id:
                pool.setdefault(hit.cluster_id, None)
    members = [asker.id, *sorted(pool)]
    profiles = [index.get(m) for m in members]

    # cover[i, j]: how well member i covers competence j (0 below threshold).
    raw = [[best_cover(p, c) for c in wanted] for p in profiles]
    strength = np.array([[r[0] for r in row] for row in raw], dtype=np.float32)
    cover = np.where(strength >= threshold, strength, 0.0).astype(np.float32)
    fit = np.zeros(len(members), dtype=np.float32)
    if len(members) > 1:
        for match in index.score_pairs(asker.id, members[1:], mode=Mode.BALANCED, explain=False):
            fit[members.index(match.cluster_id)] = match.score
    countries = [p.country_code for p in profiles]

    def value(team: tuple[int, ...]) -> tuple[int, float, float]:
        best = cover[list(team)].max(axis=0)
        partners = fit[list(team[1:])]
        return int((best > 0).sum()), float(best.sum()), float(partners.mean())

    def feasible(team: tuple[int, ...]) -> bool:
        n_countries = len({countries[i] for i in team})
        return n_countries + (max_members - len(team)) >= min_countries

    def key(team: tuple[int, ...]) -> tuple[float, ...]:
        # Coverage first; a member that adds no coverage only makes the set worse
        # (smaller is easier to run); then country spread and fit with the asker.
        covered, strength, partner_fit = value(team)
        n_countries = len({countries[i] for i in team})
        return (-covered, -round(strength, 4), len(team), -n_countries, -partner_fit)

    # Beam search over member sets (order-free), seeded with the asking cluster.
    beam: list[tuple[int, ...]] = [(0,)]
    found: dict[frozenset[int], tuple[int, ...]] = {}
    for _ in range(max_members - 1):
        grown: dict[frozenset[int], tuple[int, ...]] = {}
        for team in beam:
            for cand in range(1, len(members)):
                if cand in team:
                    continue
                new = tuple(sorted((*team, cand)))
                if new[0] != 0:
                    new = (0, *[i for i in new if i != 0])
                ident = frozenset(new)
                if ident in grown or not feasible(new):
                    continue
                grown[ident] = new
        if not grown:
            break
        ranked = sorted(grown.values(), key=lambda t: (*key(t), [members[i] for i in t]))
        beam = ranked[:beam_width]
        for team in beam:
            if len(team) >= min_members and len({countries[i] for i in team}) >= min_countries:
                found.setdefault(frozenset(team), team)

    results = sorted(found.values(), key=lambda t: (*key(t), [members[i] for i in t]))
    return [_describe(t, members, profiles, wanted, raw, cover) for t in results[:limit]]


def _describe(
    team: tuple[int, ...],
    members: list[str],
    profiles: list[Profile],
    wanted: list[str],
    raw: list[list[tuple[float, str | None, str | None]]],
    cover: npt.NDArray[np.float32],
) -> Consortium:
    rows = list(team)
    coverage = []
    for j, competence in enumerate(wanted):
        # Best member for the competence; among equals the earlier member (asker first).
        i = max(rows, key=lambda r: (float(raw[r][j][0]), -rows.index(r)))
        score, field, phrase = raw[i][j]
        covered = bool(cover[i, j] > 0)
        coverage.append(
            CompetenceCoverage(
                competence=competence,
                covered=covered,
                score=round(float(score), 4),
                member_id=members[i] if field else None,
                field=field,
                phrase=phrase,
            )
        )
    best = cover[rows].max(axis=0)
    return Consortium(
        members=tuple(members[i] for i in team),
        countries=tuple(sorted({profiles[i].country_code for i in team})),
        coverage=tuple(coverage),
        covered=int((best > 0).sum()),
        score=round(float(best.sum()) / len(wanted), 4),
    )
