"""Sparse row/column gathers in plain numpy.

scipy's fancy indexing builds and validates a new matrix per call (~0.2 ms each); a query
does a dozen of these on a few hundred rows, so we read the CSR/CSC arrays directly.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float32]


def ranges(starts: IntArray, lengths: IntArray) -> IntArray:
    """Concatenation of arange(s, s + n) for each (s, n)."""
    total = int(lengths.sum())
    if total == 0:
        return np.zeros(0, dtype=np.int64)
    offsets = np.repeat(starts - (np.cumsum(lengths) - lengths), lengths)
    return np.asarray(np.arange(total, dtype=np.int64) + offsets, dtype=np.int64)


def rows_dot(m: sp.csr_matrix, rows: IntArray, q: npt.NDArray[np.float32]) -> FloatArray:
    """m[rows] @ q for dense q of shape (n_features, k) → (len(rows), k)."""
    # Gather the rows into a small CSR by hand (no scipy fancy indexing) and let scipy's C
    # sparse x dense product do the arithmetic: no (nnz x k) temporaries in Python.
    indptr = m.indptr
    starts = indptr[rows].astype(np.int64)
    lengths = indptr[rows + 1].astype(np.int64) - starts
    pos = ranges(starts, lengths)
    sub_ptr = np.zeros(len(rows) + 1, dtype=np.int64)
    np.cumsum(lengths, out=sub_ptr[1:])
    sub = sp.csr_matrix(
        (m.data[pos], m.indices[pos], sub_ptr), shape=(len(rows), m.shape[1]), copy=False
    )
    return np.asarray(sub @ q, dtype=np.float32).reshape(len(rows), q.shape[1])


def columns_dot(csc: sp.csc_matrix, cols: IntArray, vals: FloatArray) -> FloatArray:
    """csc[:, cols] @ vals (dense result over all rows), reading only those postings."""
    # A query has tens of terms but their postings hold thousands of rows: slicing each
    # posting list is cheaper than building a gather index over all of them.
    indptr, indices, data = csc.indptr, csc.indices, csc.data
    docs, weights = [], []
    for c, v in zip(cols.tolist(), vals.tolist(), strict=True):
        s, e = indptr[c], indptr[c + 1]
        docs.append(indices[s:e])
        weights.append(data[s:e] * np.float32(v))
    if not docs:
        return np.zeros(csc.shape[0], dtype=np.float32)
    out = np.bincount(np.concatenate(docs), weights=np.concatenate(weights), minlength=csc.shape[0])
    return np.asarray(out, dtype=np.float32)


def row_dense(m: sp.csr_matrix, row: int, n_features: int) -> FloatArray:
    out = np.zeros(n_features, dtype=np.float32)
    s, e = m.indptr[row], m.indptr[row + 1]
    out[m.indices[s:e]] = m.data[s:e]
    return out


def row_sparse(m: sp.csr_matrix, row: int) -> tuple[IntArray, FloatArray]:
    s, e = m.indptr[row], m.indptr[row + 1]
    return m.indices[s:e].astype(np.int64), m.data[s:e]
