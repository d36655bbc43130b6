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

from dedupe.core.shingle import I64, U32

F64 = npt.NDArray[np.float64]

# A shingle found in more paragraphs of one document than this is a refrain, not evidence
# of a repeat; skipping it bounds the pairs a pathological document can produce.
_MAX_PARAGRAPHS_PER_SHINGLE = 32


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
    # One 64-bit key per (group, shingle); a stable sort keeps units in ascending order inside
    # each key because ``owner`` is non-decreasing. Distinct (key, unit) pairs follow.
    key = (group_of_unit[owner].astype(np.uint64) << np.uint64(32)) | shingles.astype(np.uint64)
    order = np.argsort(key, kind="stable")
    k, u = key[order], owner[order]
    distinct = np.r_[True, (k[1:] != k[:-1]) | (u[1:] != u[:-1])]
    k, u = k[distinct], u[distinct]
    sizes = np.bincount(u, minlength=num_units).astype(np.int64)
    run_start = np.r_[True, k[1:] != k[:-1]]
    starts = np.flatnonzero(run_start)
    lengths = np.diff(np.r_[starts, len(u)])
    run_end = np.repeat(starts + lengths, lengths)
    usable = np.repeat(lengths <= _MAX_PARAGRAPHS_PER_SHINGLE, lengths)
    slots = np.arange(len(u))
    codes = []
    for offset in range(1, int(lengths.max(initial=1))):
        other = slots + offset
        ok = usable & (other < run_end)
        if not ok.any():
            break
        codes.append(u[slots[ok]] * np.int64(num_units) + u[other[ok]])
    if not codes:
        return UnitPairs(empty, empty, empty, empty, empty)
    pair_codes, counts = np.unique(np.concatenate(codes), return_counts=True)
    earlier, later = pair_codes // num_units, pair_codes % num_units
    return UnitPairs(earlier, later, counts.astype(np.int64), sizes[earlier], sizes[later])


def repeated_units(
    pairs: UnitPairs, min_jaccard: float, min_containment: float
) -> tuple[I64, I64, F64]:
    """The pairs that make the later unit a repeat of the earlier one: near-duplicate (Jaccard)
    or almost wholly contained in it. Returns (earlier, later, jaccard) of those pairs."""
    jaccard = pairs.jaccard
    hit = (jaccard >= min_jaccard) | (pairs.containment_of_later >= min_containment)
    return pairs.earlier[hit], pairs.later[hit], jaccard[hit]
