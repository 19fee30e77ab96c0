"""Term relatedness learned from the corpus: what clusters offer vs what they do.

Two phrasings of one thing often share no word ("managing air traffic" / "ATM systems for
airspace"), so no lexical space links them. The corpus does: a cluster's offers restate
its competences, usually in other words. Counting, over all profiles, which terms of the
descriptive field ("profile": description, competences, technologies) co-occur with which
terms of the *offers* field, and keeping the pairs far above chance (pointwise mutual
information), gives a sparse term-to-term relation. Whole-document co-occurrence (plain
LSA over all text) mostly learns the ecosystem topic instead: within one profile, variants
of one concept co-occur no more often than different concepts of the same ecosystem, but
across the profile→offers boundary they co-occur several times more.

A text's semantic vector is its word vector times (I + related terms), L2-normalised; the
cosine of two such vectors is high when their terms are the same *or* related. Fitting is
a sparse product of two binary (profiles x terms) matrices: well under a second at
100,000 profiles. New rows (upserts) are projected with the fitted relation, unchanged.
Deterministic: plain arithmetic, no random initialisation.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

# A pair must co-occur this often to count at all: PMI of rare pairs is noise. Being a
# count, it makes small indexes (tests, fresh installs) fall back to the lexical match.
MIN_COOCCURRENCE = 20
# log(observed / expected); e^2.5 ≈ 12 times more often than chance. Same-ecosystem but
# different concepts co-occur ~5x above chance, variants of one concept ~25x.
MIN_PMI = 2.5
# Caps how much a term spreads: keeps semantic vectors (and their posting lists) short.
MAX_RELATED_PER_TERM = 24


def _binary(m: sp.csr_matrix) -> sp.csr_matrix:
    out = sp.csr_matrix(m, dtype=np.float32, copy=True)
    out.data[:] = 1.0
    return out


def _top_per_row(m: sp.csr_matrix, k: int) -> sp.csr_matrix:
    m = sp.csr_matrix(m)
    rows, cols, vals = [], [], []
    for r in range(m.shape[0]):
        s, e = m.indptr[r], m.indptr[r + 1]
        if e == s:
            continue
        data = m.data[s:e]
        keep = np.argsort(-data, kind="stable")[:k]
        rows.append(np.full(len(keep), r, dtype=np.int64))
        cols.append(m.indices[s:e][keep])
        vals.append(data[keep])
    if not rows:
        return sp.csr_matrix(m.shape, dtype=np.float32)
    return sp.csr_matrix(
        (np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
        shape=m.shape,
        dtype=np.float32,
    )


class Relatedness:
    """A fitted sparse (terms x terms) expansion: identity plus learned related terms."""

    def __init__(self, expansion: sp.csr_matrix) -> None:
        self.expansion = expansion

    @property
    def related_pairs(self) -> int:
        return int(self.expansion.nnz - self.expansion.shape[0])

    @classmethod
    def identity(cls, n_terms: int) -> Relatedness:
        return cls(sp.identity(n_terms, dtype=np.float32, format="csr"))

    @classmethod
    def fit(cls, profile_words: sp.csr_matrix, offer_words: sp.csr_matrix) -> Relatedness:
        """Learn from aligned rows: row i of both matrices is the same cluster."""
        n_rows, n_terms = profile_words.shape
        p, o = _binary(profile_words), _binary(offer_words)
        co = sp.coo_matrix(p.T @ o)
        df_p = np.asarray(p.sum(axis=0), dtype=np.float64).ravel()
        df_o = np.asarray(o.sum(axis=0), dtype=np.float64).ravel()
        count = co.data.astype(np.float64)
        with np.errstate(divide="ignore"):
            pmi = np.log(count * n_rows / (df_p[co.row] * df_o[co.col]))
        keep = (count >= MIN_COOCCURRENCE) & (pmi >= MIN_PMI) & (co.row != co.col)
        if not keep.any():
            return cls.identity(n_terms)
        rel = sp.csr_matrix(
            (pmi[keep].astype(np.float32), (co.row[keep], co.col[keep])),
            shape=(n_terms, n_terms),
        )
        # Relatedness is symmetric: "X in what I do ↔ Y in what I offer" says X ~ Y.
        rel = sp.csr_matrix(rel.maximum(rel.T))
        rel = _top_per_row(rel, MAX_RELATED_PER_TERM)
        # Scale into (0, 1] so a related term never outweighs the term itself.
        rel = rel.multiply(np.float32(1.0 / float(rel.data.max())))
        eye = sp.identity(n_terms, dtype=np.float32, format="csr")
        return cls(sp.csr_matrix(eye + rel, dtype=np.float32))

    def project(self, word_vectors: sp.csr_matrix) -> sp.csr_matrix:
        """Semantic vectors (rows L2-normalised) of word-space rows."""
        n_terms = self.expansion.shape[0]
        m = sp.csr_matrix(word_vectors, dtype=np.float32)
        if m.shape[1] < n_terms:
            m = sp.csr_matrix((m.data, m.indices, m.indptr), shape=(m.shape[0], n_terms))
        out = sp.csr_matrix(m @ self.expansion, dtype=np.float32)
        sq = np.asarray(out.multiply(out).sum(axis=1), dtype=np.float64).ravel()
        norms = np.sqrt(sq)
        norms[norms == 0] = 1.0
        scale = np.repeat((1.0 / norms).astype(np.float32), np.diff(out.indptr))
        out.data *= scale
        out.sort_indices()
        return out
