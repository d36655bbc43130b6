"""The input edge: JSONL (plain or gzip, a file or standard input) and text files become records.

Every input unit -- a JSONL line that is not blank, or a text file -- takes the next ``position``,
skipped ones included, so each read of a :class:`Source` numbers records the same way and a second
pass lines up with the first. A bad record is a :class:`~dedupe.records.Skipped` with a reason;
only input that cannot be read at all raises :class:`~dedupe.errors.InputError`.
"""

from __future__ import annotations

import codecs
import contextlib
import gzip
import json
import math
import os
import re
import shutil
import sys
import tempfile
import weakref
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import partial
from types import TracebackType
from typing import TYPE_CHECKING, Any, BinaryIO, Literal, cast, get_args

from dedupe.errors import ConfigError, InputError
from dedupe.records import Origin, Record, Skipped

if TYPE_CHECKING:
    from dedupe.datasets import DataFile

__all__ = [
    "NOTE_BOM",
    "NOTE_INVALID_UTF8",
    "NOTE_NUL",
    "STDIN_NAME",
    "STDIN_PATH",
    "Format",
    "Source",
    "detect_format",
    "open_source",
]

Format = Literal["jsonl", "text"]
#: What a :class:`Source` reads: the formats above, or a dataset of many data files.
SourceFormat = Literal["jsonl", "text", "dataset"]

STDIN_PATH = "-"
STDIN_NAME = "<stdin>"

NOTE_BOM = "BOM removed"
NOTE_INVALID_UTF8 = "invalid UTF-8 replaced with U+FFFD"
NOTE_NUL = "text contains NUL characters"

_JSONL_SUFFIXES = (".jsonl", ".jsonl.gz", ".json", ".json.gz", ".ndjson", ".ndjson.gz")
_TEXT_SUFFIXES = frozenset({".txt", ".md"})
_GZIP_MAGIC = b"\x1f\x8b"
#: Bytes read from a file at a time. Splitting the x100 news corpus (1.24 GB of ~3 KB lines)
#: into lines took 0.73 s through the default 8 KiB buffer and 0.26 s through this one, and a
#: scan reads its input two or three times.
_READ_BUFFER = 1 << 20
_BOM = codecs.BOM_UTF8
# A "missing text field" reason names the other string fields so the user can pick one for
# --text-field; a wide record would make that line unreadable, so it names at most this many.
_MAX_FIELDS_NAMED = 8
# 1 MiB chunks: a copy of standard input costs a few syscalls per megabyte and little memory.
_SPOOL_CHUNK_BYTES = 1 << 20

# JSON's insignificant whitespace (RFC 8259), the same set json.decoder skips.
_JSON_WHITESPACE = re.compile(r"[ \t\n\r]*")
_DECODER = json.JSONDecoder()
# json's own string scanner (C when available); typeshed leaves it out of json.decoder's stub.
_scanstring: Callable[[str, int], tuple[str, int]]
_scanstring = json.decoder.scanstring  # type: ignore[attr-defined]

_Read = Callable[[bool], Iterator[Record | Skipped]]
_ReadLines = Callable[[], Iterator["Line"]]


@dataclass(frozen=True, slots=True)
class Line:
    """A JSONL line read but not parsed (:meth:`Source.lines`): its input position, the text a
    :class:`Record` read from it holds as ``raw`` (line end and byte-order mark cut, invalid
    UTF-8 replaced) and the notes made on reading it. :meth:`parse` makes the record, or the
    skip, that :meth:`Source.records` yields for it."""

    position: int
    raw: str
    origin: Origin
    notes: tuple[str, ...]
    text_field: str
    id_field: str

    def parse(self) -> Record | Skipped:
        notes = list(self.notes)
        return _parse_raw(
            self.raw, self.position, self.origin, self.text_field, self.id_field, notes, spans=False
        )


def detect_format(path: str) -> Format:
    """Guess the input format from the path: JSONL for ``-`` and JSON-ish suffixes, else text.

    >>> detect_format("corpus.jsonl.gz"), detect_format("notes.md")
    ('jsonl', 'text')
    """
    if path == STDIN_PATH:
        return "jsonl"
    if os.path.isdir(path):
        return "text"
    if path.lower().endswith(_JSONL_SUFFIXES):
        return "jsonl"
    return "text"


class Source:
    """A re-readable input: each ``iter()`` reads it again from the start and yields the same
    records with the same positions. Close it (or use it as a context manager) to remove the
    copy of standard input it may hold."""

    def __init__(
        self,
        fmt: SourceFormat,
        root: str,
        is_tree: bool,
        read: _Read,
        spool: str | None = None,
        files: list[DataFile] | None = None,
        counts: list[int] | None = None,
        read_lines: _ReadLines | None = None,
    ) -> None:
        self.format: SourceFormat = fmt
        # A dataset's data files, and the positions each took in the last full read.
        self.files = files
        self.counts = counts if counts is not None else []
        self.root = root
        self.is_tree = is_tree
        self._read = read
        self._read_lines = read_lines
        self._closed = False
        # finalize also removes the spool at interpreter exit if the caller never closes.
        self._cleanup = weakref.finalize(self, _remove_file, spool) if spool else None

    def __iter__(self) -> Iterator[Record | Skipped]:
        return self.records()

    def records(self, spans: bool = True) -> Iterator[Record | Skipped]:
        """Read the input again from the start. With ``spans=False`` a JSONL record's
        ``text_span`` is left None (a writer finds it in ``raw`` when it needs it) and each line
        is parsed by ``json.loads`` alone: the line walk that finds the span took 1.9 of the
        2.8 s spent reading the x10 news corpus twice, for the few records whose text changes.
        The records are otherwise the same, skips and their reasons included."""
        if self._closed:
            raise ValueError(f"source {self.root!r} is closed")
        return self._read(spans)

    def lines(self) -> Iterator[Line | Record | Skipped]:
        """Read the input again from the start, parsing nothing a caller may not need: a JSONL
        line comes as a :class:`Line` (a blank one not at all, as in :meth:`records`), which
        its :meth:`Line.parse` turns into what :meth:`records` yields for it; other formats
        come as :meth:`records` with ``spans=False``. Pass two writes most kept lines as they
        were read, and parsing them again took ~12 us a line of news (x100: 4.7 s a pass)."""
        if self._closed:
            raise ValueError(f"source {self.root!r} is closed")
        if self._read_lines is None:
            return self._read(False)
        return self._read_lines()

    def close(self) -> None:
        self._closed = True
        if self._cleanup is not None:
            self._cleanup()

    def __enter__(self) -> Source:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Source(format={self.format!r}, root={self.root!r}, is_tree={self.is_tree})"


def open_source(
    path: str,
    fmt: Format | None = None,
    *,
    text_field: str = "text",
    id_field: str = "id",
    stdin: BinaryIO | None = None,
) -> Source:
    """Open ``path`` (a JSONL file, a text file, a directory of text files, ``-``, or a dataset
    of JSONL(.gz) and Parquet files: see :func:`dedupe.datasets.dataset_source`).

    Raises :class:`InputError` when the input cannot be read at all: a missing path, an
    unreadable JSONL file, a directory without ``*.txt``/``*.md`` files.
    """
    from dedupe.datasets import dataset_source, is_dataset

    if fmt is None and path != STDIN_PATH and is_dataset(path):
        return dataset_source(path, text_field, id_field)
    fmt = detect_format(path) if fmt is None else _checked_format(fmt)
    if path == STDIN_PATH:
        return _open_stdin(fmt, text_field, id_field, stdin)
    try:
        os.stat(path)
    except OSError as exc:
        raise InputError(path, None, _os_reason(exc)) from exc
    if fmt == "jsonl":
        return _open_jsonl_file(path, text_field, id_field)
    if os.path.isdir(path):
        files = _list_text_files(path)
        if not files:
            raise InputError(path, None, "directory holds no *.txt or *.md files")
        return Source("text", path, True, partial(_read_text_files, files))
    single = [(os.path.basename(path), path)]
    return Source("text", path, False, partial(_read_text_files, single))


def _checked_format(fmt: str) -> Format:
    if fmt not in get_args(Format):
        raise ConfigError(f"format {fmt!r} is not one of: {', '.join(get_args(Format))}")
    return fmt  # type: ignore[return-value]  # checked against the Literal just above


def _open_jsonl_file(path: str, text_field: str, id_field: str) -> Source:
    if os.path.isdir(path):
        raise InputError(path, None, "is a directory; JSONL input is a file or '-' for stdin")
    try:
        with open(path, "rb"):
            pass
    except OSError as exc:
        raise InputError(path, None, _os_reason(exc)) from exc
    read = partial(_read_jsonl, path, path, text_field, id_field)
    lines = partial(_read_jsonl_lines, path, path, text_field, id_field)
    return Source("jsonl", path, False, read, read_lines=lines)


def _open_stdin(fmt: Format, text_field: str, id_field: str, stdin: BinaryIO | None) -> Source:
    if fmt != "jsonl":
        raise ConfigError("standard input is read as JSONL only; give text as a file or directory")
    stream = stdin if stdin is not None else sys.stdin.buffer
    # Pass two re-reads the input, and a pipe can be read once: keep a copy on disk.
    spool = _spool(stream)
    read = partial(_read_jsonl, spool, STDIN_NAME, text_field, id_field)
    lines = partial(_read_jsonl_lines, spool, STDIN_NAME, text_field, id_field)
    return Source("jsonl", STDIN_PATH, False, read, spool=spool, read_lines=lines)


def _spool(stream: BinaryIO) -> str:
    fd, name = tempfile.mkstemp(prefix="dedupe-stdin-", suffix=".spool")
    try:
        with os.fdopen(fd, "wb") as spool:
            shutil.copyfileobj(stream, spool, _SPOOL_CHUNK_BYTES)
    except OSError as exc:
        _remove_file(name)
        reason = f"cannot copy standard input: {_os_reason(exc)}"
        raise InputError(STDIN_NAME, None, reason) from exc
    except BaseException:
        _remove_file(name)
        raise
    return name


def _remove_file(name: str) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.remove(name)


def _os_reason(exc: BaseException) -> str:
    """'permission denied' rather than "[Errno 13] Permission denied: 'x'": the path is printed
    beside the reason already."""
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror[:1].lower() + exc.strerror[1:]
    return str(exc) or type(exc).__name__


# --- JSONL -----------------------------------------------------------------------------------


def _open_binary(path: str) -> BinaryIO:
    """Open ``path`` for reading bytes, decompressing when it starts with the gzip magic bytes.

    The content decides, not the suffix: a spooled stdin has no suffix, and a ``.gz`` file that
    was never compressed still reads.
    """
    from dedupe.datasets import is_url, open_url

    if is_url(path):
        return cast(BinaryIO, open_url(path))
    with open(path, "rb") as probe:
        magic = probe.read(len(_GZIP_MAGIC))
    if magic == _GZIP_MAGIC:
        return gzip.open(path, "rb")  # type: ignore[return-value]  # GzipFile reads bytes
    return open(path, "rb", buffering=_READ_BUFFER)


def _read_jsonl(
    path: str,
    display: str,
    text_field: str,
    id_field: str,
    spans: bool = True,
    first_position: int = 0,
) -> Iterator[Record | Skipped]:
    for position, origin, raw, notes in _jsonl_lines(path, display, first_position):
        yield _parse_raw(raw, position, origin, text_field, id_field, notes, spans)


def _read_jsonl_lines(path: str, display: str, text_field: str, id_field: str) -> Iterator[Line]:
    """:func:`_read_jsonl`'s lines, unparsed (:meth:`Source.lines`)."""
    for position, origin, raw, notes in _jsonl_lines(path, display, 0):
        yield Line(position, raw, origin, tuple(notes), text_field, id_field)


def _jsonl_lines(
    path: str, display: str, first_position: int
) -> Iterator[tuple[int, Origin, str, list[str]]]:
    """Position, origin, decoded text and reading notes of every line that is not blank."""
    position = first_position
    line_number = 0
    try:
        with _open_binary(path) as stream:
            # Binary lines split on b"\n" only, so a stray "\r" or U+2028 inside a value stays
            # in its line; one line is in memory at a time, however long the file.
            for line_number, line in enumerate(stream, start=1):
                notes: list[str] = []
                if line_number == 1 and line.startswith(_BOM):
                    line = line[len(_BOM) :]
                    notes.append(NOTE_BOM)
                if not line or line.isspace():
                    continue
                raw = _decode(_strip_line_end(line), notes)
                yield position, Origin(display, line_number), raw, notes
                position += 1
    except (OSError, EOFError, zlib.error) as exc:
        # A truncated gzip stream or a vanished file: the rest of the input is lost, which is
        # a failed run, not a skipped record.
        where = line_number + 1 if line_number else None
        raise InputError(display, where, f"cannot read: {_os_reason(exc)}") from exc


def _parse_raw(
    raw: str,
    position: int,
    origin: Origin,
    text_field: str,
    id_field: str,
    notes: list[str],
    spans: bool = True,
) -> Record | Skipped:
    try:
        value, span = _parse_json(raw, text_field) if spans else (_loads(raw, text_field), None)
    except json.JSONDecodeError as exc:
        return Skipped(position, origin, f"malformed JSON: {exc.msg} at column {exc.colno}")
    except RecursionError:
        return Skipped(position, origin, "malformed JSON: nested too deeply")
    if not isinstance(value, dict):
        return Skipped(position, origin, f"line is {_json_type(value, 'JSON')}, not an object")
    record_id = _record_id(value, id_field, origin.line)
    if text_field not in value:
        reason = _missing_text_reason(value, text_field, id_field)
        return Skipped(position, origin, reason, record_id)
    text = value[text_field]
    if not isinstance(text, str):
        reason = f"text field {text_field!r} is {_json_type(text)}, not a string"
        return Skipped(position, origin, reason, record_id)
    if record_id is None:
        return Skipped(position, origin, _bad_id_reason(value[id_field], id_field))
    if "\x00" in text:
        notes.append(NOTE_NUL)
    return Record(position, record_id, text, origin, raw=raw, text_span=span, notes=tuple(notes))


def _strip_line_end(line: bytes) -> bytes:
    if line.endswith(b"\r\n"):
        return line[:-2]
    if line.endswith(b"\n"):
        return line[:-1]
    return line


def _decode(data: bytes, notes: list[str]) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        notes.append(NOTE_INVALID_UTF8)
        return data.decode("utf-8", errors="replace")


def _skip_whitespace(raw: str, pos: int) -> int:
    match = _JSON_WHITESPACE.match(raw, pos)
    return match.end() if match else pos


def _parse_json(raw: str, text_field: str) -> tuple[Any, tuple[int, int] | None]:
    """Parse one line; for an object, also return the span of ``text_field``'s value.

    The top-level object is walked here (``scanstring`` for keys, ``raw_decode`` for values)
    so the line is parsed once and the span comes with it. The structure checks and their
    messages follow ``json.decoder.JSONObject``, so a malformed line reads as json.loads would
    report it. A repeated key keeps its last value and span, as json.loads does.
    """
    start = _skip_whitespace(raw, 0)
    if not raw.startswith("{", start):
        return json.loads(raw), None
    obj: dict[str, Any] = {}
    span: tuple[int, int] | None = None
    pos = _skip_whitespace(raw, start + 1)
    if raw.startswith("}", pos):
        pos += 1
    else:
        while True:
            if not raw.startswith('"', pos):
                message = "Expecting property name enclosed in double quotes"
                raise json.JSONDecodeError(message, raw, pos)
            key, pos = _scanstring(raw, pos + 1)
            pos = _skip_whitespace(raw, pos)
            if not raw.startswith(":", pos):
                raise json.JSONDecodeError("Expecting ':' delimiter", raw, pos)
            value_start = _skip_whitespace(raw, pos + 1)
            obj[key], pos = _DECODER.raw_decode(raw, value_start)
            if key == text_field:
                span = (value_start, pos)
            pos = _skip_whitespace(raw, pos)
            if raw.startswith("}", pos):
                pos += 1
                break
            if not raw.startswith(",", pos):
                raise json.JSONDecodeError("Expecting ',' delimiter", raw, pos)
            pos = _skip_whitespace(raw, pos + 1)
    end = _skip_whitespace(raw, pos)
    if end != len(raw):
        raise json.JSONDecodeError("Extra data", raw, end)
    return obj, span


def _loads(raw: str, text_field: str) -> Any:
    """``json.loads`` (C); a line it rejects is parsed again by :func:`_parse_json`, so the
    error is reported exactly as when spans are wanted."""
    try:
        return json.loads(raw)
    except (json.JSONDecodeError, RecursionError):
        return _parse_json(raw, text_field)[0]


def text_value_span(raw: str, text_field: str) -> tuple[int, int] | None:
    """The character span of ``text_field``'s value in the JSON object line ``raw`` (the last
    one if the key repeats), or None if it has none.

    >>> text_value_span('{"id": 1, "text": "hi"}', "text")
    (18, 22)
    """
    return _parse_json(raw, text_field)[1]


def _json_type(value: Any, qualifier: str = "") -> str:
    """The JSON type of a parsed value with its article: 'an array', 'a JSON number', 'null'."""
    if value is None:
        name = "null"
    elif isinstance(value, bool):
        name = "boolean"
    elif isinstance(value, (int, float)):
        name = "number"
    elif isinstance(value, str):
        name = "string"
    elif isinstance(value, list):
        name = "array"
    else:
        name = "object"
    phrase = f"{qualifier} {name}".lstrip()
    if name == "null":
        return phrase
    return ("an " if phrase[0] in "aeiou" else "a ") + phrase


def _record_id(obj: dict[str, Any], id_field: str, line: int | None) -> str | None:
    """The record's id as a string, or None when its value cannot be one. A missing id falls
    back to the line number, which is unique within one file."""
    if id_field not in obj:
        return str(line)
    value = obj[id_field]
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return None
    if isinstance(value, int) or (isinstance(value, float) and math.isfinite(value)):
        return str(value)
    return None


def _bad_id_reason(value: Any, id_field: str) -> str:
    kind = "a non-finite number" if isinstance(value, float) else _json_type(value)
    return f"id field {id_field!r} is {kind}, not a string or number"


def _missing_text_reason(obj: dict[str, Any], text_field: str, id_field: str) -> str:
    reason = f"missing text field {text_field!r}"
    candidates = sorted(k for k, v in obj.items() if isinstance(v, str) and k != id_field)
    if not candidates:
        return reason
    named = ", ".join(candidates[:_MAX_FIELDS_NAMED])
    more = ", ..." if len(candidates) > _MAX_FIELDS_NAMED else ""
    return f"{reason} (fields: {named}{more})"


# --- text files ------------------------------------------------------------------------------


def _list_text_files(root: str) -> list[tuple[str, str]]:
    """(id, path) of every ``*.txt`` and ``*.md`` file under ``root``, sorted by id.

    The id is the relative POSIX path, so the order -- and so every position -- is the same on
    any machine and file system. Symlinked directories are not followed (a link cycle would
    never end); an unreadable subdirectory fails the run rather than silently losing its files.
    """

    def fail(exc: OSError) -> None:
        raise InputError(exc.filename or root, None, _os_reason(exc)) from exc

    found = []
    for dirpath, _dirnames, filenames in os.walk(root, onerror=fail):
        for name in filenames:
            if os.path.splitext(name)[1].lower() in _TEXT_SUFFIXES:
                path = os.path.join(dirpath, name)
                doc_id = os.path.relpath(path, root).replace(os.sep, "/")
                found.append((doc_id, path))
    found.sort()
    return found


def _read_text_files(
    files: list[tuple[str, str]], spans: bool = True
) -> Iterator[Record | Skipped]:
    del spans  # a text file's record is its whole text: no span to find
    for position, (doc_id, path) in enumerate(files):
        origin = Origin(path)
        try:
            with open(path, "rb") as stream:
                data = stream.read()
        except OSError as exc:
            yield Skipped(position, origin, _os_reason(exc), doc_id)
            continue
        notes: list[str] = []
        if data.startswith(_BOM):
            data = data[len(_BOM) :]
            notes.append(NOTE_BOM)
        text = _decode(data, notes)
        if "\x00" in text:
            notes.append(NOTE_NUL)
        yield Record(position, doc_id, text, origin, notes=tuple(notes))
