"""Output formatted in forked children: the same bytes as formatting it here, in share order."""

from __future__ import annotations

import io
import itertools
import os
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import IO

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dedupe.core.parallel import split_shares
from dedupe.forks import ForkedCall, ForkedShares, ParkedCall, can_fork

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
    other tests left (Dask's), beside which no code should fork. Not a pool's worker, whose
    daemon process could not start the scan's own workers."""
    code = (
        "import sys; from pathlib import Path; from tests.test_forks import "
        f"{check.__name__} as check; check(Path(sys.argv[1]))"
    )
    root = Path(__file__).resolve().parent.parent
    done = subprocess.run(
        [sys.executable, "-c", code, str(folder)], cwd=root, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr


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


def _started(path: Path, shares: list[tuple[int, int]], write=_lines) -> str:
    """The shares written by :meth:`ForkedShares.start` with the stream (the first child
    writes into it) and :meth:`append_into`, after a line already in the file."""
    with (
        path.open("w", encoding="utf-8", newline="") as stream,
        ForkedShares(shares, write, path.parent) as forked,
    ):
        stream.write("header\n")
        forked.start(stream)
        forked.append_into(stream)
        stream.write("footer\n")
        assert stream.tell() == len(("header\n" + _expected(shares) + "footer\n").encode())
    return path.read_text(encoding="utf-8")


def _check_started_into_the_stream(folder: Path) -> None:
    parent = os.getpid()
    seen: list[str] = []

    def tagged(share: tuple[int, int], stream: IO[str]) -> None:
        _lines(share, stream)
        # The first share's child writes into the output itself: nothing in its part file.
        seen.append("here" if os.getpid() == parent else "child")

    for number, shares in enumerate([split_shares([3, 1, 4, 1, 5, 9, 2, 6], 3), [(0, 4)]]):
        path = folder / f"out{number}.txt"
        assert _started(path, shares, tagged) == "header\n" + _expected(shares) + "footer\n"
    assert seen == []  # every share in a child
    assert sorted(p.name for p in folder.iterdir()) == ["out0.txt", "out1.txt"]


def _check_failed_direct_child(folder: Path) -> None:
    parent = os.getpid()

    def fails_in_children(share: tuple[int, int], stream: IO[str]) -> None:
        if os.getpid() != parent:
            _lines(share, stream)
            stream.write("half a line" * 1000)
            stream.flush()  # what it wrote is in the file: it must be cut
            raise OSError("no space left on device")
        _lines(share, stream)

    shares = [(0, 2), (2, 5), (5, 6)]
    expected = "header\n" + _expected(shares) + "footer\n"
    assert _started(folder / "out.txt", shares, fails_in_children) == expected


@needs_fork
@pytest.mark.parametrize(
    "check",
    [_check_started_into_the_stream, _check_failed_direct_child],
    ids=["the first child writes into the output", "a failed one is cut and redone here"],
)
def test_started_shares_with_the_output_given(
    tmp_path: Path, check: Callable[[Path], None]
) -> None:
    _in_fresh_process(check, tmp_path)


@pytest.mark.parametrize("fails_after", [0, 5, None])
def test_parts_are_appended_whole_whatever_the_kernel_copies(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fails_after: int | None
) -> None:
    from dedupe import forks

    real = os.copy_file_range

    def copy_range(src: int, dst: int, count: int, offset_src: int | None = None) -> int:
        if fails_after is not None and (offset_src or 0) >= fails_after:
            raise OSError(18, "Invalid cross-device link")
        return real(src, dst, min(count, 3), offset_src)  # a few bytes at a time

    monkeypatch.setattr(forks.os, "copy_file_range", copy_range)
    part = (tmp_path / "part").open("w+b")
    part.write("part é\n".encode() * 4)
    part.flush()
    with (tmp_path / "out.txt").open("w", encoding="utf-8", newline="") as stream:
        stream.write("head\n")
        forks._copy_file(part, stream)
        stream.write("tail\n")
    part.close()
    assert (tmp_path / "out.txt").read_text(
        encoding="utf-8"
    ) == "head\n" + "part é\n" * 4 + "tail\n"


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


# --- pass two beside forked children -------------------------------------------------------------


def _scan_outputs(folder: Path, jobs: int) -> dict[str, bytes]:
    import json

    from dedupe import scan_path
    from tests.test_determinism import _corpus

    source = folder / "in.jsonl"
    if not source.exists():
        source.write_text("".join(json.dumps(doc) + "\n" for doc in _corpus(3)))
    out = folder / f"out-{jobs}"
    scan_path(str(source), out, jobs=jobs)
    summary = json.loads((out / "summary.json").read_text())
    summary.pop("elapsed_seconds"), summary.pop("output")
    files = {p.name: p.read_bytes() for p in out.iterdir() if p.name != "summary.json"}
    return {**files, "summary.json": json.dumps(summary).encode()}


def _record_pass_two(folder: Path, fail_in_child: bool = False, units_fail: bool = False) -> None:
    """Wrap pass two so that each call notes its process and part in ``folder/calls``, and
    the paragraph previews' child so that it notes itself; with ``fail_in_child``, cleaned
    copies written in a child fail (after writing a few); with ``units_fail``, the child that
    cuts the paragraph previews during linking fails."""
    from dedupe import api, unit_previews

    parent, original = os.getpid(), api._pass_two
    write_units = unit_previews.UnitPreviews._cut

    def note(line: str) -> None:
        with (folder / "calls").open("a") as calls:
            calls.write(line + "\n")

    def noted(records, analysis, writer=None, previews=None, sampler=None, count=True):
        where = "parent" if os.getpid() == parent else "child"
        note(f"{where} {'cleaned' if writer else ''} {'previews' if previews else ''}")
        if fail_in_child and where == "child":
            records = iter(records)
            for record in itertools.islice(records, 5):
                original([record], analysis, writer, count=False)
            raise OSError("no space left on device")
        original(records, analysis, writer, previews, sampler, count)

    def units_noted(self, *args):
        note(f"{'parent' if os.getpid() == parent else 'child'} units")
        if units_fail:
            raise OSError("no space left on device")
        write_units(self, *args)

    api._pass_two = noted
    unit_previews.UnitPreviews._cut = units_noted


def _calls(folder: Path) -> list[str]:
    return sorted((folder / "calls").read_text().split("\n")[:-1])


def _check_previews_cut_while_linking(folder: Path) -> None:
    expected = _scan_outputs(folder, jobs=1)
    assert "cleaned.jsonl" in expected and b"duplicates" not in expected["cleaned.jsonl"]
    assert b'"level": "paragraph"' in expected["clusters.jsonl"]
    _record_pass_two(folder)
    assert _scan_outputs(folder, jobs=2) == expected
    # A child cut the previews; pass two here wrote the cleaned copies and cut nothing.
    assert _calls(folder) == ["child units", "parent cleaned "]
    assert sorted(p.name for p in (folder / "out-2").iterdir()) == sorted(expected)


def _check_forked_cleaned_copies(folder: Path) -> None:
    expected = _scan_outputs(folder, jobs=1)
    _record_pass_two(folder, units_fail=True)
    assert _scan_outputs(folder, jobs=2) == expected
    # Without the children's previews, pass two cuts them here beside a child writing the
    # cleaned copies.
    assert _calls(folder) == ["child cleaned ", "child units", "parent  previews"]
    assert sorted(p.name for p in (folder / "out-2").iterdir()) == sorted(expected)


def _check_failed_cleaning_child(folder: Path) -> None:
    expected = _scan_outputs(folder, jobs=1)
    _record_pass_two(folder, fail_in_child=True, units_fail=True)
    assert _scan_outputs(folder, jobs=2) == expected
    calls = _calls(folder)
    # The child's failed part and its redo here (the previews' part runs here once).
    assert calls.count("child cleaned ") == 1 and calls.count("parent cleaned ") == 1
    assert sorted(p.name for p in (folder / "out-2").iterdir()) == sorted(expected)


def _check_call_error_waits(folder: Path) -> None:
    marker = folder / "child-done"

    def slow_job() -> None:
        import time

        time.sleep(0.3)
        marker.touch()

    with pytest.raises(ValueError, match="here"), ForkedCall(slow_job) as call:
        assert call.start(fork=True)
        raise ValueError("failed here")
    assert marker.exists()  # the child finished: its output is whole, not cut off
    with pytest.raises(ChildProcessError):
        os.waitpid(-1, os.WNOHANG)  # and was reaped


@needs_fork
def test_previews_cut_while_linking_give_the_same_output(tmp_path: Path) -> None:
    _in_fresh_process(_check_previews_cut_while_linking, tmp_path)


@needs_fork
def test_pass_two_forks_the_cleaned_copies_with_the_same_output(tmp_path: Path) -> None:
    _in_fresh_process(_check_forked_cleaned_copies, tmp_path)


@needs_fork
def test_a_failed_cleaning_child_is_redone_here(tmp_path: Path) -> None:
    _in_fresh_process(_check_failed_cleaning_child, tmp_path)


@needs_fork
def test_an_error_beside_a_forked_call_waits_for_it(tmp_path: Path) -> None:
    _in_fresh_process(_check_call_error_waits, tmp_path)


def test_a_call_not_forked_runs_at_join() -> None:
    ran: list[int] = []
    with ForkedCall(lambda: ran.append(1)) as call:
        assert not call.start(fork=False)
        assert ran == []
        call.join()
        call.join()
    assert ran == [1]


@pytest.mark.skipif(not can_fork(), reason="forks only on Linux, with no other thread")
def test_objects_stay_frozen_while_a_child_shares_them_and_thaw_after() -> None:
    import gc

    gc.unfreeze()
    read, write = os.pipe()

    def job() -> None:
        os.read(read, 1)  # runs until the parent has looked

    try:
        with ForkedCall(job) as call:
            assert call.start(fork=True)
            frozen = gc.get_freeze_count()
            os.write(write, b"x")
            assert call.wait()
    finally:
        os.close(read)
        os.close(write)
    assert frozen > 0  # the cycle collector left the shared pages alone while the child ran
    assert gc.get_freeze_count() == 0  # handed back once no child shares them


# --- a child parked early -------------------------------------------------------------------


def _check_parked_call(folder: Path) -> None:
    assert can_fork(), "a fresh interpreter runs no other thread"
    marker = folder / "told"
    made_after = []

    def job(message: bytes) -> None:
        marker.write_bytes(message + f" {len(made_after)}".encode())

    with ParkedCall(job) as call:
        assert call.park()
        made_after.append(1)  # after the fork: the child does not see it
        assert not call.wait()  # never told: nothing to wait for
        assert not marker.exists()
        assert call.go(b"cut these") and not call.go(b"twice")
        assert call.wait()
    assert marker.read_bytes() == b"cut these 0"
    # A child parked and never told is killed on leaving, and reaped.
    marker.unlink()
    with ParkedCall(job) as call:
        assert call.park()
    assert not marker.exists() and not call.go(b"late")
    with pytest.raises(ChildProcessError):
        os.waitpid(-1, os.WNOHANG)
    # One that dies before it is told: go() says so, and nothing waits for it.
    with ParkedCall(job) as call:
        assert call.park()
        call.stop()
        assert not call.go(b"gone") and not call.wait()
    # A job that fails: wait() says so (the caller does the work its own way).
    with ParkedCall(lambda message: 1 / 0) as call:
        assert call.park() and call.go(b"") and not call.wait()


def _check_parked_child_leaves_without_its_parent(folder: Path) -> None:
    """A parked child whose parent dies without telling it (killed: no exit handlers) leaves by
    itself within ParkedCall.POLL_S, though another process still holds the pipe's write
    end."""
    read, write = os.pipe()
    middle = os.fork()
    if middle == 0:  # the parent of the parked child
        os.close(read)
        ParkedCall.POLL_S = 0.05
        call = ParkedCall(lambda message: None)
        call.park()
        os.write(write, str(call._pid).encode())
        os.close(write)
        os.kill(os.getpid(), 9)
    os.close(write)
    parked = int(os.read(read, 20))
    os.close(read)
    os.waitpid(middle, 0)
    import time

    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        try:
            status = Path(f"/proc/{parked}/status").read_text()
        except OSError:
            return  # gone and reaped
        if "\nState:\tZ" in status:
            return  # exited; whoever adopted it has not reaped it yet
        time.sleep(0.05)
    raise AssertionError("the parked child outlived its parent")


@needs_fork
def test_a_parked_call_runs_when_told_and_only_then(tmp_path: Path) -> None:
    _in_fresh_process(_check_parked_call, tmp_path)


@needs_fork
def test_a_parked_child_leaves_when_its_parent_dies(tmp_path: Path) -> None:
    _in_fresh_process(_check_parked_child_leaves_without_its_parent, tmp_path)
