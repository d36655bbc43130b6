"""Previews of every eligible paragraph, cut by a forked child while the parent links.

clusters.jsonl shows each paragraph member's first characters. Which paragraphs are members is
known only once linking ends, so their texts had to wait for pass two (x10: 0.8 s of reading
and cutting before clusters.jsonl could start). Where forking is safe, a child forked when the
scan starts (:meth:`UnitPreviews.park`, while the scan process is small: see
:class:`~dedupe.forks.ParkedCall`) waits until pass one ends, then reads the input again and
cuts the preview of every paragraph that could become a member (the eligible ones: 806,000 at
x10, ~100 MB), on the core that linking leaves idle much of the time; the writers then look
members up by (record position, start). The scan writes the paragraphs' keys and preview
lengths into the child's files before it links (:meth:`UnitPreviews.start`); the child maps
them. The files are anonymous temporary files: nothing is left behind, whatever happens.
"""

from __future__ import annotations

import mmap
import os
import tempfile
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt

from dedupe.core.runs import index_in_sorted
from dedupe.forks import ParkedCall
from dedupe.records import Record, Skipped
from dedupe.result import ClusterTable
from dedupe.spool import TextRanges

I64 = npt.NDArray[np.int64]
_ENCODING = ("utf-8", "surrogatepass")
#: A record position and a paragraph's first character make one key: position << _SHIFT | start.
_SHIFT = 32
#: Keys the child reads at a time (8 MB).
KEY_CHUNK = 1 << 20


def unit_keys(positions: npt.ArrayLike, starts: npt.ArrayLike) -> I64:
    """The lookup key of each paragraph: its record's position and its first character."""
    return (np.asarray(positions, dtype=np.int64) << _SHIFT) | np.asarray(starts, dtype=np.int64)


_START_MASK = np.int64((1 << _SHIFT) - 1)


def _record_runs(keys: np.ndarray) -> tuple[I64, I64]:
    """Where each record's paragraphs begin among ``keys`` (ascending by record) and the
    records' positions, a chunk of :data:`KEY_CHUNK` keys at a time: two arrays of one number
    a record (Python lists of them were 28 MB in the child at x100).

    >>> firsts, positions = _record_runs(unit_keys([0, 0, 2, 5, 5], [0, 9, 0, 3, 7]))
    >>> firsts.tolist(), positions.tolist()
    ([0, 2, 3], [0, 2, 5])
    """
    firsts: list[np.ndarray] = []
    positions: list[np.ndarray] = []
    previous = -1
    for begin in range(0, len(keys), KEY_CHUNK):
        chunk = np.asarray(keys[begin : begin + KEY_CHUNK]) >> _SHIFT
        new = np.flatnonzero(np.r_[chunk[0] != previous, chunk[1:] != chunk[:-1]])
        firsts.append(new + begin)
        positions.append(chunk[new])
        previous = int(chunk[-1])
    return _joined(firsts), _joined(positions)


def _joined(parts: list[np.ndarray]) -> I64:
    return np.concatenate(parts).astype(np.int64) if parts else np.empty(0, dtype=np.int64)


class UnitPreviews:
    """The previews (up to ``limit`` characters) of paragraphs given as spans of records,
    written by a forked child (:meth:`park`, then :meth:`start`) and read here once it is done
    (:meth:`wait`). Use it as a context manager: leaving it stops a child still running (its
    previews are not needed then) and drops the files."""

    def __init__(self, limit: int, directory: Path | str | None = None) -> None:
        self._limit = limit
        folder = None if directory is None else str(directory)
        # Held open across calls and closed by close(): no with-block can scope them.
        self._data = tempfile.TemporaryFile(prefix=".dedupe-units-", dir=folder)  # noqa: SIM115
        self._index = tempfile.TemporaryFile(prefix=".dedupe-units-", dir=folder)  # noqa: SIM115
        # The preview length of each paragraph in characters, written by start().
        self._cuts = tempfile.TemporaryFile(prefix=".dedupe-units-", dir=folder)  # noqa: SIM115
        self._cut_dtype = np.dtype(np.uint16 if limit < 1 << 16 else np.int64)
        self._call: ParkedCall | None = None
        self._keys: np.ndarray | None = None
        self._offsets: np.ndarray | None = None
        self._lengths: np.ndarray | None = None
        self._map: mmap.mmap | None = None

    def park(self, records: Callable[[], Iterable[Record | Skipped]]) -> bool:
        """Fork the child now (the caller checks that forking is safe): once :meth:`start`
        has written the paragraphs, it reads ``records()`` and writes their previews. Whether
        it was forked."""
        self._call = ParkedCall(lambda message: self._cut(int(message), records()))
        return self._call.park()

    def start(self, spans: Iterable[tuple[np.ndarray, np.ndarray, np.ndarray]]) -> bool:
        """Write the paragraphs (``spans``: chunks of record positions, ascending, and
        character spans) and tell the parked child to cut them; whether it was told (not where
        none is parked or a key cannot hold a position or start, when it is stopped)."""
        if self._call is None:
            return False
        try:
            total = self.store(spans)
        except OverflowError:
            self._call.stop()
            return False
        return self._call.go(str(total).encode("ascii"))

    def store(self, spans: Iterable[tuple[np.ndarray, np.ndarray, np.ndarray]]) -> int:
        """Write the keys of the paragraphs (:func:`unit_keys`) in the index and their preview
        lengths in characters, a chunk of ``spans`` at a time (the scan holds one chunk, not 16
        bytes for each of 8 million paragraphs at x100); the number of paragraphs."""
        total = 0
        last_position = -1
        with (
            open(self._index.fileno(), "wb", closefd=False) as index,
            open(self._cuts.fileno(), "wb", closefd=False) as cuts,
        ):
            for positions, starts, ends in spans:
                if not len(positions):
                    continue
                if int(positions[-1]) >= 1 << 31 or int(starts.max()) >= 1 << 32:
                    raise OverflowError("paragraph keys need positions < 2**31, offsets < 2**32")
                if int(positions[0]) < last_position:
                    raise ValueError("paragraph spans must come in record order")
                last_position = int(positions[-1])
                index.write(unit_keys(positions, starts).data)
                lengths = np.minimum(np.subtract(ends, starts, dtype=np.int64), self._limit)
                cuts.write(lengths.astype(self._cut_dtype).data)
                total += len(positions)
            index.truncate(20 * total)  # the offsets and lengths of the previews follow
        return total

    def wait(self) -> bool:
        """Wait for the child; whether the previews are there to read."""
        if self._call is None or not self._call.wait():
            return False
        self.load()
        return True

    def load(self) -> None:
        """Read the index the child wrote (:meth:`wait` does)."""
        size = self._index_size()
        if size == 0:  # no paragraph (an empty file cannot be mapped)
            self._keys = self._offsets = np.empty(0, dtype=np.int64)
            self._lengths = np.empty(0, dtype=np.int32)
            return
        self._keys = np.memmap(self._index, dtype=np.int64, mode="r", shape=(size,))
        self._offsets = np.memmap(
            self._index, dtype=np.int64, mode="r", offset=8 * size, shape=(size,)
        )
        self._lengths = np.memmap(
            self._index, dtype=np.int32, mode="r", offset=16 * size, shape=(size,)
        )
        self._data.seek(0, 2)
        if self._data.tell():
            self._map = mmap.mmap(self._data.fileno(), 0, access=mmap.ACCESS_READ)

    def _index_size(self) -> int:
        self._index.seek(0, 2)
        return self._index.tell() // 20  # a key, an offset (8 bytes each), a length (4)

    def _cut(self, total: int, records: Iterable[Record | Skipped]) -> None:
        """The child's work: the preview of each of the ``total`` paragraphs :meth:`store`
        wrote, in order, and their offsets and lengths, each stretch in its place in the index
        as the previews are cut. The keys and lengths are read from their files (mapped): the
        child holds a few bytes per record, not per paragraph."""
        if total == 0:  # nothing to cut (and an empty file cannot be mapped)
            return
        keys = np.memmap(self._index, dtype=np.int64, mode="r", shape=(total,))
        limits = np.memmap(self._cuts, dtype=self._cut_dtype, mode="r", shape=(total,))
        firsts, wanted = _record_runs(keys)
        bounds = np.r_[firsts, total]
        encoding, errors = _ENCODING
        next_group = 0
        groups = len(wanted)
        waiting_for = int(wanted[0]) if groups else -1
        stretch = _IndexStretch(self._index.fileno(), total)
        with open(self._data.fileno(), "wb", closefd=False) as out:
            for item in records:
                if next_group == groups:
                    break
                if not isinstance(item, Record) or item.position != waiting_for:
                    continue
                first, last = int(bounds[next_group]), int(bounds[next_group + 1])
                text = item.text
                begins = np.asarray(keys[first:last]) & _START_MASK
                cuts = [
                    piece.encode(encoding, errors)
                    for piece in map(
                        text.__getitem__,
                        map(slice, begins.tolist(), (begins + limits[first:last]).tolist()),
                    )
                ]
                stretch.add(np.fromiter(map(len, cuts), np.int32, count=len(cuts)))
                out.write(b"".join(cuts))
                next_group += 1
                waiting_for = int(wanted[next_group]) if next_group < groups else -1
        if next_group != groups:
            raise ValueError("records ended before every paragraph's was read")
        stretch.flush()

    def read(self, keys: I64) -> list[str]:
        """The previews of the paragraphs with these :func:`unit_keys` ("" for one not
        written)."""
        assert self._keys is not None and self._offsets is not None and self._lengths is not None
        if not len(self._keys):
            return [""] * len(keys)
        at = index_in_sorted(self._keys, keys)  # -1 (the last entry, read for 0 bytes): none
        found = at >= 0
        offsets = np.asarray(self._offsets[at]).tolist()
        lengths = np.where(found, self._lengths[at], 0).tolist()
        data = self._map
        encoding, errors = _ENCODING
        if data is None:
            return [""] * len(keys)
        return [
            data[offset : offset + length].decode(encoding, errors) if length else ""
            for offset, length in zip(offsets, lengths, strict=True)
        ]

    def texts(self, table: ClusterTable) -> Sequence[str]:
        """The member texts of ``table``: paragraph previews, or "" for documents."""
        if table.starts is None:
            return Blank(table.members)
        return TableTexts(self, table)

    def close(self) -> None:
        """Drop the files; a child still running is stopped (its previews are not needed)."""
        if self._call is not None:
            self._call.stop()
        self._keys = self._offsets = self._lengths = None
        if self._map is not None:
            self._map.close()
            self._map = None
        self._data.close()
        self._index.close()
        self._cuts.close()

    def __enter__(self) -> UnitPreviews:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class _IndexStretch:
    """The offsets and lengths of the previews cut so far, written into their places in the
    index file (after the ``total`` keys) every :data:`STRETCH` paragraphs."""

    STRETCH = 1 << 16

    def __init__(self, fd: int, total: int) -> None:
        self._fd = fd
        self._total = total
        self._lengths: list[np.ndarray] = []
        self._waiting = 0
        self._written = 0  # paragraphs whose offsets and lengths are in the file
        self._offset = 0  # where the next preview starts in the data file

    def add(self, lengths: np.ndarray) -> None:
        self._lengths.append(lengths)
        self._waiting += len(lengths)
        if self._waiting >= self.STRETCH:
            self.flush()

    def flush(self) -> None:
        if not self._waiting:
            return
        lengths = np.concatenate(self._lengths)
        ends = np.cumsum(lengths, dtype=np.int64) + self._offset
        offsets = ends - lengths
        _pwrite_all(self._fd, offsets.tobytes(), 8 * (self._total + self._written))
        _pwrite_all(self._fd, lengths.tobytes(), 16 * self._total + 4 * self._written)
        self._written += len(lengths)
        self._offset = int(ends[-1])
        self._lengths, self._waiting = [], 0


def _pwrite_all(fd: int, data: bytes, at: int) -> None:
    """Write all of ``data`` at ``at`` (pwrite may write less than asked)."""
    view = memoryview(data)
    while view:
        done = os.pwrite(fd, view, at)
        view, at = view[done:], at + done


class TableTexts(TextRanges):
    """A paragraph table's member previews, read from :class:`UnitPreviews` by range."""

    def __init__(self, previews: UnitPreviews, table: ClusterTable) -> None:
        assert table.starts is not None
        self._previews = previews
        self._positions = table.positions
        self._starts = table.starts
        self._size = table.members

    def _read(self, first: int, last: int) -> list[str]:
        keys = unit_keys(self._positions[first:last], self._starts[first:last])
        return self._previews.read(keys)


class Blank(TextRanges):
    """``size`` empty texts (document members show none)."""

    def __init__(self, size: int) -> None:
        self._size = size

    def _read(self, first: int, last: int) -> list[str]:
        return [""] * (last - first)
