"""Paragraphs that repeat inside one document, from exact shingle sets.

A document holds tens of paragraphs, so exact set overlap is cheap and better than an estimate:
for every (document, shingle) we list the paragraphs that hold it, pair them up, and count the
pairs; the count of a pair is the size of its intersection. All of it is sorting and grouping
over the whole batch at once.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from dedupe.core.lsh import pairs_in_runs
from dedupe.core.runs import first_of_runs, run_lengths, run_starts
from dedupe.core.shingle import I64, U32, U64

F64 = npt.NDArray[np.float64]

# A shingle found in more paragraphs of one document than this is a refrain, not evidence
# of a repeat; skipping it bounds the pairs a pathological document can produce.
_MAX_PARAGRAPHS_PER_SHINGLE = 32
#: Shingles of a batch below which every key is sorted without filtering out singletons first.
_FILTER_MIN_KEYS = 4096


@dataclass(frozen=True, slots=True)
class UnitPairs:
    """Pairs ``(earlier, later)`` of units of the same group that share shingles, with the sizes
    needed for Jaccard similarity and containment."""

    earlier: I64
    later: I64
    intersection: I64
    size_earlier: I64
    size_later: I64

    @property
    def jaccard(self) -> F64:
        union = self.size_earlier + self.size_later - self.intersection
        return self.intersection / np.maximum(union, 1)

    @property
    def containment_of_later(self) -> F64:
        """Share of the later unit's shingles found in the earlier one (a pull quote: ~1.0)."""
        return self.intersection / np.maximum(self.size_later, 1)


def overlapping_units(shingles: U32, owner: I64, group_of_unit: I64, num_units: int) -> UnitPairs:
    """Every pair of units in the same group (document) that share at least one shingle.

    >>> sh = np.array([1, 2, 3, 2, 3, 4, 9], dtype=np.uint32)
    >>> owner = np.array([0, 0, 0, 1, 1, 1, 2])
    >>> p = overlapping_units(sh, owner, np.array([0, 0, 0]), 3)
    >>> p.earlier.tolist(), p.later.tolist(), p.intersection.tolist(), p.jaccard.tolist()
    ([0], [1], [2], [0.5])
    """
    empty = np.empty(0, dtype=np.int64)
    if len(shingles) == 0:
        return UnitPairs(empty, empty, empty, empty, empty)
    group = group_of_unit[owner].astype(np.uint64)
    key = (group << np.uint64(32)) | shingles.astype(np.uint64)
    # A key alone in its hash bucket occurs once in the batch: one distinct shingle of its unit,
    # shared with no other. Only the rest (about a quarter) need sorting.
    # Below a few thousand keys sorting them all is quicker than the 64 K-bucket count.
    maybe = _maybe_repeated(key) if len(key) > _FILTER_MIN_KEYS else np.ones(len(key), bool)
    sizes = np.bincount(owner[~maybe], minlength=num_units).astype(np.int64)
    if not maybe.any():
        return UnitPairs(empty, empty, empty, empty, empty)
    key, unit = _distinct_keys_and_units(key[maybe], owner[maybe], num_units)
    sizes += np.bincount(unit, minlength=num_units)
    starts = run_starts(key)
    lengths = run_lengths(starts, len(unit))
    shared = (lengths > 1) & (lengths <= _MAX_PARAGRAPHS_PER_SHINGLE)
    if not shared.any():
        return UnitPairs(empty, empty, empty, empty, empty)
    # Only the slots of shared shingles take part; every pair of units in a run, once.
    kept_lengths = lengths[shared]
    pairs = pairs_in_runs(
        unit[np.repeat(shared, lengths)], np.cumsum(kept_lengths) - kept_lengths, kept_lengths
    )
    pair_codes, counts = np.unique(
        pairs[:, 0] * np.int64(num_units) + pairs[:, 1], return_counts=True
    )
    earlier, later = pair_codes // num_units, pair_codes % num_units
    return UnitPairs(earlier, later, counts.astype(np.int64), sizes[earlier], sizes[later])


def _maybe_repeated(key: U64) -> npt.NDArray[np.bool_]:
    """False for keys that certainly occur once: the only key in their bucket of a hash table
    with at least four buckets per key (one bincount), True for the others."""
    bits = max(16, (4 * len(key) - 1).bit_length())
    bucket = ((key * np.uint64(0x9E3779B97F4A7C15)) >> np.uint64(64 - bits)).astype(np.intp)
    counts = np.bincount(bucket, minlength=1 << bits)
    return np.asarray(counts[bucket] > 1)


def _distinct_keys_and_units(key: U64, owner: I64, num_units: int) -> tuple[U64, I64]:
    """Distinct (key, unit) pairs sorted by key, then unit (``owner`` is non-decreasing), as
    the key and the unit of each.

    Key and unit are packed into one uint64 and sorted by value when they fit (a key is a
    document index of 11 bits above a 32-bit shingle, a unit index about 16 bits): a plain
    sort and one comparison, where an argsort, two gathers and two comparisons took twice as
    long.
    """
    unit_bits = max(int(num_units - 1).bit_length(), 1)
    if int(key.max(initial=0)).bit_length() + unit_bits <= 64:
        shift = np.uint64(unit_bits)
        packed = (key << shift) | owner.astype(np.uint64)
        packed.sort()
        packed = packed[first_of_runs(packed)]
        return packed >> shift, (packed & ((np.uint64(1) << shift) - np.uint64(1))).astype(np.int64)
    order = np.argsort(key, kind="stable")
    key, unit = key[order], owner[order]
    distinct = first_of_runs(key) | first_of_runs(unit)
    return key[distinct], unit[distinct]


def repeated_units(
    pairs: UnitPairs, min_jaccard: float, min_containment: float
) -> tuple[I64, I64, F64]:
    """The pairs that make the later unit a repeat of the earlier one: near-duplicate (Jaccard)
    or almost wholly contained in it. Returns (earlier, later, jaccard) of those pairs."""
    jaccard = pairs.jaccard
    hit = (jaccard >= min_jaccard) | (pairs.containment_of_later >= min_containment)
    return pairs.earlier[hit], pairs.later[hit], jaccard[hit]
