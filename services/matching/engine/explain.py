"""Why two clusters match, phrase by phrase, from their public fields only.

The index scores whole fields as vectors; people want to read "your need X ↔ their offer
Y". So for the few results shown we pair phrases of the two profiles and keep the best
pairs. Needs ↔ offers pairs are scored by the index with the same phrase similarity it
ranks with (lexical or learned relatedness, one batched product for all shown results),
so a partner found through related wording is explained by the pair that made it rank;
competence/technology pairs (no per-phrase vectors) use plain Python sets.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import numpy.typing as npt

from shared.taxonomy import ECOSYSTEMS

from .documents import Profile
from .vectorizer import content_tokens, stem

MIN_PHRASE_SIMILARITY = 0.2
# On the index's phrase-similarity scale (see scoring.coverage_credit): pairs credited at
# least half as "covered".
MIN_INDEX_SIMILARITY = 0.15
PAIRS_PER_COMPONENT = 2
# Index phrase similarities, (my phrases x their phrases), for needs→offers and
# offers→needs, in the profiles' phrase order.
PairScores = tuple[npt.NDArray[np.float32], npt.NDArray[np.float32]]


@dataclass(frozen=True, slots=True)
class Reason:
    """One structured reason. Fields name the public profile fields the phrases came from."""

    component: str  # "complementary", "similar", "ecosystems", "nace", "target", "query"
    your_field: str | None
    your_text: str | None
    their_field: str | None
    their_text: str | None
    shared_terms: tuple[str, ...]
    score: float
    text: str  # human readable


@dataclass(frozen=True, slots=True)
class _Analysed:
    stems: dict[str, str]  # stem → first surface word
    grams: frozenset[str]
    # The same sets as interned ids, for scoring many pairs in one sparse product.
    stem_ids: npt.NDArray[np.int64]
    gram_ids: npt.NDArray[np.int64]


# Process-wide interning of stems and 4-grams; bounded by the vocabulary in use.
_STEM_IDS: dict[str, int] = {}
_GRAM_IDS: dict[str, int] = {}


def _ids(items: Iterable[str], table: dict[str, int]) -> npt.NDArray[np.int64]:
    return np.array([table.setdefault(x, len(table)) for x in items], dtype=np.int64)


@lru_cache(maxsize=65536)
def _analyse(phrase: str) -> _Analysed:
    stems: dict[str, str] = {}
    grams: set[str] = set()
    for token in content_tokens(phrase):
        stems.setdefault(stem(token), token)
        padded = f" {token} "
        grams.update(padded[i : i + 4] for i in range(len(padded) - 3))
    return _Analysed(
        stems=stems,
        grams=frozenset(grams),
        stem_ids=_ids(stems, _STEM_IDS),
        gram_ids=_ids(sorted(grams), _GRAM_IDS),
    )


def _overlap(
    a: Sequence[npt.NDArray[np.int64]], b: Sequence[npt.NDArray[np.int64]]
) -> npt.NDArray[np.float32]:
    """|a_i ∩ b_j| for id sets, as a product of dense 0/1 matrices over the ids present
    (a query's phrases use a few hundred distinct ids: smaller than any sparse overhead)."""
    sets = [*a, *b]
    ids = np.concatenate(sets)
    local, inverse = np.unique(ids, return_inverse=True)
    owner = np.repeat(np.arange(len(sets)), [len(x) for x in sets])
    m = np.zeros((len(sets), len(local)), dtype=np.float32)
    m[owner, inverse] = 1.0
    out: npt.NDArray[np.float32] = m[: len(a)] @ m[len(a) :].T
    return out


def score_matrix(mine: Sequence[str], theirs: Sequence[str]) -> npt.NDArray[np.float32]:
    """`_score` for every (mine, theirs) pair at once: two products of binary stem /
    4-gram incidence matrices instead of one Python set intersection per pair."""
    a = [_analyse(t) for t in mine]
    b = [_analyse(t) for t in theirs]
    out = np.zeros((len(a), len(b)), dtype=np.float32)
    if not a or not b:
        return out
    common = _overlap([p.stem_ids for p in a], [p.stem_ids for p in b])
    inter = _overlap([p.gram_ids for p in a], [p.gram_ids for p in b])
    sa = np.array([len(p.stems) for p in a], dtype=np.float64)
    sb = np.array([len(p.stems) for p in b], dtype=np.float64)
    ga = np.array([len(p.grams) for p in a], dtype=np.float64)
    gb = np.array([len(p.grams) for p in b], dtype=np.float64)
    denom = np.sqrt(np.outer(sa, sb))
    word = np.divide(common, denom, out=np.zeros_like(denom), where=denom > 0)
    union = ga[:, None] + gb[None, :] - inter
    char = np.divide(inter, union, out=np.zeros_like(union), where=inter > 0)
    out[:] = 0.5 * word + 0.5 * char
    return out


def _score(pa: _Analysed, pb: _Analysed) -> float:
    if not pa.stems or not pb.stems:
        return 0.0
    common = len(pa.stems.keys() & pb.stems.keys())
    word: float = common / math.sqrt(len(pa.stems) * len(pb.stems))
    inter = len(pa.grams & pb.grams)
    char = inter / (len(pa.grams) + len(pb.grams) - inter) if inter else 0.0
    return 0.5 * word + 0.5 * char


def _shared(pa: _Analysed, pb: _Analysed) -> tuple[str, ...]:
    return tuple(
        pa.stems[s] if pa.stems[s] == pb.stems[s] else f"{pa.stems[s]}~{pb.stems[s]}"
        for s in pa.stems
        if s in pb.stems
    )


def phrase_similarity(a: str, b: str) -> tuple[float, tuple[str, ...]]:
    """Similarity of two short phrases in [0, 1] and their shared terms ("battery~batteries")."""
    pa, pb = _analyse(a), _analyse(b)
    return _score(pa, pb), _shared(pa, pb)


Pair = tuple[float, str, str, str, str, tuple[str, ...]]


def best_pairs(
    mine: Sequence[tuple[str, str]], theirs: Sequence[tuple[str, str]], limit: int
) -> list[Pair]:
    """Best (score, my_field, my_text, their_field, their_text, shared) phrase pairs,
    each phrase used at most once so one strong phrase does not fill every slot."""
    # This loop runs ~50 times per shown match, so shared terms are only worked out for
    # the pairs that are kept.
    ours = [(f, t, _analyse(t)) for f, t in mine]
    others = [(f, t, _analyse(t)) for f, t in theirs]
    scored = []
    for mf, mt, ma in ours:
        for tf, tt, ta in others:
            score = _score(ma, ta)
            if score >= MIN_PHRASE_SIMILARITY:
                scored.append((score, mf, mt, tf, tt, ma, ta))
    scored.sort(key=lambda r: (-r[0], r[2], r[4]))
    used_mine: set[str] = set()
    used_theirs: set[str] = set()
    out: list[Pair] = []
    for score, mf, mt, tf, tt, ma, ta in scored:
        if mt in used_mine or tt in used_theirs:
            continue
        used_mine.add(mt)
        used_theirs.add(tt)
        out.append((score, mf, mt, tf, tt, _shared(ma, ta)))
        if len(out) == limit:
            break
    return out


def pairs_from_scores(
    mine: Sequence[tuple[str, str]],
    theirs: Sequence[tuple[str, str]],
    sims: npt.NDArray[np.float32],
    limit: int,
    min_score: float = MIN_INDEX_SIMILARITY,
) -> list[Pair]:
    """Like best_pairs, from a precomputed (mine x theirs) similarity matrix."""
    if sims.size == 0:
        return []
    ii, jj = np.nonzero(sims >= min_score)
    # Plain Python values once (tolist) rather than a numpy scalar per element.
    values = sims[ii, jj].tolist()
    scored = sorted(
        (
            (v, mine[i][1], theirs[j][1], i, j)
            for v, i, j in zip(values, ii.tolist(), jj.tolist(), strict=True)
        ),
        key=lambda r: (-r[0], r[1], r[2]),
    )
    used_mine: set[str] = set()
    used_theirs: set[str] = set()
    out: list[Pair] = []
    for score, mt, tt, i, j in scored:
        if mt in used_mine or tt in used_theirs:
            continue
        used_mine.add(mt)
        used_theirs.add(tt)
        shared = _shared(_analyse(mt), _analyse(tt))
        out.append((score, mine[i][0], mt, theirs[j][0], tt, shared))
        if len(out) == limit:
            break
    return out


def _fields(p: Profile, *names: str) -> list[tuple[str, str]]:
    return [(name, text) for name in names for text in p.phrases(name)]


CAPABILITIES = ("competences", "technologies")


def similar_score_matrices(a: Profile, others: Sequence[Profile]) -> list[npt.NDArray[np.float32]]:
    """score_matrix of a's capabilities against each other's, in one batched product."""
    mine = [t for _, t in _fields(a, *CAPABILITIES)]
    per = [[t for _, t in _fields(b, *CAPABILITIES)] for b in others]
    full = score_matrix(mine, [t for texts in per for t in texts])
    ends = np.cumsum([len(t) for t in per])
    return [full[:, e - len(t) : e] for e, t in zip(ends.tolist(), per, strict=True)]


_FIELD_WORD = {
    "needs": "need",
    "offers": "offer",
    "competences": "competence",
    "technologies": "technology",
    "description": "description",
}


# Reason sentences in the reader's language (the asking cluster's first language that has
# templates; English otherwise). Keys: why the two phrases go together.
_TEMPLATES: dict[str, dict[str, str]] = {
    "en": {
        "needs": "your need '{mine}' meets their offer '{theirs}'",
        "offers": "your offer '{mine}' meets their need '{theirs}'",
        "similar": "your {mf} '{mine}' and their {tf} '{theirs}'",
        "shared": "shared: {terms}",
        "concept": "same concept",
        "related": "related wording",
    },
    "fr": {
        "needs": "votre besoin « {mine} » rejoint leur offre « {theirs} »",
        "offers": "votre offre « {mine} » répond à leur besoin « {theirs} »",
        "similar": "votre {mf} « {mine} » et leur {tf} « {theirs} »",
        "shared": "termes communs : {terms}",
        "concept": "même concept",
        "related": "formulation voisine",
    },
    "pt": {
        "needs": "a sua necessidade '{mine}' encontra a oferta deles '{theirs}'",
        "offers": "a sua oferta '{mine}' responde à necessidade deles '{theirs}'",
        "similar": "a sua {mf} '{mine}' e a {tf} deles '{theirs}'",
        "shared": "termos em comum: {terms}",
        "concept": "mesmo conceito",
        "related": "formulação próxima",
    },
    "es": {
        "needs": "su necesidad '{mine}' encuentra su oferta '{theirs}'",
        "offers": "su oferta '{mine}' responde a su necesidad '{theirs}'",
        "similar": "su {mf} '{mine}' y su {tf} '{theirs}'",
        "shared": "términos comunes: {terms}",
        "concept": "mismo concepto",
        "related": "formulación cercana",
    },
}
_FIELD_WORDS: dict[str, dict[str, str]] = {
    "en": _FIELD_WORD,
    "fr": {"competences": "compétence", "technologies": "technologie"},
    "pt": {"competences": "competência", "technologies": "tecnologia"},
    "es": {"competences": "competencia", "technologies": "tecnología"},
}


def reader_language(p: Profile) -> str:
    """The first of the profile's languages that reasons can be written in."""
    for code in p.languages:
        if code in _TEMPLATES:
            return code
    return "en"


def _pair_reason(
    component: str,
    row: tuple[float, str, str, str, str, tuple[str, ...]],
    lang: str = "en",
    semantic: bool = False,
) -> Reason:
    score, mf, mt, tf, tt, shared = row
    t = _TEMPLATES[lang]
    words = _FIELD_WORDS[lang]
    key = mf if component == "complementary" else "similar"
    text = t[key].format(mine=mt, theirs=tt, mf=words.get(mf, mf), tf=words.get(tf, tf))
    if shared:
        why = t["shared"].format(terms=", ".join(shared))
    else:
        why = t["concept"] if semantic else t["related"]
    return Reason(component, mf, mt, tf, tt, shared, round(score, 4), f"{text} ({why})")


def explain_pair(
    a: Profile,
    b: Profile,
    *,
    complementary: bool,
    similar: bool,
    scores: PairScores | None = None,
    similar_scores: npt.NDArray[np.float32] | None = None,
    semantic: bool = False,
) -> list[Reason]:
    """Reasons why b suits a, from a's point of view ("your ... their ...").

    With `scores` (from the index), needs ↔ offers pairs are chosen by them; with
    `similar_scores` (score_matrix of a's and b's competences + technologies, usually
    batched over several b), competence pairs are. `semantic`: the scores include
    sentence-embedding similarity, so a pair without shared words met by meaning.
    """
    reasons: list[Reason] = []
    lang = reader_language(a)
    if complementary:
        directions = ((0, "needs", "offers"), (1, "offers", "needs"))
        for k, mine_field, their_field in directions:
            mine, theirs = _fields(a, mine_field), _fields(b, their_field)
            if scores is None:
                rows = best_pairs(mine, theirs, PAIRS_PER_COMPONENT)
            else:
                rows = pairs_from_scores(mine, theirs, scores[k], PAIRS_PER_COMPONENT)
            reasons.extend(_pair_reason("complementary", row, lang, semantic) for row in rows)
    if similar:
        mine, theirs = _fields(a, *CAPABILITIES), _fields(b, *CAPABILITIES)
        if similar_scores is None:
            rows = best_pairs(mine, theirs, PAIRS_PER_COMPONENT)
        else:
            rows = pairs_from_scores(
                mine, theirs, similar_scores, PAIRS_PER_COMPONENT, MIN_PHRASE_SIMILARITY
            )
        reasons.extend(_pair_reason("similar", row, lang, semantic) for row in rows)
    shared_eco = sorted(set(a.ecosystems) & set(b.ecosystems))
    if shared_eco:
        labels = tuple(ECOSYSTEMS.get(e, e) for e in shared_eco)
        reasons.append(
            Reason(
                "ecosystems",
                "ecosystems",
                None,
                "ecosystems",
                None,
                labels,
                1.0,
                f"both in ecosystem {', '.join(labels)}",
            )
        )
    shared_nace = tuple(sorted(set(a.nace_codes) & set(b.nace_codes)))
    if shared_nace:
        reasons.append(
            Reason(
                "nace",
                "nace_codes",
                None,
                "nace_codes",
                None,
                shared_nace,
                1.0,
                f"shared NACE activities {', '.join(shared_nace)}",
            )
        )
    if b.country_code in a.target_countries:
        reasons.append(
            Reason(
                "target",
                "target_countries",
                b.country_code,
                "country",
                b.country_code,
                (),
                1.0,
                f"their country {b.country_code} is one of your target countries",
            )
        )
    if a.country_code in b.target_countries:
        reasons.append(
            Reason(
                "target",
                "country",
                a.country_code,
                "target_countries",
                a.country_code,
                (),
                1.0,
                f"they target your country {a.country_code}",
            )
        )
    return reasons


def explain_query(query: str, b: Profile) -> list[Reason]:
    """Reasons why b answers a free-text query: its best matching public phrases."""
    theirs = _fields(b, "competences", "technologies", "offers", "description")
    scored = []
    for tf, tt in theirs:
        score, shared = phrase_similarity(query, tt)
        if score >= MIN_PHRASE_SIMILARITY:
            scored.append((score, tf, tt, shared))
    scored.sort(key=lambda r: (-r[0], r[2]))
    out: list[Reason] = []
    for score, tf, tt, shared in scored[:PAIRS_PER_COMPONENT]:
        text = f"their {_FIELD_WORD[tf]} '{tt}'"
        if shared:
            text += f" (shared: {', '.join(shared)})"
        out.append(Reason("query", None, query, tf, tt, shared, round(score, 4), text))
    return out
