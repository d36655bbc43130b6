"""Paragraphs as character spans into the raw text (never copies).

Rules, in order:

1. Blocks are separated by blank lines; a line holding only whitespace (spaces, tabs, ``\\r``,
   non-breaking spaces) is blank. The seed article separates its paragraphs with lines holding a
   single space.
2. Inside a block, single line breaks end paragraphs (scraped pages put a caption, a byline and
   the body on consecutive lines) unless the block is hard-wrapped prose, recognised by lines of
   similar length that mostly do not end a sentence; a hard-wrapped block is one paragraph.
3. A document that comes out as a single long unit (flattened text) is split into sentences, so
   a repeat inside it is still found.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable, Sequence
from functools import lru_cache

import numpy as np
import numpy.typing as npt

from dedupe.core.runs import first_of_runs

Span = tuple[int, int]
I64 = npt.NDArray[np.int64]

_SENTENCE_END_RE = re.compile(
    r"""([.!?]["'\u201d\u2019)\]]*)(\s+)(?=["'\u201c\u2018(\[]?[A-Z0-9])"""
)
_ENDS_SENTENCE = (".", "!", "?", ":", '"', "\u201d", "'", "\u2019", ")")

#: A document that is a single unit longer than this many characters is split into sentences:
#: longer than most single news paragraphs (median about 250 characters), far shorter than a
#: flattened article (thousands).
FLATTENED_MIN_CHARS = 400
#: Hard-wrapped prose: at least this many lines ...
_WRAP_MIN_LINES = 3
#: ... whose lengths (all but the last) lie within this fraction of the longest ...
_WRAP_LENGTH_BAND = 0.7
#: ... and at least this long, most of them not ending a sentence.
_WRAP_MIN_WIDTH = 40


def _strip_span(text: str, start: int, end: int) -> Span | None:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return (start, end) if start < end else None


def _lines(text: str) -> list[Span]:
    """Line spans without their line ends."""
    spans = []
    offset = 0
    for line in text.splitlines(keepends=True):
        body = line.rstrip("\r\n\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029")
        spans.append((offset, offset + len(body)))
        offset += len(line)
    return spans


def _is_hard_wrapped(text: str, lines: list[Span]) -> bool:
    if len(lines) < _WRAP_MIN_LINES:
        return False
    body = lines[:-1]
    lengths = [end - start for start, end in body]
    longest = max(lengths)
    if longest < _WRAP_MIN_WIDTH:
        return False
    in_band = sum(1 for n in lengths if n >= _WRAP_LENGTH_BAND * longest)
    open_ended = sum(1 for s, e in body if not text[s:e].rstrip().endswith(_ENDS_SENTENCE))
    return in_band >= 0.8 * len(body) and open_ended >= 0.6 * len(body)


def _blocks(text: str) -> list[list[Span]]:
    blocks: list[list[Span]] = []
    current: list[Span] = []
    for start, end in _lines(text):
        if text[start:end].isspace() or start == end:
            if current:
                blocks.append(current)
                current = []
        else:
            current.append((start, end))
    if current:
        blocks.append(current)
    return blocks


def sentence_spans(text: str, start: int, end: int) -> list[Span]:
    """Sentence spans inside ``text[start:end]``.

    >>> t = "One here. Two there! Three."
    >>> [t[s:e] for s, e in sentence_spans(t, 0, len(t))]
    ['One here.', 'Two there!', 'Three.']
    """
    bounds = _strip_span(text, start, end)
    if bounds is None:
        return []
    start, end = bounds
    # Each match ends one sentence (its punctuation, group 1) and starts the next after the
    # whitespace (group 2), so no span needs trimming. Splitting on the pattern gives
    # [sentence, punctuation, whitespace, sentence, ...]; the running sum of their lengths
    # gives every boundary without a method call per match (0.9 s of Python at x10).
    parts = _SENTENCE_END_RE.split(text[start:end])
    offsets = list(itertools.accumulate(map(len, parts), initial=start))
    starts = [start, *offsets[3::3]]
    ends = [*offsets[2::3], end]
    return list(zip(starts, ends, strict=True))


def paragraph_spans(text: str) -> list[Span]:
    """Paragraph spans of ``text``, in order, trimmed of surrounding whitespace.

    >>> t = "Title\\n \\nFirst para.\\nCaption line\\n\\n\\nLast para."
    >>> [t[s:e] for s, e in paragraph_spans(t)]
    ['Title', 'First para.', 'Caption line', 'Last para.']
    """
    units = _block_units(text)
    if _is_flattened(units):
        return sentence_spans(text, *units[0])
    return units


def _block_units(text: str) -> list[Span]:
    """The units of rules 1 and 2: blocks, their lines unless hard-wrapped."""
    units: list[Span] = []
    for block in _blocks(text):
        if len(block) == 1 or _is_hard_wrapped(text, block):
            span = _strip_span(text, block[0][0], block[-1][1])
            if span:
                units.append(span)
        else:
            units.extend(s for s in (_strip_span(text, a, b) for a, b in block) if s)
    return units


def _is_flattened(units: list[Span]) -> bool:
    return len(units) == 1 and units[0][1] - units[0][0] >= FLATTENED_MIN_CHARS


def paragraph_bounds(texts: Sequence[str]) -> tuple[I64, I64]:
    """:func:`paragraph_spans` of every text, as one ``(units, 2)`` array of spans and the
    number of units per text. The same spans; the sentences of all flattened texts are found
    at once by array operations (:func:`_sentence_bounds`) instead of a regex per text: the
    x10 news articles are nearly all one line each.

    >>> bounds, counts = paragraph_bounds(["A b.\\n\\nC d.", "One. " * 90 + "End."])
    >>> bounds[:3].tolist(), counts.tolist()
    ([[0, 4], [6, 10], [0, 4]], [2, 91])
    """
    docs: list[int] = []
    spans: list[Span] = []
    flattened: list[tuple[int, int, int]] = []
    for doc, text in enumerate(texts):
        units = _block_units(text)
        if _is_flattened(units):
            flattened.append((doc, *units[0]))
        else:
            docs.extend(itertools.repeat(doc, len(units)))
            spans.extend(units)
    doc_of = np.array(docs, dtype=np.int64)
    bounds = np.array(spans, dtype=np.int64).reshape(-1, 2)
    if flattened:
        sentence_docs, sentences = _sentence_bounds(texts, flattened)
        # Two runs, each in text order: a stable sort by text merges them.
        doc_of = np.concatenate([doc_of, sentence_docs])
        order = np.argsort(doc_of, kind="stable")
        doc_of, bounds = doc_of[order], np.concatenate([bounds, sentences])[order]
    return bounds, np.bincount(doc_of, minlength=len(texts)).astype(np.int64)


# Code points of _SENTENCE_END_RE's classes (all in the Basic Multilingual Plane).
_ENDS = ".!?"
_CLOSERS = "\"')]\u201d\u2019"
_OPENERS = "\"'([\u201c\u2018"


@lru_cache(maxsize=4)
def _table(members: str) -> npt.NDArray[np.bool_]:
    """Per code point of the Basic Multilingual Plane, whether it is one of ``members``, or
    (``members`` empty) whether ``\\s`` matches it: what ``str.isspace()`` says; no code point
    above the plane is a space."""
    if members:
        table = np.zeros(0x10000, dtype=np.bool_)
        table[[ord(c) for c in members]] = True
    else:
        points = np.arange(0x10000, dtype=np.uint32)
        points[(points >= 0xD800) & (points < 0xE000)] = 0  # surrogates: not spaces
        table = np.asarray(np.char.isspace(points.view("<U1")), dtype=np.bool_)
        table[0] = False
    table.setflags(write=False)
    return table


def _space_table() -> npt.NDArray[np.bool_]:
    return _table("")


def _sentence_bounds(
    texts: Sequence[str], flattened: list[tuple[int, int, int]]
) -> tuple[I64, I64]:
    """:func:`sentence_spans` of the spans ``(doc, start, end)`` of ``texts``, as the text of
    each sentence and its span. Every end of sentence that _SENTENCE_END_RE matches is found
    at once: a ``.``, ``!`` or ``?``; the closing quotes and brackets after it; at least one
    space; then a capital or digit, perhaps after an opening quote or bracket. Such matches
    cannot overlap (none holds another sentence end), so testing every end alone finds those
    the regex finds. The pieces are joined by NULs, which no part of the pattern matches; two
    more end the string, so that looking past a piece's last character stays inside it."""
    pieces = [texts[doc][start:end] for doc, start, end in flattened]
    joined = "\x00".join(pieces) + "\x00\x00"
    codes: np.ndarray
    if joined.isascii():
        codes = np.frombuffer(joined.encode("ascii"), dtype=np.uint8)
    else:
        codes = np.frombuffer(joined.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
    lengths = np.fromiter(map(len, pieces), dtype=np.int64, count=len(pieces))
    offsets = np.cumsum(lengths + 1) - (lengths + 1)
    # Three comparisons over every character; the rest looks only near the candidates.
    dot, bang, ask = (codes.dtype.type(ord(c)) for c in _ENDS)
    candidates = np.flatnonzero((codes == dot) | (codes == bang) | (codes == ask))
    closer, opener, space = _table(_CLOSERS), _table(_OPENERS), _table("")

    def kind(table: npt.NDArray[np.bool_], at: I64) -> npt.NDArray[np.bool_]:
        found = codes[at]
        return table[found if codes.dtype == np.uint8 else np.minimum(found, 0xFFFF)]

    gap = _run_end(candidates + 1, lambda at: kind(closer, at))
    gap = gap[kind(space, gap)]
    following = _run_end(gap, lambda at: kind(space, at))
    first, second = codes[following], codes[following + 1]
    capital = _capital_or_digit(first) | (kind(opener, following) & _capital_or_digit(second))
    gap, following = gap[capital], following[capital]
    starts = np.sort(np.concatenate([offsets, following]))
    stops = np.sort(np.concatenate([gap, offsets + lengths]))
    piece = np.searchsorted(offsets, starts, side="right") - 1
    base = np.array([start for _, start, _ in flattened], dtype=np.int64) - offsets
    shift = base[piece][:, np.newaxis]
    docs = np.array([doc for doc, _, _ in flattened], dtype=np.int64)[piece]
    return docs, np.stack([starts, stops], axis=1) + shift


def _run_end(at: I64, inside: Callable[[I64], npt.NDArray[np.bool_]]) -> I64:
    """For each offset, the first offset from it on where ``inside`` is False: runs of
    closers or spaces are short, so a few steps over the offsets still in a run."""
    at = at.copy()
    moving = np.flatnonzero(inside(at))
    while len(moving):
        at[moving] += 1
        moving = moving[inside(at[moving])]
    return at


def _capital_or_digit(codes: np.ndarray) -> npt.NDArray[np.bool_]:
    return ((codes >= 65) & (codes <= 90)) | ((codes >= 48) & (codes <= 57))


def drop_spans(text_length: int, units: list[Span], dropped: list[int]) -> list[Span]:
    """Character spans to cut so that the units at indices ``dropped`` disappear together with
    one separator each: the one after the unit, or, where no kept unit follows, the one before it.
    Every other byte stays. Returned sorted and merged.

    >>> t = "A\\n\\nB\\n\\nC"
    >>> u = paragraph_spans(t)
    >>> drop_spans(len(t), u, [1]), drop_spans(len(t), u, [2]), drop_spans(len(t), u, [1, 2])
    ([(3, 6)], [(4, 7)], [(1, 7)])
    """
    dropped_set = set(dropped)
    kept = [i for i in range(len(units)) if i not in dropped_set]
    last_kept = kept[-1] if kept else -1
    cuts = []
    for index in sorted(dropped_set):
        start, end = units[index]
        if index < last_kept:
            cuts.append((start, units[index + 1][0]))
        elif last_kept >= 0:
            # Nothing kept follows: cut the separator before instead, from the last kept unit.
            cuts.append((units[last_kept][1], end))
        else:
            cuts.append((start, end))
    merged: list[Span] = []
    for start, end in sorted(cuts):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return merged


def cut_spans(unit_doc: I64, starts: I64, ends: I64, dropped: I64) -> tuple[I64, I64, I64]:
    """:func:`drop_spans` for many documents at once: ``unit_doc``, ``starts`` and ``ends``
    describe every unit (the units of a document consecutive, in text order, documents in
    ascending order) and ``dropped`` lists the unit indices to drop, distinct and ascending.
    Returns the merged cuts as ``(document, start, end)`` arrays sorted by document and start:
    for each document the spans ``drop_spans`` gives it, with no Python step per document or
    unit (x10 with ``--boilerplate-min-docs 5``: 32,000 documents lose 600,000 paragraphs).

    >>> doc = np.array([0, 0, 0, 1, 1])
    >>> start, end = np.array([0, 3, 6, 0, 5]), np.array([1, 4, 7, 3, 8])
    >>> [a.tolist() for a in cut_spans(doc, start, end, np.array([1, 2, 4]))]
    [[0, 1], [1, 3], [7, 8]]
    """
    dropped = np.asarray(dropped, dtype=np.int64)
    if len(dropped) == 0:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty.copy(), empty.copy()
    doc = unit_doc[dropped].astype(np.int64)
    first = np.searchsorted(unit_doc, doc, side="left")
    last = np.searchsorted(unit_doc, doc, side="right") - 1
    # The last kept unit of each dropped unit's document: its last unit unless that is
    # dropped, else the unit before the run of consecutive dropped units that ends there (-1
    # where the run reaches back past the document's first unit: nothing of it is kept).
    run_begins = np.r_[True, dropped[1:] != dropped[:-1] + 1]
    run_first = dropped[np.flatnonzero(run_begins)][np.cumsum(run_begins) - 1]
    at_last = np.searchsorted(dropped, last)
    last_dropped = at_last < len(dropped)
    last_dropped[last_dropped] = dropped[at_last[last_dropped]] == last[last_dropped]
    last_kept = last.copy()
    behind = run_first[np.minimum(at_last, len(dropped) - 1)] - 1
    last_kept[last_dropped] = behind[last_dropped]
    last_kept[last_kept < first] = -1
    # One cut per dropped unit with its separator: the one after it where a kept unit follows,
    # else the one before it from the last kept unit, else (nothing kept) the unit alone.
    before = dropped < last_kept
    after = ~before & (last_kept >= 0)
    cut_start = starts[dropped].astype(np.int64)
    cut_end = ends[dropped].astype(np.int64)
    cut_end[before] = starts[dropped[before] + 1]
    cut_start[after] = ends[last_kept[after]]
    # In this order the cuts of a document ascend by start (ties by end); touching or
    # overlapping ones merge. Offsetting each document past the previous one's ends lets one
    # running maximum of the ends tell where a new merged span begins.
    width = int(cut_end.max()) + 1
    rank = np.cumsum(first_of_runs(doc)) - 1
    shifted_end = rank * width + cut_end
    reach = np.maximum.accumulate(shifted_end)
    begins = np.r_[True, rank[1:] * width + cut_start[1:] > reach[:-1]]
    heads = np.flatnonzero(begins)
    return doc[heads], cut_start[heads], np.maximum.reduceat(cut_end, heads)
