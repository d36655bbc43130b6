"""The ``dedupe`` console script and ``python -m dedupe``: the process is prepared before the
command's modules (and numpy with them) are imported, then :mod:`dedupe.cli` runs."""

from __future__ import annotations


def run() -> None:
    """Choose numpy's CPU features (:func:`dedupe.simd.prefer_fast_sort`), then run the
    command."""
    from dedupe.simd import prefer_fast_sort

    prefer_fast_sort()
    from dedupe.cli import run as run_command

    run_command()
