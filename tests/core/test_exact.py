"""Exact Jaccard of many pairs against a set-by-set computation."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

import dedupe.core.exact as exact
from dedupe.core.exact import pair_jaccard
from dedupe.core.shingle import distinct_sets
from dedupe.core.verify import exact_jaccard

SETS = st.lists(
    st.lists(st.integers(0, 40) | st.integers(0, 2**32 - 1), max_size=30), min_size=1, max_size=8
)


def _laid_out(sets: list[list[int]]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The distinct values of ``sets`` end to end, as pair_jaccard reads them: values, starts,
    sizes."""
    shingles = np.array([v for s in sets for v in s], dtype=np.uint32)
    owner = np.repeat(np.arange(len(sets)), [len(s) for s in sets])
    sizes, values = distinct_sets(shingles, owner, len(sets))
    return values, np.cumsum(sizes) - sizes, sizes


def _drawn_pairs(data: st.DataObject, count: int) -> np.ndarray:
    rows = st.integers(0, count - 1)
    pairs = np.array(data.draw(st.lists(st.tuples(rows, rows), max_size=12)), dtype=np.int64)
    return pairs.reshape(-1, 2)


def _in_chunks(chunk: int, call):
    saved, exact.CHUNK_ELEMENTS = exact.CHUNK_ELEMENTS, chunk  # small chunks: many rounds
    try:
        return call()
    finally:
        exact.CHUNK_ELEMENTS = saved


@settings(max_examples=150, deadline=None)
@given(sets=SETS, data=st.data(), chunk=st.sampled_from([1, 7, 1 << 22]))
def test_pair_jaccard_equals_set_by_set(sets, data, chunk):
    values, starts, sizes = _laid_out(sets)
    pairs = _drawn_pairs(data, len(sets))
    got = _in_chunks(chunk, lambda: pair_jaccard(values, starts, sizes, pairs))
    expected = [exact_jaccard(sets[a], sets[b]) for a, b in pairs.tolist()]
    assert got.tolist() == expected


@settings(max_examples=150, deadline=None)
@given(
    sets=SETS,
    data=st.data(),
    chunk=st.sampled_from([1, 7, 1 << 22]),
    lowest=st.sampled_from([0.0, 0.3, 0.5, 0.8, 1.0]),
)
def test_bounded_pair_jaccard_is_exact_wherever_it_reaches_lowest(sets, data, chunk, lowest):
    # Values on both sides of the cut: small ones below it, large ones above.
    values, starts, sizes = _laid_out(sets)
    below = exact.below_cut(values, sizes)
    assert below.tolist() == [sum(v < exact.BOUND_CUT for v in set(s)) for s in sets]
    pairs = _drawn_pairs(data, len(sets))
    bounded = (below, lowest)
    got = _in_chunks(chunk, lambda: pair_jaccard(values, starts, sizes, pairs, bounded=bounded))
    for value, (a, b) in zip(got.tolist(), pairs.tolist(), strict=True):
        truth = exact_jaccard(sets[a], sets[b])
        if truth >= lowest:
            assert value == truth
        else:  # a bound: never below the truth, never reaching lowest
            assert truth <= value < lowest


def test_a_pair_that_cannot_reach_lowest_gets_its_bound():
    big = exact.BOUND_CUT
    sets = [[*range(1, 11), big + 1], [*range(11, 21), big + 2], [*range(1, 11), big + 1]]
    values, starts, sizes = _laid_out(sets)
    pairs = np.array([[0, 1], [0, 2]])
    bounded = (exact.below_cut(values, sizes), 0.5)
    # No value shared below the cut and one left on each side: at most 1 of 21.
    assert pair_jaccard(values, starts, sizes, pairs, bounded=bounded).tolist() == [1 / 21, 1.0]
    assert pair_jaccard(values, starts, sizes, pairs).tolist() == [0.0, 1.0]


@settings(max_examples=150, deadline=None)
@given(sets=SETS, data=st.data(), crowded=st.integers(0, 600))
def test_histogram_bound_is_never_below_the_exact_similarity(sets, data, crowded):
    # ``crowded`` values in the first range of the hash space: past FULL, a row of counts
    # unknown.
    sets = [*sets, list(range(crowded))]
    values, _, sizes = _laid_out(sets)
    rows = exact.histograms(values, sizes)
    full = rows[:, 0] == exact.FULL
    assert full.tolist() == [
        max(np.bincount(np.array(sorted(set(s)), dtype=np.uint32) >> 23, minlength=1)) >= exact.FULL
        if s
        else False
        for s in sets
    ]
    assert (rows[~full].sum(axis=1) == sizes[~full]).all()
    assert (rows[full] == exact.FULL).all()
    pairs = np.concatenate([_drawn_pairs(data, len(sets)), [[len(sets) - 1, 0]]])
    bound = exact.jaccard_bound(rows, sizes, pairs)
    shared = exact.shared_bound(rows, sizes, pairs, threads=2)
    for value, most, (a, b) in zip(bound.tolist(), shared.tolist(), pairs.tolist(), strict=True):
        assert value >= exact_jaccard(sets[a], sets[b])
        assert len(set(sets[a]) & set(sets[b])) <= most <= min(len(set(sets[a])), len(set(sets[b])))


def test_histogram_bound_is_exact_for_sets_apart_in_their_ranges():
    # One value in each of ranges 0-255, and the same in ranges 0-127 plus one in each of
    # 256-383: 128 shared, and no range where both hold values that differ.
    width = 1 << (32 - exact.HISTOGRAM_BITS)
    first = [i * width for i in range(256)]
    second = first[:128] + [i * width for i in range(256, 384)]
    values, _, sizes = _laid_out([first, second])
    rows = exact.histograms(values, sizes)
    pairs = np.array([[0, 1]])
    assert exact.shared_bound(rows, sizes, pairs).tolist() == [128]
    assert exact.jaccard_bound(rows, sizes, pairs).tolist() == [128 / 384]
    # Unknown counts (FULL) bound nothing beyond the other set's size.
    rows[0] = exact.FULL
    assert exact.shared_bound(rows, sizes, pairs).tolist() == [256]


@settings(max_examples=200, deadline=None)
@given(sets=SETS, extra=st.integers(0, 3))
def test_distinct_sets_are_each_units_sorted_set(sets, extra):
    """Units without shingles (``extra`` at the end, and empty lists) count zero."""
    shingles = np.array([v for s in sets for v in s], dtype=np.uint32)
    owner = np.repeat(np.arange(len(sets)), [len(s) for s in sets])
    sizes, values = distinct_sets(shingles, owner, len(sets) + extra)
    assert sizes.tolist() == [len(set(s)) for s in sets] + [0] * extra
    assert values.dtype == np.uint32
    assert values.tolist() == [v for s in sets for v in sorted(set(s))]
