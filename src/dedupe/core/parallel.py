"""Chunks of one array computation spread over threads.

numpy lets go of the interpreter lock inside its loops (gathers, comparisons, sorts,
reductions), so independent chunks of a verification run side by side on a second core. Each
chunk writes only its own slice of the output: the result does not depend on the threads.
"""

from __future__ import annotations

import bisect
import itertools
from collections.abc import Callable, Sequence

Bounds = Sequence[tuple[int, int]]


def for_each_share(bounds: Bounds, work: Callable[[Bounds], None], threads: int = 1) -> None:
    """Split the chunks ``bounds`` into up to ``threads`` contiguous shares of about equal
    count (:func:`split_shares`) and call ``work(share)`` for each, the first on this thread
    and each other on a thread of its own. A share's chunks are done by one call, so it can
    allocate its scratch arrays once: a fresh 1 MB array per chunk costs page faults (1.1 s
    instead of 0.7 s for the x10 exact verification).

    >>> seen = []
    >>> for_each_share([(0, 2), (2, 5), (5, 6)], lambda share: seen.append(list(share)), 2)
    >>> sorted(seen)
    [[(0, 2), (2, 5)], [(5, 6)]]
    >>> for_each_share([], lambda share: seen.append(share), 2)  # no chunk, no call
    >>> len(seen)
    2
    """
    shares = [bounds[first:last] for first, last in split_shares([1] * len(bounds), threads)]
    if len(shares) <= 1:
        for share in shares:
            work(share)
        return
    from concurrent.futures import ThreadPoolExecutor

    # The first share is worked here: one thread fewer to start per call (linking verifies
    # each band's pieces in a call of their own, over a hundred calls at x10).
    with ThreadPoolExecutor(len(shares) - 1, thread_name_prefix="dedupe") as pool:
        others = [pool.submit(work, share) for share in shares[1:]]
        work(shares[0])
        for done in others:
            done.result()  # re-raises a share's error here


def split_shares(weights: Sequence[int], shares: int) -> list[tuple[int, int]]:
    """Cut items of ``weights`` into at most ``shares`` contiguous ranges ``(first, last)`` of
    about equal total weight, none empty.

    >>> split_shares([5, 1, 1, 1, 1, 1], 2)
    [(0, 1), (1, 6)]
    >>> split_shares([1, 1, 1], 5)
    [(0, 1), (1, 2), (2, 3)]
    >>> split_shares([], 3)
    []
    """
    cumulative = list(itertools.accumulate(weights))
    if not cumulative:
        return []
    total = cumulative[-1]
    # Cut after the item where the running weight reaches k / shares of the total.
    cuts = sorted(
        {
            min(max(bisect.bisect_left(cumulative, total * k / shares) + 1, 1), len(weights) - 1)
            for k in range(1, shares)
        }
        - {0}
    )
    edges = [0, *cuts, len(weights)]
    return [(first, last) for first, last in itertools.pairwise(edges) if first < last]


def even_parts(count: int, parts: int) -> list[tuple[int, int]]:
    """``(first, last)`` ranges cutting ``count`` items into ``parts`` of about equal size, in
    order (some empty where there are fewer items than parts).

    >>> even_parts(10, 3)
    [(0, 3), (3, 6), (6, 10)]
    """
    edges = [count * k // parts for k in range(parts + 1)]
    return list(itertools.pairwise(edges))
