"""Runs of equal neighbours in arrays, the building block of sort-and-group.

``np.r_`` reads well but costs ~15 µs a call in index-trick machinery: a tenth of the time of
featurising one article for an index lookup. These do the same with plain concatenation.
"""

from __future__ import annotations

import itertools

import numpy as np
import numpy.typing as npt

from dedupe.core.parallel import Bounds, even_parts, for_each_share

I64 = npt.NDArray[np.int64]
_ZERO = np.zeros(1, dtype=np.int64)
_TRUE = np.ones(1, dtype=np.bool_)


def index_dtype(count: int) -> type:
    """The integer type for the numbers 0 to ``count - 1`` (rows, nodes): int32 where they fit,
    half the memory of int64 for the arrays of them.

    >>> index_dtype(8_000_000).__name__, index_dtype(2**31 + 1).__name__
    ('int32', 'int64')
    """
    return np.int32 if count <= 2**31 else np.int64


def run_starts(values: np.ndarray) -> I64:
    """Index of the first element of every run of equal neighbours.

    >>> run_starts(np.array([4, 4, 7, 4])).tolist()
    [0, 2, 3]
    >>> run_starts(np.array([])).tolist()
    []
    """
    if len(values) == 0:
        return np.empty(0, dtype=np.int64)
    return np.concatenate((_ZERO, np.flatnonzero(values[1:] != values[:-1]) + 1))


def first_of_runs(values: np.ndarray) -> npt.NDArray[np.bool_]:
    """True where an element differs from the one before it (and for the first).

    >>> first_of_runs(np.array([1, 1, 2])).tolist()
    [True, False, True]
    """
    if len(values) == 0:
        return np.empty(0, dtype=np.bool_)
    return np.concatenate((_TRUE, values[1:] != values[:-1]))


def run_lengths(starts: I64, total: int) -> I64:
    """Lengths of the runs beginning at ``starts`` in an array of ``total`` elements (what
    ``np.diff(starts, append=total)`` gives, without its broadcasting machinery).

    >>> run_lengths(np.array([0, 2, 3]), 4).tolist()
    [2, 1, 1]
    """
    ends = np.empty(len(starts), dtype=np.int64)
    ends[:-1] = starts[1:]
    if len(starts):
        ends[-1] = total
    return ends - starts


def sorted_unique(values: np.ndarray) -> np.ndarray:
    """The distinct values, ascending: ``np.unique(values)`` by sorting.

    numpy 2.3+ answers a plain ``np.unique`` from a hash table, measured here at 146 ms for
    200,000 random uint64 (a sort: 2.6 ms) and 10.7 s for 2 million; with ``return_counts``
    or ``return_inverse`` it still sorts.

    >>> sorted_unique(np.array([3, 1, 3, 2])).tolist()
    [1, 2, 3]
    """
    ordered = np.sort(values, axis=None)
    return ordered[first_of_runs(ordered)]


def sort_within(values: np.ndarray, sizes: I64) -> np.ndarray:
    """``values`` with each of its segments sorted (``sizes[i]`` values each, laid end to end):
    ``np.concatenate([np.sort(segment) for segment in segments])`` without a call per segment.

    Segments are sorted as the rows of matrices: each goes into a row as wide as the next power
    of two (at least :data:`_ROW_MIN`), padded with the type's largest value, and the rows of
    a width are sorted together, :data:`_SORT_ELEMENTS` at a time; a segment of half that or
    more is sorted by itself. A row's first ``size`` values are then its segment sorted (a
    value equal to the padding is indistinguishable from it). numpy sorts short rows of 32-bit
    values with its vectorised sort, in cache: the x1 news documents' shingle sets in 0.035 s,
    where tagging each value with its document above it and sorting the uint64 keys took 0.12.

    >>> sort_within(np.array([3, 1, 2, 9, 8, 5], dtype=np.uint32), np.array([3, 0, 1, 2])).tolist()
    [1, 2, 3, 9, 5, 8]
    """
    sizes = np.asarray(sizes, dtype=np.int64)
    out = np.empty_like(values)
    if len(values) == 0:
        return out
    starts = np.cumsum(sizes) - sizes
    # A segment of half a sort's worth or more is sorted alone, in place of itself: a long
    # document (a whole book as one record) needs no padding and no index arrays.
    alone = np.flatnonzero(sizes >= max(1, _SORT_ELEMENTS // 2))
    for start, size in zip(starts[alone].tolist(), sizes[alone].tolist(), strict=True):
        segment = out[start : start + size]
        segment[:] = values[start : start + size]
        segment.sort()
    padding = np.iinfo(values.dtype).max if values.dtype.kind in "iu" else np.inf
    widths = np.maximum(_ROW_MIN, _next_power_of_two(sizes))
    widths[sizes == 0] = 0
    widths[alone] = 0
    order = np.argsort(widths, kind="stable")  # segments grouped by width, in order within it
    sorted_widths = widths[order]
    edges = [*np.flatnonzero(first_of_runs(sorted_widths)).tolist(), len(order)]
    for first, last in itertools.pairwise(edges):
        width = int(sorted_widths[first])
        if width == 0:
            continue
        step = max(1, _SORT_ELEMENTS // width)
        for begin in range(first, last, step):
            rows = order[begin : min(begin + step, last)]
            _sort_rows(values, starts[rows], sizes[rows], width, padding, out)
    return out


#: :func:`sort_within`'s narrowest row and how many values (padding included) it sorts at once.
_ROW_MIN = 32
_SORT_ELEMENTS = 1 << 18


def _next_power_of_two(sizes: I64) -> I64:
    """The least power of two at least each size (1 for 0 and 1)."""
    bits = np.zeros(len(sizes), dtype=np.int64)
    above = sizes > 1
    bits[above] = np.frexp((sizes[above] - 1).astype(np.float64))[1]  # bit length of size - 1
    return np.left_shift(1, bits)


def _sort_rows(
    values: np.ndarray, starts: I64, sizes: I64, width: int, padding: object, out: np.ndarray
) -> None:
    """Sort the segments at ``starts`` (``sizes`` values each, none over ``width``) into ``out``
    as the rows of one padded matrix."""
    total = int(sizes.sum())
    offsets = np.cumsum(sizes) - sizes
    within = np.arange(total, dtype=np.int64) - np.repeat(offsets, sizes)
    source = np.repeat(starts, sizes) + within
    slot = np.repeat(np.arange(len(sizes), dtype=np.int64) * width, sizes) + within
    matrix = np.full(len(sizes) * width, padding, dtype=values.dtype)
    matrix[slot] = values[source]
    matrix.reshape(len(sizes), width).sort(axis=1)
    out[source] = matrix[slot]


def stable_argsort(
    values: np.ndarray, threads: int = 1, ties: npt.NDArray[np.bool_] | None = None
) -> I64:
    """``np.argsort(values, kind="stable")`` of a 1-d array, faster for wide keys.

    numpy sorts 64-bit keys stably by merging (76 ms for 800,000 random uint64 here) but
    unstably by a vectorised quicksort (20 ms). Unsigned (or non-negative signed) 64-bit keys
    are sorted as values instead (:func:`_packed_argsort`: 3.6 million random keys in 0.07 s,
    where the quicksort's argsort takes 0.18 s and the stable one 0.52); others take the
    quicksort's order and put the indices of every run of equal keys back in ascending order,
    by one sort of the few elements that have equal neighbours. The same indices as the
    stable sort, in every case. ``threads``: the value sort on that many (:func:`sort_in_place`).

    ``ties`` (a boolean array as long as ``values``, given) is filled with whether each sorted
    value equals the one before it, which both ways find as they sort: a caller grouping equal
    keys needs no second gather of them in sorted order (x100's paragraph bands: 0.036 s each).

    >>> ties = np.zeros(5, dtype=bool)
    >>> stable_argsort(np.array([3, 1, 3, 3, 1], dtype=np.uint64), ties=ties).tolist()
    [1, 4, 0, 2, 3]
    >>> ties.tolist()
    [False, True, False, True, True]
    """
    if ties is not None:
        if ties.shape != values.shape:
            raise ValueError(f"ties has shape {ties.shape}, the values {values.shape}")
        ties[:] = False
    if len(values) >= _PACKED_MIN and values.dtype in (np.uint64, np.int64):
        order = _packed_argsort(values, threads, ties)
        if order is not None:
            return order  # (where it gives up, what it found of the ties is written over)
    order = np.argsort(values, kind="quicksort")
    if len(order) < 2:
        return order.astype(np.int64, copy=False)
    ranked = values[order]
    tied = ranked[1:] == ranked[:-1]
    if ties is not None:
        ties[1:] = tied
    if not tied.any():
        return order.astype(np.int64, copy=False)
    in_run = np.zeros(len(order), dtype=np.bool_)
    in_run[1:] = tied
    in_run[:-1] |= tied
    slots = np.flatnonzero(in_run)
    # Runs numbered in sorted order: sorting (run, index) codes sorts indices within runs and
    # leaves each run where it is. Each row-long temporary goes as soon as it is used, and the
    # codes are sorted and reduced in place: the x100 paragraph bands (3.5 million rows, one
    # sorted on a thread while another is verified) held ~100 MB more at once.
    del tied, in_run
    codes = np.cumsum(first_of_runs(ranked[slots]), dtype=np.int64)  # the run numbers
    del ranked
    codes *= np.int64(len(order))
    codes += order[slots]
    codes.sort()
    np.remainder(codes, np.int64(len(order)), out=codes)
    order = order.astype(np.int64, copy=False)  # argsort's own array: changed in place
    order[slots] = codes
    return order


#: Below this many keys :func:`stable_argsort` does not try :func:`_packed_argsort` (the few
#: extra passes outweigh what the value sort saves).
_PACKED_MIN = 4_096
#: :func:`_packed_argsort` makes and checks its keys this many at a time (8 MB of scratch).
_PACKED_CHUNK = 1 << 20


#: Below this many values :func:`sort_in_place` sorts on one thread.
PARALLEL_MIN = 1 << 20


def sort_in_place(values: np.ndarray, threads: int = 1) -> None:
    """``values.sort()``, with ``threads`` > 1 a part on each thread (numpy lets go of the
    interpreter lock while it sorts) and the sorted parts merged by one stable sort, which
    finds them as runs: 3.6 million uint64 in 0.13 s on two threads where one sort took 0.2
    here. The same array either way.

    >>> values = np.array([5, 3, 9, 1, 7, 2], dtype=np.uint64)
    >>> sort_in_place(values, threads=2); values.tolist()
    [1, 2, 3, 5, 7, 9]
    """
    if threads < 2 or len(values) < min(PARALLEL_MIN, 2 * threads):
        values.sort()
        return

    def sort_parts(share: Bounds) -> None:
        for first, last in share:
            values[first:last].sort()

    for_each_share(even_parts(len(values), threads), sort_parts, threads)
    values.sort(kind="stable")


def index_in_sorted(sorted_keys: np.ndarray, values: np.ndarray) -> I64:
    """For each of ``values``, the index of an equal key in ``sorted_keys`` (ascending), or -1
    where none is: one search and one comparison, whatever the lengths (an empty
    ``sorted_keys`` included).

    >>> index_in_sorted(np.array([1, 2, 3]), np.array([4, 1, 9, 2])).tolist()
    [-1, 0, -1, 1]
    """
    at = np.searchsorted(sorted_keys, values)
    if not len(sorted_keys):
        at[:] = -1
        return at
    np.minimum(at, len(sorted_keys) - 1, out=at)
    at[sorted_keys[at] != values] = -1
    return at


def _packed_argsort(
    values: np.ndarray, threads: int = 1, ties: npt.NDArray[np.bool_] | None = None
) -> I64 | None:
    """The stable argsort of 64-bit keys (``None`` for negative ones, or where the keys are too
    narrow for it to pay), from one sort of values: each key's low bits give way to its index,
    so that a vectorised value sort (3.6 million random uint64: 36 ms, where numpy's argsort
    takes 180 and its stable one 520) orders the keys by their high bits and ties by index.
    Keys that differ in the low bits only then share a run of equal high bits: those runs are
    re-sorted by the whole key, stably (a rare pair for hashed keys: 3.6 million keys with 22
    bits given way share their other 42 with a chance of ~1 in a million each).

    >>> keys = np.arange(5000, dtype=np.uint64) * np.uint64(0x9E3779B97F4A7C15)
    >>> keys[:3] = [7 << 40, 1, 7 << 40]  # a tie, and a key of 1 beside 0 << 13 | slot
    >>> (_packed_argsort(keys) == np.argsort(keys, kind="stable")).all()
    np.True_
    >>> _packed_argsort(keys % np.uint64(100)) is None  # narrow keys: not this way
    True
    """
    if values.dtype == np.int64:
        if values.min() < 0:
            return None
        values = values.view(np.uint64)
    count = len(values)
    bits = max(1, (count - 1).bit_length())
    if int(values.max()) >> bits < 256:
        return None  # narrow keys (labels, small codes): runs of equal high bits everywhere
    low = np.uint64((1 << bits) - 1)
    high_mask = ~low
    packed = np.arange(count, dtype=np.uint64)
    scratch = np.empty(min(count, _PACKED_CHUNK), dtype=np.uint64)
    for begin in range(0, count, _PACKED_CHUNK):
        part = scratch[: min(_PACKED_CHUNK, count - begin)]
        np.bitwise_and(values[begin : begin + len(part)], high_mask, out=part)
        packed[begin : begin + len(part)] |= part
    del scratch
    sort_in_place(packed, threads)
    # Neighbours with equal high bits whose whole keys differ: their runs are re-sorted. Found
    # a chunk at a time, so that no key-long array is made beside ``packed`` (each band's
    # sort at x100 would hold 29 MB more for each).
    split_parts = []
    for begin in range(0, count - 1, _PACKED_CHUNK):
        end = min(begin + _PACKED_CHUNK, count - 1)
        # Equal high bits: the XOR of neighbours is within the low bits (their indices).
        same = np.flatnonzero((packed[begin + 1 : end + 1] ^ packed[begin:end]) <= low) + begin
        if len(same):
            earlier = values[(packed[same] & low).view(np.int64)]
            later = values[(packed[same + 1] & low).view(np.int64)]
            differ = earlier != later
            split_parts.append(same[differ])
            if ties is not None:
                ties[same[~differ] + 1] = True
    split = np.concatenate(split_parts) if split_parts else np.empty(0, dtype=np.int64)
    if len(split):
        # ``packed`` ascends by the high bits: a run's bounds are two searches.
        high = packed[split] & high_mask
        high = high[first_of_runs(high)]  # each run once (the splits ascend)
        firsts = np.searchsorted(packed, high, side="left")
        lengths = np.searchsorted(packed, high | low, side="right") - firsts
        if int(lengths.sum()) > count // 8:
            return None  # keys too narrow after all: the quicksort's way is quicker
    np.bitwise_and(packed, low, out=packed)
    order = packed.view(np.int64)
    if not len(split):
        return order
    # The slots of those runs, run after run: each run's first slot, then one more at a time.
    slots = np.repeat(firsts - (np.cumsum(lengths) - lengths), lengths)
    slots += np.arange(len(slots), dtype=np.int64)
    # The slots of mixed runs are in the order of their high bits and, inside a run, of their
    # index: a stable sort of their whole keys keeps both where keys are equal.
    order[slots] = order[slots[np.argsort(values[order[slots]], kind="stable")]]
    if ties is not None:
        # Re-sorted slots tie where their whole keys do; the first slot of a run follows one
        # of other high bits, as does any slot after a gap between runs.
        ranked = values[order[slots]]
        ties[slots[0]] = False
        ties[slots[1:]] = ranked[1:] == ranked[:-1]
    return order
