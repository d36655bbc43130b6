"""Member texts parked on disk between pass two, which cuts them, and the writers, which read
them in cluster order.

Pass two visits records in input order; clusters.jsonl lists members cluster by cluster, so
every preview must wait somewhere. At x100 the previews of 6.3 million cluster members (up to
200 characters each, ~0.8 GB of text) were held as strings. Here each text is encoded (UTF-8, lone
surrogates passed through) and appended to one of a few temporary files, the bucket of its
member number, with its offset and length kept in two arrays (12 bytes a member). A reader
going through the members in order loads one bucket at a time; a single text is read on its
own. The files are anonymous temporary files: nothing is left behind, whatever happens.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import IO, overload

import numpy as np

__all__ = ["BUCKETS", "PreviewSpool", "SpooledTexts", "TextRanges"]

#: At most this many bucket files, each a contiguous range of member numbers; with 6 million
#: members of ~130 bytes a bucket holds ~13 MB at x100, which is what a reader loads at once.
BUCKETS = 64
#: Buckets hold at least this many members: a small input makes one or two files.
MIN_BUCKET_MEMBERS = 65_536
#: Encoded texts wait in memory up to this many bytes per bucket before they are written.
FLUSH_BYTES = 1 << 18
#: A read of fewer members than this reads them one by one instead of loading their bucket.
FEW_MEMBERS = 64
_ENCODING = ("utf-8", "surrogatepass")


class PreviewSpool:
    """Texts of members numbered per table (``members``: each table's count), put in any order,
    once each, and read back by table and member range; a member never put reads as ""."""

    def __init__(self, members: Sequence[int], directory: Path | str | None = None) -> None:
        self._first = np.cumsum([0, *members]).astype(np.int64)
        total = int(self._first[-1])
        self._bucket_members = max(MIN_BUCKET_MEMBERS, -(-total // BUCKETS))
        self._offsets = np.zeros(total, dtype=np.int64)
        self._lengths = np.zeros(total, dtype=np.int32)
        self._directory = None if directory is None else str(directory)
        buckets = -(-total // self._bucket_members)
        self._files: list[IO[bytes] | None] = [None] * buckets
        self._written = [0] * buckets
        self._pending: list[list[bytes]] = [[] for _ in range(buckets)]
        self._pending_numbers: list[list[int]] = [[] for _ in range(buckets)]
        self._pending_bytes = [0] * buckets
        self._loaded: tuple[int, bytes] | None = None

    def put(self, table: int, members: Iterable[int], texts: Iterable[str]) -> None:
        """Park ``texts``, those of ``members`` of ``table``. Their offsets are recorded when
        their bucket is written (in bulk: two numpy stores per member had been a third of
        pass two's preview cost)."""
        first, size = int(self._first[table]), self._bucket_members
        pending, numbers, pending_bytes = self._pending, self._pending_numbers, self._pending_bytes
        encoding, errors = _ENCODING
        for member, text in zip(members, texts, strict=True):
            number = first + member
            bucket = number // size
            data = text.encode(encoding, errors)
            pending[bucket].append(data)
            numbers[bucket].append(number)
            pending_bytes[bucket] += len(data)
            if pending_bytes[bucket] >= FLUSH_BYTES:
                self._flush(bucket)

    def texts(self, table: int) -> SpooledTexts:
        """The texts of ``table``'s members, as a sequence that reads them on demand. Every
        text put so far is written out first (:meth:`settle`)."""
        self.settle()
        return SpooledTexts(self, table, int(self._first[table + 1] - self._first[table]))

    def settle(self) -> None:
        """Write every text still waiting in memory to its file: reads then only ``pread``,
        so a forked child can read the spool without writing into the parent's files."""
        for bucket in range(len(self._files)):
            self._flush(bucket)
            stream = self._files[bucket]
            if stream is not None:
                stream.flush()

    def read(self, table: int, first: int, last: int) -> list[str]:
        """The texts of members ``first`` to ``last - 1`` of ``table``."""
        members = int(self._first[table + 1] - self._first[table])
        if not 0 <= first <= members or last > members:
            raise IndexError(f"members {first} to {last - 1} of a table of {members}")
        begin = int(self._first[table]) + first
        end = int(self._first[table]) + max(last, first)
        size = self._bucket_members
        for bucket in range(begin // size, -(-end // size)):
            self._flush(bucket)  # where texts wait, their offsets are not known yet
        if end - begin < FEW_MEMBERS:
            return [self._read_one(number) for number in range(begin, end)]
        out: list[str] = []
        for bucket in range(begin // size, -(-end // size)):
            low, high = max(begin, bucket * size), min(end, (bucket + 1) * size)
            data = self._bucket_data(bucket)
            encoding, errors = _ENCODING
            offsets = self._offsets[low:high].tolist()
            lengths = self._lengths[low:high].tolist()
            out += [
                data[offset : offset + length].decode(encoding, errors) if length else ""
                for offset, length in zip(offsets, lengths, strict=True)
            ]
        return out

    def close(self) -> None:
        """Drop the files (they were never linked into any folder)."""
        for stream in self._files:
            if stream is not None:
                stream.close()
        self._files = [None] * len(self._files)
        self._loaded = None

    def __enter__(self) -> PreviewSpool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _file(self, bucket: int) -> IO[bytes]:
        stream = self._files[bucket]
        if stream is None:
            # Held open across calls and closed by close(): no with-block can scope it.
            stream = tempfile.TemporaryFile(prefix=".dedupe-previews-", dir=self._directory)  # noqa: SIM115
            self._files[bucket] = stream
        return stream

    def _flush(self, bucket: int) -> None:
        """Write the bucket's waiting texts to its file and record where each one lies."""
        if not self._pending[bucket]:
            return
        stream = self._file(bucket)
        stream.seek(0, os.SEEK_END)
        waiting = self._pending[bucket]
        lengths = np.fromiter(map(len, waiting), dtype=np.int64, count=len(waiting))
        numbers = np.asarray(self._pending_numbers[bucket], dtype=np.int64)
        self._offsets[numbers] = self._written[bucket] + np.cumsum(lengths) - lengths
        self._lengths[numbers] = lengths
        stream.write(b"".join(waiting))
        self._written[bucket] += self._pending_bytes[bucket]
        self._pending[bucket] = []
        self._pending_numbers[bucket] = []
        self._pending_bytes[bucket] = 0
        if self._loaded is not None and self._loaded[0] == bucket:
            self._loaded = None

    def _bucket_data(self, bucket: int) -> bytes:
        """The whole bucket file, the last one loaded kept for the next read."""
        if self._loaded is None or self._loaded[0] != bucket:
            self._loaded = None  # the old bucket goes before the new one comes
            stream = self._files[bucket]  # its waiting texts were written by read()
            data = b""
            if stream is not None:
                stream.flush()
                data = os.pread(stream.fileno(), self._written[bucket], 0)
            self._loaded = (bucket, data)
        return self._loaded[1]

    def _read_one(self, number: int) -> str:
        length = int(self._lengths[number])
        if length == 0:
            return ""
        bucket = number // self._bucket_members
        offset = int(self._offsets[number])
        if self._loaded is not None and self._loaded[0] == bucket:
            data = self._loaded[1][offset : offset + length]
        else:
            stream = self._file(bucket)
            stream.flush()
            data = os.pread(stream.fileno(), length, offset)
        return data.decode(*_ENCODING)


class TextRanges(Sequence[str]):
    """Texts read by contiguous ranges: a subclass gives ``_size`` and :meth:`_read`; this
    gives ``texts[i]``, ``texts[i:j]`` (one read), stepped slices and iteration in ranges of
    MIN_BUCKET_MEMBERS."""

    _size: int

    def _read(self, first: int, last: int) -> list[str]:
        raise NotImplementedError

    def __len__(self) -> int:
        return self._size

    @overload
    def __getitem__(self, index: int) -> str: ...

    @overload
    def __getitem__(self, index: slice) -> list[str]: ...

    def __getitem__(self, index: int | slice) -> str | list[str]:
        if isinstance(index, slice):
            first, last, step = index.indices(self._size)
            if step != 1:
                return [self[i] for i in range(first, last, step)]
            return self._read(first, max(first, last))
        if index < 0:
            index += self._size
        if not 0 <= index < self._size:
            raise IndexError(f"member {index} of a table of {self._size}")
        return self._read(index, index + 1)[0]

    def __iter__(self) -> Iterator[str]:
        for first in range(0, self._size, MIN_BUCKET_MEMBERS):
            yield from self._read(first, min(first + MIN_BUCKET_MEMBERS, self._size))


class SpooledTexts(TextRanges):
    """One table's texts in a :class:`PreviewSpool` (a range is read in one sweep, bucket by
    bucket)."""

    def __init__(self, spool: PreviewSpool, table: int, size: int) -> None:
        self._spool = spool
        self._table = table
        self._size = size

    def _read(self, first: int, last: int) -> list[str]:
        return self._spool.read(self._table, first, last)
