"""Exact Jaccard similarity of many pairs of shingle sets at once.

Sets are sorted distinct uint32 shingle hashes laid end to end (``values``), set ``i`` at
``values[starts[i] : starts[i] + sizes[i]]``: the layout :func:`dedupe.core.shingle.
distinct_sets` makes, which may be a memory map of a file. A chunk of pairs is done in a few
array operations: the left and the right sets of its pairs are gathered, each tagged with its
pair's number, and merged: a value that appears twice under one tag is in the intersection.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from dedupe.core.shingle import I64, U32, U64

F64 = npt.NDArray[np.float64]
#: Shingles gathered per chunk (both sets of every pair in it): 4M take 32 MB as uint64.
CHUNK_ELEMENTS = 1 << 22


def _tagged(values: U32, starts: I64, sizes: I64, rows: I64) -> U64:
    """The sets of ``rows`` end to end, each value tagged with its row's place in ``rows``
    above it: sorted, as each set is and the tags ascend. The sets are contiguous, so they are
    sliced (a slice per row, ~0.3 µs) rather than gathered element by element (4x slower)."""
    first = starts[rows]
    parts = [
        values[a:b] for a, b in zip(first.tolist(), (first + sizes[rows]).tolist(), strict=True)
    ]
    flat = np.concatenate(parts).astype(np.uint64) if parts else np.empty(0, dtype=np.uint64)
    tags = np.repeat(np.arange(len(rows), dtype=np.uint64) << np.uint64(32), sizes[rows])
    tags |= flat
    return tags


def pair_jaccard(values: U32, starts: I64, sizes: I64, pairs: I64) -> F64:
    """Exact Jaccard similarity of the sets of each pair of rows (1.0 for two empty sets).

    >>> values = np.array([1, 2, 3, 2, 3, 4, 9], dtype=np.uint32)
    >>> sizes = np.array([3, 3, 1, 0])
    >>> starts = np.cumsum(sizes) - sizes
    >>> pair_jaccard(values, starts, sizes, np.array([[0, 1], [0, 2], [3, 3]])).tolist()
    [0.5, 0.0, 1.0]
    """
    out = np.empty(len(pairs), dtype=np.float64)
    per_pair = sizes[pairs[:, 0]] + sizes[pairs[:, 1]]
    ends = np.cumsum(per_pair)
    begin = 0
    while begin < len(pairs):
        # As many pairs as fit the chunk (at least one).
        limit = (ends[begin - 1] if begin else 0) + CHUNK_ELEMENTS
        end = max(begin + 1, int(np.searchsorted(ends, limit, side="right")))
        chunk = pairs[begin:end]
        # Both sides sorted: a stable sort of the two (timsort: one merge) puts a value held
        # by both sets of a pair next to itself.
        tagged = np.concatenate(
            (
                _tagged(values, starts, sizes, chunk[:, 0]),
                _tagged(values, starts, sizes, chunk[:, 1]),
            )
        )
        tagged.sort(kind="stable")
        twice = tagged[1:][tagged[1:] == tagged[:-1]]
        shared = np.bincount((twice >> np.uint64(32)).astype(np.int64), minlength=len(chunk))
        union = per_pair[begin:end] - shared
        out[begin:end] = np.where(union > 0, shared / np.maximum(union, 1), 1.0)
        begin = end
    return out
