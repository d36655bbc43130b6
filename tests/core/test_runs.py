"""Sort-and-group helpers against numpy's own answers."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from dedupe.core.runs import run_lengths, run_starts, sorted_unique, stable_argsort

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
