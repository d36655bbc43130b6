"""Locality-sensitive hashing: band choice, band keys and candidate pairs by sort-and-group.

With ``b`` bands of ``r`` rows a pair of Jaccard similarity ``j`` becomes a candidate with
probability ``1 - (1 - j**r)**b`` (the S-curve). datasketch picks (b, r) by weighting false
positives and negatives equally, which for threshold 0.8 and 128 permutations gives 9 x 13 and
makes only 40% of pairs at exactly 0.8 candidates. We pick instead the bands that reach a wanted
probability at the threshold with the fewest expected false positives, and verify every
candidate on its full signature, so the extra candidates cost time but never precision.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from dedupe.core.shingle import U32, U64

I64 = npt.NDArray[np.int64]

# A bucket with more members than this (thousands of copies of one page) is linked as a chain
# and a star instead of all pairs: enough for connected components, and linear in the size.
MAX_BUCKET_PAIRS = 64


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


def band_keys(signatures: U32, bands: int, rows: int) -> U64:
    """A 64-bit key per (unit, band): shape ``(units, bands)``. Keys of different bands never
    meet, because candidates are grouped one band at a time."""
    units = signatures.shape[0]
    view = signatures[:, : bands * rows].reshape(units, bands, rows).astype(np.uint64)
    keys = np.zeros((units, bands), dtype=np.uint64)
    for row in range(rows):
        keys = (keys ^ view[:, :, row]) * np.uint64(0x9E3779B97F4A7C15)
        keys ^= keys >> np.uint64(29)
    return keys


def _pairs_in_runs(order: I64, run_starts: I64, run_lengths: I64) -> I64:
    """All pairs inside each run of ``order`` (runs up to MAX_BUCKET_PAIRS members), chain and
    star links inside longer runs."""
    chunks = []
    small = run_lengths <= MAX_BUCKET_PAIRS
    member_run = np.repeat(np.arange(len(run_starts)), run_lengths)
    run_end = np.repeat(run_starts + run_lengths, run_lengths)
    is_small = small[member_run]
    slots = np.arange(len(order))
    for offset in range(1, int(run_lengths[small].max(initial=1))):
        other = slots + offset
        ok = is_small & (other < run_end)
        if not ok.any():
            break
        chunks.append(np.stack([order[slots[ok]], order[other[ok]]], axis=1))
    large = ~is_small
    if large.any():
        first = np.repeat(run_starts, run_lengths)
        nxt = slots + 1
        chain = large & (nxt < run_end)
        chunks.append(np.stack([order[slots[chain]], order[nxt[chain]]], axis=1))
        star = large & (slots != first)
        chunks.append(np.stack([order[first[star]], order[slots[star]]], axis=1))
    if not chunks:
        return np.empty((0, 2), dtype=np.int64)
    return np.concatenate(chunks).astype(np.int64)


def pairs_sharing_keys(keys: U64, mask: npt.NDArray[np.bool_] | None = None) -> I64:
    """Unique pairs ``(i, j)``, ``i < j``, of rows that share a key in any column of ``keys``
    (shape ``(units, bands)``), by sorting each column and grouping equal keys. Rows where
    ``mask`` is False take no part."""
    rows = np.arange(keys.shape[0], dtype=np.int64)
    if mask is not None:
        rows = rows[mask]
    found = []
    for band in range(keys.shape[1]):
        column = keys[rows, band]
        order = np.argsort(column, kind="stable")
        sorted_keys = column[order]
        boundary = np.r_[True, sorted_keys[1:] != sorted_keys[:-1]]
        run_starts = np.flatnonzero(boundary)
        run_lengths = np.diff(np.r_[run_starts, len(order)])
        multi = run_lengths > 1
        if not multi.any():
            continue
        keep = np.repeat(multi, run_lengths)
        kept_order = order[keep]
        kept_lengths = run_lengths[multi]
        kept_starts = np.cumsum(kept_lengths) - kept_lengths
        pairs = _pairs_in_runs(rows[kept_order], kept_starts, kept_lengths)
        found.append(pairs)
    if not found:
        return np.empty((0, 2), dtype=np.int64)
    pairs = np.concatenate(found)
    pairs = np.sort(pairs, axis=1)
    codes = np.unique(pairs[:, 0] * np.int64(keys.shape[0]) + pairs[:, 1])
    return np.stack([codes // keys.shape[0], codes % keys.shape[0]], axis=1)
