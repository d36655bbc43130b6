"""Connected components by star contraction, in steps that each group edges by one endpoint.

:func:`~dedupe.core.cluster.connected_components` needs every edge and one label per node in
one process. Here the work is the alternating *large-star* and *small-star* steps of Kiveris et
al. ("Connected Components in MapReduce and Beyond", SoCC 2014): each step looks only at the
edges of one node at a time, so the edges can be split into shards by node (:func:`node_shard`)
and every shard done on its own, on any machine; a round is two such steps with a shuffle
before each. After a few rounds (O(log^2 n) at worst) every component is a star whose centre is
its smallest node, and no step changes it any more: the label of a node is its star's centre,
the same labels as ``connected_components``.

Edges here are undirected pairs stored as ``(high, low)`` rows, ``high > low``.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from dedupe.core.runs import run_lengths, run_starts, sorted_unique

I64 = npt.NDArray[np.int64]

_EMPTY = np.empty((0, 2), dtype=np.int64)


def node_shard(nodes: I64, shards: int) -> I64:
    """The shard of each node: a multiplicative hash, so consecutive nodes (the documents of
    one file) spread over all shards."""
    mixed = nodes.astype(np.uint64) * np.uint64(0x9E3779B97F4A7C15)
    return ((mixed >> np.uint64(32)) % np.uint64(shards)).astype(np.int64)


def canonical(pairs: I64) -> I64:
    """Distinct undirected edges of ``pairs`` as ``(high, low)`` rows, sorted; self-loops dropped.

    >>> canonical(np.array([[1, 4], [4, 1], [2, 2], [3, 0]])).tolist()
    [[3, 0], [4, 1]]
    """
    if len(pairs) == 0:
        return _EMPTY
    high = np.maximum(pairs[:, 0], pairs[:, 1])
    low = np.minimum(pairs[:, 0], pairs[:, 1])
    keep = high != low
    if not keep.any():
        return _EMPTY
    return np.unique(np.stack([high[keep], low[keep]], axis=1), axis=0)


def _groups(src: I64, dst: I64) -> tuple[I64, I64, I64, I64]:
    """``src`` and ``dst`` sorted by ``src``, the start of each run of one ``src``, and the
    smallest ``dst`` of each run."""
    order = np.argsort(src, kind="stable")
    src, dst = src[order], dst[order]
    starts = run_starts(src)
    return src, dst, starts, np.minimum.reduceat(dst, starts)


def large_star_input(edges: I64) -> I64:
    """What :func:`large_star` groups: every edge in both directions, as (node, neighbour)."""
    return np.concatenate([edges, edges[:, ::-1]])


def large_star(directed: I64) -> I64:
    """One large-star step over the (node, neighbour) rows of some nodes (every row of each
    node present): each node ``u`` links every neighbour larger than itself to the smallest of
    ``u`` and its neighbours.

    >>> large_star(large_star_input(np.array([[2, 1], [3, 2]]))).tolist()
    [[2, 1], [3, 1]]
    """
    if len(directed) == 0:
        return _EMPTY
    src, dst, starts, lowest = _groups(directed[:, 0], directed[:, 1])
    centre = np.repeat(np.minimum(lowest, src[starts]), run_lengths(starts, len(src)))
    larger = dst > src
    return canonical(np.stack([dst[larger], centre[larger]], axis=1))


def small_star(edges: I64) -> I64:
    """One small-star step over the ``(high, low)`` edges of some nodes, grouped by ``high``
    (every edge of each such node present): each node ``u`` links itself and every smaller
    neighbour to the smallest of them.

    >>> small_star(np.array([[3, 1], [3, 2]])).tolist()
    [[2, 1], [3, 1]]
    """
    if len(edges) == 0:
        return _EMPTY
    src, dst, starts, lowest = _groups(edges[:, 0], edges[:, 1])
    centre = np.repeat(lowest, run_lengths(starts, len(src)))
    return canonical(
        np.concatenate([np.stack([dst, centre], axis=1), np.stack([src[starts], lowest], axis=1)])
    )


def fingerprint(edges: I64) -> tuple[int, int, int]:
    """An order-free digest of a set of canonical edges (count and two 64-bit sums of mixed
    edges), added up over shards to tell whether a round changed anything."""
    if len(edges) == 0:
        return (0, 0, 0)
    high, low = edges[:, 0].astype(np.uint64), edges[:, 1].astype(np.uint64)
    with np.errstate(over="ignore"):
        first = high * np.uint64(0x9E3779B97F4A7C15) ^ low * np.uint64(0xC2B2AE3D27D4EB4F)
        first ^= first >> np.uint64(31)
        second = high * np.uint64(0xD6E8FEB86659FD93) + low * np.uint64(0xFF51AFD7ED558CCD)
        second ^= second >> np.uint64(29)
    mask = (1 << 64) - 1
    return (len(edges), int(first.sum(dtype=np.uint64)) & mask, int(second.sum(dtype=np.uint64)))


def star_labels(num_nodes: int, stars: I64) -> I64:
    """Labels from converged stars: each edge's high node takes its centre, the rest keep
    their own number. Raises if ``stars`` are not stars (a node with two centres)."""
    labels = np.arange(num_nodes, dtype=np.int64)
    if len(stars):
        if len(sorted_unique(stars[:, 0])) != len(stars):
            raise RuntimeError("star contraction did not converge: a node has two centres")
        labels[stars[:, 0]] = stars[:, 1]
    return labels


def star_components(num_nodes: int, pairs: I64, shards: int = 1) -> I64:
    """Connected components by star contraction in this process, the edges split into
    ``shards`` by node as a cluster would split them: the reference for the distributed run,
    equal to :func:`~dedupe.core.cluster.connected_components`.

    >>> star_components(6, np.array([[0, 3], [3, 5], [1, 2]]), shards=2).tolist()
    [0, 1, 1, 0, 4, 0]
    """
    edges = canonical(pairs)
    while True:
        directed = large_star_input(edges)
        by_node = node_shard(directed[:, 0], shards)
        large = canonical(
            np.concatenate([_EMPTY, *(large_star(directed[by_node == s]) for s in range(shards))])
        )
        by_high = node_shard(large[:, 0], shards)
        small = canonical(
            np.concatenate([_EMPTY, *(small_star(large[by_high == s]) for s in range(shards))])
        )
        if np.array_equal(small, edges):
            return star_labels(num_nodes, small)
        edges = small
