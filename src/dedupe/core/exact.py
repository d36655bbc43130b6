"""Exact Jaccard similarity of many pairs of shingle sets at once.

Sets are sorted distinct uint32 shingle hashes laid end to end (``values``), set ``i`` at
``values[starts[i] : starts[i] + sizes[i]]``: the layout :func:`dedupe.core.shingle.
distinct_sets` makes, which may be a memory map of a file. A chunk of pairs is done in a few
array operations: the left and the right sets of its pairs are gathered, each tagged with its
pair's number, and merged: a value that appears twice under one tag is in the intersection.

Most candidate pairs of a corpus of lightly edited copies lie below the threshold and are only
to be turned down. :func:`histograms` counts each set's values in HISTOGRAM_BINS equal ranges
of the hash space once; two sets cannot share more values in a range than the smaller count,
so :func:`jaccard_bound` bounds a pair's similarity from its two rows of counts, in a fraction
of the time, and turns most such pairs down before any set is read.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from dedupe.core.parallel import Bounds, for_each_share
from dedupe.core.shingle import I64, U32

F64 = npt.NDArray[np.float64]
#: Shingles gathered per chunk (both sets of every pair in it): 128 K take 1 MB as uint64 and
#: stay in cache; measured on the x10 news candidates (123 M shingles), 0.66 s at 64 K-256 K,
#: 0.72 s at 1 M.
CHUNK_ELEMENTS = 1 << 17
#: The hash value that splits each set in two for :func:`pair_jaccard`'s bound: half the range.
BOUND_CUT = 1 << 31
#: Ranges of the hash space a set's values are counted in (:func:`histograms`): 512, a 512-byte
#: row per document. Measured on the x10 benchmark's 67,000 exact checks (sets of ~540
#: values, threshold 0.8), the bound turned down 70% of them at 256 ranges, 78% at 512, 82% at
#: 1,024 and 83% at 2,048 (of the 85% below 0.8), at 0.3-0.4 us a pair up to 512 and twice
#: that at 1,024, beside ~9 us for an exact check.
HISTOGRAM_BITS = 9
HISTOGRAM_BINS = 1 << HISTOGRAM_BITS
#: A count that does not fit a byte: a set with that many values in one range has it in every
#: range of its row, which then bounds nothing (see :func:`shared_bound`).
FULL = 255
#: Sets counted per call of ``np.bincount``: its table of counts (1 MB) stays in cache, 2.5 us a
#: set of 540 values (9 us at 4,096 sets).
HISTOGRAM_ROWS = 256
#: Pairs bounded per chunk: both rows of counts of each, 1 MB, stay in cache.
BOUND_CHUNK = 1024
#: Which uint32 half of a uint64 holds its low bits.
_LOW, _HIGH = (0, 1) if sys.byteorder == "little" else (1, 0)


def _fill(values: U32, first: I64, size: I64, halves: U32) -> None:
    """Write the sets starting at ``first`` (``size`` values each) end to end into the low
    halves of ``halves`` and each value's row number (its place in ``first``) into the high
    halves: viewed as uint64, the row number above the value, so the whole is sorted, as each
    set is and the rows ascend. The sets are contiguous, so they are sliced (a slice per row,
    ~0.3 µs) rather than gathered element by element (4x slower)."""
    parts = [values[a:b] for a, b in zip(first.tolist(), (first + size).tolist(), strict=True)]
    if parts:
        np.concatenate(parts, out=halves[:, _LOW])
    halves[:, _HIGH] = np.repeat(np.arange(len(first), dtype=np.uint32), size)


@dataclass(slots=True)
class _Scratch:
    """Arrays for the largest chunk of a share, allocated once."""

    tagged: npt.NDArray[np.uint64]
    same: npt.NDArray[np.bool_]


def _shared(values: U32, first: tuple[I64, I64], size: tuple[I64, I64], scratch: _Scratch) -> I64:
    """How many values the two sets of each pair hold in common (the left sets start at
    ``first[0]`` with ``size[0]`` values, the right ones at ``first[1]``)."""
    counts = size[0] + size[1]
    total = int(counts.sum())
    if not total:
        return np.zeros(len(counts), dtype=np.int64)
    # Both sides tagged with their pair's number, left sets then right sets: two sorted runs,
    # which a stable sort (timsort: one merge) interleaves so that a value held by both sets
    # of a pair sits next to itself. Pairs' stretches are contiguous and their tags differ, so
    # counting equal neighbours per stretch counts the shared values.
    tagged = scratch.tagged[:total]
    halves = tagged.view(np.uint32).reshape(-1, 2)
    left = int(size[0].sum())
    _fill(values, first[0], size[0], halves[:left])
    _fill(values, first[1], size[1], halves[left:])
    tagged.sort(kind="stable")
    same = scratch.same[:total]
    np.equal(tagged[1:], tagged[:-1], out=same[:-1])
    same[-1] = False
    stretch = np.cumsum(counts) - counts
    shared = np.add.reduceat(same, np.minimum(stretch, total - 1), dtype=np.int64)
    shared[counts == 0] = 0  # reduceat gives an empty stretch one element
    return shared


def _similarity(shared: I64, counts: I64) -> F64:
    union = counts - shared
    return np.where(union > 0, shared / np.maximum(union, 1), 1.0)


def below_cut(values: U32, sizes: I64, rows: npt.NDArray[np.uint8] | None = None) -> I64:
    """How many values of each set (laid end to end, ``sizes`` each) lie below BOUND_CUT: the
    first part of each set that :func:`pair_jaccard` compares before the rest. Summed from
    the sets' :func:`histograms` ``rows`` where given (BOUND_CUT is where their second half of
    ranges begins), but for a row of FULL.

    >>> values, sizes = np.array([5, 2**31 + 1, 7], dtype=np.uint32), np.array([2, 0, 1])
    >>> below_cut(values, sizes).tolist()
    [1, 0, 1]
    >>> below_cut(values, sizes, histograms(values, sizes)).tolist()
    [1, 0, 1]
    """
    if rows is not None:
        below = rows[:, : HISTOGRAM_BINS // 2].sum(axis=1, dtype=np.int64)
        full = rows[:, 0] == FULL
        if full.any():
            below[full] = below_cut(values, sizes)[full]
        return below
    ends = np.cumsum(sizes)
    seen = np.concatenate([[0], np.cumsum(values < BOUND_CUT, dtype=np.int64)])
    return seen[ends] - seen[ends - sizes]


def histograms(values: U32, sizes: I64) -> npt.NDArray[np.uint8]:
    """How many values of each set (laid end to end, ``sizes`` each) fall in each of
    HISTOGRAM_BINS equal ranges of the hash space, by their top bits: one row of counts per
    set. A set with FULL or more values in a range gets FULL in every range.

    >>> rows = histograms(np.array([1, 2, 2**31, 5], dtype=np.uint32), np.array([3, 0, 1]))
    >>> rows.shape, rows[0, :2].tolist(), int(rows[0, HISTOGRAM_BINS // 2]), int(rows[1].sum())
    ((3, 512), [2, 0], 1, 0)
    """
    out = np.zeros((len(sizes), HISTOGRAM_BINS), dtype=np.uint8)
    ends = np.cumsum(sizes)
    for first in range(0, len(sizes), HISTOGRAM_ROWS):
        last = min(first + HISTOGRAM_ROWS, len(sizes))
        begin = int(ends[first - 1]) if first else 0
        rows = np.repeat(np.arange(last - first, dtype=np.uint32), sizes[first:last])
        top = values[begin : int(ends[last - 1])] >> np.uint32(32 - HISTOGRAM_BITS)
        keys = (rows << np.uint32(HISTOGRAM_BITS)) | top
        counts = np.bincount(keys, minlength=(last - first) * HISTOGRAM_BINS)
        counts = counts.reshape(last - first, HISTOGRAM_BINS)
        np.minimum(counts, FULL, out=out[first:last], casting="unsafe")
        out[first:last][counts.max(axis=1, initial=0) >= FULL] = FULL
    return out


def shared_bound(rows: npt.NDArray[np.uint8], sizes: I64, pairs: I64, threads: int = 1) -> I64:
    """At most how many values the two sets of each pair share, from their :func:`histograms`
    ``rows``: in each range, the smaller of their counts. A row of FULL stands for counts
    unknown: against a known row it gives that row's size, and two of them the smaller size.

    >>> rows = histograms(np.array([1, 2, 3, 2**31, 7], dtype=np.uint32), np.array([4, 1]))
    >>> shared_bound(rows, np.array([4, 1]), np.array([[0, 1], [1, 1]])).tolist()
    [1, 1]
    """
    out = np.empty(len(pairs), dtype=np.int64)

    def share(bounds: Bounds) -> None:
        for begin, end in bounds:
            left = np.take(rows, pairs[begin:end, 0], axis=0)
            np.minimum(left, np.take(rows, pairs[begin:end, 1], axis=0), out=left)
            out[begin:end] = left.sum(axis=1, dtype=np.int64)

    chunks = [(b, min(b + BOUND_CHUNK, len(pairs))) for b in range(0, len(pairs), BOUND_CHUNK)]
    for_each_share(chunks, share, threads)
    unknown = (rows[pairs[:, 0], 0] == FULL) & (rows[pairs[:, 1], 0] == FULL)
    smaller = np.minimum(sizes[pairs[:, 0]], sizes[pairs[:, 1]])
    return np.where(unknown, smaller, np.minimum(out, smaller))


def jaccard_bound(rows: npt.NDArray[np.uint8], sizes: I64, pairs: I64, threads: int = 1) -> F64:
    """At least the exact Jaccard similarity of each pair's sets, from :func:`shared_bound`
    (1.0 for two empty sets).

    >>> rows = histograms(np.array([1, 2**31, 3, 2**31 + 9], dtype=np.uint32), np.array([2, 2]))
    >>> jaccard_bound(rows, np.array([2, 2]), np.array([[0, 1]])).tolist()
    [1.0]
    """
    shared = shared_bound(rows, sizes, pairs, threads)
    return _similarity(shared, sizes[pairs[:, 0]] + sizes[pairs[:, 1]])


def pair_jaccard(
    values: U32,
    starts: I64,
    sizes: I64,
    pairs: I64,
    threads: int = 1,
    *,
    bounded: tuple[I64, float] | None = None,
) -> F64:
    """Exact Jaccard similarity of the sets of each pair of rows (1.0 for two empty sets),
    chunks of pairs on up to ``threads`` threads.

    ``bounded``: ``(below, lowest)``, with ``below`` from :func:`below_cut`: only whether a pair
    reaches ``lowest`` is wanted where it does not. The values below BOUND_CUT are compared
    first; a pair whose shared values there, plus all the values either set has left, cannot
    reach ``lowest`` gets that bound (exact or above its similarity, below ``lowest``) without
    the rest being compared. Hashes are uniform, so the first part is about half of each set:
    the x100 benchmark's candidates, mostly at Jaccard 0.5-0.7 against 0.8, are decided on
    60% of their values.

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
        largest = max(
            int(ends[end - 1] - (ends[begin - 1] if begin else 0)) for begin, end in bounds
        )
        scratch = _Scratch(np.empty(largest, dtype=np.uint64), np.empty(largest, dtype=np.bool_))
        for begin, end in bounds:
            a, b = pairs[begin:end, 0], pairs[begin:end, 1]
            counts = per_pair[begin:end]
            if bounded is None:
                shared = _shared(values, (starts[a], starts[b]), (sizes[a], sizes[b]), scratch)
                out[begin:end] = _similarity(shared, counts)
                continue
            below, lowest = bounded
            shared = _shared(values, (starts[a], starts[b]), (below[a], below[b]), scratch)
            rest_a, rest_b = sizes[a] - below[a], sizes[b] - below[b]
            similarity = _similarity(shared + np.minimum(rest_a, rest_b), counts)
            open_ = np.flatnonzero(similarity >= lowest)
            if len(open_):
                a, b = a[open_], b[open_]
                shared = shared[open_] + _shared(
                    values,
                    (starts[a] + below[a], starts[b] + below[b]),
                    (rest_a[open_], rest_b[open_]),
                    scratch,
                )
                similarity[open_] = _similarity(shared, counts[open_])
            out[begin:end] = similarity

    # Chunks of as many pairs as fit CHUNK_ELEMENTS (at least one pair each).
    chunks, begin = [], 0
    while begin < len(pairs):
        limit = (ends[begin - 1] if begin else 0) + CHUNK_ELEMENTS
        end = max(begin + 1, int(np.searchsorted(ends, limit, side="right")))
        chunks.append((begin, end))
        begin = end
    for_each_share(chunks, share, threads)
    return out
