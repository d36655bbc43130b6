"""Locality-sensitive hashing: band choice, band keys and candidate pairs by sort-and-group.

With ``b`` bands of ``r`` rows a pair of Jaccard similarity ``j`` becomes a candidate with
probability ``1 - (1 - j**r)**b`` (the S-curve). datasketch picks (b, r) by weighting false
positives and negatives equally, which for threshold 0.8 and 128 permutations gives 9 x 13 and
makes only 40% of pairs at exactly 0.8 candidates. We pick instead the bands that reach a wanted
probability at the threshold with the fewest expected false positives, and verify every
candidate (on its full signature, or on the exact shingle sets), so the extra candidates cost
time but never precision.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import partial
from typing import Protocol

import numpy as np
import numpy.typing as npt

from dedupe.core import runs
from dedupe.core.cluster import merge_components
from dedupe.core.parallel import Bounds, even_parts, for_each_share
from dedupe.core.runs import sorted_unique
from dedupe.core.shingle import U32, U64
from dedupe.core.verify import estimated_jaccard

I64 = npt.NDArray[np.int64]

# :func:`pairs_in_runs` pairs every member of a run of up to this many (the shingles that
# paragraphs of one document share, core.repeats) and links a longer one as a chain and a star.
MAX_BUCKET_PAIRS = 64
#: :func:`bucket_links` tries a row that did not join its bucket's head against every other row
#: of a bucket of up to this many rows, and in a larger one against the LOOSE_NEIGHBOURS rows on
#: either side of it and the head: each row's work is bounded, so the linking grows with the rows,
#: not with the square of the copies of a paragraph. With all pairs up to MAX_BUCKET_PAIRS the
#: x100 benchmark's paragraph linking verified 62 million pairs, 55.5 million of them for rows
#: left out (1.9 % accepted: copies of one paragraph at estimated Jaccard 0.3-0.6 with each
#: other, each tried against every copy in each of its 16 bands); at 16 and 4, 31 million, and
#: the linking took 17.4 s instead of 25.1 (documents: 3.9 million candidates instead of 5.3,
#: 6.7 s instead of 10.5). What it leaves unlinked is a row that shares a bucket with a match
#: but meets none in its tries in any band: of the 3.19 million linked paragraph rows 3,607
#: (0.11 %); the x100 scan at 0.8 removed 5 of 58,295 near-duplicate documents fewer and the
#: same 9,286 paragraphs; x10 the same cleaned copies (2 of 84,625 clusters fewer) and
#: benchmarks/quality.py the same precision and recall everywhere.
LOOSE_ALL_PAIRS = 16
LOOSE_NEIGHBOURS = 4


def candidate_probability(
    similarity: float | npt.NDArray[np.float64], bands: int, rows: int
) -> npt.NDArray[np.float64]:
    """P(a pair of Jaccard ``similarity`` shares at least one band).

    >>> round(float(candidate_probability(0.8, 9, 13)), 2)
    0.4
    """
    return np.asarray(1.0 - (1.0 - np.power(similarity, rows)) ** bands, dtype=np.float64)


def choose_bands(threshold: float, num_perm: int, min_probability: float) -> tuple[int, int]:
    """The (bands, rows) with ``bands * rows <= num_perm`` whose candidate probability at
    ``threshold`` is at least ``min_probability`` and whose expected share of candidates below
    the threshold (the area under the S-curve on [0, threshold]) is smallest. Where no choice
    reaches ``min_probability``, the one that comes closest.

    >>> choose_bands(0.8, 128, 0.95)
    (18, 7)
    """
    grid = np.linspace(0.0, threshold, 201)
    best: tuple[float, float, int, int] | None = None
    for rows in range(1, num_perm + 1):
        bands = num_perm // rows
        p_at = float(candidate_probability(threshold, bands, rows))
        false_area = float(np.trapezoid(candidate_probability(grid, bands, rows), grid))
        key = (0.0 if p_at >= min_probability else min_probability - p_at, false_area)
        if best is None or key < best[:2]:
            best = (*key, bands, rows)
    assert best is not None
    return best[2], best[3]


#: Up to this many units :func:`band_keys` works on all bands at once; beyond it one band at a
#: time, which avoids a (units x bands x rows) temporary.
FEW_UNITS = 64


def band_keys(signatures: U32, bands: int, rows: int) -> U64:
    """A 64-bit key per (unit, band): shape ``(units, bands)``. Keys of different bands never
    meet, because candidates are grouped one band at a time."""
    if len(signatures) <= FEW_UNITS:
        # All bands at once: ``rows`` passes over a (units x bands) array instead of 3 numpy
        # calls per row and band (32 bands x 4 rows: 0.9 ms for one article, now 25 us).
        blocks = signatures[:, : bands * rows].reshape(len(signatures), bands, rows)
        wide = np.zeros((len(signatures), bands), dtype=np.uint64)
        for row in range(rows):
            _mix_in(wide, blocks[:, :, row])
        return wide
    columns = signatures.T
    keys = [band_key(columns, band, rows) for band in range(bands)]
    return np.stack(keys, axis=1) if keys else np.zeros((len(signatures), 0), dtype=np.uint64)


def band_key(columns: U32, band: int, rows: int) -> U64:
    """The keys of one band (column ``band`` of :func:`band_keys`) from signatures laid out
    (permutations x units): ``rows`` contiguous passes over one unit-long uint64 array, where
    all bands at once went through a (units x bands x rows) uint64 copy (0.46 s at x10)."""
    keys = np.zeros(columns.shape[1], dtype=np.uint64)
    for row in range(band * rows, (band + 1) * rows):
        _mix_in(keys, columns[row])
    return keys


def _mix_in(keys: U64, values: U32) -> None:
    """Fold one signature row into band keys, in place: every way of computing the keys (all
    bands at once, one band, one band of selected rows) goes through here, so they agree."""
    keys ^= values
    keys *= np.uint64(0x9E3779B97F4A7C15)
    keys ^= keys >> np.uint64(29)


def selected_band_key(
    signatures: U32, band: int, rows: int, selected: I64, threads: int = 1
) -> U64:
    """:func:`band_key` of the ``selected`` rows of ``signatures`` (units x permutations),
    equal to ``band_key(signatures.T, band, rows)[selected]``: the band's few columns of those
    rows are gathered into one small block first. Reading a column of a row-major array strides
    over every row (the x100 paragraphs: a pass over their 1 GB of signatures per permutation);
    the gather reads each selected row's band once, 4.5x faster on 4 of 8 million rows.

    Where each row's band is contiguous (a row-major array), the band is viewed as one value of
    ``4 * rows`` bytes a row and gathered with one index per row, not a (rows x columns) index:
    0.06 s for a band of the x100 paragraphs' 3.65 million representatives instead of 0.165.
    Worked :data:`KEY_CHUNK` rows at a time, in cache. ``threads``: a part of the rows on each
    (numpy lets go of the interpreter lock).

    >>> sigs = np.arange(12, dtype=np.uint32).reshape(4, 3)
    >>> rows = np.array([1, 3])
    >>> bool((selected_band_key(sigs, 0, 2, rows) == band_key(sigs.T, 0, 2)[rows]).all())
    True
    """
    keys = np.zeros(len(selected), dtype=np.uint64)
    columns = slice(band * rows, (band + 1) * rows)
    whole = _band_values(signatures, columns, rows)

    def fill(share: Bounds) -> None:
        for begin, end in share:
            for first in range(begin, end, KEY_CHUNK):
                last = min(first + KEY_CHUNK, end)
                if whole is None:
                    block = signatures[selected[first:last], columns]
                else:
                    block = whole[selected[first:last]].view(np.uint32).reshape(-1, rows)
                for row in range(rows):
                    _mix_in(keys[first:last], block[:, row])

    if threads < 2 or len(selected) < runs.PARALLEL_MIN:
        fill([(0, len(selected))])
    else:
        for_each_share(even_parts(len(selected), threads), fill, threads)
    return keys


#: Selected rows :func:`selected_band_key` gathers and mixes at a time.
KEY_CHUNK = 1 << 16


def _band_values(signatures: U32, columns: slice, rows: int) -> np.ndarray | None:
    """The ``columns`` of every row as one ``4 * rows``-byte value (a view), or None where a
    row's columns are not contiguous."""
    block = signatures[:, columns]
    if block.shape[1] != rows or (rows > 1 and block.strides[1] != block.itemsize):
        return None
    try:
        return block.view(np.dtype((np.void, block.itemsize * rows)))[:, 0]
    except ValueError:
        return None


def pairs_in_runs(
    order: I64,
    run_starts: I64,
    run_lengths: I64,
    all_pairs_up_to: int | None = None,
    neighbours: int = 1,
) -> I64:
    """All pairs inside each run of ``order`` of up to ``all_pairs_up_to`` members (None:
    MAX_BUCKET_PAIRS); inside a longer run each member with the ``neighbours`` members after it
    (a chain where 1) and with the run's first member (a star). The runs tile ``order``; a pair
    lists the earlier slot first.

    Each slot of a small run is repeated once per later slot of its run, so the work is linear
    in the number of pairs: one pass over the pairs, not one pass over every slot per offset
    (63 passes over 800,000 paragraph slots per band at x10).
    """
    largest_small = MAX_BUCKET_PAIRS if all_pairs_up_to is None else all_pairs_up_to
    slots = np.arange(len(order), dtype=np.int64)
    run_end = np.repeat(run_starts + run_lengths, run_lengths)
    is_small = np.repeat(run_lengths <= largest_small, run_lengths)
    later = np.where(is_small, run_end - slots - 1, 0)
    first = np.repeat(slots, later)
    step = np.arange(1, len(first) + 1, dtype=np.int64) - np.repeat(np.cumsum(later) - later, later)
    chunks = [np.stack([order[first], order[first + step]], axis=1)]
    large = ~is_small
    if large.any():
        head = np.repeat(run_starts, run_lengths)
        for offset in range(1, neighbours + 1):
            other = slots + offset
            near = large & (other < run_end)
            chunks.append(np.stack([order[slots[near]], order[other[near]]], axis=1))
        star = large & (slots != head)
        chunks.append(np.stack([order[head[star]], order[slots[star]]], axis=1))
    return np.concatenate(chunks).astype(np.int64, copy=False)


def candidate_pairs_in_runs(order: I64, run_starts: I64, run_lengths: I64) -> I64:
    """The candidate pairs of LSH buckets (runs of ``order``): all pairs of a bucket of up to
    LOOSE_ALL_PAIRS rows, and in a larger one each row with its LOOSE_NEIGHBOURS next rows and
    with the first. :func:`bucket_links` connects exactly what the accepted ones of these
    connect, so the engines that list pairs and those that link buckets agree."""
    return pairs_in_runs(order, run_starts, run_lengths, LOOSE_ALL_PAIRS, LOOSE_NEIGHBOURS)


def band_pairs(column: U64, rows: I64, labels: I64 | None = None) -> I64:
    """Candidate pairs of one band: ``rows[i]`` and ``rows[j]`` share the key ``column[i] ==
    column[j]``: :func:`candidate_pairs_in_runs` of its buckets (all pairs of a bucket of up to
    LOOSE_ALL_PAIRS rows, neighbours and a star in a larger one), the row that comes first in
    ``rows`` first. Given component
    ``labels`` (per row of the whole table), buckets whose rows all share one label are
    skipped: they hold no pair that could join two components.

    >>> band_pairs(np.array([5, 7, 5, 5], dtype=np.uint64), np.array([0, 1, 2, 3])).tolist()
    [[0, 2], [0, 3], [2, 3]]
    """
    pieces = list(band_pair_pieces(column, rows, labels, max_pairs=None))
    return pieces[0] if pieces else np.empty((0, 2), dtype=np.int64)


#: :func:`components_by_bands` merges accepted pairs into the labels when this many wait (8 MB,
#: and a few times that while merging; a merge writes the labels in place): at 8 million the
#: merges' temporaries were ~0.3 GB of the x30 full scan's 1.42 GB peak (1.12 GB at 2 million,
#: in the same time). 2 million until the second session of 2026-12-04, when a quarter of it
#: and half of PIECE_PAIRS took the x100 paragraph linking's peak of anonymous memory 846-896
#: -> 818 MB in the same 23.4 s.
MERGE_PAIRS = 500_000
#: :func:`components_by_bands` calls its ``merged`` this often in pieces between merges as
#: well: the pieces' temporaries land all over the C heap's free space, which then stays
#: resident. At x100 the scan process grew ~330 MB between two merges of the first paragraph
#: band (~13 pieces, 1.2 s) and its peak was 844 MB; released every 4 pieces (171 calls,
#: 0.7 s) 722 MB in the same time; every 2, 724 MB.
RELEASE_PIECES = 4
#: :func:`band_pair_pieces` yields about this many pairs at a time (8 MB of them, and a few
#: times that in temporaries): the first paragraph band at x100 held ~10^8 candidate pairs.
PIECE_PAIRS = 500_000


@dataclass(frozen=True, slots=True)
class Buckets:
    """The buckets of one band with more than one row: ``members`` (rows, grouped by key, in
    ascending row order inside a bucket), each bucket's first slot and size. What the band's
    pairs come from, before the component labels rule any out."""

    members: I64
    starts: I64
    lengths: I64


def band_buckets(column: U64, rows: I64, threads: int = 1) -> Buckets:
    """The :class:`Buckets` of ``rows[i]`` keyed by ``column[i]``: one sort of the band's keys.

    Which sorted slots continue the key before them comes out of the sort itself
    (:func:`~dedupe.core.runs.stable_argsort`'s ``ties``), a byte a row: a sorted copy of the
    keys and the starts and lengths of every run (mostly rows alone in their bucket) held
    ~70 MB at once for each band of the x100 paragraphs, beside the band being linked, and
    gathering the keys again in sorted order a chunk at a time took 0.036 s a band.

    >>> buckets = band_buckets(np.array([5, 7, 5, 9, 5, 7], dtype=np.uint64), np.arange(6) * 10)
    >>> buckets.members.tolist(), buckets.starts.tolist(), buckets.lengths.tolist()
    ([0, 20, 40, 10, 50], [0, 3], [3, 2])
    """
    count = len(column)
    follows = np.zeros(count + 1, dtype=np.bool_)  # slot i has slot i - 1's key; one spare
    order = runs.stable_argsort(column, threads, ties=follows[:count])
    del column  # the caller's keys, before the buckets are made
    shared = follows[:count] | follows[1:]  # in a bucket of two rows or more
    members = rows[order[shared]]
    del order
    starts = np.flatnonzero(~follows[:count][shared])
    lengths = runs.run_lengths(starts, len(members))
    return Buckets(members, starts, lengths)


def band_pair_pieces(
    column: U64, rows: I64, labels: I64 | None = None, max_pairs: int | None = PIECE_PAIRS
) -> Iterator[I64]:
    """The pairs of :func:`band_pairs`, in pieces of whole buckets holding about ``max_pairs``
    pairs each (a bucket is never cut; ``None``: one piece). The same pairs, in another order.

    >>> column = np.array([5, 7, 5, 5, 7], dtype=np.uint64)
    >>> [p.tolist() for p in band_pair_pieces(column, np.arange(5), max_pairs=1)]
    [[[0, 2], [0, 3], [2, 3]], [[1, 4]]]
    """
    return bucket_pair_pieces(band_buckets(column, rows), labels, max_pairs)


def bucket_pair_pieces(
    buckets: Buckets, labels: I64 | None = None, max_pairs: int | None = PIECE_PAIRS
) -> Iterator[I64]:
    """The pairs of ``buckets`` (see :func:`band_pair_pieces`), leaving out the buckets whose
    rows all have one label in ``labels``."""
    for piece in bucket_pieces(buckets, labels, max_pairs):
        yield candidate_pairs_in_runs(piece.members, piece.starts, piece.lengths)


def bucket_pieces(
    buckets: Buckets, labels: I64 | None = None, max_pairs: int | None = PIECE_PAIRS
) -> Iterator[Buckets]:
    """``buckets`` without those whose rows all have one label in ``labels`` (no pair of them
    could join two components), in pieces of whole buckets that :func:`pairs_in_runs` makes
    about ``max_pairs`` pairs of (``None``: one piece)."""
    members, starts, lengths = buckets.members, buckets.starts, buckets.lengths
    if labels is not None and len(members):
        run_labels = labels[members]
        lowest = np.minimum.reduceat(run_labels, starts)
        mixed = lowest != np.maximum.reduceat(run_labels, starts)
        del run_labels, lowest
        if not mixed.all():
            members = members[np.repeat(mixed, lengths)]
            lengths = lengths[mixed]
            starts = np.cumsum(lengths) - lengths
    if not len(lengths):
        return
    if max_pairs is None:
        yield Buckets(members, starts, lengths)
        return
    # Pairs each bucket gives: all of a small one, neighbours and a star in a large one.
    small = lengths <= LOOSE_ALL_PAIRS
    counts = np.where(small, lengths * (lengths - 1) // 2, (LOOSE_NEIGHBOURS + 1) * lengths)
    ends = np.cumsum(counts)
    cuts = np.searchsorted(ends, np.arange(max_pairs, int(ends[-1]), max_pairs), side="left")
    bounds = sorted_unique(np.r_[0, cuts + 1, len(lengths)])
    bounds = bounds[bounds <= len(lengths)]
    for first, last in zip(bounds[:-1].tolist(), bounds[1:].tolist(), strict=True):
        begin = int(starts[first])
        end = int(starts[last - 1] + lengths[last - 1])
        yield Buckets(members[begin:end], starts[first:last] - begin, lengths[first:last])


def bucket_links(
    buckets: Buckets, labels: I64, accept: Callable[[I64], npt.NDArray[np.bool_]]
) -> I64:
    """The pairs of ``buckets`` that ``accept`` confirms, enough of them to connect what every
    confirmed pair of :func:`candidate_pairs_in_runs` connects, found by verifying far fewer.

    Each bucket's first row (its head) is tried against one row of each other component
    (``labels``) in the bucket, and a confirmed pair joins that whole component to the head.
    Only the rows left out are tried further: against every row of their bucket, except pairs
    inside one component or already tried. Any confirmed pair of the bucket then joins the
    same components as here, so the components are those of all pairs; but where copies agree
    a bucket of ``k`` rows costs ``k - 1`` verifications, not ``k (k - 1) / 2`` (the x100
    benchmark's 100 copies of an article: 99 instead of 4,950). In a bucket beyond
    LOOSE_ALL_PAIRS rows a row left out is tried against the LOOSE_NEIGHBOURS rows on either
    side of it and the head only (at most ``2 * LOOSE_NEIGHBOURS + 1`` verifications a row):
    every candidate pair of such a bucket is then tried or joins rows already joined, so the
    components are again exactly those of the candidates, whatever the labels were when the
    bucket came (the same in every engine and order of buckets). A pair lists its smaller row
    first.

    >>> buckets = Buckets(np.array([0, 1, 2, 3]), np.array([0]), np.array([4]))
    >>> next_rows = lambda pairs: pairs[:, 1] - pairs[:, 0] == 1
    >>> bucket_links(buckets, np.arange(4), next_rows).tolist()
    [[0, 1], [1, 2], [2, 3]]
    """
    members, starts, lengths = buckets.members, buckets.starts, buckets.lengths
    if not len(lengths):
        return np.empty((0, 2), dtype=np.int64)
    bucket = np.repeat(np.arange(len(lengths), dtype=np.int64), lengths)
    label = labels[members]
    head = np.repeat(starts, lengths)
    # Each (bucket, component)'s first slot: its representative. The codes ascend bucket by
    # bucket already, and numpy's stable sort (a merge sort that finds runs) uses that: x100's
    # paragraph pieces in 0.021 s where the packed value sort of runs.stable_argsort took 0.14.
    codes = bucket * np.int64(len(labels)) + label
    order = np.argsort(codes, kind="stable")
    first = runs.first_of_runs(codes[order])
    representatives = order[first]
    representative = np.empty_like(order)
    representative[order] = representatives[np.cumsum(first) - 1]
    del codes, order, first
    asked = representatives[label[representatives] != label[head[representatives]]]
    tried = _ordered_pairs(members[head[asked]], members[asked])
    confirmed = accept(tried)
    joined = label == label[head]
    joined_by = np.zeros(len(members), dtype=np.bool_)
    joined_by[asked[confirmed]] = True
    joined |= joined_by[representative]
    found = [tried[confirmed]]
    loose = np.flatnonzero(~joined)
    if len(loose):
        first_slot, other = _loose_partners(loose, bucket, starts, lengths, joined)
        # Not the head where this row was its component's representative (tried already),
        # not a row of its own component (connected already).
        keep = (other != head[first_slot]) | (representative[first_slot] != first_slot)
        keep &= label[first_slot] != label[other]
        first_slot, other = first_slot[keep], other[keep]
        if len(other):
            more = _ordered_pairs(members[first_slot], members[other])
            found.append(more[accept(more)])
    return np.concatenate(found)


def _loose_partners(
    loose: I64, bucket: I64, starts: I64, lengths: I64, joined: npt.NDArray[np.bool_]
) -> tuple[I64, I64]:
    """Slot pairs (loose slot, partner) for :func:`bucket_links`. In a bucket of up to
    LOOSE_ALL_PAIRS slots: every slot that joined the head, and every later loose slot (each
    loose pair once). In a larger one: the LOOSE_NEIGHBOURS slots on either side that joined
    the head, those after it that did not, and the head.

    >>> joined = np.array([True, False, True, False, False, True])  # a bucket of 6 slots
    >>> args = np.array([1, 3]), np.zeros(6, np.int64), np.array([0]), np.array([6]), joined
    >>> [slots.tolist() for slots in _loose_partners(*args)]
    [[1, 1, 1, 1, 1, 3, 3, 3, 3], [0, 2, 3, 4, 5, 0, 2, 4, 5]]
    """
    own = bucket[loose]
    span = lengths[own]
    head = starts[own]
    small = span <= LOOSE_ALL_PAIRS
    width = 2 * LOOSE_NEIGHBOURS
    counts = np.where(small, span, width + 1)
    first_slot = np.repeat(loose, counts)
    step = np.arange(len(first_slot), dtype=np.int64) - np.repeat(
        np.cumsum(counts) - counts, counts
    )
    # A large bucket's steps: the offsets -W..-1 and 1..W, then the head.
    offset = np.where(step < LOOSE_NEIGHBOURS, step - LOOSE_NEIGHBOURS, step - LOOSE_NEIGHBOURS + 1)
    bucket_head = np.repeat(head, counts)
    is_small = np.repeat(small, counts)
    other = np.where(
        is_small, bucket_head + step, np.where(step == width, bucket_head, first_slot + offset)
    )
    inside = (other >= bucket_head) & (other < np.repeat(head + span, counts))
    other = np.where(inside, other, first_slot)
    keep = (other != first_slot) & (joined[other] | (other > first_slot))
    # In a large bucket the head may be in the window already: one pair, not two.
    keep &= is_small | (step < width) | (first_slot - other > LOOSE_NEIGHBOURS)
    return first_slot[keep], other[keep]


def _ordered_pairs(a: I64, b: I64) -> I64:
    """Rows ``a`` and ``b`` as pairs, the smaller first."""
    return np.stack([np.minimum(a, b), np.maximum(a, b)], axis=1)


def _masked_rows(num_rows: int, mask: npt.NDArray[np.bool_] | None) -> I64:
    rows = np.arange(num_rows, dtype=np.int64)
    return rows if mask is None else rows[mask]


def pairs_sharing_keys(keys: U64, mask: npt.NDArray[np.bool_] | None = None) -> I64:
    """Unique pairs ``(i, j)``, ``i < j``, of rows that share a key in any column of ``keys``
    (shape ``(units, bands)``), by sorting each column and grouping equal keys. Rows where
    ``mask`` is False take no part."""
    rows = _masked_rows(keys.shape[0], mask)
    found = [band_pairs(keys[rows, band], rows) for band in range(keys.shape[1])]
    if not found:
        return np.empty((0, 2), dtype=np.int64)
    pairs = np.sort(np.concatenate(found), axis=1)
    codes = sorted_unique(pairs[:, 0] * np.int64(keys.shape[0]) + pairs[:, 1])
    return np.stack([codes // keys.shape[0], codes % keys.shape[0]], axis=1)


class SignatureSet(Protocol):
    """Rows of MinHash signatures wherever they are held: in this process
    (:class:`LocalSignatures`) or in the partitions of a cluster
    (:class:`dedupe.dask_linking.PartitionedSignatures`). The graph stages ask only these two
    questions of them, so they run unchanged on either."""

    def band_pairs(self, band: int, rows: int, labels: I64, selected: I64 | None) -> I64:
        """:func:`band_pairs` of band ``band`` over the ``selected`` rows (all when None)."""
        ...

    def band_pair_pieces(
        self, band: int, rows: int, labels: I64, selected: I64 | None
    ) -> Iterator[I64]:
        """The pairs of :meth:`band_pairs` in pieces (:func:`band_pair_pieces`)."""
        ...

    def jaccard(self, pairs: I64) -> npt.NDArray[np.float64]:
        """The estimated Jaccard similarity of each pair of rows."""
        ...


class LocalSignatures:
    """A :class:`SignatureSet` over an in-memory ``(rows, permutations)`` array; ``threads``
    verify large batches of pairs side by side."""

    def __init__(self, signatures: U32, threads: int = 1) -> None:
        self.signatures = signatures
        self.threads = threads
        self._columns = signatures.T  # a view: each band reads its own columns

    def band_pairs(self, band: int, rows: int, labels: I64, selected: I64 | None) -> I64:
        if selected is None:
            keys = band_key(self._columns, band, rows)
            return band_pairs(keys, np.arange(len(keys), dtype=np.int64), labels)
        keys = selected_band_key(self.signatures, band, rows, selected)
        return band_pairs(keys, selected, labels)

    def band_pair_pieces(
        self, band: int, rows: int, labels: I64, selected: I64 | None
    ) -> Iterator[I64]:
        # PIECE_PAIRS read at the call, not bound as a default: tests make pieces small.
        return bucket_pair_pieces(self.band_bucket_table(band, rows, selected), labels, PIECE_PAIRS)

    def band_bucket_table(
        self, band: int, rows: int, selected: I64 | None, threads: int = 1
    ) -> Buckets:
        """The band's :class:`Buckets` over the ``selected`` rows (all when None): what
        :meth:`band_pair_pieces` filters by labels, which a thread may prepare ahead. The keys
        of the selected rows and their sort on ``threads`` threads."""
        if selected is None:
            every = np.arange(len(self.signatures), dtype=np.int64)
            return band_buckets(band_key(self._columns, band, rows), every, threads)
        keys = selected_band_key(self.signatures, band, rows, selected, threads)
        return band_buckets(keys, selected, threads)

    def jaccard(self, pairs: I64) -> npt.NDArray[np.float64]:
        return estimated_jaccard(self.signatures, pairs, self.threads)


def components_by_bands(
    signatures: U32 | SignatureSet,
    bands: int,
    rows: int,
    labels: I64,
    accept: Callable[[I64], npt.NDArray[np.bool_]],
    mask: npt.NDArray[np.bool_] | None = None,
    lookahead: bool = False,
    merged: Callable[[], object] | None = None,
    overwrite: bool = False,
) -> I64:
    """Component labels (each row's smallest connected row) of the graph made of the components
    in ``labels`` plus every LSH candidate pair of ``signatures``, an array or any
    :class:`SignatureSet` (as :func:`pairs_sharing_keys` finds them in :func:`band_keys`), for
    which ``accept`` returns True.

    Bands are taken one at a time, and a candidate whose rows are connected already is dropped
    before ``accept`` sees it, since it could not change a component: the result is that of
    :func:`~dedupe.core.cluster.connected_components` over all accepted candidates, but only one
    band's keys and pairs are held at once, and most true pairs are verified once, in the first
    band they share. On the x10 news paragraphs (16 bands of 2 rows) the union over bands held
    37 million pairs (1.4 GB with its deduplication) for 5.4 million distinct ones; band by
    band, 4.9 million were verified. Where the signatures can make a band's :class:`Buckets`
    (``band_bucket_table``, as :class:`LocalSignatures` can), each bucket is linked by
    :func:`bucket_links`, a star from its first row before any other pair: 3.8 million at x10;
    at x100 (100 copies of each article) 94 million, and the paragraph linking took 35-37 s
    instead of 75 s.

    ``lookahead``: with such signatures, a thread sorts the next band while this one is
    verified (numpy lets go of the interpreter lock in both), holding two bands' buckets at
    once. The same labels either way.

    ``merged`` is called after each merge of accepted pairs into the labels, when the pieces'
    arrays are freed, and after every RELEASE_PIECES pieces between merges (a scan hands the
    freed heap back to the system there).

    Where the buckets are made here, merges write into one array of labels: a copy of
    ``labels`` made at the first merge, or ``labels`` itself with ``overwrite`` (a caller that
    needs them no more), so linking holds one row-long array of labels, not three at each merge
    (x100 paragraphs: 8 million rows, 61 MB each); later pieces of a band then skip what
    earlier ones joined. A :class:`SignatureSet` that hands pairs in pieces may read the labels
    it was given after this returns to it (a cluster's band ahead): it gets a new array at
    each merge, and the pieces of a band are all checked against the labels of its start.

    >>> sigs = np.array([[1, 8], [1, 9], [2, 9], [3, 4]], dtype=np.uint32)
    >>> accept_all = lambda pairs: np.ones(len(pairs), bool)
    >>> components_by_bands(sigs, 2, 1, np.arange(4), accept_all).tolist()
    [0, 0, 0, 3]
    >>> components_by_bands(sigs, 2, 1, np.arange(4), accept_all, lookahead=True).tolist()
    [0, 0, 0, 3]
    """
    table = LocalSignatures(signatures) if isinstance(signatures, np.ndarray) else signatures
    selected = None if mask is None else _row_numbers(np.flatnonzero(mask), len(labels))
    if getattr(table, "remember_rejected", False):
        accept = RejectedPairs(accept, len(labels))
    in_place = getattr(table, "band_bucket_table", None) is not None
    owned = overwrite and in_place
    accepted: list[I64] = []

    def merge() -> None:
        nonlocal labels, owned
        labels = merge_components(labels, np.concatenate(accepted), owned)
        owned = in_place
        accepted.clear()
        if merged is not None:
            merged()

    for pieces_of in _bands(table, bands, rows, selected, lookahead):
        # Accepted pairs are merged every MERGE_PAIRS, each merge costing a pass over all the
        # rows.
        band_labels = labels
        waiting = 0
        for count, piece in enumerate(pieces_of(band_labels), 1):
            if isinstance(piece, Buckets):
                accepted.append(bucket_links(piece, labels, accept))
            else:
                pairs = piece[band_labels[piece[:, 0]] != band_labels[piece[:, 1]]]
                accepted.append(pairs[accept(pairs)] if len(pairs) else pairs)
            waiting += len(accepted[-1])
            if waiting >= MERGE_PAIRS:
                merge()
                waiting = 0
            elif merged is not None and count % RELEASE_PIECES == 0:
                merged()
        if waiting:
            merge()
        if isinstance(accept, RejectedPairs):
            accept.settle()
    return labels


def _row_numbers(rows: I64, count: int) -> I64:
    """Row numbers of a table of ``count`` rows, as int32 where they fit: the selected rows, and
    so the bands' bucket members and the pairs made of them, take half the memory (x100
    paragraphs: 3.6 million representatives, 29 MB as int64, held through all the bands)."""
    return rows.astype(runs.index_dtype(count), copy=False)


class RejectedPairs:
    """``accept`` that remembers the pairs it turned down, so that a later band does not ask
    again (a pair shares ~1.5 of 18 bands at a similarity of 0.7). For signatures whose
    verification costs more than a lookup in a sorted array: exact shingle sets, ~8 us a pair
    of news articles, where a lookup takes a fraction of one. Pairs are of ``rows`` rows.

    >>> asked = []
    >>> never = RejectedPairs(lambda pairs: asked.append(len(pairs)) or pairs[:, 0] < 0, 9)
    >>> never(np.array([[1, 2], [3, 4]])).tolist(), never.settle()
    ([False, False], None)
    >>> never(np.array([[3, 4], [5, 6]])).tolist(), asked
    ([False, False], [2, 1])
    """

    def __init__(self, accept: Callable[[I64], npt.NDArray[np.bool_]], rows: int) -> None:
        self._accept = accept
        self._rows = np.int64(rows)
        self._known = np.empty(0, dtype=np.int64)
        self._new: list[I64] = []

    def __call__(self, pairs: I64) -> npt.NDArray[np.bool_]:
        codes = np.minimum(pairs[:, 0], pairs[:, 1]) * self._rows + np.maximum(
            pairs[:, 0], pairs[:, 1]
        )
        fresh = runs.index_in_sorted(self._known, codes) < 0
        result = np.zeros(len(pairs), dtype=np.bool_)
        if fresh.all():
            result = np.asarray(self._accept(pairs), dtype=np.bool_)
            self._new.append(codes[~result])
        elif fresh.any():
            asked = np.flatnonzero(fresh)
            result[asked] = self._accept(pairs[asked])
            self._new.append(codes[asked[~result[asked]]])
        return result

    def settle(self) -> None:
        """Take the pairs turned down since the last call into the lookup (once per band:
        inside one band a pair is asked once)."""
        if self._new:
            # The known codes are one sorted run: a stable sort merges the new ones into it.
            self._known = np.sort(np.concatenate([self._known, *self._new]), kind="stable")
            self._new = []


def _bands(
    table: SignatureSet, bands: int, rows: int, selected: I64 | None, lookahead: bool
) -> Iterator[Callable[[I64], Iterator[I64 | Buckets]]]:
    """For each band in turn, the function from the labels to its pieces: :class:`Buckets`
    where the signatures can make them (for :func:`bucket_links`), pairs otherwise."""
    prepare: Callable[..., Buckets] | None = getattr(table, "band_bucket_table", None)
    if prepare is None:
        for band in range(bands):
            yield partial(table.band_pair_pieces, band, rows, selected=selected)
        return
    if not lookahead or bands < 2 or getattr(table, "prepares_ahead", False):
        # Each band made while nothing else runs: on all the table's threads.
        threads = getattr(table, "threads", 1)
        for band in range(bands):
            buckets = prepare(band, rows, selected, threads=threads)
            yield partial(bucket_pieces, buckets, max_pairs=PIECE_PAIRS)
            del buckets
        return
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(1, thread_name_prefix="dedupe-bands") as pool:
        upcoming = pool.submit(prepare, 0, rows, selected)
        for band in range(bands):
            current = upcoming.result()
            if band + 1 < bands:
                upcoming = pool.submit(prepare, band + 1, rows, selected)
            yield partial(bucket_pieces, current, max_pairs=PIECE_PAIRS)
            del current
