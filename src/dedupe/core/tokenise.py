"""Word tokens as hashes, computed over code-point arrays: no Python string per token.

A token is what ``dedupe.core.normalise.WORD_RE`` matches in the folded text: a maximal run of
word characters (``str.isalnum()`` or ``_``), except that each character of a script written
without spaces (Chinese, Japanese) is a token of its own. The text is turned into one byte per
code point once (capped at 255; the few above are kept aside); token boundaries, token-to-unit
assignment and the token hashes are array operations, a token hashed from its bytes read eight
at a time. On the NewsArticles corpus (12.5 MB) this takes 0.22 s, folding included (0.24 s
with a hash per character and position; regex scanning and per-token hashing took 0.5 s).
"""

from __future__ import annotations

import unicodedata
from functools import lru_cache
from typing import NamedTuple

import numpy as np
import numpy.typing as npt

from dedupe.core.normalise import CJK_RANGES, fold
from dedupe.core.runs import run_lengths, run_starts
from dedupe.core.shingle import I64, U64, expand_ranges, fmix64, position_multipliers

_MULTIPLIER = np.uint64(0x9E3779B97F4A7C15)
_UNIT_BREAK = 0x01
_ZERO = np.zeros(1, dtype=np.int64)
_EMPTY_INDEX = np.empty(0, dtype=np.int64)
_EMPTY_POINTS = np.empty(0, dtype=np.uint32)
# Token hashes read a token's characters eight bytes at a time; _WORD_MASKS[n] keeps n bytes.
_WORD = 8
_WORD_MASKS = np.array([(1 << (8 * n)) - 1 for n in range(_WORD + 1)], dtype=np.uint64)
_WORD_PADDING = np.zeros(_WORD, dtype=np.uint8)
# Characters tokenised at once: 256 K keeps the dozen per-character arrays (2 MB each at 8
# bytes) in cache; the whole 6.5 MB batch at once was 4x slower, bound by memory traffic.
_CHUNK_CHARACTERS = 262_144
_BMP = 0x10000


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


class _Characters(NamedTuple):
    """A joined chunk of text as arrays: each code point capped at 255 as one byte (``narrow``),
    each one's :func:`_word_table` kind, and where the code points above 255 are and what they
    are (none in ASCII or Latin-1 text)."""

    narrow: npt.NDArray[np.uint8]
    kind: npt.NDArray[np.uint8]
    wide: I64
    wide_points: npt.NDArray[np.uint32]


def _characters(joined: str) -> _Characters:
    """:class:`_Characters` of ``joined``. Kinds come from ``bytes.translate`` over the narrow
    bytes (a 256-entry table; 0.3 ns a character, where a numpy gather from the table converts
    every index to intp first and took 3 ns), and only the code points above 255 are looked up
    one by one."""
    table = _latin1_kind_bytes()
    if joined.isascii():  # a flag check in CPython
        data = joined.encode("ascii")
        narrow = np.frombuffer(data, dtype=np.uint8)
        kind = np.frombuffer(data.translate(table), dtype=np.uint8)
        return _Characters(narrow, kind, _EMPTY_INDEX, _EMPTY_POINTS)
    points = np.frombuffer(joined.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
    narrow = np.minimum(points, 255).astype(np.uint8)
    capped = np.flatnonzero(narrow == 255)  # a byte-wide pass; U+00FF itself is rare
    wide = capped[points[capped] > 255]
    wide_points = points[wide]
    kind = np.frombuffer(narrow.tobytes().translate(table), dtype=np.uint8)
    if len(wide):
        kind = kind.copy()
        kind[wide] = _kinds(wide_points)
    return _Characters(narrow, kind, wide, wide_points)


def _tokenise_chunk(pieces: list[str], hashes: list[U64], counts: list[I64]) -> None:
    # Folded piece by piece: most pieces are ASCII and take str.lower(); folding a whole chunk
    # would normalise and case-fold all of it whenever one piece is not ASCII (4x slower).
    characters = _characters("\x01".join(map(fold, pieces)))
    starts, lengths = _token_spans(characters.kind)
    hashes.append(_token_hashes(characters, starts, lengths))
    # Pieces are separated by one _UNIT_BREAK each: count the tokens between them.
    breaks = np.searchsorted(starts, np.flatnonzero(characters.narrow == _UNIT_BREAK))
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
    characters = _characters("\x01".join(segments))
    starts, lengths = _token_spans(characters.kind, spans.ravel())
    # Tokens never cross a span edge: a span's tokens are those starting inside it.
    first = np.searchsorted(starts, spans[:, 0])
    per_span = np.searchsorted(starts, spans[:, 1]) - first
    if int(per_span.sum()) != len(starts):  # tokens between spans (none where gaps are blank)
        edges = np.bincount(first, minlength=len(starts) + 1)
        edges -= np.bincount(first + per_span, minlength=len(starts) + 1)
        inside = np.cumsum(edges[:-1]) > 0
        starts, lengths = starts[inside], lengths[inside]
    hashes.append(_token_hashes(characters, starts, lengths))
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


def _token_hashes(characters: _Characters, starts: I64, lengths: I64) -> U64:
    """The hash of every token (first character ``starts``, ``lengths`` characters):

    ``fmix64((sum_g word_g * P_g + sum_k fmix64(c_k * M + k)) ^ length)``, wrapping, where
    ``word_g`` is the little-endian uint64 of characters ``8g`` to ``8g + 7`` of the token, each
    code point capped at 255 as one byte (zero bytes past its end), ``P_g`` the odd multiplier of
    position ``g`` (:func:`~dedupe.core.shingle.position_multipliers`), and the second sum runs
    over the token's code points ``c_k`` above 255, at their offsets ``k`` in the token.

    A token of up to eight characters is one unaligned 8-byte load from the text's bytes, a
    mask and a multiply (English words: ~85 % of tokens), longer ones add a load per further
    eight characters: a few passes over the tokens, not one per character position. Two tokens
    of up to eight Latin-1 characters never collide (the sum is a bijection of their bytes);
    longer ones collide when their weighted sums agree modulo 2^64, as the unit hashes do
    (:func:`~dedupe.core.shingle.unit_hashes`).
    """
    if len(starts) == 0:
        return np.empty(0, dtype=np.uint64)
    narrow = characters.narrow
    padded = np.concatenate((narrow, _WORD_PADDING))
    # Every offset's next eight bytes as one uint64: a view with a stride of one byte.
    words = np.ndarray((len(narrow) + 1,), dtype="<u8", buffer=padded, strides=(1,))
    multipliers = position_multipliers(int(lengths.max()) // _WORD + 1)
    sums = words[starts].astype(np.uint64)
    sums &= _WORD_MASKS[np.minimum(lengths, _WORD)]
    sums *= multipliers[0]
    long_tokens = np.flatnonzero(lengths > _WORD)
    if len(long_tokens):
        sums[long_tokens] += _later_words(
            words, starts[long_tokens], lengths[long_tokens], multipliers
        )
    if len(characters.wide):
        _add_wide_terms(sums, characters, starts, lengths)
    sums ^= lengths.astype(np.uint64)
    return fmix64(sums)


def _later_words(words: U64, starts: I64, lengths: I64, multipliers: U64) -> U64:
    """``sum_{g >= 1} word_g * P_g`` of tokens longer than eight characters, each one's words
    laid out flat and summed with one ``add.reduceat``."""
    count = (lengths - 1) // _WORD  # words after the first: groups 1 to count
    owner, group, first_slot = expand_ranges(np.ones(len(starts), dtype=np.int64), count)
    offset = group * _WORD
    values = words[starts[owner] + offset].astype(np.uint64)
    values &= _WORD_MASKS[np.minimum(lengths[owner] - offset, _WORD)]
    values *= multipliers[group]
    sums: U64 = np.add.reduceat(values, first_slot)
    return sums


def _add_wide_terms(sums: U64, characters: _Characters, starts: I64, lengths: I64) -> None:
    """Add ``fmix64(c_k * M + k)`` for every token character above 255 to its token's sum."""
    wide = characters.wide
    token = np.searchsorted(starts, wide, side="right") - 1
    inside = token >= 0
    inside[inside] = wide[inside] < starts[token[inside]] + lengths[token[inside]]
    token = token[inside]
    if len(token) == 0:
        return
    offset = (wide[inside] - starts[token]).astype(np.uint64)
    terms = fmix64(characters.wide_points[inside].astype(np.uint64) * _MULTIPLIER + offset)
    first = run_starts(token)  # wide characters ascend, so their tokens do
    sums[token[first]] += np.add.reduceat(terms, first)


@lru_cache(maxsize=1)
def _latin1_kind_bytes() -> bytes:
    """:func:`_word_table` for code points 0-255, as a ``bytes.translate`` table."""
    return _word_table()[:256].tobytes()
