"""Verification: a band collision only nominates a pair; the full signature decides.

The share of equal signature positions is an unbiased estimate of Jaccard similarity with
standard error sqrt(j(1-j)/num_perm): 0.035 at j=0.8 with 128 permutations, where a single band
of 8 rows agrees by chance for any pair above about 0.6.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from dedupe.config import CONTAINMENT_MIN_RATIO, ScanConfig
from dedupe.core.parallel import Bounds, for_each_share
from dedupe.core.shingle import U32

F64 = npt.NDArray[np.float64]
_CHUNK_PAIRS = 65_536


def estimated_jaccard(signatures: U32, pairs: npt.NDArray[np.int64], threads: int = 1) -> F64:
    """Estimated Jaccard similarity of each pair of rows of ``signatures`` (chunks of pairs on
    up to ``threads`` threads)."""
    out = np.empty(len(pairs), dtype=np.float64)

    def share(bounds: Bounds) -> None:
        for begin, end in bounds:
            left, right = pairs[begin:end, 0], pairs[begin:end, 1]
            out[begin:end] = row_similarity(signatures[left], signatures[right])

    chunks = [(b, min(b + _CHUNK_PAIRS, len(pairs))) for b in range(0, len(pairs), _CHUNK_PAIRS)]
    for_each_share(chunks, share, threads)
    return out


def row_similarity(left: U32, right: U32) -> F64:
    """Estimated Jaccard similarity of each row of ``left`` with the same row of ``right``."""
    # The count over the width: the same float as equal.mean(axis=1), without its float64
    # conversion of every element.
    return np.count_nonzero(left == right, axis=1) / left.shape[1]


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
