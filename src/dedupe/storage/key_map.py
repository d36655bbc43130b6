"""Band key -> records that have it, held in memory beside an SQLite index.

Why not a table: a record's 32 band keys are random numbers, so indexing them in a B-tree
dirties 32 random pages per add, and a commit writes every dirty page to the write-ahead log
(33 pages, 0.6 ms of the 1.2 ms an add took). The keys are instead stored with their record
(one appended row, 2-4 pages per commit) and looked up here: sorted ``uint64`` codes
``(key + 2**31) << 32 | seq`` (8 bytes per key: 256 MB for a million 32-band records) in a few
runs, each at most a quarter of the one before (a log-structured merge: O(log n) runs to search,
each key copied O(log n) times), plus a dict of the last :data:`MERGE_MIN_KEYS` keys added.

The map is derived data: the database stays the only truth. It is a superset of what the
database holds: a removed record's keys stay until the map is rebuilt (the next open), and
lookups return seqs that the caller resolves against the database, where missing ones drop out.
What the map must never miss is a record the database holds, so it follows the database by
``seq``: the store reads the rows above :attr:`KeyMap.seen` at the start of every transaction.
Seqs are committed in increasing order (SQLite's AUTOINCREMENT under the write lock); a
transaction's own rows are put into the map before it commits and forgotten again
(:meth:`KeyMap.forget_after`) if it rolls back, since a rolled-back seq can be given again to
another record.
"""

from __future__ import annotations

import contextlib
import os
import struct
import tempfile
import threading
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt

U64 = npt.NDArray[np.uint64]
I64 = npt.NDArray[np.int64]

_OFFSET = 1 << 31  # keys are signed 32-bit
_LOW = np.uint64(0xFFFFFFFF)
_SHIFT = np.uint64(32)
#: Recent keys held in the dict before a merge into the sorted array (at least).
MERGE_MIN_KEYS = 1 << 16
#: Runs of at least this many codes get a directory (:class:`_Run`), of about this many a bucket.
_DIRECTORY_MIN_CODES = 1 << 18
_PER_BUCKET = 8
#: Largest seq the codes can hold.
MAX_SEQ = (1 << 32) - 1


def encode_keys(keys: Sequence[int]) -> bytes:
    """Band keys as stored with their record: little-endian int32s."""
    return np.asarray(keys, dtype="<i4").tobytes()


def decode_keys(blob: bytes) -> I64:
    return np.frombuffer(blob, dtype="<i4").astype(np.int64)


def codes_of(seqs: I64, keys: I64) -> U64:
    """The map's codes of ``(seq, key)`` pairs: the key (made unsigned) above the seq."""
    keys = np.asarray(keys, dtype=np.int64)
    return ((keys + _OFFSET).astype(np.uint64) << _SHIFT) | np.asarray(seqs).astype(np.uint64)


class _Run:
    """A sorted array of codes and, when it is large, a directory: for each value of the codes'
    top ``bits`` bits, where its codes begin. All codes of one key share their top 32 bits, so
    a key's codes lie in one directory bucket (about :data:`_PER_BUCKET` codes): a lookup reads
    32 buckets instead of binary-searching a 256 MB array (22 cache misses per key)."""

    __slots__ = ("bits", "codes", "directory")

    def __init__(self, codes: U64, directory: I64 | None = None) -> None:
        self.codes = codes
        self.bits = 0
        self.directory: I64 | None = None
        if directory is not None and len(directory) > 2:  # a snapshot's (2**bits + 1 entries)
            self.bits = (len(directory) - 1).bit_length() - 1
            self.directory = directory
        elif len(codes) >= _DIRECTORY_MIN_CODES:
            self.bits = min(32, max(1, (len(codes) // _PER_BUCKET).bit_length()))
            top = (codes >> np.uint64(64 - self.bits)).astype(np.int64)
            counts = np.bincount(top, minlength=1 << self.bits)
            self.directory = np.concatenate((np.zeros(1, np.int64), np.cumsum(counts)))

    def __len__(self) -> int:
        return len(self.codes)

    def find(self, low: U64, high: U64) -> U64:
        """The codes in ``[low[i], high[i]]`` for every ``i`` (``low`` sorted)."""
        if self.directory is None:
            begin = np.searchsorted(self.codes, low, side="left")
            end = np.searchsorted(self.codes, high, side="right")
        else:
            bucket = (low >> np.uint64(64 - self.bits)).astype(np.int64)
            begin, end = self.directory[bucket], self.directory[bucket + 1]
        counts = end - begin
        total = int(counts.sum())
        if total == 0:
            return np.empty(0, dtype=np.uint64)
        first = np.cumsum(counts) - counts
        slots = np.repeat(begin - first, counts) + np.arange(total)
        found = self.codes[slots]
        return found[(found >= np.repeat(low, counts)) & (found <= np.repeat(high, counts))]


class KeyMap:
    """Which seqs have each band key; safe to share between threads."""

    def __init__(self) -> None:
        # Sorted runs of codes, each at most a quarter of the one before it: O(log n) runs, and
        # a key is copied O(log n) times as runs merge (a log-structured merge).
        self._runs: list[_Run] = []
        self._recent: dict[int, list[int]] = {}
        self._recent_count = 0
        self._recent_seqs: list[tuple[int, tuple[int, ...]]] = []
        self._lock = threading.Lock()
        #: The largest seq read into the map (0: none).
        self.seen = 0

    def __len__(self) -> int:
        return sum(map(len, self._runs)) + self._recent_count

    def load(self, seqs: I64, keys: I64, last: int) -> None:
        """Many records at once (``keys[i]`` belongs to ``seqs[i]``), seqs above :attr:`seen`
        and up to ``last``, the largest seq read (a record may have no keys)."""
        self.load_codes(codes_of(seqs, keys), last)

    def load_codes(self, codes: U64, last: int) -> None:
        """:meth:`load` of :func:`codes_of` (sorted here, in place): one sort and one run for
        all the records read at open, not a merge per chunk read."""
        if last > MAX_SEQ:
            raise OverflowError(f"seq {last} is beyond the key map's {MAX_SEQ}")
        codes.sort()
        with self._lock:
            self._push_locked(codes)
            self.seen = max(self.seen, last)

    def add(self, seq: int, keys: Iterable[int]) -> None:
        """One record's keys (its seq above :attr:`seen`)."""
        if seq > MAX_SEQ:
            raise OverflowError(f"seq {seq} is beyond the key map's {MAX_SEQ}")
        keys = tuple(keys)
        with self._lock:
            for key in keys:
                self._recent.setdefault(key, []).append(seq)
            self._recent_count += len(keys)
            self._recent_seqs.append((seq, keys))
            self.seen = max(self.seen, seq)

    def settle(self) -> None:
        """Between transactions: move the recent keys into a sorted run once there are
        :data:`MERGE_MIN_KEYS` of them. After this, :meth:`forget_after` cannot reach below
        the current :attr:`seen`."""
        with self._lock:
            if self._recent_count >= MERGE_MIN_KEYS:
                codes = np.sort(self._recent_codes_locked())
                self._recent.clear()
                self._recent_count = 0
                self._recent_seqs = []
                self._push_locked(codes)

    def forget_after(self, seq: int) -> None:
        """Drop the records above ``seq`` added since the last :meth:`settle` (a rolled-back
        transaction's) and make ``seq`` the last one seen."""
        with self._lock:
            while self._recent_seqs and self._recent_seqs[-1][0] > seq:
                gone, keys = self._recent_seqs.pop()
                for key in keys:
                    holders = self._recent[key]
                    holders.remove(gone)
                    if not holders:
                        del self._recent[key]
                self._recent_count -= len(keys)
            self.seen = min(self.seen, seq)

    def lookup(self, keys: Sequence[int]) -> list[int]:
        """The distinct seqs having any of ``keys``, ascending."""
        if not keys:
            return []
        # Sorted needles: numpy's binary search starts each from the last one's place.
        low = np.sort((np.asarray(keys, dtype=np.int64) + _OFFSET).astype(np.uint64) << _SHIFT)
        high = low | _LOW
        found: list[int] = []
        hits: list[U64] = []
        with self._lock:
            for key in keys:
                found.extend(self._recent.get(key, ()))
            hits = [run.find(low, high) for run in self._runs]
        if hits:
            found.extend((np.concatenate(hits) & _LOW).tolist())
        return sorted(set(found))

    def start_from(self, codes: U64, directory: I64 | None, seen: int) -> None:
        """Begin an empty map with a snapshot's sorted ``codes`` (and their run's directory)
        covering seqs up to ``seen``."""
        with self._lock:
            assert not self._runs and not self._recent_count, "the map is not empty"
            if len(codes):
                self._runs.append(_Run(codes, directory))
            self.seen = seen

    def snapshot(self) -> tuple[int, U64, I64 | None]:
        """``(seen, codes, directory)``: every code held, sorted, and their directory, for
        :func:`write_snapshot`."""
        with self._lock:
            parts = [run.codes for run in self._runs]
            parts.append(self._recent_codes_locked())
            seen = self.seen
        codes = np.concatenate(parts)
        codes.sort(kind="stable")  # sorted runs: merged, not sorted from scratch
        return seen, codes, _Run(codes).directory

    def _recent_codes_locked(self) -> U64:
        """The codes of the recent adds (unsorted)."""
        seqs = [seq for seq, keys in self._recent_seqs for _ in keys]
        keys = [key for _, keys in self._recent_seqs for key in keys]
        return codes_of(np.array(seqs, np.int64), np.array(keys, np.int64))

    def _push_locked(self, codes: U64) -> None:
        """Add a sorted run, merging it with the last ones while it is at least a quarter of
        the one before (one pass each: np.insert where searchsorted puts the codes)."""
        if len(codes) == 0:
            return
        self._runs.append(_Run(codes))
        while len(self._runs) > 1 and 4 * len(self._runs[-1]) >= len(self._runs[-2]):
            small = self._runs.pop().codes
            large = self._runs.pop().codes
            self._runs.append(_Run(np.insert(large, np.searchsorted(large, small), small)))


# -- snapshots: the sorted codes on disk, so that opening a large index maps them instead of
# reading every record's keys and sorting them (3-4 s and 500 MB of peak at a million).

_SNAPSHOT_MAGIC = b"DDKEYS01"
# magic, the store's id, the last seq the codes cover, a hash of that record's id, the number
# of codes and of directory entries (codes, then the directory, follow the header)
_SNAPSHOT_HEADER = struct.Struct("<8s16sQQQQ")
_SNAPSHOT_OFFSET = 64


def write_snapshot(
    path: Path, store_id: bytes, seen: int, seen_hash: int, codes: U64, directory: I64 | None
) -> None:
    """Write ``codes`` (sorted) and their directory atomically: a temporary file beside
    ``path``, then a rename, so a reader maps either the old snapshot or the new one."""
    entries = 0 if directory is None else len(directory)
    header = _SNAPSHOT_HEADER.pack(_SNAPSHOT_MAGIC, store_id, seen, seen_hash, len(codes), entries)
    fd, tmp = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as stream:
            stream.write(header.ljust(_SNAPSHOT_OFFSET, b"\0"))
            stream.write(np.ascontiguousarray(codes, dtype="<u8").tobytes())
            if directory is not None:
                stream.write(np.ascontiguousarray(directory, dtype="<i8").tobytes())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def read_snapshot(path: Path, store_id: bytes) -> tuple[int, int, U64, I64 | None] | None:
    """``(seen, seen_hash, codes, directory)`` of the snapshot at ``path`` (memory-mapped), or
    None when there is none, it is damaged, or it belongs to another store."""
    try:
        with path.open("rb") as stream:
            raw = stream.read(_SNAPSHOT_HEADER.size)
        magic, found_id, seen, seen_hash, count, entries = _SNAPSHOT_HEADER.unpack(raw)
        if magic != _SNAPSHOT_MAGIC or found_id != store_id:
            return None
        if path.stat().st_size != _SNAPSHOT_OFFSET + 8 * (count + entries):
            return None
        if count == 0:
            return seen, seen_hash, np.empty(0, dtype=np.uint64), None
        codes: U64 = np.memmap(path, dtype="<u8", mode="r", offset=_SNAPSHOT_OFFSET, shape=(count,))
        directory: I64 | None = None
        if entries:
            at = _SNAPSHOT_OFFSET + 8 * count
            directory = np.memmap(path, dtype="<i8", mode="r", offset=at, shape=(entries,))
        return seen, seen_hash, codes, directory
    except (OSError, struct.error, ValueError):
        return None
