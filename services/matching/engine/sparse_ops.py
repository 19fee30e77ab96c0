"""Sparse row/column gathers in plain numpy.

scipy's fancy indexing builds and validates a new matrix per call (~0.2 ms each); a query
does a dozen of these on a few hundred rows, so we read the CSR/CSC arrays directly.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp

try:  # private but stable for years; rows_dot falls back to the public route without it
    from scipy.sparse import _sparsetools as _tools
except ImportError:  # pragma: no cover
    _tools = None

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
    indptr = m.indptr
    lengths = indptr[rows + 1] - indptr[rows]
    sub_ptr = np.zeros(len(rows) + 1, dtype=indptr.dtype)
    np.cumsum(lengths, out=sub_ptr[1:])
    k = q.shape[1]
    out = np.zeros((len(rows), k), dtype=np.float32)
    if _tools is not None and m.dtype == np.float32:
        # scipy's own C kernels, called directly: the public route (fancy indexing or a
        # csr_matrix constructor per call) re-validates its inputs and costs about twice
        # as much on the few hundred rows a query reads, a dozen times per query.
        nnz = int(sub_ptr[-1])
        idx = np.empty(nnz, dtype=m.indices.dtype)
        dat = np.empty(nnz, dtype=np.float32)
        _tools.csr_row_index(
            len(rows), rows.astype(indptr.dtype), indptr, m.indices, m.data, idx, dat
        )
        qc = np.ascontiguousarray(q, dtype=np.float32)
        _tools.csr_matvecs(len(rows), m.shape[1], k, sub_ptr, idx, dat, qc.ravel(), out.ravel())
        return out
    pos = ranges(indptr[rows].astype(np.int64), lengths.astype(np.int64))
    sub = sp.csr_matrix((m.data[pos], m.indices[pos], sub_ptr), shape=(len(rows), m.shape[1]))
    out[:] = sub @ q
    return out


def columns_dot(csc: sp.csc_matrix, cols: IntArray, vals: FloatArray) -> FloatArray:
    """csc[:, cols] @ vals (dense result over all rows), reading only those postings."""
    # A query has tens of terms but their postings hold thousands of rows: slicing each
    # posting list is cheaper than building a gather index over all of them.
    indptr, indices, data = csc.indptr, csc.indices, csc.data
    if _tools is not None and data.dtype == np.float32:
        # Gather the posting lists and accumulate them in float32, both in scipy's C
        # kernels: no Python-level concatenation, no float64 n_rows-sized temporary.
        lengths = indptr[cols + 1] - indptr[cols]
        sub_ptr = np.zeros(len(cols) + 1, dtype=indptr.dtype)
        np.cumsum(lengths, out=sub_ptr[1:])
        nnz = int(sub_ptr[-1])
        idx = np.empty(nnz, dtype=indices.dtype)
        dat = np.empty(nnz, dtype=np.float32)
        _tools.csr_row_index(len(cols), cols.astype(indptr.dtype), indptr, indices, data, idx, dat)
        out = np.zeros(csc.shape[0], dtype=np.float32)
        x = np.ascontiguousarray(vals, dtype=np.float32)
        _tools.csc_matvec(csc.shape[0], len(cols), sub_ptr, idx, dat, x, out)
        return out
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
