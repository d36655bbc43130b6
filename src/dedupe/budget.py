"""Where pass one's large arrays live: in memory while they fit a budget, else in temporary
files, memory-mapped (``scan --memory``, 16 MiB unless told otherwise).

The arrays a scan holds until linking are the signatures: 512 bytes a document and 128 a
paragraph at the defaults, 1.2 GB for the 382,400 articles and 8 million paragraphs of the x100
benchmark, and the paragraphs' index arrays (~40 bytes a paragraph). Under a budget, the
signatures and index arrays of each batch go into :class:`RowStore` s as the batch is
collected, in memory while the budget allows and in one file each once it is spent; any other
array the scan asks for (:meth:`ArrayBudget.empty`) is in memory while the arrays so far fit,
else a file. The operating system pages the files in and out as linking reads them: the
process's own memory stays within the budget (plus what the result needs), at the price of
reading the files.
"""

from __future__ import annotations

import errno
import os
import re
import sys
import tempfile
from typing import BinaryIO

import numpy as np

from dedupe.errors import ConfigError
from dedupe.memory import release_free_memory

_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmgt]?)i?b?\s*$", re.IGNORECASE)
_UNITS = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}


def parse_size(text: str) -> int:
    """Bytes in ``text``: a number with an optional K, M, G or T (powers of 1024).

    >>> parse_size("512M"), parse_size("2 GB"), parse_size("1.5g"), parse_size("4096")
    (536870912, 2147483648, 1610612736, 4096)
    """
    found = _SIZE.match(text)
    if found is None:
        raise ConfigError(f"not a size: {text!r} (e.g. 512M, 4G)")
    number, unit = found.groups()
    return int(float(number) * _UNITS[unit.lower()])


#: The budget a local scan gives its signatures unless told otherwise: 16 MiB. Beyond it they
#: are in a mapped file, which the system keeps in its page cache while memory is plentiful,
#: so linking reads them about as fast: the x10 full scan took 7.8-8.1 s with 16 MiB and
#: 7.9-8.6 s with 64 MiB (alternating runs), x1 1.11-1.40 s against 1.09-1.35 s, while x100
#: held a 62 MB array of paragraph keys in the process's own memory through the paragraph
#: stage with 64 MiB (its peak of anonymous memory there: see BENCHMARKS.md). 256 MiB until
#: the second session of 2026-12-04 (x100's 195 MB of document signatures in memory through
#: the document linking, whose peak was then 946 MB against 714), 64 MiB until the ninth.
DEFAULT_MEMORY = 16 << 20
#: :meth:`RowStore.array` hands the parts it has copied back to the system this often.
TRIM_EVERY_PARTS = 32
#: What ``--memory unlimited`` asks for: everything in memory.
UNLIMITED = ("none", "unlimited")


def memory_bytes(memory: int | str | None) -> int | None:
    """A memory budget given as bytes or as a size (:func:`parse_size`); None: the default
    (:data:`DEFAULT_MEMORY`, applied by the local engine); ``"unlimited"``: no bound.

    >>> memory_bytes("1G"), memory_bytes(None), memory_bytes("unlimited") > 1 << 60
    (1073741824, None, True)
    """
    if memory is None or isinstance(memory, int):
        return memory
    if memory.strip().lower() in UNLIMITED:
        return sys.maxsize
    return parse_size(memory)


class ArrayBudget:
    """Allocates arrays in memory up to ``limit`` bytes in all (None: no limit), and beyond it
    in files under ``directory`` (default: the system's temporary directory)."""

    def __init__(self, limit: int | None = None, directory: str | None = None) -> None:
        if limit is not None and limit < 0:
            raise ConfigError(f"a memory budget cannot be negative, got {limit}")
        self.limit = limit
        self.held = 0  # bytes allocated in memory
        self.spilled = 0  # bytes allocated in files
        self._directory = directory
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        self._files = 0

    def empty(self, shape: tuple[int, ...], dtype: type | np.dtype) -> np.ndarray:
        """An uninitialised array of ``shape`` and ``dtype``, in memory or in a file."""
        size = int(np.prod(shape, dtype=np.int64)) * np.dtype(dtype).itemsize
        if self.reserve(size):
            return np.empty(shape, dtype=dtype)
        self.spilled += size
        path = self.new_file() + ".npy"
        array = np.lib.format.open_memmap(path, mode="w+", dtype=dtype, shape=shape)
        reserve_disk(path)
        return array

    def reserve(self, size: int) -> bool:
        """Count ``size`` bytes as held in memory if they fit the budget; whether they did."""
        if self.limit is None or self.held + size <= self.limit or size == 0:
            self.held += size
            return True
        return False

    def release(self, size: int) -> None:
        """Stop counting ``size`` bytes (their array moved to a file)."""
        self.held -= size

    def new_file(self) -> str:
        """The path of a new file in the budget's temporary directory (removed by close)."""
        if self._tmp is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="dedupe-arrays-", dir=self._directory)
        self._files += 1
        return os.path.join(self._tmp.name, str(self._files))

    def close(self) -> None:
        """Remove the files (arrays mapped from them must not be used after this)."""
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None


def reserve_disk(path: str) -> None:
    """Allocate the blocks of the file at ``path`` now. A mapped file is created sparse, and on a
    full disk the first write to one of its pages kills the process (SIGBUS, no message); this
    makes it an :class:`OSError` here, naming the file, which the command reports. Where the
    system cannot allocate ahead (no ``posix_fallocate``, or a filesystem without it) the file
    stays as it is."""
    allocate = getattr(os, "posix_fallocate", None)
    if allocate is None:
        return
    with open(path, "r+b") as stream:
        size = os.fstat(stream.fileno()).st_size
        if not size:
            return
        try:
            allocate(stream.fileno(), 0, size)
        except OSError as error:
            if error.errno in (errno.EOPNOTSUPP, errno.ENOSYS, errno.EINVAL):
                return
            raise OSError(
                error.errno,
                f"{error.strerror}: no room for {size:,} bytes of arrays beyond --memory "
                "(a larger --memory, or TMPDIR on a larger disk)",
                path,
            ) from None


class RowStore:
    """Rows of one width, appended batch by batch as pass one signs them, read back once as a
    single array. Held in memory while ``budget`` allows; at the first batch that does not fit,
    the rows so far and every later batch go to one temporary file instead, which
    :meth:`array` maps. So pass one holds at most the budget in signatures, however long the
    input, and the array needs no gathering copy when it is on disk."""

    def __init__(self, budget: ArrayBudget, dtype: type = np.uint32) -> None:
        self._budget = budget
        self._dtype = np.dtype(dtype)
        self._parts: list[np.ndarray] = []
        self._width: int | None = None
        self._rows = 0
        self._held = 0
        self._path: str | None = None
        self._file: BinaryIO | None = None

    def append(self, rows: np.ndarray) -> None:
        """Keep ``rows`` (shape ``(n, width)``, the same width every time)."""
        if self._width is None:
            self._width = rows.shape[1]
        elif rows.shape[1] != self._width:
            raise ValueError(f"rows of width {rows.shape[1]}, not {self._width}")
        rows = np.ascontiguousarray(rows, dtype=self._dtype)
        self._rows += len(rows)
        if self._file is None and self._budget.reserve(rows.nbytes):
            self._held += rows.nbytes
            self._parts.append(rows)
            return
        if self._file is None:  # the first that does not fit: everything goes to a file
            self._path = self._budget.new_file()
            self._file = open(self._path, "wb")  # noqa: SIM115 (closed in array)
            for part in self._parts:
                self._file.write(part.data)
            self._parts = []
            self._budget.release(self._held)
            self._budget.spilled += self._held
            self._held = 0
        self._budget.spilled += rows.nbytes
        self._file.write(rows.data)  # the array's own buffer: no copy first

    def close(self) -> None:
        """Close the file, if any (after an error; :meth:`array` does it otherwise); the
        budget's close removes it."""
        if self._file is not None:
            self._file.close()
            self._file = None
        self._parts = []

    def array(self, width: int) -> np.ndarray:
        """Every row appended, in order, shape ``(rows, width)`` (``width`` where none was):
        in memory, or mapped from the file. The store is empty afterwards."""
        width = width if self._width is None else self._width
        if self._file is None:
            out = np.empty((self._rows, width), dtype=self._dtype)
            row = 0
            self._parts.reverse()  # popped from the end, in order
            while self._parts:  # each part freed once copied: one part held twice at most
                part = self._parts.pop()
                out[row : row + len(part)] = part
                row += len(part)
                del part
                # The parts (a batch each, ~0.5 MB) are freed into the C heap, which keeps
                # them unless asked: x100's 195 MB of document signatures were held twice.
                if len(self._parts) % TRIM_EVERY_PARTS == 0:
                    release_free_memory()
            # The budget keeps counting these bytes: they are held until linking ends.
            return out
        self._file.close()
        self._file = None
        if self._rows == 0 or width == 0:
            return np.empty((self._rows, width), dtype=self._dtype)
        assert self._path is not None
        return np.memmap(self._path, dtype=self._dtype, mode="r", shape=(self._rows, width))
