"""The embedding side of the index: distinct phrases with one vector each, and who has them.

Short phrases repeat across clusters ("battery recycling", "machine learning"), so each
embedded field (about, needs, offers) keeps a table of its distinct phrases: one vector
per phrase and the slots (profiles) holding it. A candidate scan multiplies a few query
phrases with the table (distinct phrases, not profiles: ~12,000 vectors at 100,000
synthetic profiles) and reads the postings of the phrases that pass the noise floor, so
its cost follows what matched rather than the size of the registry. Exact search: no
approximate index was needed at the measured sizes (see bench/matching.py).

Slots are this store's own numbering of profiles: a replaced profile gets a new slot and
its old one is dead; `MatchIndex` maps cluster ids to its rows for the few candidates.
Not thread-safe on its own: `MatchIndex` holds its lock around every call.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from .documents import Profile
from .embeddings import EMBEDDED_FIELDS, FloatArray, ProfileVectors, about_phrases
from .scoring import embedding_credit

IntArray = npt.NDArray[np.int64]
# Phrases of the table read per query phrase: the best ones above the noise floor.
SCAN_PHRASES_PER_QUERY = 64
# Candidate scans run in a reduced space (the top principal directions of the stored
# phrase vectors) once a table is big enough for the full 512-d product to show in
# latency; full scoring always uses the exact vectors. The reduced cosine is a little
# lower than the exact one, hence the slack on the noise floor for candidates only.
SCAN_DIMS = 128
PROJECT_ABOVE = 2000
SCAN_SLACK = 0.05
_NONE = np.zeros(0, dtype=np.int64)


def _phrases(p: Profile, field: str) -> list[str]:
    if field == "about":
        return about_phrases(p)
    return list(p.phrases(field))


class PhraseTable:
    """Distinct phrases of one field: vectors (float32) and postings of slots."""

    def __init__(self, dim: int) -> None:
        self.dim = dim
        self.index: dict[str, int] = {}
        self._vectors = np.zeros((64, dim), dtype=np.float32)
        self.n = 0
        self.postings: list[list[int]] = []
        self._arrays: dict[int, IntArray] = {}
        self._projection: FloatArray | None = None
        self._reduced = np.zeros((64, 0), dtype=np.float32)

    @property
    def matrix(self) -> FloatArray:
        return self._vectors[: self.n]

    def project(self, projection: FloatArray | None) -> None:
        """Keep reduced copies of the vectors (dim x r projection; None: exact scans)."""
        self._projection = projection
        if projection is None:
            self._reduced = np.zeros((len(self._vectors), 0), dtype=np.float32)
            return
        self._reduced = np.zeros((len(self._vectors), projection.shape[1]), dtype=np.float32)
        self._reduced[: self.n] = self.matrix @ projection

    def scan_space(self, queries: FloatArray) -> tuple[FloatArray, float]:
        """(query x phrase) cosines for candidate scans, and the slack to apply."""
        if self._projection is None:
            exact: FloatArray = queries @ self.matrix.T
            return exact, 0.0
        q = np.asarray(queries @ self._projection, dtype=np.float32)
        reduced: FloatArray = q @ self._reduced[: self.n].T
        return reduced, SCAN_SLACK

    def add(self, text: str, vector: FloatArray) -> int:
        pid = self.index.get(text)
        if pid is not None:
            return pid
        if self.n == len(self._vectors):
            grown = np.zeros((2 * len(self._vectors), self.dim), dtype=np.float32)
            grown[: self.n] = self._vectors[: self.n]
            self._vectors = grown
            reduced = np.zeros((len(grown), self._reduced.shape[1]), dtype=np.float32)
            reduced[: self.n] = self._reduced[: self.n]
            self._reduced = reduced
        pid = self.n
        self._vectors[pid] = vector
        if self._projection is not None:
            self._reduced[pid] = vector @ self._projection
        self.index[text] = pid
        self.postings.append([])
        self.n += 1
        return pid

    def post(self, pid: int, slot: int) -> None:
        self.postings[pid].append(slot)
        self._arrays.pop(pid, None)

    def unpost(self, pid: int, slot: int) -> None:
        with contextlib.suppress(ValueError):
            self.postings[pid].remove(slot)
        self._arrays.pop(pid, None)

    def slots(self, pid: int) -> IntArray:
        arr = self._arrays.get(pid)
        if arr is None:
            arr = np.asarray(self.postings[pid], dtype=np.int64)
            self._arrays[pid] = arr
        return arr


@dataclass(slots=True)
class _Entry:
    # Only where the vectors are (slot, phrase ids): a copy per profile would cost
    # ~20 KB each, 2 GB at 100,000 profiles.
    slot: int
    version: int
    pids: dict[str, IntArray]


class DenseStore:
    def __init__(self, model: str, dim: int) -> None:
        self.model = model
        self.dim = dim
        self.tables = {f: PhraseTable(dim) for f in EMBEDDED_FIELDS}
        self.entries: dict[str, _Entry] = {}
        self._profile = np.zeros((64, dim), dtype=np.float16)
        self._alive = np.zeros(64, dtype=bool)
        self._slot_ids: list[str] = []

    def __len__(self) -> int:
        return len(self.entries)

    def fit_projection(self, dims: int = SCAN_DIMS, sample: int = 20000) -> None:
        """Reduced space for candidate scans, from the stored phrase vectors (uncentred
        SVD: dot products of unit vectors are what it keeps)."""
        big = [t for t in self.tables.values() if t.n > PROJECT_ABOVE]
        if not big:
            return
        stacked = np.concatenate([t.matrix for t in self.tables.values()])
        if len(stacked) > sample:
            pick = np.random.default_rng(0).choice(len(stacked), sample, replace=False)
            stacked = stacked[pick]
        _, _, vt = np.linalg.svd(stacked, full_matrices=False)
        projection = np.ascontiguousarray(vt[:dims].T, dtype=np.float32)
        for t in big:
            t.project(projection)

    def __contains__(self, cluster_id: object) -> bool:
        return str(cluster_id) in self.entries

    @property
    def n_slots(self) -> int:
        return len(self._slot_ids)

    def slot_id(self, slot: int) -> str:
        return self._slot_ids[slot]

    def vectors(self, cluster_id: str) -> ProfileVectors | None:
        e = self.entries.get(cluster_id)
        if e is None:
            return None
        parts = {f: self.tables[f].matrix[e.pids[f]] for f in EMBEDDED_FIELDS}
        return ProfileVectors(
            model=self.model,
            version=e.version,
            profile=self._profile[e.slot].astype(np.float32),
            about=parts["about"],
            needs=parts["needs"],
            offers=parts["offers"],
        )

    def put(self, p: Profile, v: ProfileVectors) -> None:
        """Hold these vectors for p (replacing any older ones); ValueError if they are
        another model's or do not fit p's phrases."""
        if not v.fits(p, self.model):
            raise ValueError(f"embeddings of {p.id} do not fit its profile or model")
        self.remove(p.id)
        slot = len(self._slot_ids)
        if slot == len(self._alive):
            self._profile = np.concatenate([self._profile, np.zeros_like(self._profile)])
            self._alive = np.concatenate([self._alive, np.zeros_like(self._alive)])
        self._slot_ids.append(p.id)
        self._profile[slot] = v.profile
        self._alive[slot] = True
        pids: dict[str, IntArray] = {}
        for f in EMBEDDED_FIELDS:
            table = self.tables[f]
            ids = [table.add(t, vec) for t, vec in zip(_phrases(p, f), v.field(f), strict=True)]
            for pid in dict.fromkeys(ids):
                table.post(pid, slot)
            pids[f] = np.asarray(ids, dtype=np.int64)
        self.entries[p.id] = _Entry(slot, v.version, pids)

    def remove(self, cluster_id: str) -> bool:
        e = self.entries.pop(cluster_id, None)
        if e is None:
            return False
        self._alive[e.slot] = False
        for f, ids in e.pids.items():
            for pid in dict.fromkeys(ids.tolist()):
                self.tables[f].unpost(pid, e.slot)
        return True

    # --- queries -------------------------------------------------------------------------

    def coverage_scan(self, queries: FloatArray, field: str) -> FloatArray:
        """Per slot: mean over the query phrases of the best embedding credit among the
        slot's phrases of `field` (candidate generation; dead slots score 0)."""
        out = np.zeros(self.n_slots, dtype=np.float32)
        table = self.tables[field]
        if not len(queries) or not table.n or not self.n_slots:
            return out
        cosines, slack = table.scan_space(queries)
        credit = embedding_credit(cosines + np.float32(slack))
        for c in credit:
            cols = np.flatnonzero(c > 0)
            if len(cols) > SCAN_PHRASES_PER_QUERY:
                part = np.argpartition(-c[cols], SCAN_PHRASES_PER_QUERY - 1)
                cols = cols[part[:SCAN_PHRASES_PER_QUERY]]
            if not len(cols):
                continue
            posted = [table.slots(int(pid)) for pid in cols]
            lengths = np.array([len(s) for s in posted], dtype=np.int64)
            if not lengths.sum():
                continue
            best = np.zeros(self.n_slots, dtype=np.float32)
            np.maximum.at(best, np.concatenate(posted), np.repeat(c[cols], lengths))
            out += best
        out *= np.float32(1.0 / len(queries))
        out *= self._alive[: self.n_slots]
        return out

    def phrase_cosines(
        self, ids: list[str], field: str, lengths: IntArray, queries: FloatArray
    ) -> FloatArray:
        """(sum(lengths), k): cosine of each listed profile's `field` phrases (in profile
        order, `lengths[i]` of them for ids[i]) with each query phrase; 0 for a profile
        without fitting vectors, so it is judged on its words alone."""
        total = int(lengths.sum())
        out = np.zeros((total, len(queries)), dtype=np.float32)
        if not total or not len(queries):
            return out
        table = self.tables[field]
        pos = np.full(total, -1, dtype=np.int64)
        at = 0
        for cid, n in zip(ids, lengths.tolist(), strict=True):
            e = self.entries.get(cid)
            if e is not None and len(e.pids[field]) == n:
                pos[at : at + n] = e.pids[field]
            at += n
        known = pos >= 0
        if known.any():
            out[known] = table.matrix[pos[known]] @ queries.T
        return out

    def best_cosines(self, ids: list[str], field: str, queries: FloatArray) -> FloatArray:
        """(len(ids), k): per profile, each query phrase's best cosine among its `field`
        phrases (0 for a profile without vectors or phrases there)."""
        out = np.zeros((len(ids), len(queries)), dtype=np.float32)
        if not len(queries):
            return out
        table = self.tables[field]
        pids = [self.entries[i].pids[field] if i in self.entries else _NONE for i in ids]
        lengths = np.array([len(p) for p in pids], dtype=np.int64)
        if not lengths.sum():
            return out
        cos = table.matrix[np.concatenate(pids)] @ queries.T
        nonempty = lengths > 0
        starts = (np.cumsum(lengths) - lengths)[nonempty]
        out[nonempty] = np.maximum.reduceat(cos, starts, axis=0)
        return out

    def profile_cosines(self, ids: list[str], query: FloatArray) -> FloatArray:
        """Cosine of each listed profile's whole-profile vector with query (0 if none)."""
        out = np.zeros(len(ids), dtype=np.float32)
        slots = [self.entries[i].slot if i in self.entries else -1 for i in ids]
        idx = np.asarray(slots, dtype=np.int64)
        known = idx >= 0
        if known.any():
            out[known] = self._profile[idx[known]].astype(np.float32) @ query
        return out
