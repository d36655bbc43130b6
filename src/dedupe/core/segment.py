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

Span = tuple[int, int]

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
    units: list[Span] = []
    for block in _blocks(text):
        if len(block) == 1 or _is_hard_wrapped(text, block):
            span = _strip_span(text, block[0][0], block[-1][1])
            if span:
                units.append(span)
        else:
            units.extend(s for s in (_strip_span(text, a, b) for a, b in block) if s)
    if len(units) == 1 and units[0][1] - units[0][0] >= FLATTENED_MIN_CHARS:
        return sentence_spans(text, *units[0])
    return units


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
