"""Pairs worth a meeting among a given set of clusters (an event's participants)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from .errors import InvalidQuery
from .explain import Reason
from .index import MatchIndex
from .scoring import Mode

MAX_PAIRS = 1000


@dataclass(frozen=True, slots=True)
class PairSuggestion:
    """A suggested meeting. Reasons are worded from `a`'s side ("your ..., their ...")."""

    a: str
    b: str
    score: float
    a_to_b: float  # how well b suits a
    b_to_a: float  # how well a suits b
    reasons: tuple[Reason, ...]

    @property
    def explanation(self) -> list[str]:
        return [r.text for r in self.reasons]


def suggest_pairs(
    index: MatchIndex,
    cluster_ids: Iterable[str],
    limit: int = 20,
    *,
    mode: Mode | str = Mode.COMPLEMENTARY,
    exclude_same_country: bool = True,
) -> list[PairSuggestion]:
    """Best pairs among cluster_ids, best first; each pair once (a before b in input order).

    A pair's score is the mean of both directions: a meeting has to be worth it for both.
    The default mode is complementary because B2B meetings are for trading partners.
    Unknown ids raise UnknownCluster (the caller gave us a participant we cannot see).
    """
    if not isinstance(limit, int) or isinstance(limit, bool) or not 1 <= limit <= MAX_PAIRS:
        raise InvalidQuery(f"limit must be an integer between 1 and {MAX_PAIRS}")
    m = Mode.parse(mode)
    ids = list(dict.fromkeys(str(i) for i in cluster_ids))
    profiles = {i: index.get(i) for i in ids}  # raises UnknownCluster early
    if len(ids) < 2:
        return []
    # One scoring pass per cluster against all others (no explanations yet): n passes of
    # n rows each, which is fine for event-sized sets (hundreds).
    directed: dict[tuple[str, str], float] = {}
    for a in ids:
        others = [b for b in ids if b != a]
        for match in index.score_pairs(a, others, mode=m, explain=False):
            directed[(a, match.cluster_id)] = match.score
    position = {cid: n for n, cid in enumerate(ids)}
    pairs: list[tuple[float, str, str]] = []
    for i, a in enumerate(ids):
        for b in ids[i + 1 :]:
            if exclude_same_country and profiles[a].country_code == profiles[b].country_code:
                continue
            pairs.append((0.5 * (directed[(a, b)] + directed[(b, a)]), a, b))
    pairs.sort(key=lambda t: (-t[0], position[t[1]], position[t[2]]))
    out = []
    for score, a, b in pairs[:limit]:
        explained = index.score_pairs(a, [b], mode=m, explain=True)[0]
        out.append(
            PairSuggestion(
                a=a,
                b=b,
                score=round(score, 6),
                a_to_b=directed[(a, b)],
                b_to_a=directed[(b, a)],
                reasons=explained.reasons,
            )
        )
    return out
