"""Partnerships that match a cluster's needs.

A plain, explainable score over public fields: the words of what the cluster needs
against the partnership's shared competences and field (what it would gain), the words
of what it offers and knows against the same (what it would bring), the markets both
aim at, and a new country for the partnership. Each part that counts gives a reason.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from sqlalchemy.ext.asyncio import AsyncSession

from services.registry import partnerships
from services.registry.models import Cluster
from services.registry.repository import PartnershipRepository
from services.registry.schemas import PartnershipMatch, PartnershipOut

# How many partnerships are scored per search: the directory is small (the first
# generation had 24); this bounds the work if it grows.
CANDIDATES = 500

_WORD = re.compile(r"[^\W\d_]{3,}", re.UNICODE)
_STOP = frozenset(
    [
        "and",
        "the",
        "for",
        "with",
        "from",
        "into",
        "our",
        "their",
        "partners",
        "partner",
        "services",
        "service",
        "cluster",
        "clusters",
        "europe",
        "european",
        "new",
    ]
)


def _stem(word: str) -> str:
    for suffix in ("ies", "es", "s"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 4:
            return word[: -len(suffix)] + ("y" if suffix == "ies" else "")
    return word


def words(phrases: Iterable[str]) -> set[str]:
    out: set[str] = set()
    for phrase in phrases:
        for w in _WORD.findall(phrase.lower()):
            if w not in _STOP:
                out.add(_stem(w))
    return out


def _best_phrase(needle: str, phrases: Iterable[str]) -> str | None:
    mine = words([needle])
    best, best_share = None, 0.0
    for phrase in phrases:
        share = len(mine & words([phrase])) / max(1, len(mine))
        if share > best_share:
            best, best_share = phrase, share
    return best if best_share >= 0.5 else None


def score(cluster: Cluster, p: PartnershipOut) -> tuple[float, list[str]]:
    offered = [*p.competences, p.field]
    theirs = words(offered)
    reasons: list[str] = []
    need_words = words(cluster.needs)
    gain = len(need_words & theirs) / len(need_words) if need_words else 0.0
    for need in cluster.needs:
        hit = _best_phrase(need, offered)
        if hit:
            reasons.append(f"you need '{need}'; the partnership shares '{hit}'")
    bring_words = words([*cluster.offers, *cluster.competences, *cluster.technologies])
    bring = len(bring_words & theirs) / len(theirs) if theirs else 0.0
    for competence in p.competences:
        hit = _best_phrase(competence, [*cluster.offers, *cluster.competences])
        if hit:
            reasons.append(f"it combines '{competence}'; you bring '{hit}'")
    markets = sorted(set(cluster.target_countries) & set(p.target_markets))
    if markets:
        reasons.append(f"you both aim at {', '.join(markets)}")
    new_country = cluster.country not in {m.country for m in p.members if m.status != "declined"}
    if new_country and (gain or bring or markets):
        reasons.append(f"it has no member from {cluster.country} yet")
    total = 0.5 * gain + 0.3 * bring + 0.1 * min(1.0, len(markets) / 2) + 0.1 * new_country
    if not (gain or bring or markets):
        return 0.0, []
    return round(total, 4), reasons


async def for_cluster(
    session: AsyncSession, cluster: Cluster, limit: int
) -> list[PartnershipMatch]:
    rows = await PartnershipRepository(session).all_except_of(cluster.id, CANDIDATES)
    scored = []
    for view in await partnerships.views(session, rows):
        value, reasons = score(cluster, view)
        if value > 0:
            scored.append(PartnershipMatch(partnership=view, score=value, reasons=reasons))
    scored.sort(key=lambda m: (-m.score, str(m.partnership.id)))
    return scored[:limit]
