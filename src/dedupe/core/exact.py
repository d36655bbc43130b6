"""Exact Jaccard similarity of many pairs of shingle sets at once.

Sets are sorted distinct uint32 shingle hashes laid end to end (``values``), set ``i`` at
``values[starts[i] : starts[i] + sizes[i]]``: the layout :func:`dedupe.core.shingle.
distinct_sets` makes, which may be a memory map of a file. A chunk of pairs is done in a few
array operations: the left and the right sets of its pairs are gathered, each tagged with its
pair's number, and merged: a value that appears twice under one tag is in the intersection.
"""

from __future__ import annotations

import sys

import numpy as np
import numpy.typing as npt

from dedupe.core.parallel import Bounds, for_each_share
from dedupe.core.shingle import I64, U32

F64 = npt.NDArray[np.float64]
#: Shingles gathered per chunk (both sets of every pair in it): 128 K take 1 MB as uint64 and
#: stay in cache; measured on the x10 news candidates (123 M shingles), 0.66 s at 64 K-256 K,
#: 0.72 s at 1 M.
CHUNK_ELEMENTS = 1 << 17
#: Which uint32 half of a uint64 holds its low bits.
_LOW, _HIGH = (0, 1) if sys.byteorder == "little" else (1, 0)


def _fill(values: U32, starts: I64, sizes: I64, rows: I64, halves: U32) -> None:
    """Write the sets of ``rows`` end to end into the low halves of ``halves`` and each value's
    row number (its place in ``rows``) into the high halves: viewed as uint64, the row number
    above the value, so the whole is sorted, as each set is and the rows ascend. The
    sets are contiguous, so they are sliced (a slice per row, ~0.3 µs) rather than gathered
    element by element (4x slower)."""
    first = starts[rows]
    parts = [
        values[a:b] for a, b in zip(first.tolist(), (first + sizes[rows]).tolist(), strict=True)
    ]
    if parts:
        np.concatenate(parts, out=halves[:, _LOW])
    halves[:, _HIGH] = np.repeat(np.arange(len(rows), dtype=np.uint32), sizes[rows])


def pair_jaccard(values: U32, starts: I64, sizes: I64, pairs: I64, threads: int = 1) -> F64:
    """Exact Jaccard similarity of the sets of each pair of rows (1.0 for two empty sets),
    chunks of pairs on up to ``threads`` threads.

    >>> values = np.array([1, 2, 3, 2, 3, 4, 9], dtype=np.uint32)
    >>> sizes = np.array([3, 3, 1, 0])
    >>> starts = np.cumsum(sizes) - sizes
    >>> pair_jaccard(values, starts, sizes, np.array([[0, 1], [0, 2], [3, 3]])).tolist()
    [0.5, 0.0, 1.0]
    """
    out = np.empty(len(pairs), dtype=np.float64)
    per_pair = sizes[pairs[:, 0]] + sizes[pairs[:, 1]]
    ends = np.cumsum(per_pair)

    def share(bounds: Bounds) -> None:
        # Scratch arrays for the largest chunk of the share, allocated once.
        largest = max(
            int(ends[end - 1] - (ends[begin - 1] if begin else 0)) for begin, end in bounds
        )
        tagged_space = np.empty(largest, dtype=np.uint64)
        same_space = np.empty(largest, dtype=np.bool_)
        for begin, end in bounds:
            rows, counts = pairs[begin:end], per_pair[begin:end]
            total = int(counts.sum())
            shared = np.zeros(len(rows), dtype=np.int64)
            if total:
                # Both sides tagged with their pair's number, left sets then right sets: two
                # sorted runs, which a stable sort (timsort: one merge) interleaves so that a
                # value held by both sets of a pair sits next to itself. Pairs' stretches are
                # contiguous and their tags differ, so counting equal neighbours per stretch
                # counts the shared values.
                tagged = tagged_space[:total]
                halves = tagged.view(np.uint32).reshape(-1, 2)
                left = int(sizes[rows[:, 0]].sum())
                _fill(values, starts, sizes, rows[:, 0], halves[:left])
                _fill(values, starts, sizes, rows[:, 1], halves[left:])
                tagged.sort(kind="stable")
                same = same_space[:total]
                np.equal(tagged[1:], tagged[:-1], out=same[:-1])
                same[-1] = False
                stretch = np.cumsum(counts) - counts
                shared = np.add.reduceat(same, np.minimum(stretch, total - 1), dtype=np.int64)
                shared[counts == 0] = 0  # reduceat gives an empty stretch one element
            union = counts - shared
            out[begin:end] = np.where(union > 0, shared / np.maximum(union, 1), 1.0)

    # Chunks of as many pairs as fit CHUNK_ELEMENTS (at least one pair each).
    chunks, begin = [], 0
    while begin < len(pairs):
        limit = (ends[begin - 1] if begin else 0) + CHUNK_ELEMENTS
        end = max(begin + 1, int(np.searchsorted(ends, limit, side="right")))
        chunks.append((begin, end))
        begin = end
    for_each_share(chunks, share, threads)
    return out
