"""Where pass one's large arrays live: in memory while they fit a budget, else in temporary
files, memory-mapped (``scan --memory``).

The arrays a scan holds until linking are the signatures: 512 bytes a document and 128 a
paragraph at the defaults, 1.4 GB for the 380,000 articles and 9 million paragraphs of the x100
benchmark. Under a budget, each array the scan asks for is allocated in memory while the
arrays allocated so far fit it, and otherwise as a file in a temporary directory that the
operating system pages in and out as linking reads it: the process's own memory then stays
within the budget (plus what the result needs), at the price of reading the file.
"""

from __future__ import annotations

import os
import re
import tempfile

import numpy as np

from dedupe.errors import ConfigError

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


def memory_bytes(memory: int | str | None) -> int | None:
    """A memory budget given as bytes or as a size (:func:`parse_size`); None: no budget."""
    if memory is None or isinstance(memory, int):
        return memory
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
        if self.limit is None or self.held + size <= self.limit or size == 0:
            self.held += size
            return np.empty(shape, dtype=dtype)
        if self._tmp is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="dedupe-arrays-", dir=self._directory)
        self._files += 1
        path = os.path.join(self._tmp.name, f"{self._files}.npy")
        self.spilled += size
        return np.lib.format.open_memmap(path, mode="w+", dtype=dtype, shape=shape)

    def close(self) -> None:
        """Remove the files (arrays mapped from them must not be used after this)."""
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None
