"""The small record types that flow through every stage.

Each record gets its input ``position`` when read; clusters, keeper ties and output order all derive
from it, so the same input gives the same output at any batch size or worker count.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class Origin:
    """Where a record came from: the file as the user named it and the 1-based line (JSONL), or
    None for a record that is a whole file."""

    path: str
    line: int | None = None

    def __str__(self) -> str:
        return self.path if self.line is None else f"{self.path}:{self.line}"


@dataclass(frozen=True, slots=True)
class Record:
    """One input document.

    ``text`` is the text exactly as read (after encoding repair, if any): cleaned copies are sliced
    from it. ``raw`` is the JSONL line it came from (None for text files and library input) and
    ``text_span`` the character span of the text field's JSON value in ``raw``, so a writer can
    replace that value and keep every other byte of the line (None when the reader was asked
    not to find it; the writer then finds it in ``raw``). ``fields`` holds the other fields of
    a library dict, passed through to the cleaned record. ``notes`` lists repairs made on reading.
    """

    position: int
    id: str
    text: str
    origin: Origin
    raw: str | None = None
    text_span: tuple[int, int] | None = None
    fields: dict[str, Any] | None = None
    notes: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Skipped:
    """An input record that was not scanned, and why. Counted in the summary by construction."""

    position: int
    origin: Origin
    reason: str
    id: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "file": self.origin.path,
            "line": self.origin.line,
            "id": self.id,
            "reason": self.reason,
        }
