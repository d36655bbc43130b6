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


@settings(max_examples=100, deadline=None)
@given(values=keys)
def test_runs_and_unique_agree_with_numpy(values):
    ordered = np.sort(values)
    starts = run_starts(ordered)
    distinct, counts = np.unique(ordered, return_counts=True)
    assert ordered[starts].tolist() == distinct.tolist()
    assert run_lengths(starts, len(ordered)).tolist() == counts.tolist()
    assert sorted_unique(values).tolist() == distinct.tolist()
