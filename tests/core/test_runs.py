"""Sort-and-group helpers against numpy's own answers."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dedupe.core import runs
from dedupe.core.runs import run_lengths, run_starts, sort_in_place, sorted_unique, stable_argsort

# Keys from a small range tie often (the buckets of LSH); from the whole range, rarely.
keys = st.one_of(
    st.lists(st.integers(0, 5), max_size=300),
    st.lists(st.integers(0, 2**64 - 1), max_size=300),
).map(lambda values: np.array(values, dtype=np.uint64))


@settings(max_examples=200, deadline=None)
@given(values=keys)
def test_stable_argsort_is_numpys_stable_sort(values):
    assert stable_argsort(values).tolist() == np.argsort(values, kind="stable").tolist()


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
    assert stable_argsort(values).tolist() == np.argsort(values, kind="stable").tolist()


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
        order = stable_argsort(values, threads)
    assert order.tolist() == np.argsort(values, kind="stable").tolist()
