"""Verification: a band collision only nominates a pair; the full signature decides.

The share of equal signature positions is an unbiased estimate of Jaccard similarity with
standard error sqrt(j(1-j)/num_perm): 0.035 at j=0.8 with 128 permutations, where a single band
of 8 rows agrees by chance for any pair above about 0.6.
"""

from __future__ import annotations

import math
from functools import cache

import numpy as np
import numpy.typing as npt

from dedupe.config import CONTAINMENT_MIN_RATIO, ScanConfig
from dedupe.core.parallel import Bounds, for_each_share
from dedupe.core.shingle import U32

F64 = npt.NDArray[np.float64]
#: Pairs compared per chunk: 16,384 pairs of 32-position rows (4 MB gathered) or of 128 (16 MB).
#: A pair took 0.11 us here and 0.20 at 65,536 (32 positions, one thread; 128: 0.25 and 0.44),
#: and the x100 paragraph linking verified its 62 million pairs in 12.8 s instead of 18.4.
_CHUNK_PAIRS = 16_384

#: How unlikely it must be that a pair similar enough to accept has a MinHash estimate as low as
#: one that :func:`screening_matches` lets skip the exact check: once in 10^12 such pairs.
SCREEN_TAIL = 1e-12


def estimated_jaccard(signatures: U32, pairs: npt.NDArray[np.int64], threads: int = 1) -> F64:
    """Estimated Jaccard similarity of each pair of rows of ``signatures`` (chunks of pairs on
    up to ``threads`` threads).

    Each thread gathers its chunks' rows into two arrays of its own, made once: a fresh pair of
    arrays per chunk, and the gather of a memory-mapped file's rows through ``np.memmap``'s
    indexing, took the x100 paragraph linking's 31 million estimates 7.7 s instead of 5.2-5.7.
    """
    out = np.empty(len(pairs), dtype=np.float64)
    rows = np.asarray(signatures)  # a plain view of a mapped file's array: no subclass per gather

    def share(bounds: Bounds) -> None:
        size = max(end - begin for begin, end in bounds)
        left = np.empty((size, rows.shape[1]), dtype=rows.dtype)
        right = np.empty_like(left)
        for begin, end in bounds:
            count = end - begin
            # "clip": the rows are valid, and "raise" would gather through a buffer first.
            np.take(rows, pairs[begin:end, 0], axis=0, out=left[:count], mode="clip")
            np.take(rows, pairs[begin:end, 1], axis=0, out=right[:count], mode="clip")
            out[begin:end] = row_similarity(left[:count], right[:count])

    chunks = [(b, min(b + _CHUNK_PAIRS, len(pairs))) for b in range(0, len(pairs), _CHUNK_PAIRS)]
    for_each_share(chunks, share, threads)
    return out


def row_similarity(left: U32, right: U32) -> F64:
    """Estimated Jaccard similarity of each row of ``left`` with the same row of ``right``."""
    # The count over the width: the same float as equal.mean(axis=1), without its float64
    # conversion of every element.
    return equal_positions(left, right) / left.shape[1]


#: Multiplying a uint64 by this adds its eight bytes into the top one (no carries while the
#: sum stays below 256).
_BYTE_SUM = np.uint64(0x0101010101010101)


def equal_positions(left: U32, right: U32) -> npt.NDArray[np.integer]:
    """How many positions of each row of ``left`` equal those of the same row of ``right``.

    Each row's comparison is read as whole uint64 words of 8 one-byte flags, the words added
    column by column (each byte of a sum counts the equal positions at that byte's place) and
    the 8 bytes of the sum added by one multiplication: 13 ns a pair of 32-position rows here,
    where ``count_nonzero(axis=1)`` took 59 (a reduction over 32 elements per row). Rows whose
    width is not a multiple of 8 or exceeds 255 are counted the plain way.

    >>> left = np.array([[1, 2, 3, 4, 5, 6, 7, 8], [0] * 8], dtype=np.uint32)
    >>> equal_positions(left, np.array([[1, 0, 3, 0, 5, 0, 7, 8], [1] * 8], np.uint32)).tolist()
    [5, 0]
    """
    equal = np.equal(left, right)
    width = equal.shape[1] if equal.ndim == 2 else 0
    if width == 0 or width % 8 or width > 255 or not equal.flags.c_contiguous:
        return np.count_nonzero(equal, axis=1)
    words = equal.view(np.uint64)
    total = words[:, 0].copy()
    for column in range(1, words.shape[1]):
        total += words[:, column]
    total *= _BYTE_SUM
    total >>= np.uint64(56)
    return total


def estimated_containment(jaccard: F64, size_a: npt.ArrayLike, size_b: npt.ArrayLike) -> F64:
    """Share of the smaller set that lies in the larger, from the Jaccard similarity and the
    set sizes: ``|A & B| = J (|A| + |B|) / (1 + J)``.

    >>> estimated_containment(np.array([0.5]), [40], [80]).tolist()
    [1.0]
    """
    a = np.asarray(size_a, dtype=np.float64)
    b = np.asarray(size_b, dtype=np.float64)
    shared = jaccard * (a + b) / (1.0 + jaccard)
    return np.clip(shared / np.maximum(np.minimum(a, b), 1.0), 0.0, 1.0)


def exact_jaccard(a: npt.ArrayLike, b: npt.ArrayLike) -> float:
    """Exact Jaccard similarity of two sets of shingle hashes (1.0 for two empty sets).

    >>> exact_jaccard([1, 2, 3], [2, 3, 4])
    0.5
    """
    sa, sb = np.unique(np.asarray(a)), np.unique(np.asarray(b))
    union = len(np.union1d(sa, sb))
    return 1.0 if union == 0 else len(np.intersect1d(sa, sb, assume_unique=True)) / union


def accepted(
    config: ScanConfig, similarity: F64, size_a: npt.ArrayLike, size_b: npt.ArrayLike
) -> npt.NDArray[np.bool_]:
    """The document verification rule on pairs of estimated Jaccard ``similarity``: at least
    the threshold, or in containment mode (``size_*``: distinct shingles) a copy cut short.
    The one rule of scan, the index and every engine."""
    accept = similarity >= config.threshold
    if config.measure == "containment":
        size_a = np.asarray(size_a, dtype=np.int64)
        size_b = np.asarray(size_b, dtype=np.int64)
        contained = estimated_containment(similarity, size_a, size_b)
        # Below the ratio the bands were not chosen to find such pairs, and the estimate
        # of a small set's share in a large one is too noisy to act on.
        comparable_sizes = np.minimum(size_a, size_b) >= CONTAINMENT_MIN_RATIO * np.maximum(
            size_a, size_b
        )
        accept |= comparable_sizes & (contained >= config.containment_threshold)
    return np.asarray(accept, dtype=np.bool_)


def lowest_accepted(config: ScanConfig) -> float:
    """The lowest Jaccard similarity :func:`accepted` can accept: the threshold, or in
    containment mode the least similarity at which a copy cut short to CONTAINMENT_MIN_RATIO of
    the other could reach the containment threshold, ``c / (1 + 1/ratio - c)``, if lower.

    >>> lowest_accepted(ScanConfig(threshold=0.8))
    0.8
    >>> round(lowest_accepted(ScanConfig(threshold=0.8, measure="containment")), 3)
    0.333
    """
    if config.measure != "containment":
        return config.threshold
    c = config.containment_threshold
    return min(config.threshold, c / (1.0 + 1.0 / CONTAINMENT_MIN_RATIO - c))


@cache
def screening_matches(num_perm: int, lowest: float, tail: float = SCREEN_TAIL) -> int:
    """The fewest equal signature positions (of ``num_perm``) that a pair needs before its exact
    similarity is worth computing: a pair of true Jaccard similarity ``lowest`` or more has
    fewer with probability at most ``tail`` (each position agrees with probability equal to the
    similarity, independently: a binomial tail, largest at ``lowest``).

    >>> screening_matches(128, 0.8)
    67
    >>> screening_matches(128, 0.0)
    0
    """
    if lowest <= 0.0:
        return 0
    if lowest >= 1.0:
        return num_perm
    log_p, log_q = math.log(lowest), math.log1p(-lowest)
    below = 0.0  # P(fewer than k equal positions)
    for k in range(num_perm + 1):
        log_term = (
            math.lgamma(num_perm + 1)
            - math.lgamma(k + 1)
            - math.lgamma(num_perm - k + 1)
            + k * log_p
            + (num_perm - k) * log_q
        )
        below += math.exp(log_term)
        if below > tail:
            return k
    return num_perm
