"""Handing freed memory back to the operating system, where the C library allows it.

glibc's malloc serves blocks below its mmap threshold (which rises to 32 MB as large blocks are
freed) from heaps that shrink only at the top: the per-batch feature arrays of pass one
(~5 MB each, 1.7 GB together at x100) stay resident after they are gathered and freed, and the
process peak carries them to the end. ``malloc_trim(0)`` returns every free page of every
heap. Elsewhere (another C library, another system) this does nothing.

glibc also gives each thread that allocates while another holds the main heap an arena of its
own (up to eight a core), and what those arenas held stays resident in pieces: a ×100 scan
whose band keys are made and sorted on two threads peaked at 490-496 MB of anonymous memory,
423 MB with one arena, in the same time. :func:`limit_arenas` asks for fewer.
"""

from __future__ import annotations

import ctypes
from collections.abc import Callable

__all__ = ["limit_arenas", "release_free_memory"]


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


#: mallopt's parameter number for the most arenas (glibc's malloc.h: M_ARENA_MAX).
_M_ARENA_MAX = -8


def limit_arenas(count: int = 1) -> bool:
    """Ask the C library to serve every thread from at most ``count`` heaps (glibc's
    ``M_ARENA_MAX``), for the rest of the process; whether it could be asked and agreed. For
    a program's own process (``dedupe scan`` does it as it starts), not a library's host: it
    changes how every thread of the process allocates."""
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError, TypeError):  # not glibc, or no dlopen(NULL) (Windows)
        return False
    return bool(mallopt(_M_ARENA_MAX, count))
