"""Star contraction gives the components of connected_components, however edges are sharded."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dedupe.core.cluster import connected_components
from dedupe.core.stars import canonical, fingerprint, star_components, star_labels

graphs = st.integers(1, 40).flatmap(
    lambda n: st.tuples(
        st.just(n),
        st.lists(st.tuples(st.integers(0, n - 1), st.integers(0, n - 1)), max_size=80),
    )
)


@settings(max_examples=300, deadline=None)
@given(graph=graphs, shards=st.integers(1, 5))
def test_star_contraction_finds_the_components(graph, shards):
    nodes, edges = graph
    pairs = np.array(edges, dtype=np.int64).reshape(-1, 2)
    expected = connected_components(nodes, pairs)
    assert star_components(nodes, pairs, shards).tolist() == expected.tolist()


def test_a_long_shuffled_chain_converges_to_one_star():
    nodes = 3_000
    chain = np.stack([np.arange(nodes - 1), np.arange(1, nodes)], axis=1)
    shuffled = chain[np.random.default_rng(7).permutation(nodes - 1)]
    assert (star_components(nodes, shuffled, shards=4) == 0).all()


def test_the_fingerprint_ignores_order_and_sees_a_change():
    edges = canonical(np.array([[5, 1], [9, 2], [7, 3]]))
    assert fingerprint(edges) == fingerprint(edges[::-1])
    assert fingerprint(edges) != fingerprint(canonical(np.array([[5, 1], [9, 2], [7, 4]])))
    assert fingerprint(edges[:0]) == (0, 0, 0)


def test_labels_refuse_what_is_not_a_star():
    with pytest.raises(RuntimeError, match="two centres"):
        star_labels(4, np.array([[3, 1], [3, 0]]))
