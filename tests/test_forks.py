"""Output formatted in forked children: the same bytes as formatting it here, in share order."""

from __future__ import annotations

import io
import multiprocessing
import os
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import IO

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dedupe.core.parallel import split_shares
from dedupe.forks import ForkedShares, can_fork

needs_fork = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="shares are forked on Linux only"
)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(0, 50), max_size=40), st.integers(1, 8))
def test_split_shares_tiles_the_items_in_balanced_ranges(weights: list[int], shares: int) -> None:
    ranges = split_shares(weights, shares)
    assert [i for first, last in ranges for i in range(first, last)] == list(range(len(weights)))
    assert all(first < last for first, last in ranges)
    assert len(ranges) <= shares
    if weights:
        # No range carries more than its fair part plus one item's weight.
        fair = sum(weights) / len(ranges)
        heaviest = max(weights)
        assert all(sum(weights[first:last]) <= fair + heaviest for first, last in ranges)


def _lines(share: tuple[int, int], stream: IO[str]) -> None:
    for number in range(*share):
        stream.write(f"line {number} é\n")


def _expected(shares: list[tuple[int, int]]) -> str:
    out = io.StringIO()
    for share in shares:
        _lines(share, out)
    return out.getvalue()


def _write(
    path: Path,
    shares: list[tuple[int, int]],
    write: Callable[[tuple[int, int], IO[str]], None] = _lines,
) -> str:
    with (
        path.open("w", encoding="utf-8", newline="") as stream,
        ForkedShares(shares, write, path.parent) as forked,
    ):
        forked.write_into(stream)
    return path.read_text(encoding="utf-8")


def _in_fresh_process(check: Callable[[Path], None], folder: Path) -> None:
    """Run ``check(folder)`` in a newly started interpreter: this one may run threads that
    other tests left (Dask's), beside which no code should fork."""
    with multiprocessing.get_context("spawn").Pool(1) as pool:
        pool.apply(check, (folder,))


def _check_order(folder: Path) -> None:
    assert can_fork(), "a fresh interpreter runs no other thread"
    parent = os.getpid()
    writers: list[int] = []

    def tagged(share: tuple[int, int], stream: IO[str]) -> None:
        _lines(share, stream)
        stream.write(f"by {'parent' if os.getpid() == parent else 'child'}\n")
        writers.append(os.getpid())

    shares = split_shares([3, 1, 4, 1, 5, 9, 2, 6], 3)
    text = _write(folder / "out.txt", shares, tagged)
    assert text.count("by parent\n") == 1 and text.count("by child\n") == len(shares) - 1
    assert text.replace("by parent\n", "").replace("by child\n", "") == _expected(shares)
    assert writers == [parent]  # the children's appends stayed in their own memory


def _check_failed_child(folder: Path) -> None:
    parent = os.getpid()

    def fails_in_children(share: tuple[int, int], stream: IO[str]) -> None:
        if os.getpid() != parent:
            stream.write("half a line")
            raise OSError("no space left on device")
        _lines(share, stream)

    shares = [(0, 2), (2, 5), (5, 6)]
    assert _write(folder / "out.txt", shares, fails_in_children) == _expected(shares)


def _check_error_reaps(folder: Path) -> None:
    parent = os.getpid()

    def fails_here(share: tuple[int, int], stream: IO[str]) -> None:
        if os.getpid() == parent:
            raise ValueError("formatting failed")
        _lines(share, stream)

    with pytest.raises(ValueError, match="formatting failed"):
        _write(folder / "out.txt", [(0, 1), (1, 2), (2, 3)], fails_here)
    with pytest.raises(ChildProcessError):
        os.waitpid(-1, os.WNOHANG)  # no child left, not even a zombie
    assert [p.name for p in folder.iterdir()] == ["out.txt"]  # parts were never linked


@needs_fork
def test_shares_land_in_order_and_children_write_their_own(tmp_path: Path) -> None:
    _in_fresh_process(_check_order, tmp_path)


@needs_fork
def test_a_failed_child_share_is_written_again_here(tmp_path: Path) -> None:
    _in_fresh_process(_check_failed_child, tmp_path)


@needs_fork
def test_an_error_here_stops_and_reaps_the_children(tmp_path: Path) -> None:
    _in_fresh_process(_check_error_reaps, tmp_path)


def test_no_fork_beside_another_thread() -> None:
    release = threading.Event()
    thread = threading.Thread(target=release.wait)
    thread.start()
    try:
        assert not can_fork()
    finally:
        release.set()
        thread.join()


def test_one_share_or_none_is_written_here(tmp_path: Path) -> None:
    assert _write(tmp_path / "one.txt", [(0, 4)]) == _expected([(0, 4)])
    assert _write(tmp_path / "none.txt", []) == ""
