"""Handing freed memory back to the operating system, where the C library allows it.

glibc's malloc serves blocks below its mmap threshold (which rises to 32 MB as large blocks are
freed) from heaps that shrink only at the top: the per-batch feature arrays of pass one
(~5 MB each, 1.7 GB together at x100) stay resident after they are gathered and freed, and the
process peak carries them to the end. ``malloc_trim(0)`` returns every free page of every
heap. Elsewhere (another C library, another system) this does nothing.
"""

from __future__ import annotations

import ctypes
from collections.abc import Callable

__all__ = ["release_free_memory"]


def _malloc_trim() -> Callable[[int], int] | None:
    try:
        # The symbols already loaded into this process (libc's among them), found without
        # looking for the library's file.
        trim: Callable[[int], int] = ctypes.CDLL(None).malloc_trim
    except (OSError, AttributeError, TypeError):  # not glibc, or no dlopen(NULL) (Windows)
        return None
    return trim


def release_free_memory() -> bool:
    """Return the C heap's free pages to the system; whether it could be asked to."""
    trim = _malloc_trim()
    if trim is None:
        return False
    trim(0)
    return True
