"""Word tokens as hashes, computed over code-point arrays: no Python string per token.

A token is what ``dedupe.core.normalise.WORD_RE`` matches in the folded text: a maximal run of
word characters (``str.isalnum()`` or ``_``), except that each character of a script written
without spaces (Chinese, Japanese) is a token of its own. The text is turned into a uint32 array
of code points once; token boundaries, token-to-unit assignment and the token hashes are array
operations. On the NewsArticles corpus (12.5 MB) this replaces 0.5 s of regex scanning and
per-token hashing.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import numpy.typing as npt

from dedupe.core.normalise import CJK_RANGES, fold
from dedupe.core.shingle import I64, U64, fmix64

_MULTIPLIER = np.uint64(0x9E3779B97F4A7C15)
_UNIT_BREAK = 0x01
# Characters tokenised at once: 256 K keeps the dozen per-character arrays (2 MB each at 8
# bytes) in cache; the whole 6.5 MB batch at once was 4x slower, bound by memory traffic.
_CHUNK_CHARACTERS = 262_144


@lru_cache(maxsize=1)
def _word_table() -> npt.NDArray[np.uint8]:
    """Per code point: 0 = not a word character, 1 = word character, 2 = a token by itself.
    Built once (read-only) from the same definitions the regex uses."""
    table = _alnum_table().astype(np.uint8)
    table[ord("_")] = 1
    for start, stop in CJK_RANGES:
        table[start : stop + 1] = 2
    table.setflags(write=False)
    return table


def _alnum_table() -> npt.NDArray[np.bool_]:
    """Per code point, whether ``str.isalnum()`` holds for it (False for surrogates).

    Every code point is viewed as a one-character numpy string and classified by
    ``np.char.isalnum``, which applies CPython's own character predicates: 0.02 s, where a
    Python loop over 1.1 million ``chr(code).isalnum()`` calls took 0.2 s of every run.
    """
    codes = np.arange(0x110000, dtype=np.uint32)
    codes[0xD800:0xE000] = 0  # surrogates are no characters; 0 reads as "" and is not alnum
    table = np.asarray(np.char.isalnum(codes.view("<U1")), dtype=np.bool_)
    table[0] = False
    return table


def token_hashes_of_units(pieces: list[str]) -> tuple[U64, I64]:
    """Hashes of the word tokens of every piece (in order) and the number of tokens per piece.

    >>> hashes, counts = token_hashes_of_units(["Two words", "", "and TWO more"])
    >>> counts.tolist(), bool(hashes[0] == hashes[3])
    ([2, 0, 3], True)
    """
    hashes: list[U64] = []
    counts: list[I64] = []
    chunk: list[str] = []
    size = 0
    for piece in pieces:
        chunk.append(piece)
        size += len(piece) + 1
        if size >= _CHUNK_CHARACTERS:
            _tokenise_chunk(chunk, hashes, counts)
            chunk, size = [], 0
    if chunk or not pieces:
        _tokenise_chunk(chunk, hashes, counts)
    return np.concatenate(hashes), np.concatenate(counts)


def _tokenise_chunk(pieces: list[str], hashes: list[U64], counts: list[I64]) -> None:
    joined = "\x01".join(map(fold, pieces))
    points = np.frombuffer(joined.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
    kind = _word_table()[points]
    is_word = kind > 0
    previous_kind = np.r_[np.uint8(0), kind[:-1]]
    # A token starts at a word character after a non-word character, where the kind changes
    # (letters then ideographs), and at every ideograph. Every word character from one start
    # to the next belongs to the token of the first.
    starts = np.flatnonzero(is_word & ((kind != previous_kind) | (kind == 2)))
    marker = np.zeros(len(points), dtype=np.int64)
    marker[starts] = starts
    offset = np.arange(len(points), dtype=np.int64) - np.maximum.accumulate(marker)
    terms = fmix64(points.astype(np.uint64) * _MULTIPLIER + offset.astype(np.uint64))
    terms[~is_word] = 0
    if len(starts):
        lengths: U64 = np.add.reduceat(is_word.astype(np.uint64), starts)
        sums: U64 = np.add.reduceat(terms, starts)
        hashes.append(fmix64(sums ^ lengths))
    else:
        hashes.append(np.empty(0, dtype=np.uint64))
    unit_of_point = np.cumsum(points == _UNIT_BREAK)
    counts.append(np.bincount(unit_of_point[starts], minlength=len(pieces)).astype(np.int64))
