"""Labelled document pairs: the CSV a user gives ``dedupe tune --pairs``.

The file has a header with (at least) the columns ``id_a``, ``id_b`` and ``is_duplicate``; every
other line is one pair of record ids and whether they are copies of each other. A labelling
mistake would silently tilt the precision and recall that ``tune`` recommends from, so a bad line
is an :class:`~dedupe.errors.InputError` naming the file, the line and the reason, never a skip.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from dedupe.errors import InputError
from dedupe.records import Origin

__all__ = ["COLUMNS", "LIBRARY_ORIGIN", "LabelledPair", "parse_label", "read_labels"]

#: The columns a labels file must have, in the order a new file should put them.
COLUMNS = ("id_a", "id_b", "is_duplicate")

#: Where a pair given in code (not read from a file) says it came from.
LIBRARY_ORIGIN = Origin("<labels>")

_TRUE = frozenset({"1", "true", "yes", "y", "t"})
_FALSE = frozenset({"0", "false", "no", "n", "f"})


@dataclass(frozen=True, slots=True)
class LabelledPair:
    """Two record ids and whether they are duplicates; ``origin`` is the file and line it came
    from, so a later check (an id not in the corpus) can still point at the line."""

    id_a: str
    id_b: str
    is_duplicate: bool
    origin: Origin = LIBRARY_ORIGIN


def parse_label(value: str) -> bool | None:
    """``is_duplicate`` as a bool, or None when it is none of 1/0, true/false, yes/no.

    >>> parse_label(" Yes "), parse_label("0"), parse_label("maybe")
    (True, False, None)
    """
    folded = value.strip().lower()
    if folded in _TRUE:
        return True
    if folded in _FALSE:
        return False
    return None


def read_labels(path: str | Path) -> list[LabelledPair]:
    """Every labelled pair of the CSV file at ``path``, in file order, each pair once.

    Raises :class:`InputError` (file, line, reason) for a missing file or column, a line with
    the wrong number of fields, an empty id, a pair of one id with itself, a label that is not
    1/0, true/false or yes/no, a pair labelled both ways, or a file without pairs. A pair
    given twice with the same label (in either order) counts once.
    """
    name = str(path)
    try:
        with open(path, encoding="utf-8-sig", newline="") as stream:
            return _read(stream, name)
    except UnicodeDecodeError as error:
        reason = f"not UTF-8 text ({error.reason} at byte {error.start})"
        raise InputError(name, None, reason) from None
    except OSError as error:
        reason = error.strerror.lower() if error.strerror else str(error)
        raise InputError(name, None, reason) from None


def _read(stream: Iterator[str], name: str) -> list[LabelledPair]:
    reader = csv.reader(stream, skipinitialspace=True)
    try:
        header = next(reader, None)
        if header is None:
            raise InputError(name, None, f"empty file; the first line must be {','.join(COLUMNS)}")
        where = _column_indices(header, name)
        pairs: dict[frozenset[str], LabelledPair] = {}
        for row in reader:
            if not row or all(not cell.strip() for cell in row):
                continue
            pair = _pair(row, len(header), where, Origin(name, reader.line_num))
            _add(pairs, pair)
    except csv.Error as error:
        raise InputError(name, reader.line_num, f"malformed CSV: {error}") from None
    if not pairs:
        raise InputError(name, None, "no labelled pairs after the header line")
    return list(pairs.values())


def _column_indices(header: list[str], name: str) -> dict[str, int]:
    folded = [cell.strip().lower() for cell in header]
    missing = [column for column in COLUMNS if column not in folded]
    if missing:
        found = ", ".join(cell.strip() for cell in header) or "none"
        plural = "s" if len(missing) > 1 else ""
        raise InputError(
            name,
            1,
            f"missing column{plural} {', '.join(repr(c) for c in missing)} "
            f"(the header has: {found}; expected {','.join(COLUMNS)})",
        )
    return {column: folded.index(column) for column in COLUMNS}


def _pair(row: list[str], width: int, where: dict[str, int], origin: Origin) -> LabelledPair:
    if len(row) != width:
        raise InputError(
            origin.path, origin.line, f"expected {width} fields like the header, found {len(row)}"
        )
    id_a, id_b = row[where["id_a"]].strip(), row[where["id_b"]].strip()
    for column, value in (("id_a", id_a), ("id_b", id_b)):
        if not value:
            raise InputError(origin.path, origin.line, f"empty {column}")
    if id_a == id_b:
        raise InputError(origin.path, origin.line, f"id_a and id_b are the same id {id_a!r}")
    raw = row[where["is_duplicate"]]
    label = parse_label(raw)
    if label is None:
        raise InputError(
            origin.path,
            origin.line,
            f"is_duplicate must be 1 or 0 (or true/false, yes/no), got {raw.strip()!r}",
        )
    return LabelledPair(id_a, id_b, label, origin)


def _add(pairs: dict[frozenset[str], LabelledPair], pair: LabelledPair) -> None:
    key = frozenset((pair.id_a, pair.id_b))
    first = pairs.get(key)
    if first is None:
        pairs[key] = pair
    elif first.is_duplicate != pair.is_duplicate:
        said = "a duplicate" if pair.is_duplicate else "not a duplicate"
        raise InputError(
            pair.origin.path,
            pair.origin.line,
            f"pair ({pair.id_a!r}, {pair.id_b!r}) labelled {said} here "
            f"and the opposite at line {first.origin.line}",
        )
