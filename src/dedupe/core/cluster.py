"""Connected components of verified pairs, and the kept member of each."""

from __future__ import annotations

from typing import Literal

import numpy as np
import numpy.typing as npt

from dedupe.core.runs import run_starts, stable_argsort

I64 = npt.NDArray[np.int64]


def connected_components(num_nodes: int, pairs: I64, dtype: type = np.int64) -> I64:
    """Label of each node: the smallest node index in its component, as ``dtype`` (int32
    halves the labels and every temporary of their values, where the nodes are fewer than
    2**31).

    Shiloach-Vishkin style, all in array operations: every round hooks the larger root of each
    edge whose ends have different roots under the smaller one, then jumps pointers until every
    node points at its root; edges inside one tree are dropped as they appear. A component's
    smallest node is never hooked (nothing smaller is in it), so it ends as everyone's root.
    Hooking roots rather than propagating labels node to node: 0.98 s instead of 6.5 s for a
    random graph of 3.1 million nodes and 2 million edges (the merges of the x100 paragraph
    graph took 23 s).

    >>> connected_components(6, np.array([[0, 3], [3, 5], [1, 2]])).tolist()
    [0, 1, 1, 0, 4, 0]
    """
    parent: I64 = np.arange(num_nodes, dtype=dtype)
    if len(pairs) == 0:
        return parent
    left, right = pairs[:, 0], pairs[:, 1]
    while True:
        root_l, root_r = parent[left], parent[right]
        apart = root_l != root_r
        if not apart.any():
            return parent
        if not apart.all():
            left, right = left[apart], right[apart]
            root_l, root_r = root_l[apart], root_r[apart]
        np.minimum.at(parent, np.maximum(root_l, root_r), np.minimum(root_l, root_r))
        while True:
            jumped = parent[parent]
            if np.array_equal(jumped, parent):
                break
            parent = jumped


def merge_components(labels: I64, pairs: I64, overwrite: bool = False) -> I64:
    """Labels as :func:`connected_components` gives them, after adding ``pairs`` as edges to
    the graph that ``labels`` labels: only the components' labels (their smallest nodes) are
    joined, so the result is again each node's smallest connected node. With ``overwrite`` the
    result is written into ``labels`` (and returned): a caller linking band after band holds
    one array of labels instead of a new one per merge (x100: 8 million paragraphs, 61 MB).

    >>> merge_components(np.array([0, 0, 2, 3, 3]), np.array([[1, 4]])).tolist()
    [0, 0, 2, 0, 0]
    >>> labels = np.array([0, 1, 2, 3])
    >>> merge_components(labels, np.array([[3, 1]]), overwrite=True) is labels, labels.tolist()
    (True, [0, 1, 2, 1])
    """
    if len(pairs) == 0:
        return labels
    # Components over the labels the pairs touch only, numbered in sorted order so that the
    # smallest local index is the smallest label: the graph of all rows took five or six
    # row-long arrays per round (0.3 GB a merge at 8 million paragraphs).
    touched, local = np.unique(labels[pairs], return_inverse=True)
    joined = touched[connected_components(len(touched), local.reshape(-1, 2))]
    moved = joined != touched
    touched, joined = touched[moved], joined[moved]
    out = labels if overwrite else labels.copy()
    if len(touched):
        # Only the rows whose label moves are looked up: a byte a row to find them, not a
        # row-long map of every label (8 bytes a row, and a second array for the result).
        # Labels are row numbers, so a table of one flag per row says which move (a last,
        # unset flag for any label beyond it): np.isin's table copied the labels in range
        # and shifted them (two row-long int64 arrays, 128 MB a merge at x100's 8 million
        # paragraphs, the paragraph linking's peak).
        moving = np.zeros(max(len(labels), int(touched[-1]) + 1) + 1, dtype=np.bool_)
        moving[touched] = True
        hit = np.flatnonzero(np.take(moving, labels, mode="clip"))
        del moving
        out[hit] = joined[np.searchsorted(touched, labels[hit])]
    return out


def clustered_rows(labels: I64) -> tuple[I64, I64]:
    """The rows of every component of two rows or more (int64), grouped by component in the
    order of their labels and ascending inside, and each one's label (``labels``' type:
    each row's component as its smallest row, as :func:`connected_components` gives them).

    A row is clustered where its label is another row, or other rows have it as theirs: two
    bytes a row to find, where counting each component's rows (int64) and looking the counts
    up for every row held 16 (x100 paragraphs: 8 million rows). The clustered rows are then
    ordered by one sort of ``label * rows + row`` codes.

    >>> members, keeper = clustered_rows(np.array([0, 1, 0, 3, 1, 5]))
    >>> members.tolist(), keeper.tolist()
    ([0, 2, 1, 4], [0, 0, 1, 1])
    """
    count = len(labels)
    rows = np.arange(count, dtype=labels.dtype)
    joined = labels != rows
    del rows
    clustered = joined.copy()
    clustered[labels[joined]] = True  # the label of a joined row: its component's smallest
    del joined
    where = np.flatnonzero(clustered)
    del clustered
    codes = labels[where].astype(np.int64)
    codes *= np.int64(count)
    codes += where
    del where
    codes.sort()
    members = codes % np.int64(count)
    np.floor_divide(codes, np.int64(count), out=codes)
    return members, codes.astype(labels.dtype, copy=False)


def keepers(labels: I64, lengths: npt.NDArray[np.int64], rule: Literal["first", "longest"]) -> I64:
    """The kept node of each node's component: the first (smallest index = input order), or the
    longest with ties to the first.

    >>> keepers(np.array([0, 1, 0, 0]), np.array([5, 9, 7, 7]), "longest").tolist()
    [2, 1, 2, 2]
    """
    if rule == "first":
        return labels.copy()
    nodes = np.arange(len(labels))
    # Sort by component, then longest first, then input order; the first of each run wins.
    order = np.lexsort((nodes, -lengths, labels))
    sorted_labels = labels[order]
    starts = run_starts(sorted_labels)
    winner = np.empty(len(labels), dtype=np.int64)
    winner[sorted_labels[starts]] = order[starts]
    return winner[labels]


def equal_key_pairs(
    keys: npt.NDArray[np.uint64], mask: npt.NDArray[np.bool_], dtype: type = np.int64
) -> I64:
    """Pairs (first, other) linking every masked node to the first masked node with the same
    key: exact duplicates as a star, linear in their number; node numbers as ``dtype``.

    >>> equal_key_pairs(np.array([7, 3, 7, 7], dtype=np.uint64), np.array([True] * 4)).tolist()
    [[0, 2], [0, 3]]
    """
    # Sorted by key, ties by node (x100: 8 million paragraph keys, 1.8 s by lexsort).
    # Which sorted keys equal the one before them comes out of the sort (its ties), not from
    # gathering the keys again in sorted order.
    selected = np.flatnonzero(mask)
    same = np.zeros(len(selected), dtype=np.bool_)
    order = selected[stable_argsort(keys[selected], ties=same)]
    del selected
    if len(order) < 2:
        return np.empty((0, 2), dtype=dtype)
    run_first = order[np.maximum.accumulate(np.where(~same, np.arange(len(order)), 0))]
    # Filled column by column: no stack of the int64 columns beside the result.
    pairs: I64 = np.empty((int(same.sum()), 2), dtype=dtype)
    pairs[:, 0] = run_first[same]
    del run_first
    pairs[:, 1] = order[same]
    return pairs
