"""Previews of every eligible paragraph, cut by a forked child while the parent links.

clusters.jsonl shows each paragraph member's first characters. Which paragraphs are members is
known only once linking ends, so their texts had to wait for pass two (x10: 0.8 s of reading
and cutting before clusters.jsonl could start). Where forking is safe, a child forked as
linking begins reads the input again and cuts the preview of every paragraph that could
become a member (the eligible ones: 806,000 at x10, ~100 MB), on the core that linking leaves
idle much of the time; the writers then look members up by (record position, start). The
files are anonymous temporary files: nothing is left behind, whatever happens.
"""

from __future__ import annotations

import mmap
import os
import tempfile
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt

from dedupe.forks import ForkedCall
from dedupe.records import Record, Skipped
from dedupe.result import ClusterTable
from dedupe.spool import TextRanges

I64 = npt.NDArray[np.int64]
_ENCODING = ("utf-8", "surrogatepass")
#: A record position and a paragraph's first character make one key: position << _SHIFT | start.
_SHIFT = 32
#: Keys the child writes at a time (8 MB).
KEY_CHUNK = 1 << 20


def unit_keys(positions: npt.ArrayLike, starts: npt.ArrayLike) -> I64:
    """The lookup key of each paragraph: its record's position and its first character."""
    return (np.asarray(positions, dtype=np.int64) << _SHIFT) | np.asarray(starts, dtype=np.int64)


class UnitPreviews:
    """The previews (up to ``limit`` characters) of paragraphs given as spans of records,
    written by a forked child (:meth:`start`) and read here once it is done (:meth:`wait`).
    Use it as a context manager: leaving it stops a child still running (its previews are not
    needed then) and drops the files."""

    def __init__(self, limit: int, directory: Path | str | None = None) -> None:
        self._limit = limit
        folder = None if directory is None else str(directory)
        # Held open across calls and closed by close(): no with-block can scope them.
        self._data = tempfile.TemporaryFile(prefix=".dedupe-units-", dir=folder)  # noqa: SIM115
        self._index = tempfile.TemporaryFile(prefix=".dedupe-units-", dir=folder)  # noqa: SIM115
        self._call: ForkedCall | None = None
        self._keys: np.ndarray | None = None
        self._offsets: np.ndarray | None = None
        self._lengths: np.ndarray | None = None
        self._map: mmap.mmap | None = None

    def start(
        self,
        spans: Callable[[], tuple[I64, I64, I64]],
        records: Callable[[], Iterable[Record | Skipped]],
    ) -> bool:
        """Fork the child: it calls ``spans()`` for the paragraphs (record positions,
        ascending, and character spans), reads ``records()`` and writes their previews.
        Whether it started (the caller checks that forking is safe)."""
        self._call = ForkedCall(lambda: self._write(spans, records()))
        return self._call.start(fork=True)

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

    def _write(
        self,
        spans: Callable[[], tuple[np.ndarray, np.ndarray, np.ndarray]],
        records: Iterable[Record | Skipped],
    ) -> None:
        """The child's work: every paragraph's preview, in order, and the index: the keys
        first (written and dropped before the records are read), then each stretch of offsets
        and lengths in its place as the previews are cut. At x100 the child holds 6 bytes per
        paragraph (its start and preview length), 8 million of them, while the parent links."""
        positions, starts, ends = spans()
        total = len(positions)
        if total and (int(positions[-1]) >= 1 << 31 or int(starts.max()) >= 1 << 32):
            raise OverflowError("paragraph keys need positions < 2**31, offsets < 2**32")
        if total:
            firsts = np.flatnonzero(np.r_[True, positions[1:] != positions[:-1]])
        else:
            firsts = np.empty(0, dtype=np.int64)
        lasts = np.r_[firsts[1:], total].astype(np.int64)
        wanted = positions[firsts].tolist()
        # Of the ends, only each preview's length is kept: at most ``limit`` characters, in
        # two bytes where that fits (x100: 16 MB instead of 32 through the child's reading).
        lengths: npt.NDArray[np.integer] = np.empty(
            total, dtype=np.uint16 if self._limit < 1 << 16 else np.int64
        )
        with open(self._index.fileno(), "wb", closefd=False) as index:
            for begin in range(0, total, KEY_CHUNK):  # no int64 copy of them all
                end = begin + KEY_CHUNK
                index.write(unit_keys(positions[begin:end], starts[begin:end]).data)
                lengths[begin:end] = np.minimum(ends[begin:end] - starts[begin:end], self._limit)
            index.truncate(20 * total)
        del positions, ends
        encoding, errors = _ENCODING
        next_group = 0
        stretch = _IndexStretch(self._index.fileno(), total)
        with open(self._data.fileno(), "wb", closefd=False) as out:
            for item in records:
                if next_group == len(wanted):
                    break
                if not isinstance(item, Record) or item.position != wanted[next_group]:
                    continue
                first, last = int(firsts[next_group]), int(lasts[next_group])
                text = item.text
                begins = starts[first:last].astype(np.int64)
                cuts = [
                    piece.encode(encoding, errors)
                    for piece in map(
                        text.__getitem__,
                        map(slice, begins.tolist(), (begins + lengths[first:last]).tolist()),
                    )
                ]
                stretch.add(np.fromiter(map(len, cuts), np.int32, count=len(cuts)))
                out.write(b"".join(cuts))
                next_group += 1
        if next_group != len(wanted):
            raise ValueError("records ended before every paragraph's was read")
        stretch.flush()

    def read(self, keys: I64) -> list[str]:
        """The previews of the paragraphs with these :func:`unit_keys` ("" for one not
        written)."""
        assert self._keys is not None and self._offsets is not None and self._lengths is not None
        if not len(self._keys):
            return [""] * len(keys)
        at = np.minimum(np.searchsorted(self._keys, keys), len(self._keys) - 1)
        found = np.asarray(self._keys[at] == keys)
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
