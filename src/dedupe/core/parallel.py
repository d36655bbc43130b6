"""Chunks of one array computation spread over threads.

numpy lets go of the interpreter lock inside its loops (gathers, comparisons, sorts,
reductions), so independent chunks of a verification run side by side on a second core. Each
chunk writes only its own slice of the output: the result does not depend on the threads.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

Bounds = Sequence[tuple[int, int]]


def for_each_share(bounds: Bounds, work: Callable[[Bounds], None], threads: int = 1) -> None:
    """Split the chunks ``bounds`` into up to ``threads`` contiguous shares of about equal
    count and call ``work(share)`` for each, on its own thread. A share's chunks are done by one
    call, so it can allocate its scratch arrays once: a fresh 1 MB array per chunk costs page
    faults (1.1 s instead of 0.7 s for the x10 exact verification).

    >>> seen = []
    >>> for_each_share([(0, 2), (2, 5), (5, 6)], lambda share: seen.append(list(share)), 2)
    >>> sorted(seen)
    [[(0, 2), (2, 5)], [(5, 6)]]
    >>> for_each_share([], lambda share: seen.append(share), 2)  # no chunk, no call
    >>> len(seen)
    2
    """
    if not bounds:
        return
    count = max(1, min(threads, len(bounds)))
    size = -(-len(bounds) // count)
    shares = [bounds[i : i + size] for i in range(0, len(bounds), size)]
    if len(shares) <= 1:
        for share in shares:
            work(share)
        return
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(len(shares), thread_name_prefix="dedupe") as pool:
        for done in [pool.submit(work, share) for share in shares]:
            done.result()  # re-raises a share's error here
