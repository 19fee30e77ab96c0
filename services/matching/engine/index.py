"""MatchIndex: in-memory partner matching over public cluster profiles.

Query shape: candidate generation from word-space dot products over the whole index
(term-major, cost ∝ posting lengths of the asking cluster's terms; need/offer phrases are
scanned with their semantic vectors, i.e. their terms plus related terms learned from the
corpus, see semantic.py), then full scoring of a few hundred candidates (phrase pairs by
word + char n-gram similarity or learned relatedness, ecosystem and NACE overlap, boosts),
then explanations for the top-k only, from the phrase similarities already computed.

Thread safety: every public method takes one lock; `rebuild()` does its heavy work
outside the lock on a snapshot and replays the upserts/removals that arrived meanwhile,
so a service can run it in a worker thread while events keep flowing.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp

from shared.taxonomy import ECOSYSTEMS

from .dense import DenseStore
from .documents import Profile
from .embeddings import Encoder, ProfileVectors, embed_profiles
from .errors import EmptyQuery, InvalidQuery, UnknownCluster
from .explain import (
    MIN_PHRASE_SIMILARITY,
    PairScores,
    Reason,
    explain_pair,
    explain_query,
    similar_score_matrices,
)
from .filters import NO_FILTERS, Filters, ecosystem_mask
from .scoring import (
    CAPABILITY_SHARE,
    LABEL_BOOST_PER_RANK,
    TARGET_BOOST_MINE_IN_THEIRS,
    TARGET_BOOST_THEIRS_IN_MINE,
    WEIGHTS,
    FloatArray,
    Mode,
    blend,
    complementarity,
    coverage_credit,
    embedding_credit,
    embedding_phrase_similarity,
    embedding_profile_similarity,
    jaccard_bits,
    nace_overlap,
)
from .store import PhraseSims, Segment, State, compact_state, fit_state, groups_of
from .textquery import parse

MAX_LIMIT = 100
ECOSYSTEM_BIT_SETS = np.arange(1 << len(ECOSYSTEMS), dtype=np.int32)
# Candidates fully scored per query: enough that the word-only pre-ranking rarely drops
# the true best; the cost of full scoring grows linearly with it (~40 µs per candidate).
MIN_CANDIDATES = 100
CANDIDATES_PER_RESULT = 10

# Rebuild policy. Refit when the vocabulary / IDF no longer describes the data; compact
# when the delta or dead rows make queries slower than they need to be.
REFIT_GROWTH = 0.2  # upserts since the fit, relative to the fitted size
REFIT_UNKNOWN_SHARE = 0.05  # share of upserted words unknown to the vocabulary
REFIT_MIN_WORDS = 200
COMPACT_DELTA = 2000
COMPACT_DELTA_SHARE = 0.02
COMPACT_DEAD_SHARE = 0.10
# Safety net if nobody calls rebuild(): past this, upsert compacts inline.
HARD_DELTA_CAP = 20000

SEARCH_ECOSYSTEM_BOOST = 0.05
# Below these, a result is only there because of boosts or n-gram noise: not shown.
MIN_MATCH_SCORE = 0.05
MIN_SEARCH_RELEVANCE = 0.05


@dataclass(frozen=True, slots=True)
class Match:
    """One suggested partner, from the asking cluster's point of view."""

    cluster_id: str
    score: float
    components: Mapping[str, float]
    reasons: tuple[Reason, ...] = ()

    @property
    def explanation(self) -> list[str]:
        return [r.text for r in self.reasons]


@dataclass(frozen=True, slots=True)
class IndexStats:
    profiles: int
    rows: int
    delta_rows: int
    dead_rows: int
    vocabulary_words: int
    built_at: float
    build_seconds: float
    upserts_since_build: int
    removals_since_build: int
    needs_refit: bool
    needs_compaction: bool


@dataclass(slots=True)
class _Scored:
    rows: npt.NDArray[np.int64]
    total: FloatArray
    parts: dict[str, FloatArray]
    # Phrase similarities (a's needs vs their offers, a's offers vs their needs) of the
    # scored rows; origin[i] is row i's position in them (pruning drops rows).
    needs_sims: PhraseSims
    offers_sims: PhraseSims
    origin: npt.NDArray[np.int64]


_Op = tuple[Literal["upsert"], Profile] | tuple[Literal["remove"], str]
# A vectorised profile ready to be appended: its one-row segment, unknown and total words.
_Prepared = tuple[Segment, int, int]


def _check_limit(limit: int) -> None:
    if not isinstance(limit, int) or isinstance(limit, bool) or not 1 <= limit <= MAX_LIMIT:
        raise InvalidQuery(f"limit must be an integer between 1 and {MAX_LIMIT}")


def _top(scores: FloatArray, mask: npt.NDArray[np.bool_], k: int) -> npt.NDArray[np.int64]:
    """Rows of the k best scores among mask (unordered)."""
    allowed = np.flatnonzero(mask)
    if len(allowed) <= k:
        return allowed
    part = np.argpartition(-scores[allowed], k - 1)[:k]
    return allowed[part]


# Phrase-vs-field cosine at which candidate generation counts a phrase as answered; lower
# than the phrase-vs-phrase FULL_MATCH because a field holds several phrases.
SCAN_FULL_MATCH = 0.1


def _phrase_scan(st: State, row: int, mine: str, theirs: str) -> FloatArray:
    """Mean over row's `mine` phrases of their saturated match with each `theirs` field.

    The query is the phrase's semantic vector (its own terms plus learned related ones)
    and the rows are plain word fields, so an answer in other words is found as well as a
    verbatim one while scanning only the short word postings.
    """
    phrases = st.phrase_vectors("sem", mine, row)
    out = np.zeros(st.n_rows, dtype=np.float32)
    if phrases.shape[1] == 0:
        return out
    for j in range(phrases.shape[1]):
        hit = st.scan("word", theirs, phrases[:, j])
        hit *= np.float32(1.0 / SCAN_FULL_MATCH)
        np.minimum(hit, np.float32(1.0), out=hit)
        out += hit
    out *= np.float32(1.0 / phrases.shape[1])
    return out


def _dense(v: sp.csr_matrix) -> FloatArray:
    return np.asarray(v.toarray().ravel(), dtype=np.float32)


def _today() -> int:
    """Today (UTC) as an ordinal day: labels are judged current at query time."""
    return datetime.now(UTC).date().toordinal()


class MatchIndex:
    def __init__(self, encoder: Encoder | None = None) -> None:
        """Without an encoder the index is lexical only; with one, every profile also has
        sentence embeddings (given to build/upsert, or computed with the encoder)."""
        self.encoder = encoder
        self._dense: DenseStore | None = (
            DenseStore(encoder.name, encoder.dim) if encoder is not None else None
        )
        self.embedded_at_build = 0  # profiles whose vectors the last build had to compute
        self._lock = threading.RLock()
        self._rebuild_lock = threading.Lock()
        self._state: State | None = None
        self._profiles: dict[str, Profile] = {}
        self._applied: dict[str, int] = {}
        self._journal: list[_Op] | None = None
        self._built_at = 0.0
        self._build_seconds = 0.0
        self._upserts = 0
        self._removals = 0

    # --- maintenance ---------------------------------------------------------------------

    def build(
        self,
        profiles: Iterable[Profile],
        vectors: Mapping[str, ProfileVectors] | None = None,
    ) -> None:
        """Replace the whole index by these profiles (full fit). Last one wins per id.

        With an encoder, `vectors` (e.g. stored ones) are used where they fit the profile
        and the model; the others are computed (`embedded_at_build` says how many)."""
        by_id: dict[str, Profile] = {}
        for p in profiles:
            by_id[p.id] = p
        started = time.perf_counter()
        state = fit_state(list(by_id.values())) if by_id else None
        dense = self._dense_of(list(by_id.values()), vectors or {})
        with self._lock:
            self._dense = dense
            self._state = state
            self._profiles = by_id
            self._applied = {i: p.version for i, p in by_id.items()}
            self._mark_built(started)

    def _dense_of(
        self, profiles: list[Profile], given: Mapping[str, ProfileVectors]
    ) -> DenseStore | None:
        if self.encoder is None:
            return None
        dense = DenseStore(self.encoder.name, self.encoder.dim)
        missing = []
        for p in profiles:
            v = given.get(p.id)
            if v is not None and v.fits(p, self.encoder.name):
                dense.put(p, v)
            else:
                missing.append(p)
        for v, p in zip(embed_profiles(self.encoder, missing), missing, strict=True):
            dense.put(p, v)
        dense.fit_projection()
        self.embedded_at_build = len(missing)
        return dense

    def embed(self, profile: Profile) -> ProfileVectors | None:
        """The profile's vectors with this index's encoder (None without one)."""
        if self.encoder is None:
            return None
        return embed_profiles(self.encoder, [profile])[0]

    def vectors(self, cluster_id: str) -> ProfileVectors | None:
        with self._lock:
            return None if self._dense is None else self._dense.vectors(str(cluster_id))

    def _mark_built(self, started: float) -> None:
        self._built_at = time.time()
        self._build_seconds = time.perf_counter() - started
        self._upserts = 0
        self._removals = 0

    def upsert(self, profile: Profile, vectors: ProfileVectors | None = None) -> bool:
        """Make profile searchable now. False if an equal or newer version was applied.

        Version 0 means "unversioned" (tools, tests) and is always applied. With an
        encoder, `vectors` that do not fit the profile are recomputed.
        """
        if self.encoder is not None and (
            vectors is None or not vectors.fits(profile, self.encoder.name)
        ):
            vectors = self.embed(profile)
        with self._lock:
            prev = self._applied.get(profile.id)
            if prev is not None and profile.version <= prev and profile.version != 0:
                return False
            # All or nothing: everything that can fail (vectorising) runs before the
            # first change, so a profile is never known by id but missing from the
            # vectors (its matches would fail forever).
            if self._state is None:
                started = time.perf_counter()
                new_state = fit_state([*self._others(profile.id), profile])
                self._commit_upsert(profile)
                self._state = new_state
                self._put_vectors(profile, vectors)
                self._mark_built(started)
                return True
            prepared = self._prepare_upsert(self._state, profile)
            self._commit_upsert(profile)
            self._apply_prepared(self._state, profile, prepared)
            self._put_vectors(profile, vectors)
            if self._state.delta.n_rows > HARD_DELTA_CAP and self._journal is None:
                self._state = compact_state(
                    self._state, self._state.snapshot(), dict(self._profiles)
                )
            return True

    def _put_vectors(self, profile: Profile, vectors: ProfileVectors | None) -> None:
        if self._dense is not None and vectors is not None:
            self._dense.put(profile, vectors)

    def _others(self, cluster_id: str) -> list[Profile]:
        return [p for i, p in self._profiles.items() if i != cluster_id]

    def _commit_upsert(self, profile: Profile) -> None:
        self._applied[profile.id] = profile.version
        self._profiles[profile.id] = profile
        if self._journal is not None:
            self._journal.append(("upsert", profile))
        self._upserts += 1

    @staticmethod
    def _prepare_upsert(state: State, profile: Profile) -> _Prepared:
        groups = groups_of(profile)
        segment = state.segment_of(state.space.transform_grouped(groups))
        unknown, total = state.space.unknown_word_share(p for g in groups for p in g)
        return segment, unknown, total

    @staticmethod
    def _apply_prepared(state: State, profile: Profile, prepared: _Prepared) -> None:
        segment, unknown, total = prepared
        state.kill(profile.id)
        state.append(profile, segment)
        state.unknown_words += unknown
        state.total_words += total
        state.upserts_since_fit += 1

    @classmethod
    def _apply_upsert(cls, state: State, profile: Profile) -> None:
        cls._apply_prepared(state, profile, cls._prepare_upsert(state, profile))

    def remove(self, cluster_id: str, version: int | None = None) -> bool:
        """Drop a cluster. False if unknown or if `version` is older than the applied one."""
        cluster_id = str(cluster_id)
        with self._lock:
            prev = self._applied.get(cluster_id)
            if version is not None:
                if prev is not None and version < prev:
                    return False
                self._applied[cluster_id] = version
            if self._dense is not None:
                self._dense.remove(cluster_id)
            if self._profiles.pop(cluster_id, None) is None:
                return False
            if self._journal is not None:
                self._journal.append(("remove", cluster_id))
            self._removals += 1
            if self._state is not None:
                self._state.kill(cluster_id)
            return True

    @property
    def needs_refit(self) -> bool:
        """The vocabulary/IDF is stale: many upserts since the fit, or many unknown words."""
        st = self._state
        if st is None:
            return False
        if st.upserts_since_fit > max(50, REFIT_GROWTH * st.fit_size):
            return True
        return (
            st.total_words >= REFIT_MIN_WORDS
            and st.unknown_words / st.total_words > REFIT_UNKNOWN_SHARE
        )

    @property
    def new_words(self) -> int:
        """Words of profiles upserted since the fit that the vocabulary does not know:
        searches cannot find a profile by them until a refit (LiveIndex refits soon)."""
        st = self._state
        return 0 if st is None else st.unknown_words

    @property
    def needs_compaction(self) -> bool:
        """The delta or the dead rows have grown enough to slow queries down."""
        st = self._state
        if st is None:
            return False
        delta_cap = max(COMPACT_DELTA, COMPACT_DELTA_SHARE * st.n_base)
        return st.delta.n_rows > delta_cap or st.dead > COMPACT_DEAD_SHARE * max(st.n_rows, 1)

    def rebuild(self, *, refit: bool | None = None) -> None:
        """Refit (if `refit`, or if None and needs_refit) or else compact.

        Safe to run in a worker thread: the heavy part runs outside the lock on a snapshot;
        changes that arrive meanwhile are applied to the live index and replayed on the new
        one before it replaces the old.
        """
        with self._rebuild_lock:
            with self._lock:
                old = self._state
                profiles = dict(self._profiles)
                do_refit = self.needs_refit if refit is None else refit
                snapshot = old.snapshot() if old is not None and not do_refit else None
                self._journal = []
            started = time.perf_counter()
            try:
                if not profiles:
                    new: State | None = None
                elif old is None or snapshot is None:
                    new = fit_state(list(profiles.values()))
                else:
                    new = compact_state(old, snapshot, profiles)
            except BaseException:
                with self._lock:
                    self._journal = None
                raise
            with self._lock:
                journal, self._journal = self._journal, None
                for op in journal:
                    if new is None:
                        if op[0] == "upsert":
                            new = fit_state([op[1]])
                        continue
                    if op[0] == "upsert":
                        self._apply_upsert(new, op[1])
                    else:
                        new.kill(op[1])
                self._state = new
                if do_refit:
                    self._mark_built(started)

    # --- introspection -----------------------------------------------------------------

    def __len__(self) -> int:
        return len(self._profiles)

    def __contains__(self, cluster_id: object) -> bool:
        return str(cluster_id) in self._profiles

    def get(self, cluster_id: str) -> Profile:
        try:
            return self._profiles[str(cluster_id)]
        except KeyError:
            raise UnknownCluster(str(cluster_id)) from None

    def versions(self) -> dict[str, int]:
        """Version of every profile in the index, by cluster id."""
        with self._lock:
            return {i: p.version for i, p in self._profiles.items()}

    def applied_version(self, cluster_id: str) -> int | None:
        """Highest version applied for this id (upsert or delete), None if never seen."""
        return self._applied.get(str(cluster_id))

    def stats(self) -> IndexStats:
        with self._lock:
            st = self._state
            return IndexStats(
                profiles=len(self._profiles),
                rows=st.n_rows if st else 0,
                delta_rows=st.delta.n_rows if st else 0,
                dead_rows=st.dead if st else 0,
                vocabulary_words=len(st.space.word_vocab) if st else 0,
                built_at=self._built_at,
                build_seconds=self._build_seconds,
                upserts_since_build=self._upserts,
                removals_since_build=self._removals,
                needs_refit=self.needs_refit,
                needs_compaction=self.needs_compaction,
            )

    # --- queries -------------------------------------------------------------------------

    def _mask(self, st: State, filters: Filters, asking: Profile | None) -> npt.NDArray[np.bool_]:
        n = st.n_rows
        mask = st.alive[:n].copy()
        if filters.countries:
            mask &= np.isin(st.country[:n], st.countries.known(filters.countries))
        if filters.tenants:
            mask &= np.isin(st.tenant[:n], st.tenants.known(filters.tenants))
        if filters.ecosystems:
            mask &= (st.eco[:n] & ecosystem_mask(filters.ecosystems)) != 0
        if filters.min_label.rank:
            mask &= st.label_now(slice(0, n), _today()) >= filters.min_label.rank
        if filters.verified_only:
            mask &= st.verified[:n]
        if asking is not None:
            mask[st.row_of[asking.id]] = False
            if filters.exclude_own_country:
                own = st.countries.of.get(asking.country_code)
                if own is not None:
                    mask &= st.country[:n] != own
        return mask

    def _score_pairs(
        self,
        st: State,
        a: Profile,
        rows: npt.NDArray[np.int64],
        mode: Mode,
        keep: int | None = None,
    ) -> _Scored:
        """Full score of rows as partners for a (from a's side)."""
        w = WEIGHTS[mode]
        a_row = st.row_of[a.id]

        similar = blend(
            st.dot_rows("word", "profile", rows, st.field_vector("word", "profile", a_row)),
            st.dot_rows("char", "profile", rows, st.field_vector("char", "profile", a_row)),
        )
        av = self._dense.vectors(a.id) if self._dense is not None else None
        if self._dense is not None and av is not None:
            # What two clusters are, by meaning: counts where it says more than words.
            ids = [st.ids[r] for r in rows]
            cos = self._dense.profile_cosines(ids, av.profile)
            similar = np.maximum(similar, embedding_profile_similarity(cos))
        # How much of a's needs b's offers cover: each need's best offer, averaged.
        spaces = ("word", "char", "sem")
        needs = st.phrase_sims(
            "offers", rows, *(st.phrase_vectors(s, "needs", a_row) for s in spaces)
        )
        if self._dense is not None and av is not None:
            self._fuse(st, rows, needs, "offers", av.needs)
        need_to_offer = np.zeros(len(rows), dtype=np.float32)
        if needs.sims.shape[1]:
            best = needs.best_per_query()
            if self._dense is not None and av is not None:
                # A need is also met by what they can do (competences, technologies),
                # not only by what they list as offers, at a discount.
                can = self._dense.best_cosines([st.ids[r] for r in rows], "about", av.needs)
                best = np.maximum(best, CAPABILITY_SHARE * embedding_phrase_similarity(can))
            need_to_offer = coverage_credit(best).mean(axis=1).astype(np.float32)
        # How much of b's needs a's offers cover.
        offers = st.phrase_sims(
            "needs", rows, *(st.phrase_vectors(s, "offers", a_row) for s in spaces)
        )
        if self._dense is not None and av is not None:
            self._fuse(st, rows, offers, "needs", av.offers)
        offer_to_need = offers.mean_best_per_row()
        origin = np.arange(len(rows), dtype=np.int64)
        comp = complementarity(need_to_offer, offer_to_need)
        eco = jaccard_bits(ecosystem_mask(a.ecosystems), st.eco[rows])
        label = np.asarray(LABEL_BOOST_PER_RANK * st.label_now(rows, _today()), dtype=np.float32)
        partial = w.similar * similar + w.complementary * comp + w.ecosystems * eco + label
        parts = {
            "similar": similar,
            "complementary": comp,
            "need_to_offer": need_to_offer,
            "offer_to_need": offer_to_need,
            "ecosystems": eco,
        }
        if keep is not None and len(rows) > keep:
            # NACE overlap and target-country boosts need per-profile Python work; they can
            # add at most `headroom`, so rows that cannot reach the keep-th best are dropped
            # first. Exact: the final top-`keep` is the same as without pruning.
            headroom = w.nace + TARGET_BOOST_THEIRS_IN_MINE + TARGET_BOOST_MINE_IN_THEIRS
            kth = np.partition(partial, len(partial) - keep)[len(partial) - keep]
            sel = partial >= kth - headroom
            rows, partial, label, origin = rows[sel], partial[sel], label[sel], origin[sel]
            parts = {k: v[sel] for k, v in parts.items()}
        a_nace = frozenset(a.nace_codes)
        others = [self._profiles[st.ids[r]] for r in rows]
        nace = np.array(
            [nace_overlap(a_nace, frozenset(b.nace_codes)) for b in others], dtype=np.float32
        )
        target = np.array(
            [
                TARGET_BOOST_THEIRS_IN_MINE * (b.country_code in a.target_countries)
                + TARGET_BOOST_MINE_IN_THEIRS * (a.country_code in b.target_countries)
                for b in others
            ],
            dtype=np.float32,
        )
        total = partial + w.nace * nace + target
        parts["nace"] = nace
        parts["boost"] = label + target
        return _Scored(rows, np.asarray(total, dtype=np.float32), parts, needs, offers, origin)

    def _fuse(
        self,
        st: State,
        rows: npt.NDArray[np.int64],
        sims: PhraseSims,
        their_field: str,
        queries: FloatArray,
    ) -> None:
        """Phrase similarity = the better of words and meaning (embedding cosine on the
        lexical scale), in place, so ranking and explanations see the same pairs."""
        assert self._dense is not None
        if not sims.sims.size:
            return
        ids = [st.ids[rows[i]] for i in sims.order.tolist()]
        cos = self._dense.phrase_cosines(ids, their_field, sims.lengths, queries)
        sims.sims = np.maximum(sims.sims, embedding_phrase_similarity(cos))

    def _dense_candidates(
        self,
        st: State,
        av: ProfileVectors,
        mode: Mode,
        mask: npt.NDArray[np.bool_],
        k: int,
    ) -> npt.NDArray[np.int64]:
        """Rows that the embeddings rank best (needs met by offers both ways, and what
        they are), so partners described in other words or languages are scored too."""
        dense = self._dense
        assert dense is not None
        w = WEIGHTS[mode]
        score = np.zeros(dense.n_slots, dtype=np.float32)
        if w.complementary:
            n2o = np.maximum(
                dense.coverage_scan(av.needs, "offers"),
                CAPABILITY_SHARE * dense.coverage_scan(av.needs, "about"),
            )
            o2n = dense.coverage_scan(av.offers, "needs")
            score += w.complementary * complementarity(n2o, o2n)
        if w.similar:
            score += w.similar * dense.coverage_scan(av.about, "about")
        hits = np.flatnonzero(score > 0)
        if len(hits) > 3 * k:
            hits = hits[np.argpartition(-score[hits], 3 * k - 1)[: 3 * k]]
        hits = hits[np.argsort(-score[hits], kind="stable")]
        out: list[int] = []
        for slot in hits.tolist():
            row = st.row_of.get(dense.slot_id(slot))
            if row is not None and mask[row]:
                out.append(row)
                if len(out) == k:
                    break
        return np.asarray(out, dtype=np.int64)

    def _fuse_capabilities(
        self, av: ProfileVectors, b: Profile, lexical: npt.NDArray[np.float32] | None
    ) -> npt.NDArray[np.float32] | None:
        """Competence/technology pair scores for reasons: words or meaning, the better."""
        assert self._dense is not None
        bv = self._dense.vectors(b.id)
        if lexical is None or bv is None or lexical.shape != (len(av.about), len(bv.about)):
            return lexical
        credit = embedding_credit(av.about @ bv.about.T)
        meaning = np.where(
            credit > 0, MIN_PHRASE_SIMILARITY + (1 - MIN_PHRASE_SIMILARITY) * credit, 0
        )
        return np.asarray(np.maximum(lexical, meaning), dtype=np.float32)

    @staticmethod
    def _pair_scores(scored: _Scored, i: int) -> PairScores:
        """a's needs x their offers and a's offers x their needs for scored row i, with the
        phrase similarities computed while ranking (no second pass)."""
        o = int(scored.origin[i])
        return scored.needs_sims.block(o).T, scored.offers_sims.block(o).T

    def _to_matches(
        self,
        st: State,
        a: Profile,
        scored: _Scored,
        limit: int,
        mode: Mode,
        explain: bool,
        min_score: float = MIN_MATCH_SCORE,
    ) -> list[Match]:
        order = sorted(
            (i for i in range(len(scored.rows)) if scored.total[i] >= min_score),
            key=lambda i: (-float(scored.total[i]), st.ids[scored.rows[i]]),
        )[:limit]
        shown = [self._profiles[st.ids[scored.rows[i]]] for i in order]
        similar_scores: list[npt.NDArray[np.float32] | None] = [None] * len(order)
        if explain and mode is not Mode.COMPLEMENTARY:
            similar_scores = list(similar_score_matrices(a, shown))
            av = self._dense.vectors(a.id) if self._dense is not None else None
            if av is not None:
                similar_scores = [
                    self._fuse_capabilities(av, b, m)
                    for b, m in zip(shown, similar_scores, strict=True)
                ]
        out = []
        for i, b, sim_scores in zip(order, shown, similar_scores, strict=True):
            reasons: tuple[Reason, ...] = ()
            if explain:
                scores = self._pair_scores(scored, i) if mode is not Mode.SIMILAR else None
                reasons = tuple(
                    explain_pair(
                        a,
                        b,
                        complementary=mode is not Mode.SIMILAR,
                        similar=mode is not Mode.COMPLEMENTARY,
                        scores=scores,
                        similar_scores=sim_scores,
                        semantic=self._dense is not None,
                    )
                )
            out.append(
                Match(
                    cluster_id=b.id,
                    score=round(float(scored.total[i]), 6),
                    components={k: round(float(v[i]), 6) for k, v in scored.parts.items()},
                    reasons=reasons,
                )
            )
        return out

    def matches(
        self,
        cluster_id: str,
        *,
        mode: Mode | str = Mode.BALANCED,
        limit: int = 10,
        filters: Filters = NO_FILTERS,
        explain: bool = True,
    ) -> list[Match]:
        """Best partners for a cluster, best first."""
        _check_limit(limit)
        m = Mode.parse(mode)
        w = WEIGHTS[m]
        with self._lock:
            st = self._state
            a = self._profiles.get(str(cluster_id))
            if st is None or a is None:
                raise UnknownCluster(str(cluster_id))
            row = st.row_of[a.id]
            approx = np.zeros(st.n_rows, dtype=np.float32)
            if w.similar:
                approx += w.similar * st.scan_word(
                    "profile", st.field_vector("word", "profile", row)
                )
            # Each of a's needs is scanned on its own and credited with saturation, like
            # the final coverage score: a row answering every need in other words must
            # not lose its place to one repeating a single need word for word.
            n2o = _phrase_scan(st, row, "needs", "offers")
            o2n = _phrase_scan(st, row, "offers", "needs")
            approx += w.complementary * complementarity(n2o, o2n)
            # Jaccard depends only on the row's ecosystem bits: one small table, one gather.
            table = jaccard_bits(ecosystem_mask(a.ecosystems), ECOSYSTEM_BIT_SETS)
            approx += w.ecosystems * table[st.eco[: st.n_rows]]
            mask = self._mask(st, filters, a)
            k = max(MIN_CANDIDATES, CANDIDATES_PER_RESULT * limit)
            rows = _top(approx, mask, k)
            av = self._dense.vectors(a.id) if self._dense is not None else None
            if av is not None:
                rows = np.union1d(rows, self._dense_candidates(st, av, m, mask, k))
            scored = self._score_pairs(st, a, rows, m, keep=limit)
            return self._to_matches(st, a, scored, limit, m, explain)

    def score_pairs(
        self,
        cluster_id: str,
        other_ids: Iterable[str],
        *,
        mode: Mode | str = Mode.BALANCED,
        explain: bool = True,
    ) -> list[Match]:
        """Score given clusters as partners for cluster_id (no filters), best first."""
        m = Mode.parse(mode)
        with self._lock:
            st = self._state
            a = self._profiles.get(str(cluster_id))
            if st is None or a is None:
                raise UnknownCluster(str(cluster_id))
            rows = []
            for other in other_ids:
                if str(other) not in self._profiles:
                    raise UnknownCluster(str(other))
                rows.append(st.row_of[str(other)])
            if not rows:
                return []
            scored = self._score_pairs(st, a, np.asarray(rows, dtype=np.int64), m)
            # Explicitly asked-for pairs are all returned, however weak.
            return self._to_matches(st, a, scored, len(rows), m, explain, min_score=-1.0)

    def search(
        self,
        text: str,
        *,
        limit: int = 10,
        filters: Filters = NO_FILTERS,
        understand: bool = True,
        explain: bool = True,
    ) -> list[Match]:
        """Free-text search over what clusters are and offer.

        With `understand`, country names in the text become a country filter (added to
        `filters`) and ecosystem names a small boost.
        """
        _check_limit(limit)
        if not isinstance(text, str) or not text.strip():
            raise EmptyQuery("search text is empty")
        query = text.strip()
        countries = filters.countries
        ecos: frozenset[str] = frozenset()
        if understand:
            parsed = parse(query)
            if parsed.text.strip():
                query = parsed.text
            countries = countries | parsed.countries
            ecos = parsed.ecosystems
        eff = Filters(
            countries=countries,
            tenants=filters.tenants,
            ecosystems=filters.ecosystems,
            min_label=filters.min_label,
            verified_only=filters.verified_only,
            exclude_own_country=False,
        )
        with self._lock:
            st = self._state
            if st is None:
                return []
            v = st.space.transform([query])
            if v.word.nnz == 0 and v.char.nnz == 0:
                raise EmptyQuery(f"nothing searchable in {text!r}")
            qw, qc = _dense(v.word), _dense(v.char)
            if v.word.nnz:
                approx = st.scan_word("profile", qw) + st.scan_word("offers", qw)
            else:
                # No known word: fall back to the (slower) char space over everything.
                approx = st.scan_char("profile", qc) + st.scan_char("offers", qc)
            eco_bits = ecosystem_mask(ecos)
            if eco_bits:
                approx += SEARCH_ECOSYSTEM_BOOST * ((st.eco[: st.n_rows] & eco_bits) != 0)
            mask = self._mask(st, eff, None)
            rows = _top(approx, mask, max(MIN_CANDIDATES, CANDIDATES_PER_RESULT * limit))
            parts: dict[str, FloatArray] = {}
            for comp in ("profile", "offers"):
                parts[comp] = blend(
                    st.dot_rows("word", comp, rows, qw), st.dot_rows("char", comp, rows, qc)
                )
            parts["ecosystems"] = np.asarray(
                SEARCH_ECOSYSTEM_BOOST * ((st.eco[rows] & eco_bits) != 0), dtype=np.float32
            )
            parts["boost"] = np.asarray(
                LABEL_BOOST_PER_RANK * st.label_now(rows, _today()), dtype=np.float32
            )
            relevance = 0.5 * parts["profile"] + 0.5 * parts["offers"]
            total = np.asarray(relevance + parts["ecosystems"] + parts["boost"], dtype=np.float32)
            order = sorted(range(len(rows)), key=lambda i: (-float(total[i]), st.ids[rows[i]]))
            out = []
            for i in order[:limit]:
                if relevance[i] < MIN_SEARCH_RELEVANCE:
                    continue
                b = self._profiles[st.ids[rows[i]]]
                out.append(
                    Match(
                        cluster_id=b.id,
                        score=round(float(total[i]), 6),
                        components={k: round(float(p[i]), 6) for k, p in parts.items()},
                        reasons=tuple(explain_query(query, b)) if explain else (),
                    )
                )
            return out
