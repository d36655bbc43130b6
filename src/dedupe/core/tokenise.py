"""Word tokens as hashes, computed over code-point arrays: no Python string per token.

A token is what ``dedupe.core.normalise.WORD_RE`` matches in the folded text: a maximal run of
word characters (``str.isalnum()`` or ``_``), except that each character of a script written
without spaces (Chinese, Japanese) is a token of its own. The text is turned into a uint32 array
of code points once; token boundaries, token-to-unit assignment and the token hashes are array
operations. On the NewsArticles corpus (12.5 MB) this replaces 0.5 s of regex scanning and
per-token hashing.
"""

from __future__ import annotations

import unicodedata
from functools import lru_cache

import numpy as np
import numpy.typing as npt

from dedupe.core.normalise import CJK_RANGES, fold
from dedupe.core.runs import run_lengths
from dedupe.core.shingle import I64, U64, fmix64

_MULTIPLIER = np.uint64(0x9E3779B97F4A7C15)
_UNIT_BREAK = 0x01
_ZERO = np.zeros(1, dtype=np.int64)
# Characters tokenised at once: 256 K keeps the dozen per-character arrays (2 MB each at 8
# bytes) in cache; the whole 6.5 MB batch at once was 4x slower, bound by memory traffic.
_CHUNK_CHARACTERS = 262_144
_BMP = 0x10000
# Token hashes: term table rows (positions inside a token) and the longest position handled
# by the per-position loop; longer tokens' tails are summed in one pass.
_TABLE_POSITIONS = 32
_SORTED_POSITIONS = 255
# Up to this many characters tokens are hashed in one pass over all their characters.
_FLAT_MAX_CHARACTERS = 16_384


@lru_cache(maxsize=1)
def _word_table() -> npt.NDArray[np.uint8]:
    """Per code point of the Basic Multilingual Plane: 0 = not a word character, 1 = word
    character, 2 = a token by itself. Built once (read-only) from the same definitions the
    regex uses; code points above it (rare) are classified where they occur, by
    :func:`_kinds`, which keeps building the table at 1 ms instead of 20 ms for all 1.1M."""
    table = _alnum(np.arange(_BMP, dtype=np.uint32)).astype(np.uint8)
    table[ord("_")] = 1
    for start, stop in CJK_RANGES:  # all inside the BMP
        table[start : stop + 1] = 2
    table.setflags(write=False)
    return table


def _kinds(points: npt.NDArray[np.uint32]) -> npt.NDArray[np.uint8]:
    """The :func:`_word_table` kind of every code point, those above the BMP included."""
    if int(points.max(initial=0)) < _BMP:
        return _word_table()[points]
    kinds = _word_table()[np.minimum(points, _BMP - 1)]
    astral = np.flatnonzero(points >= _BMP)
    kinds[astral] = _alnum(points[astral])
    return kinds


def _alnum(codes: npt.NDArray[np.uint32]) -> npt.NDArray[np.bool_]:
    """Whether ``str.isalnum()`` holds for each code point (False for surrogates).

    The code points are viewed as one-character numpy strings and classified by
    ``np.char.isalnum``, which applies CPython's own character predicates, where a Python
    loop over ``chr(code).isalnum()`` took 0.2 s for the 1.1 million code points.
    """
    codes = np.array(codes, dtype=np.uint32)
    codes[(codes >= 0xD800) & (codes < 0xE000)] = 0  # surrogates: 0 reads as "", not alnum
    alnum = np.asarray(np.char.isalnum(codes.view("<U1")), dtype=np.bool_)
    alnum[codes == 0] = False
    return alnum


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


def _points_and_kinds(
    joined: str,
) -> tuple[npt.NDArray[np.unsignedinteger], npt.NDArray[np.uint8]]:
    """The code points of ``joined`` and each one's :func:`_word_table` kind: one byte per code
    point where the text is ASCII (a flag check in CPython), four otherwise."""
    if joined.isascii():
        points: npt.NDArray[np.unsignedinteger] = np.frombuffer(joined.encode("ascii"), np.uint8)
        return points, _latin1_kind()[points]
    points = np.frombuffer(joined.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
    return points, _kinds(points)


def _tokenise_chunk(pieces: list[str], hashes: list[U64], counts: list[I64]) -> None:
    # Folded piece by piece: most pieces are ASCII and take str.lower(); folding a whole chunk
    # would normalise and case-fold all of it whenever one piece is not ASCII (4x slower).
    points, kind = _points_and_kinds("\x01".join(map(fold, pieces)))
    starts, lengths = _token_spans(kind)
    hashes.append(_token_hashes(points, starts, lengths))
    # Pieces are separated by one _UNIT_BREAK each: count the tokens between them.
    breaks = np.searchsorted(starts, np.flatnonzero(points == _UNIT_BREAK))
    counts.append(run_lengths(np.concatenate((_ZERO, breaks)), len(starts)))


def token_hashes_of_spans(texts: list[str], bounds: I64, per_doc: I64) -> tuple[U64, I64]:
    """:func:`token_hashes_of_units` of the pieces ``texts[d][start:end]``, for the rows
    ``(start, end)`` of ``bounds`` (``per_doc[d]`` of them for text ``d``, in order, apart),
    without cutting the pieces out. A text whose folding keeps every character where it was
    (ASCII; NFKC text whose case folding keeps its length) is folded whole and its tokens are
    cut at the spans' edges; any other text is folded piece by piece, as there. The same hashes
    and counts: on the x10 news (884,000 sentences) 1.7 s instead of 2.3 s with the slicing.

    >>> text = "Two words. And TWO more"
    >>> hashes, counts = token_hashes_of_spans([text], np.array([[0, 10], [11, 23]]), [2])
    >>> counts.tolist(), bool(hashes[0] == hashes[3])
    ([2, 3], True)
    """
    hashes: list[U64] = []
    counts: list[I64] = []
    bounds = np.asarray(bounds, dtype=np.int64).reshape(-1, 2)
    per_doc = np.asarray(per_doc, dtype=np.int64)
    first_unit = np.cumsum(per_doc) - per_doc
    segments: list[str] = []
    offsets: list[int] = []  # of each segment in its chunk's joined string
    own: dict[int, I64] = {}  # spans, in their own segment, of texts folded piece by piece
    first_doc, size = 0, 0
    for doc, text in enumerate(texts):
        folded = _folded_in_place(text)
        if folded is None:
            spans = bounds[first_unit[doc] : first_unit[doc] + per_doc[doc]].tolist()
            pieces = [fold(text[start:end]) for start, end in spans]
            folded = "\x01".join(pieces)
            lengths = np.array([len(piece) for piece in pieces], dtype=np.int64)
            starts = np.cumsum(lengths + 1) - (lengths + 1)
            own[doc] = np.stack([starts, starts + lengths], axis=1)
        segments.append(folded)
        offsets.append(size)
        size += len(folded) + 1
        if size >= _CHUNK_CHARACTERS:
            last = doc + 1
            chunk = _chunk_spans(bounds, per_doc, first_unit, first_doc, last, offsets, own)
            _tokenise_spans(segments, chunk, hashes, counts)
            segments, offsets, own, first_doc, size = [], [], {}, last, 0
    if segments or not hashes:
        chunk = _chunk_spans(bounds, per_doc, first_unit, first_doc, len(texts), offsets, own)
        _tokenise_spans(segments, chunk, hashes, counts)
    return np.concatenate(hashes), np.concatenate(counts)


def _folded_in_place(text: str) -> str | None:
    """``text`` folded as :func:`~dedupe.core.normalise.fold` folds each of its pieces, where
    that keeps every character at its offset; None otherwise."""
    if text.isascii():
        return text.lower()
    if unicodedata.is_normalized("NFKC", text):
        folded = text.casefold()  # maps each character alone: equal length, equal places
        if len(folded) == len(text):
            return folded
    return None


def _chunk_spans(
    bounds: I64,
    per_doc: I64,
    first_unit: I64,
    first_doc: int,
    last_doc: int,
    offsets: list[int],
    own: dict[int, I64],
) -> I64:
    """The spans of texts ``first_doc`` to ``last_doc - 1`` in their chunk's joined string."""
    begin = int(first_unit[first_doc]) if first_doc < len(per_doc) else len(bounds)
    end = int(first_unit[last_doc - 1] + per_doc[last_doc - 1]) if last_doc > first_doc else begin
    spans = bounds[begin:end].copy()
    for doc, local in own.items():
        lo = int(first_unit[doc]) - begin
        spans[lo : lo + len(local)] = local
    counts = per_doc[first_doc:last_doc]
    spans += np.repeat(np.asarray(offsets, dtype=np.int64), counts)[:, np.newaxis]
    return spans


def _tokenise_spans(segments: list[str], spans: I64, hashes: list[U64], counts: list[I64]) -> None:
    """Hashes of the tokens inside ``spans`` of the joined ``segments``, and their count per
    span: tokens are cut at every span edge and those outside every span are left out."""
    points, kind = _points_and_kinds("\x01".join(segments))
    starts, lengths = _token_spans(kind, spans.ravel())
    # Tokens never cross a span edge: a span's tokens are those starting inside it.
    first = np.searchsorted(starts, spans[:, 0])
    per_span = np.searchsorted(starts, spans[:, 1]) - first
    if int(per_span.sum()) != len(starts):  # tokens between spans (none where gaps are blank)
        edges = np.bincount(first, minlength=len(starts) + 1)
        edges -= np.bincount(first + per_span, minlength=len(starts) + 1)
        inside = np.cumsum(edges[:-1]) > 0
        starts, lengths = starts[inside], lengths[inside]
    hashes.append(_token_hashes(points, starts, lengths))
    counts.append(per_span)


def _token_spans(kind: npt.NDArray[np.uint8], cuts: I64 | None = None) -> tuple[I64, I64]:
    """First character and length of every token, given each character's kind.

    A word character continues the token of the character before it when both have the same
    kind and are not ideographs (each ideograph is a token by itself), and no offset of
    ``cuts`` falls between them.
    """
    is_word = kind > 0
    continues = kind[1:] == kind[:-1]
    continues &= kind[1:] != 2
    if cuts is not None and len(continues):
        cuts = cuts[(cuts > 0) & (cuts <= len(continues))]
        continues[cuts - 1] = False
    first = is_word.copy()
    first[1:] &= ~continues
    last = is_word.copy()
    last[:-1] &= ~continues
    starts = np.flatnonzero(first)
    return starts, np.flatnonzero(last) - starts + 1


def _token_hashes(points: npt.NDArray[np.unsignedinteger], starts: I64, lengths: I64) -> U64:
    """``fmix64(sum_k fmix64(point_k * M + k) ^ length)`` of every token: the sum of its
    characters' terms (wrapping), a term per (code point, position in the token).

    A small input (one article looked up in an index) takes every character's term at once
    (:func:`_token_hashes_flat`); a batch goes position by position, as follows.

    Tokens are taken one character position at a time, longest first, so the tokens that have
    a character at position ``k`` are a prefix of that order; the terms of code points below
    256 at positions below _TABLE_POSITIONS come from a precomputed table. This costs one pass
    per position over the tokens that reach it (most are short) instead of a dozen uint64
    passes over every character of the text.
    """
    if len(points) <= _FLAT_MAX_CHARACTERS:
        return _token_hashes_flat(points, starts, lengths)
    capped = np.minimum(lengths, _SORTED_POSITIONS).astype(np.uint8)
    order = np.argsort(~capped, kind="stable")  # radix sort: longest first, text order within
    first = starts[order]
    reaching = len(starts) - np.cumsum(np.bincount(capped, minlength=_SORTED_POSITIONS + 1))
    sums = np.zeros(len(starts), dtype=np.uint64)
    # One byte per character for the loop: code points above 255 (curly quotes in otherwise
    # Latin text) stand in as 255 and their terms are corrected afterwards.
    narrow = points if points.dtype == np.uint8 else np.minimum(points, 255).astype(np.uint8)
    for position in range(int(capped.max(initial=0))):
        count = int(reaching[position])
        sums[:count] += _position_terms(narrow[first[:count] + position], position)
    if narrow is not points:
        _correct_wide(sums, points, order, starts, lengths)
    long_tokens = np.flatnonzero(lengths[order] > _SORTED_POSITIONS)
    if len(long_tokens):
        sums[long_tokens] += _tail_sums(points, first[long_tokens], lengths[order][long_tokens])
    hashes = np.empty(len(starts), dtype=np.uint64)
    hashes[order] = fmix64(sums ^ lengths[order].astype(np.uint64))
    return hashes


def _token_hashes_flat(points: npt.NDArray[np.unsignedinteger], starts: I64, lengths: I64) -> U64:
    """:func:`_token_hashes` in a few passes over every token character: for a short text
    a handful of numpy calls instead of a dozen per character position (the same sums, as
    wrapping addition does not depend on order)."""
    if len(starts) == 0:
        return np.empty(0, dtype=np.uint64)
    first_slot = np.cumsum(lengths) - lengths
    position = np.arange(int(first_slot[-1] + lengths[-1]), dtype=np.int64)
    position -= np.repeat(first_slot, lengths)
    characters = points[np.repeat(starts, lengths) + position].astype(np.uint64)
    terms = fmix64(characters * _MULTIPLIER + position.astype(np.uint64))
    sums: U64 = np.add.reduceat(terms, first_slot)
    return fmix64(sums ^ lengths.astype(np.uint64))


def _position_terms(points: npt.NDArray[np.uint8], position: int) -> U64:
    """The terms of characters (code points up to 255) at one ``position`` in their tokens."""
    if position >= _TABLE_POSITIONS:
        return fmix64(points.astype(np.uint64) * _MULTIPLIER + np.uint64(position))
    return _latin1_terms()[position][points]


def _correct_wide(
    sums: U64, points: npt.NDArray[np.unsignedinteger], order: I64, starts: I64, lengths: I64
) -> None:
    """Replace, in ``sums`` (tokens in ``order``), the stand-in term of code point 255 by the
    true term of every token character above 255 at a position below _SORTED_POSITIONS."""
    wide = np.flatnonzero(points > 255)
    token = np.searchsorted(starts, wide, side="right") - 1
    inside = token >= 0
    inside[inside] = wide[inside] < starts[token[inside]] + lengths[token[inside]]
    wide, token = wide[inside], token[inside]
    position = (wide - starts[token]).astype(np.uint64)
    looped = position < np.uint64(_SORTED_POSITIONS)
    wide, token, position = wide[looped], token[looped], position[looped]
    true_terms = fmix64(points[wide].astype(np.uint64) * _MULTIPLIER + position)
    stand_in = fmix64(np.full(len(position), 255, dtype=np.uint64) * _MULTIPLIER + position)
    rank = np.empty(len(order), dtype=np.int64)
    rank[order] = np.arange(len(order))
    np.add.at(sums, rank[token], true_terms - stand_in)


def _tail_sums(points: npt.NDArray[np.unsignedinteger], starts: I64, lengths: I64) -> U64:
    """Sums of the terms of the characters past _SORTED_POSITIONS of very long tokens."""
    tail = lengths - _SORTED_POSITIONS
    owner = np.repeat(np.arange(len(starts)), tail)
    first_slot = np.cumsum(tail) - tail
    position = np.arange(int(tail.sum()), dtype=np.int64) - first_slot[owner] + _SORTED_POSITIONS
    characters = points[starts[owner] + position].astype(np.uint64)
    terms = fmix64(characters * _MULTIPLIER + position.astype(np.uint64))
    return np.add.reduceat(terms, first_slot)


@lru_cache(maxsize=1)
def _latin1_terms() -> U64:
    """Terms of code points 0-255 at positions 0 to _TABLE_POSITIONS - 1 (64 KiB)."""
    points = np.arange(256, dtype=np.uint64)[np.newaxis, :]
    positions = np.arange(_TABLE_POSITIONS, dtype=np.uint64)[:, np.newaxis]
    table = fmix64(points * _MULTIPLIER + positions)
    table.setflags(write=False)
    return table


@lru_cache(maxsize=1)
def _latin1_kind() -> npt.NDArray[np.uint8]:
    return np.ascontiguousarray(_word_table()[:256])
