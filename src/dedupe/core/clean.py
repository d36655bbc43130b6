"""Cleaned text is sliced from the original: whole spans removed, nothing else touched."""

from __future__ import annotations

from collections.abc import Sequence


def removed_bytes(text: str, whole: bool, spans: Sequence[tuple[int, int]]) -> int:
    """UTF-8 bytes that leave ``text``: all of them when ``whole`` (a removed duplicate), else
    those of the ``spans`` cut out.

    >>> removed_bytes("añb", False, [(1, 2)]), removed_bytes("añb", True, [])
    (2, 4)
    """
    if whole:
        return len(text.encode("utf-8", "surrogatepass"))
    return sum(len(text[s:e].encode("utf-8", "surrogatepass")) for s, e in spans)


def remove_spans(text: str, spans: Sequence[tuple[int, int]]) -> str:
    """Return ``text`` without the half-open character ``spans`` (sorted, non-overlapping).

    >>> remove_spans("a\\n\\nb\\n\\nc", [(3, 6)])
    'a\\n\\nc'
    """
    if not spans:
        return text
    pieces = []
    cursor = 0
    for start, end in spans:
        if start < cursor or end < start or end > len(text):
            raise ValueError(f"span ({start}, {end}) overlaps, is reversed or out of range")
        pieces.append(text[cursor:start])
        cursor = end
    pieces.append(text[cursor:])
    return "".join(pieces)
