"""Row-addressable storage of profile vectors: a big immutable base plus a small delta.

The base is what the last build or compaction produced; it also has a term-major (CSC)
copy of its word vectors, so a query touches only the posting columns of its own terms.
Upserts append to the delta (CSR, small, scanned row-wise) and mark the replaced row dead;
deletions only mark rows dead. Compaction folds the delta and drops dead rows without
refitting the vocabulary; a refit re-learns vocabulary and IDF from all live profiles.

Besides one vector per field, offers and needs keep one vector per phrase, because
complementarity is judged phrase by phrase ("does each of my needs find an offer?").
Offer and need phrases also have "sem" vectors (word vectors projected through the learned
term relatedness, see semantic.py), so differently worded phrases of one thing can meet.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp

from shared.taxonomy import ECOSYSTEMS

from .documents import Profile
from .filters import ecosystem_mask
from .scoring import coverage_credit, phrase_similarity
from .semantic import Relatedness
from .sparse_ops import FloatArray, IntArray, columns_dot, ranges, row_dense, rows_dot
from .vectorizer import Grouped, TextSpace

NO_END = np.iinfo(np.int32).max

COMPONENTS: tuple[str, ...] = ("profile", "offers", "needs")
PHRASED: tuple[str, ...] = ("offers", "needs")
SPACES: tuple[str, ...] = ("word", "char")
# Spaces with a term-major copy for scanning the whole base: (space, component).
# Only word fields: semantic queries are scanned against plain word postings (the query
# side carries the related terms), which are ~4x shorter than expanded ones.
SCANNED: tuple[tuple[str, str], ...] = (
    ("word", "profile"),
    ("word", "offers"),
    ("word", "needs"),
)
# Terms in more than this share of rows are skipped by candidate scans (full scoring still
# counts them): they hold most postings and rank least. On the tuning seed at 100,000
# profiles, 0.02 kept the planted-partner hit rate (0.99) and 0.01 lost 3-6 points.
MAX_SCAN_SHARE = 0.02


def groups_of(p: Profile) -> list[list[str]]:
    """The profile's phrase groups in COMPONENTS order."""
    return [
        [p.description, *p.competences, *p.technologies]
        if p.description
        else [*p.competences, *p.technologies],
        list(p.offers),
        list(p.needs),
    ]


def _csr(m: sp.spmatrix) -> sp.csr_matrix:
    out = sp.csr_matrix(m, dtype=np.float32)
    out.sort_indices()
    return out


@dataclass(slots=True)
class Segment:
    """Vectors of consecutive rows: per (space, component) one CSR of field vectors, and
    for offers/needs one CSR of phrase vectors with `pptr` giving each row's phrases."""

    fields: dict[tuple[str, str], sp.csr_matrix]
    phrases: dict[tuple[str, str], sp.csr_matrix]
    pptr: dict[str, IntArray]
    csc: dict[tuple[str, str], sp.csc_matrix] | None = None

    @property
    def n_rows(self) -> int:
        return int(self.fields[("word", "profile")].shape[0])

    @classmethod
    def from_grouped(cls, g: Grouped, n: int, rel: Relatedness, *, term_major: bool) -> Segment:
        # Groups are laid out by component: [profile x n, offers x n, needs x n].
        fields, phrases, pptr = {}, {}, {}
        for i, c in enumerate(COMPONENTS):
            for s in SPACES:
                fields[(s, c)] = _csr(getattr(g.groups, s)[i * n : (i + 1) * n])
            if c in PHRASED:
                lo, hi = int(g.ptr[i * n]), int(g.ptr[(i + 1) * n])
                rows = g.phrase_rows[lo:hi]
                for s in SPACES:
                    phrases[(s, c)] = _csr(getattr(g.distinct_phrases, s)[rows])
                pptr[c] = (g.ptr[i * n : (i + 1) * n + 1] - lo).astype(np.int64)
                phrases[("sem", c)] = rel.project(phrases[("word", c)])
        seg = cls(fields, phrases, pptr)
        if term_major:
            seg.index_terms()
        return seg

    def index_terms(self) -> None:
        csc = {}
        for key in SCANNED:
            m = sp.csc_matrix(self.fields[key])
            m.sort_indices()
            csc[key] = m
        self.csc = csc

    def empty_like(self) -> Segment:
        return Segment(
            {k: m[:0] for k, m in self.fields.items()},
            {k: m[:0] for k, m in self.phrases.items()},
            {c: np.zeros(1, dtype=np.int64) for c in PHRASED},
        )

    def take(self, rows: IntArray) -> Segment:
        fields = {k: _csr(m[rows]) for k, m in self.fields.items()}
        phrases, pptr = {}, {}
        for c in PHRASED:
            starts = self.pptr[c][rows]
            lengths = self.pptr[c][rows + 1] - starts
            pos = ranges(starts, lengths)
            for s in (*SPACES, "sem"):
                phrases[(s, c)] = _csr(self.phrases[(s, c)][pos])
            pptr[c] = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
        return Segment(fields, phrases, pptr)

    def append(self, other: Segment) -> Segment:
        fields = {k: _csr(sp.vstack([m, other.fields[k]])) for k, m in self.fields.items()}
        phrases = {k: _csr(sp.vstack([m, other.phrases[k]])) for k, m in self.phrases.items()}
        pptr = {
            c: np.concatenate([self.pptr[c], other.pptr[c][1:] + self.pptr[c][-1]]) for c in PHRASED
        }
        return Segment(fields, phrases, pptr)

    def phrase_sims(
        self, component: str, rows: IntArray, qw: FloatArray, qc: FloatArray, qs: FloatArray
    ) -> tuple[FloatArray, IntArray]:
        """Similarity of every phrase of the rows to each query phrase (columns of qw/qc),
        and how many phrases each row has."""
        starts = self.pptr[component][rows]
        lengths = self.pptr[component][rows + 1] - starts
        pos = ranges(starts, lengths)
        sims = phrase_similarity(
            rows_dot(self.phrases[("word", component)], pos, qw),
            rows_dot(self.phrases[("char", component)], pos, qc),
            rows_dot(self.phrases[("sem", component)], pos, qs),
        )
        return sims, lengths


def _segment_max(sims: FloatArray, lengths: IntArray) -> FloatArray:
    """Per row, the column-wise max over its phrases (0 for a row without phrases)."""
    out = np.zeros((len(lengths), sims.shape[1]), dtype=np.float32)
    nonempty = lengths > 0
    if nonempty.any():
        starts = (np.cumsum(lengths) - lengths)[nonempty]
        out[nonempty] = np.maximum.reduceat(sims, starts, axis=0)
    return out


def _segment_mean(values: FloatArray, lengths: IntArray) -> FloatArray:
    cs = np.concatenate([[0.0], np.cumsum(values, dtype=np.float64)])
    ends = np.cumsum(lengths)
    sums = cs[ends] - cs[ends - lengths]
    return np.asarray(np.divide(sums, np.maximum(lengths, 1)), dtype=np.float32)


class PhraseSims:
    """Phrase similarities of some rows against a few query phrases, kept after scoring so
    the explanations of the shown results reuse them instead of recomputing."""

    def __init__(self, sims: FloatArray, lengths: IntArray, order: IntArray, n_rows: int) -> None:
        # sims rows are grouped per row in `order` (a permutation of positions in the
        # caller's rows: base rows first, then delta rows), each row `lengths` long.
        self.sims = sims
        self.lengths = lengths
        self.order = order
        self.n_rows = n_rows
        self.starts = np.zeros(n_rows, dtype=np.int64)
        self.sizes = np.zeros(n_rows, dtype=np.int64)
        self.starts[order] = np.cumsum(lengths) - lengths
        self.sizes[order] = lengths

    def best_per_query(self) -> FloatArray:
        """(n_rows, k): for each query phrase, its best match among each row's phrases."""
        out = np.zeros((self.n_rows, self.sims.shape[1]), dtype=np.float32)
        if len(self.order):
            out[self.order] = _segment_max(self.sims, self.lengths)
        return out

    def mean_best_per_row(self) -> FloatArray:
        """(n_rows,): mean over each row's phrases of their coverage by the query phrases."""
        out = np.zeros(self.n_rows, dtype=np.float32)
        if len(self.order) and self.sims.shape[1]:
            best = coverage_credit(self.sims.max(axis=1))
            out[self.order] = _segment_mean(best, self.lengths)
        return out

    def block(self, i: int) -> FloatArray:
        """(row i's phrases x query phrases)."""
        s = int(self.starts[i])
        return self.sims[s : s + int(self.sizes[i])]


@dataclass(slots=True)
class Codes:
    """Small-integer codes for countries and tenants, so filters are vector compares."""

    of: dict[str, int] = field(default_factory=dict)

    def code(self, value: str) -> int:
        return self.of.setdefault(value, len(self.of))

    def known(self, values: Sequence[str] | frozenset[str]) -> list[int]:
        return [self.of[v] for v in values if v in self.of]


Snapshot = tuple[Segment, Segment, list[str], npt.NDArray[np.bool_]]


class State:
    """Everything a query reads. Replaced as a whole by rebuild(); appended to by upsert."""

    def __init__(
        self,
        space: TextSpace,
        rel: Relatedness,
        base: Segment,
        profiles: Sequence[Profile],
    ) -> None:
        self.space = space
        self.rel = rel
        self.base = base
        self.delta = base.empty_like()
        self.n_word = len(space.word_vocab)
        self.n_char = len(space.char_vocab)
        self.countries = Codes()
        self.tenants = Codes()
        n = len(profiles)
        cap = max(16, n + n // 8)
        self.ids: list[str] = []
        self.row_of: dict[str, int] = {}
        self.alive = np.zeros(cap, dtype=bool)
        self.country = np.zeros(cap, dtype=np.int32)
        self.tenant = np.zeros(cap, dtype=np.int32)
        self.eco = np.zeros(cap, dtype=np.int32)
        self.label = np.zeros(cap, dtype=np.int8)
        # The label's last valid day as a proleptic ordinal (NO_END: none given).
        self.label_until = np.full(cap, NO_END, dtype=np.int32)
        self.verified = np.zeros(cap, dtype=bool)
        self.dead = 0
        for p in profiles:
            self._add_meta(p)
        # Vocabulary drift bookkeeping since the vocabulary was fitted.
        self.fit_size = n
        self.upserts_since_fit = 0
        self.unknown_words = 0
        self.total_words = 0

    @property
    def n_rows(self) -> int:
        return len(self.ids)

    @property
    def n_base(self) -> int:
        return self.base.n_rows

    def _add_meta(self, p: Profile) -> int:
        row = len(self.ids)
        if row == len(self.alive):
            self._grow()
        self.ids.append(p.id)
        self.row_of[p.id] = row
        self.alive[row] = True
        self.country[row] = self.countries.code(p.country_code)
        self.tenant[row] = self.tenants.code(p.tenant)
        self.eco[row] = ecosystem_mask(p.ecosystems)
        self.label[row] = p.label.rank
        end = p.label_valid_until
        self.label_until[row] = NO_END if end is None else end.toordinal()
        self.verified[row] = p.verified
        return row

    def _grow(self) -> None:
        cap = 2 * len(self.alive)
        for name in ("alive", "country", "tenant", "eco", "label", "label_until", "verified"):
            old = getattr(self, name)
            new = np.zeros(cap, dtype=old.dtype)
            new[: len(old)] = old
            setattr(self, name, new)

    def label_now(self, rows: slice | IntArray, today: int) -> npt.NDArray[np.int8]:
        """Label ranks as they stand on `today` (an ordinal day): expired ranks as none,
        decided at query time so a label stops counting the day after it ends."""
        return np.where(self.label_until[rows] >= today, self.label[rows], 0).astype(np.int8)

    def segment_of(self, g: Grouped) -> Segment:
        """The one-row segment of a vectorised profile, not yet part of the state."""
        return Segment.from_grouped(g, 1, self.rel, term_major=False)

    def append(self, p: Profile, segment: Segment) -> int:
        """Add a live row for p (the caller has killed any previous row of p)."""
        self.delta = self.delta.append(segment)
        return self._add_meta(p)

    def kill(self, cluster_id: str) -> bool:
        row = self.row_of.pop(cluster_id, None)
        if row is None:
            return False
        self.alive[row] = False
        self.dead += 1
        return True

    # --- reading -----------------------------------------------------------------------

    def _locate(self, row: int) -> tuple[Segment, int]:
        nb = self.n_base
        return (self.base, row) if row < nb else (self.delta, row - nb)

    def field_vector(self, space: str, component: str, row: int) -> FloatArray:
        seg, r = self._locate(row)
        n = self.n_char if space == "char" else self.n_word
        return row_dense(seg.fields[(space, component)], r, n)

    def phrase_vectors(self, space: str, component: str, row: int) -> FloatArray:
        """The row's phrases of a component as dense columns (n_features x n_phrases)."""
        seg, r = self._locate(row)
        s, e = int(seg.pptr[component][r]), int(seg.pptr[component][r + 1])
        n = self.n_char if space == "char" else self.n_word
        m = seg.phrases[(space, component)]
        out = np.zeros((n, e - s), dtype=np.float32)
        for j, pr in enumerate(range(s, e)):
            lo, hi = m.indptr[pr], m.indptr[pr + 1]
            out[m.indices[lo:hi], j] = m.data[lo:hi]
        return out

    def scan_word(self, component: str, q: FloatArray) -> FloatArray:
        return self.scan("word", component, q)

    def scan(self, space: str, component: str, q: FloatArray) -> FloatArray:
        """q · every row's field vector, reading only the postings of q's terms."""
        out = np.zeros(self.n_rows, dtype=np.float32)
        cols = np.flatnonzero(q).astype(np.int64)
        if len(cols) == 0:
            return out
        nb = self.n_base
        if nb:
            assert self.base.csc is not None
            csc = self.base.csc[(space, component)]
            # Terms in a large share of rows cost the most to scan and rank the least;
            # candidate generation skips them unless nothing else is left (the full
            # scoring of candidates still counts them).
            df = csc.indptr[cols + 1] - csc.indptr[cols]
            rare = cols[df <= MAX_SCAN_SHARE * nb]
            if len(rare):
                cols = rare
            out[:nb] = columns_dot(csc, cols, q[cols])
        if self.n_rows > nb:
            d = self.delta.fields[(space, component)]
            out[nb:] = rows_dot(d, np.arange(d.shape[0], dtype=np.int64), q[:, None])[:, 0]
        return out

    def scan_char(self, component: str, q: FloatArray) -> FloatArray:
        """Char-space scores against every row: slow, the fallback when words say nothing."""
        parts = [
            seg.fields[("char", component)] @ q for seg in (self.base, self.delta) if seg.n_rows
        ]
        return np.asarray(np.concatenate(parts), dtype=np.float32)

    def _split(self, rows: IntArray) -> list[tuple[Segment, npt.NDArray[np.bool_], IntArray]]:
        nb = self.n_base
        in_base = rows < nb
        out = []
        if in_base.any():
            out.append((self.base, in_base, rows[in_base]))
        if not in_base.all():
            out.append((self.delta, ~in_base, rows[~in_base] - nb))
        return out

    def dot_rows(self, space: str, component: str, rows: IntArray, q: FloatArray) -> FloatArray:
        """q (dense) · the given rows' field vectors."""
        out = np.zeros(len(rows), dtype=np.float32)
        for seg, where, local in self._split(rows):
            out[where] = rows_dot(seg.fields[(space, component)], local, q[:, None])[:, 0]
        return out

    def phrase_sims(
        self, component: str, rows: IntArray, qw: FloatArray, qc: FloatArray, qs: FloatArray
    ) -> PhraseSims:
        """Similarity of every phrase of the rows to each query phrase (columns of q*)."""
        k = qw.shape[1]
        parts, lens, order = [], [], []
        if k:
            for seg, where, local in self._split(rows):
                sims, lengths = seg.phrase_sims(component, local, qw, qc, qs)
                parts.append(sims)
                lens.append(lengths)
                order.append(np.flatnonzero(where))
        if not parts:
            empty = np.zeros(0, dtype=np.int64)
            return PhraseSims(np.zeros((0, k), dtype=np.float32), empty, empty, len(rows))
        return PhraseSims(
            np.concatenate(parts), np.concatenate(lens), np.concatenate(order), len(rows)
        )

    def snapshot(self) -> Snapshot:
        """What compaction needs, copied so later upserts cannot change it underneath."""
        return self.base, self.delta, list(self.ids), self.alive[: self.n_rows].copy()


def fit_state(profiles: Sequence[Profile]) -> State:
    """Full fit: vocabulary, IDF and vectors from scratch."""
    space = TextSpace()
    n = len(profiles)
    per = [groups_of(p) for p in profiles]
    groups = [g[i] for i in range(3) for g in per]
    # The ecosystem names guarantee a non-empty vocabulary (sklearn refuses to fit on
    # texts of stop words only, e.g. an index of one freshly created empty profile).
    g = space.fit_grouped([*groups, list(ECOSYSTEMS.values())])
    words = g.groups.word
    rel = Relatedness.fit(words[:n], words[n : 2 * n])
    return State(space, rel, Segment.from_grouped(g, n, rel, term_major=True), profiles)


def compact_state(old: State, snapshot: Snapshot, profiles: dict[str, Profile]) -> State:
    """Fold the delta into the base and drop dead rows; vocabulary unchanged."""
    base, delta, ids, alive = snapshot
    nb = base.n_rows
    rows = np.flatnonzero(alive).astype(np.int64)
    b_rows, d_rows = rows[rows < nb], rows[rows >= nb] - nb
    merged = base.take(b_rows).append(delta.take(d_rows))
    merged.index_terms()
    kept = [profiles[ids[r]] for r in rows]
    state = State(old.space, old.rel, merged, kept)
    state.fit_size = old.fit_size
    state.upserts_since_fit = old.upserts_since_fit
    state.unknown_words = old.unknown_words
    state.total_words = old.total_words
    return state
