"""Sort-and-group helpers against numpy's own answers."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dedupe.core import runs
from dedupe.core.runs import (
    run_lengths,
    run_starts,
    sort_in_place,
    sort_within,
    sorted_unique,
    stable_argsort,
)

# Keys from a small range tie often (the buckets of LSH); from the whole range, rarely.
keys = st.one_of(
    st.lists(st.integers(0, 5), max_size=300),
    st.lists(st.integers(0, 2**64 - 1), max_size=300),
).map(lambda values: np.array(values, dtype=np.uint64))


def _check_stable_argsort(values: np.ndarray, threads: int = 1) -> None:
    """stable_argsort's order is numpy's stable one, and its ties say which sorted values
    equal the one before them."""
    expected = np.argsort(values, kind="stable")
    ranked = values[expected]
    ties = np.ones(len(values), dtype=bool)  # every flag is written
    assert stable_argsort(values, threads, ties=ties).tolist() == expected.tolist()
    assert ties.tolist() == [False, *(ranked[1:] == ranked[:-1]).tolist()][: len(values)]
    assert stable_argsort(values, threads).tolist() == expected.tolist()


@settings(max_examples=200, deadline=None)
@given(values=keys, packed=st.booleans(), wide=st.booleans())
def test_stable_argsort_is_numpys_stable_sort(values, packed, wide):
    """Every way: the quicksort's, the packed value sort, and the packed sort giving up on keys
    that differ in their low bits only (``wide``: one high part, small differences)."""
    if wide:
        values = values % np.uint64(64) + np.uint64(1 << 40)
    with pytest.MonkeyPatch.context() as patch:
        if packed:
            patch.setattr(runs, "_PACKED_MIN", 1)
        _check_stable_argsort(values)


def test_stable_argsort_ties_must_fit_the_values():
    with pytest.raises(ValueError, match="ties has shape"):
        stable_argsort(np.arange(3, dtype=np.uint64), ties=np.zeros(2, dtype=bool))


@settings(max_examples=60, deadline=None)
@given(
    count=st.integers(4_096, 40_000),
    ties=st.floats(0.0, 0.5),
    neighbours=st.integers(0, 200),
    signed=st.booleans(),
    seed=st.integers(0, 2**32 - 1),
)
def test_stable_argsort_of_many_wide_keys_is_numpys(count, ties, neighbours, signed, seed):
    """Enough keys for the packed value sort: hashed keys, some equal, some differing from
    another only in the low bits that give way to the index (re-sorted runs), as int64 too."""
    rng = np.random.default_rng(seed)
    values = rng.integers(0, 2**63, count, dtype=np.int64).astype(np.uint64) << np.uint64(1)
    copies = rng.integers(0, count, int(count * ties))
    values[copies] = values[rng.integers(0, count, len(copies))]
    near = rng.integers(0, count, neighbours)
    flips = rng.integers(1, 4096, neighbours).astype(np.uint64)
    values[near] = values[rng.integers(0, count, neighbours)] ^ flips
    if signed:
        values = (values >> np.uint64(1)).view(np.int64)
        values[: neighbours // 50] *= -1  # a negative key: the quicksort's way
    _check_stable_argsort(values)


@settings(max_examples=100, deadline=None)
@given(values=keys)
def test_runs_and_unique_agree_with_numpy(values):
    ordered = np.sort(values)
    starts = run_starts(ordered)
    distinct, counts = np.unique(ordered, return_counts=True)
    assert ordered[starts].tolist() == distinct.tolist()
    assert run_lengths(starts, len(ordered)).tolist() == counts.tolist()
    assert sorted_unique(values).tolist() == distinct.tolist()


@settings(max_examples=100, deadline=None)
@given(values=keys, threads=st.integers(1, 4))
def test_a_sort_in_parts_on_threads_is_a_sort(values, threads):
    expected = np.sort(values).tolist()
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(runs, "PARALLEL_MIN", 0)  # parts on threads, whatever the size
        sort_in_place(values, threads)
    assert values.tolist() == expected


@settings(max_examples=30, deadline=None)
@given(count=st.integers(4_096, 20_000), threads=st.integers(2, 3), seed=st.integers(0, 2**32))
def test_stable_argsort_on_threads_is_numpys(count, threads, seed):
    rng = np.random.default_rng(seed)
    values = rng.integers(0, 2**64 - 1, count, dtype=np.uint64)
    values[rng.integers(0, count, count // 4)] = values[rng.integers(0, count, count // 4)]
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(runs, "PARALLEL_MIN", 0)
        _check_stable_argsort(values, threads)


# Segments of every width class, empty ones included; values of the whole uint32 range tie
# with the padding (2**32 - 1) now and then.
segments = st.lists(
    st.lists(st.integers(0, 9) | st.just(2**32 - 1) | st.integers(0, 2**32 - 1), max_size=70),
    max_size=12,
)


@settings(max_examples=200, deadline=None)
@given(segments=segments, sort_elements=st.sampled_from([1, 64, 1 << 18]))
def test_sort_within_sorts_each_segment_in_its_place(segments, sort_elements):
    values = np.array([v for segment in segments for v in segment], dtype=np.uint32)
    sizes = np.array([len(segment) for segment in segments], dtype=np.int64)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(runs, "_SORT_ELEMENTS", sort_elements)  # a row at a time, or all at once
        result = sort_within(values, sizes)
    assert result.dtype == values.dtype
    assert result.tolist() == [v for segment in segments for v in sorted(segment)]


def test_sort_within_signed_and_long_segments():
    rng = np.random.default_rng(3)
    sizes = np.array([5_000, 0, 1, 33, 4_096, 4_097], dtype=np.int64)
    values = rng.integers(-(2**40), 2**40, int(sizes.sum()), dtype=np.int64)
    expected = np.concatenate([np.sort(part) for part in np.split(values, np.cumsum(sizes)[:-1])])
    assert sort_within(values, sizes).tolist() == expected.tolist()
