"""Clusters that could strengthen a partnership: who covers its shared competences
better than its members do, by the consortium builder's coverage scoring.

For each candidate (the best search hits for each competence, members left out) and
each competence: the candidate's coverage (best phrase similarity of the competence to
its competences, technologies or offers, 0 below the threshold) against the best
member's. The gain is what the candidate adds over the members, averaged over the
competences; a country the partnership has no member from yet counts a little more.

Deterministic: ties are broken by cluster id.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

# The consortium builder's own coverage scoring, so both always agree on who covers what.
from .consortium import COVER_THRESHOLD, MAX_COMPETENCES, CompetenceCoverage, best_cover
from .errors import EmptyQuery, InvalidQuery, UnknownCluster
from .index import MatchIndex

NEW_COUNTRY_BONUS = 0.1


@dataclass(frozen=True, slots=True)
class Candidate:
    cluster_id: str
    score: float
    gain: float
    new_country: bool
    # Per competence: the candidate's own coverage (member_id is the candidate).
    coverage: tuple[CompetenceCoverage, ...]
    improves: tuple[str, ...]  # competences it covers better than every member


def strengthen(
    index: MatchIndex,
    members: Sequence[str],
    competences: Sequence[str],
    *,
    limit: int = 10,
    threshold: float = COVER_THRESHOLD,
    candidates_per_competence: int = 15,
) -> list[Candidate]:
    wanted = list(dict.fromkeys(c.strip() for c in competences if c and c.strip()))
    if not wanted:
        raise InvalidQuery("the partnership names no shared competences to cover")
    if len(wanted) > MAX_COMPETENCES:
        wanted = wanted[:MAX_COMPETENCES]
    known = []
    for m in members:
        try:
            known.append(index.get(m))
        except UnknownCluster:
            continue  # a member deleted from the registry covers nothing any more
    member_ids = {p.id for p in known}
    countries = {p.country_code for p in known}

    def strength(score: float) -> float:
        return score if score >= threshold else 0.0

    have = [max((strength(best_cover(p, c)[0]) for p in known), default=0.0) for c in wanted]
    pool: dict[str, None] = {}
    for competence in wanted:
        try:
            hits = index.search(
                competence, limit=min(candidates_per_competence, 100), understand=False,
                explain=False,
            )  # fmt: skip
        except EmptyQuery:
            continue
        for hit in hits:
            if hit.cluster_id not in member_ids:
                pool.setdefault(hit.cluster_id, None)
    out: list[Candidate] = []
    for cid in sorted(pool):
        p = index.get(cid)
        coverage = []
        improves = []
        gain = 0.0
        for j, competence in enumerate(wanted):
            score, field, phrase = best_cover(p, competence)
            s = strength(score)
            coverage.append(
                CompetenceCoverage(
                    competence=competence, covered=s > 0, score=round(float(score), 4),
                    member_id=cid if field else None, field=field, phrase=phrase,
                )
            )  # fmt: skip
            if s > have[j]:
                gain += s - have[j]
                improves.append(competence)
        if not improves:
            continue
        new_country = p.country_code not in countries
        gain /= len(wanted)
        total = gain + (NEW_COUNTRY_BONUS if new_country else 0.0)
        out.append(
            Candidate(cid, round(total, 4), round(gain, 4), new_country, tuple(coverage),
                      tuple(improves))
        )  # fmt: skip
    out.sort(key=lambda c: (-c.score, c.cluster_id))
    return out[:limit]
