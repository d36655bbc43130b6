"""The output edge: every file dedupe writes appears whole or not at all.

Output goes to a temporary name in the destination's directory and is renamed over the final
path (``os.replace``, atomic within one file system), so an interrupted run never leaves a
half-written file where a previous good one was. A cleaned JSONL line keeps every byte of the
input line except the text value; a cleaned text file is the cleaned text, byte for byte.
"""

from __future__ import annotations

import bisect
import contextlib
import json
import os
import re
import secrets
import shutil
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path, PurePosixPath
from types import TracebackType
from typing import IO, Any

import numpy as np

from dedupe.memory import release_free_memory
from dedupe.readers import Format, text_value_span
from dedupe.records import Record
from dedupe.result import Cluster, ClusterTable, CodedColumn, PackedStrings, column_values

__all__ = [
    "CleanedWriter",
    "atomic_open",
    "atomic_write_bytes",
    "cleaned_jsonl_line",
    "write_cluster_tables",
    "write_clusters",
    "write_summary",
]

CLEANED_JSONL_NAME = "cleaned.jsonl"
CLEANED_DIR_NAME = "cleaned"

# A lone surrogate (from a "\ud800" escape in the input) is a valid JSON string but has no UTF-8
# encoding; such a value is written with ASCII escapes instead of failing the whole file.
_SURROGATE = re.compile("[\ud800-\udfff]")
# json's own string encoder (C when available), as json.dumps(..., ensure_ascii=False) uses it.
_encode_string: Callable[[str], str] = json.encoder.encode_basestring
# Temporary names carry 32 random bits; a clash is ~1 in 4e9, so a few tries always suffice.
_TEMP_NAME_ATTEMPTS = 16
_WRITE_MODES = frozenset({"w", "wt", "wb"})


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically: a temp file beside it, fsync, ``os.replace``."""
    with atomic_open(path, "wb") as stream:
        stream.write(data)


@contextmanager
def atomic_open(
    path: Path, mode: str = "w", encoding: str = "utf-8", newline: str = ""
) -> Iterator[IO[Any]]:
    """Stream into a temp file that replaces ``path`` when the block ends without an exception
    and is removed when it raises (the old ``path``, if any, is left as it was).

    ``newline=""`` writes line ends exactly as given. ``mode`` is ``"w"`` or ``"wb"``.
    """
    pending = _PendingFile(Path(path), mode, encoding, newline)
    try:
        yield pending.stream
    except BaseException:
        pending.abort()
        raise
    pending.commit()


def write_clusters(path: Path, clusters: Iterable[Cluster]) -> int:
    """Write one JSON object per cluster and line; return how many were written."""
    count = 0
    with atomic_open(path) as stream:
        for cluster in clusters:
            stream.write(_dumps(cluster.as_dict()) + "\n")
            count += 1
    return count


#: Clusters are formatted this many members at a time (at least one whole cluster): the member
#: strings of a whole table at once were about as large as clusters.jsonl (1.5 GB at x100);
#: 65,536 at a time held ~60 MB more in each writer than this, for the same time at x10.
WRITE_CHUNK_MEMBERS = 16_384


def write_cluster_tables(
    path: Path,
    tables: Iterable[ClusterTable],
    texts: Iterable[Sequence[str]],
    chunk_members: int = WRITE_CHUNK_MEMBERS,
    jobs: int = 1,
) -> int:
    """Write the clusters of ``tables`` (``texts``: each table's member texts, a list or any
    sequence that reads slices, such as :class:`dedupe.spool.SpooledTexts`) as
    :func:`write_clusters` writes the :class:`Cluster` objects they make, byte for byte, without
    making them: each member's JSON is formatted once from its fields (the kept member's is
    used twice), which at x10 (81,558 clusters, 700,000 members) saves the three objects and
    the dictionary per member that rendering and dumping took. Whole clusters of about
    ``chunk_members`` members are formatted at a time. With ``jobs > 1``, where forking is safe
    (:func:`dedupe.forks.can_fork`), the chunks are split into ``jobs`` shares formatted side by
    side in forked processes (x10: 1.7 s -> 1.0 s on 2 cores); the file is the same. ``texts``
    must then be readable from a forked child (a list, or a settled
    :class:`~dedupe.spool.PreviewSpool`'s). Return how many were written."""
    from dedupe.forks import ForkedShares, can_fork

    shares, write_share, count = _cluster_shares(
        tables, texts, chunk_members, jobs if jobs > 1 and can_fork() else 1
    )
    with atomic_open(path) as stream, ForkedShares(shares, write_share, path.parent) as forked:
        forked.write_into(stream)
    return count


class ClustersInChildren:
    """:func:`write_cluster_tables` with every share formatted in a forked child, so that this
    process does other work meanwhile: forked on entering, written by :meth:`finish` (the
    children's parts appended in order, atomically; a failed child's share is formatted here).
    The file is opened on entering, and the first child writes its share into it directly.
    Leaving stops and reaps any child still running, and removes the file unless
    :meth:`finish` completed it. The caller decides that forking is safe
    (:func:`dedupe.forks.can_fork`); ``texts`` must be readable from a forked child."""

    def __init__(
        self,
        path: Path,
        tables: Iterable[ClusterTable],
        texts: Iterable[Sequence[str]],
        jobs: int,
        chunk_members: int = WRITE_CHUNK_MEMBERS,
    ) -> None:
        from dedupe.forks import ForkedShares

        self._path = path
        shares, write_share, self._count = _cluster_shares(
            tables, texts, chunk_members, max(1, jobs)
        )
        self._forked = ForkedShares(shares, write_share, path.parent)
        self._pending: _PendingFile | None = None

    def __enter__(self) -> ClustersInChildren:
        self._pending = _PendingFile(self._path, "w", "utf-8", "")
        try:
            self._forked.start(self._pending.stream)
        except BaseException:
            self._pending.abort()
            self._pending = None
            raise
        return self

    def finish(self) -> int:
        """Write the file from the children's parts; the number of clusters written."""
        assert self._pending is not None, "entered, and not finished yet"
        pending, self._pending = self._pending, None
        try:
            self._forked.append_into(pending.stream)
        except BaseException:
            pending.abort()
            raise
        pending.commit()
        return self._count

    def __exit__(self, *exc: object) -> None:
        try:
            self._forked.__exit__(*exc)  # the children first: one may write into the file
        finally:
            if self._pending is not None:
                self._pending.abort()
                self._pending = None


def _cluster_shares(
    tables: Iterable[ClusterTable],
    texts: Iterable[Sequence[str]],
    chunk_members: int,
    jobs: int,
) -> tuple[list[tuple[int, int]], Callable[[tuple[int, int], IO[str]], None], int]:
    """The shares of the clusters' chunks for ``jobs`` writers, the function that writes one
    share, and the number of clusters."""
    from dedupe.core.parallel import split_shares

    tables, texts = list(tables), list(texts)
    chunks = [
        (number, first, last)
        for number, table in enumerate(tables)
        for first, last in cluster_chunks(table.bounds, chunk_members)
    ]
    weights = [tables[n].bounds[last] - tables[n].bounds[first] for n, first, last in chunks]

    def write_share(share: tuple[int, int], stream: IO[str]) -> None:
        for number, first, last in chunks[share[0] : share[1]]:
            stream.write("".join(_cluster_lines(tables[number], texts[number], first, last)))
            release_free_memory()

    count = sum(last - first for _, first, last in chunks)
    return split_shares(weights, jobs), write_share, count


def cluster_chunks(bounds: Sequence[int], chunk_members: int) -> Iterator[tuple[int, int]]:
    """Ranges ``(first, last)`` of cluster numbers that cover ``bounds``' clusters in order,
    each holding at least ``chunk_members`` members but the last (and a cluster is never cut).

    >>> list(cluster_chunks([0, 2, 5, 6, 9], 3))
    [(0, 2), (2, 4)]
    """
    clusters = len(bounds) - 1
    first = 0
    while first < clusters:
        target = bounds[first] + chunk_members
        last = min(max(bisect.bisect_left(bounds, target, first + 1), first + 1), clusters)
        yield first, last
        first = last


def _cluster_lines(
    table: ClusterTable, texts: Sequence[str], first_cluster: int, last_cluster: int
) -> list[str]:
    """The JSON lines of clusters ``first_cluster`` to ``last_cluster - 1`` of ``table``."""
    encode = _encode_string
    begin, end = table.bounds[first_cluster], table.bounds[last_cluster]
    size = end - begin
    doc_ids = _json_values(table.doc_ids, begin, end, encode)
    similarities = _json_values(table.similarities, begin, end, float.__repr__)
    paragraphs = (
        [None] * size if table.paragraphs is None else column_values(table.paragraphs, begin, end)
    )
    rules = ["kept"] * size if table.rules is None else column_values(table.rules, begin, end)
    repeats = [None] * size if table.repeats is None else column_values(table.repeats, begin, end)
    member_texts = list(texts[begin:end])
    members = [
        f'{{"doc_id": {doc_id}, "paragraph": {"null" if index is None else index}, '
        f'"similarity": {similarity}, "text": {encode(text)}, "rule": "{rule}", '
        f'"repeats": {"null" if repeat is None else repeat}}}'
        for doc_id, index, similarity, text, rule, repeat in zip(
            doc_ids, paragraphs, similarities, member_texts, rules, repeats, strict=True
        )
    ]
    head = f'{{"cluster_id": "{table.prefix}%06d", "level": "{table.level}", "keep": '
    lines = []
    for number in range(first_cluster, last_cluster):
        first, last = table.bounds[number] - begin, table.bounds[number + 1] - begin
        listed = ", ".join(members[first:last])
        line = f'{head % (number + 1)}{members[first]}, "members": [{listed}]}}\n'
        if not line.isascii() and _SURROGATE.search(line):
            cluster = _table_cluster(
                table, member_texts, number + 1, first + begin, last + begin, begin
            )
            line = _dumps(cluster) + "\n"
        lines.append(line)
    return lines


def _json_values(column: Any, begin: int, end: int, encode: Callable[[Any], str]) -> list[str]:
    """The JSON text of the values of ``column[begin:end]``: a coded column's each distinct
    value encoded once (a chunk of paragraph members names a few thousand documents and
    similarities: x10's 622,000 members' ids took 58,000 encodings instead of one each).

    >>> codes = CodedColumn(np.array([1, 0, 1]), PackedStrings(["a", "b"]))
    >>> _json_values(codes, 0, 3, _encode_string), _json_values([0.5, 1.0], 1, 2, float.__repr__)
    (['"b"', '"a"', '"b"'], ['1.0'])
    """
    if not isinstance(column, CodedColumn):
        return [encode(value) for value in column_values(column, begin, end)]
    distinct, inverse = np.unique(column.codes[begin:end], return_inverse=True)
    values = column.values
    if isinstance(values, PackedStrings):
        chosen = values.take(distinct)
    else:
        chosen = [values[code] for code in distinct.tolist()]
    encoded = [encode(value) for value in chosen]
    return [encoded[i] for i in inverse.reshape(-1).tolist()]


def _table_cluster(
    table: ClusterTable, texts: Sequence[str], number: int, first: int, last: int, offset: int = 0
) -> dict[str, Any]:
    """One cluster of a table as the dictionary ``Cluster.as_dict`` gives (``texts[i -
    offset]`` is member ``i``'s text)."""

    def value(column: Any, i: int, default: Any) -> Any:
        return default if column is None else column_values(column, i, i + 1)[0]

    members = [
        {
            "doc_id": value(table.doc_ids, i, None),
            "paragraph": value(table.paragraphs, i, None),
            "similarity": value(table.similarities, i, None),
            "text": texts[i - offset],
            "rule": value(table.rules, i, "kept"),
            "repeats": value(table.repeats, i, None),
        }
        for i in range(first, last)
    ]
    return {
        "cluster_id": f"{table.prefix}{number:06d}",
        "level": table.level,
        "keep": members[0],
        "members": members,
    }


def write_summary(path: Path, summary: dict[str, Any]) -> None:
    """Write ``summary`` as indented JSON, keys in the order given, with a final newline."""
    atomic_write_bytes(path, (_dumps(summary, indent=2) + "\n").encode("utf-8"))


def cleaned_jsonl_line(
    record: Record, cleaned_text: str, text_field: str = "text", id_field: str = "id"
) -> str:
    """The JSONL line (without line end) for ``record`` with its text replaced by
    ``cleaned_text``.

    A record read from JSONL keeps its line: only the text value is re-encoded, in the line's
    own escaping style (ASCII escapes if the line was pure ASCII), and an unchanged text returns
    the line itself. A record built in memory (no ``raw``) is serialised from its fields.
    """
    if record.raw is None:
        fields = {**(record.fields or {}), id_field: record.id, text_field: cleaned_text}
        return _dumps(fields)
    if cleaned_text == record.text:
        return record.raw
    span = record.text_span or text_value_span(record.raw, text_field)
    if span is None:
        raise ValueError(f"record {record.id!r} has a raw line but no text span to replace")
    start, end = span
    ascii_only = record.raw.isascii() or _SURROGATE.search(cleaned_text) is not None
    return record.raw[:start] + json.dumps(cleaned_text, ensure_ascii=ascii_only) + record.raw[end:]


class CleanedWriter:
    """Streams cleaned copies of kept records; nothing appears at the final paths before
    :meth:`commit`.

    JSONL input gives ``out_dir/cleaned.jsonl``. Text input gives ``out_dir/cleaned/``: the
    tree mirrored by record id (the relative path) for a directory, or the one file under its
    own name. The tree is built in a hidden ``.cleaned.tmp-*`` folder beside it and renamed
    into place. As a context manager: commit on a clean exit, abort on an exception.

    Tree files are not fsynced one by one (a corpus of 100k files would pay 100k disk flushes);
    the rename still keeps a failed run from showing a partial tree.
    """

    def __init__(
        self,
        out_dir: Path,
        source_format: Format,
        is_tree: bool,
        text_field: str = "text",
        id_field: str = "id",
    ) -> None:
        self.out_dir = Path(out_dir)
        self.is_tree = is_tree
        self.written = 0
        self._text_field = text_field
        self._id_field = id_field
        self._file: _PendingFile | None = None
        self._tree: Path | None = None
        self._open = True
        self.out_dir.mkdir(parents=True, exist_ok=True)
        if source_format == "jsonl":
            self.path = self.out_dir / CLEANED_JSONL_NAME
            self._file = _PendingFile(self.path, "w", "utf-8", "")
        else:
            self.path = self.out_dir / CLEANED_DIR_NAME
            self._tree = _create_temp_dir(self.out_dir, f".{CLEANED_DIR_NAME}.tmp-")

    def write(self, record: Record, cleaned_text: str) -> None:
        if not self._open:
            raise ValueError("CleanedWriter is closed")
        if self._file is not None:
            self.write_line(
                cleaned_jsonl_line(record, cleaned_text, self._text_field, self._id_field)
            )
            return
        assert self._tree is not None  # set whenever _file is not
        target = self._tree / self._relative_path(record)
        target.parent.mkdir(parents=True, exist_ok=True)
        # "x": two records mapping to one file would silently lose one of them.
        try:
            with open(target, "xb") as stream:
                stream.write(cleaned_text.encode("utf-8"))
        except FileExistsError:
            raise ValueError(f"two records write the same file {record.id!r}") from None
        self.written += 1

    def write_line(self, raw: str) -> None:
        """Write one line of cleaned JSONL: a record kept whole as its line was read (a
        :class:`Record`'s ``raw``, no record needed), or the line :meth:`write` made."""
        if not self._open:
            raise ValueError("CleanedWriter is closed")
        if self._file is None:
            raise ValueError("a line is written to cleaned JSONL only")
        self._file.stream.write(raw + "\n")
        self.written += 1

    def commit(self) -> None:
        if not self._open:
            return
        self._open = False
        if self._file is not None:
            self._file.commit()
            return
        assert self._tree is not None  # set whenever _file is not
        try:
            _replace_dir(self._tree, self.path)
        except BaseException:
            shutil.rmtree(self._tree, ignore_errors=True)
            raise

    def abort(self) -> None:
        if not self._open:
            return
        self._open = False
        if self._file is not None:
            self._file.abort()
        elif self._tree is not None:
            shutil.rmtree(self._tree, ignore_errors=True)

    def __enter__(self) -> CleanedWriter:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if exc_type is None:
            self.commit()
        else:
            self.abort()

    def _relative_path(self, record: Record) -> PurePosixPath:
        # A directory's records are named by their relative path; a single file keeps its own
        # name, taken from where it was read so it does not depend on how the id was chosen.
        name = record.id if self.is_tree else os.path.basename(record.origin.path)
        relative = PurePosixPath(name)
        if not name or relative.is_absolute() or ".." in relative.parts or not relative.parts:
            raise ValueError(f"record {record.id!r} does not name a file inside the output tree")
        return relative


class _PendingFile:
    """A temporary file beside ``path`` that becomes ``path`` on commit and vanishes on abort."""

    def __init__(self, path: Path, mode: str, encoding: str, newline: str) -> None:
        if mode not in _WRITE_MODES:
            raise ValueError(f"mode {mode!r} is not one of: {', '.join(sorted(_WRITE_MODES))}")
        self.path = path
        fd, self.temp = _create_temp_file(path)
        try:
            if "b" in mode:
                self.stream: IO[Any] = os.fdopen(fd, mode)
            else:
                self.stream = os.fdopen(fd, mode, encoding=encoding, newline=newline)
        except BaseException:
            os.close(fd)
            _unlink_quietly(self.temp)
            raise

    def commit(self) -> None:
        try:
            self.stream.flush()
            # Without the fsync a crash soon after the rename can leave an empty file at path.
            os.fsync(self.stream.fileno())
            self.stream.close()
            os.replace(self.temp, self.path)
        except BaseException:
            self.abort()
            raise
        _fsync_dir(self.path.parent)

    def abort(self) -> None:
        with contextlib.suppress(OSError):
            self.stream.close()
        _unlink_quietly(self.temp)


def _create_temp_file(path: Path) -> tuple[int, Path]:
    """Create an empty, hidden temp file beside ``path``.

    os.open with 0o666 lets the umask decide the mode, as open() would; mkstemp's 0o600 would
    survive the rename and hide the output from the other users that can read its folder.
    """
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    for _ in range(_TEMP_NAME_ATTEMPTS):
        temp = path.with_name(f".{path.name}.tmp-{secrets.token_hex(4)}")
        try:
            return os.open(temp, flags, 0o666), temp
        except FileExistsError:
            continue
    raise FileExistsError(f"no free temporary name beside {path}")


def _create_temp_dir(parent: Path, prefix: str) -> Path:
    """Create an empty, hidden folder in ``parent``; 0o777 less the umask, like mkdir."""
    for _ in range(_TEMP_NAME_ATTEMPTS):
        temp = parent / f"{prefix}{secrets.token_hex(4)}"
        try:
            temp.mkdir(0o777)
        except FileExistsError:
            continue
        return temp
    raise FileExistsError(f"no free temporary name in {parent}")


def _replace_dir(new: Path, final: Path) -> None:
    """Put the folder ``new`` at ``final``, replacing what was there.

    A folder cannot be renamed over a non-empty one, so the old output is first renamed aside:
    ``final`` is missing only between two renames, never half-written, and a failed second
    rename puts the old output back.
    """
    old: Path | None = None
    if final.exists() or final.is_symlink():
        old = _unused_name(final.parent, f".{final.name}.old-")
        os.replace(final, old)
    try:
        os.replace(new, final)
    except BaseException:
        if old is not None:
            os.replace(old, final)
        raise
    if old is not None:
        _remove_path(old)
    _fsync_dir(final.parent)


def _unused_name(parent: Path, prefix: str) -> Path:
    for _ in range(_TEMP_NAME_ATTEMPTS):
        candidate = parent / f"{prefix}{secrets.token_hex(4)}"
        if not (candidate.exists() or candidate.is_symlink()):
            return candidate
    raise FileExistsError(f"no free temporary name in {parent}")


def _remove_path(path: Path) -> None:
    if path.is_symlink() or not path.is_dir():
        _unlink_quietly(path)
    else:
        shutil.rmtree(path, ignore_errors=True)


def _unlink_quietly(path: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        path.unlink()


def _fsync_dir(directory: Path) -> None:
    """Make a rename in ``directory`` durable. Best effort: some platforms (Windows) cannot
    open a folder, and the rename is atomic there without it."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        with contextlib.suppress(OSError):
            os.fsync(fd)
    finally:
        os.close(fd)


def _dumps(value: Any, indent: int | None = None) -> str:
    """``json.dumps`` with non-ASCII kept as is, unless that would leave a lone surrogate that
    UTF-8 cannot encode; then the whole value is escaped."""
    text = json.dumps(value, ensure_ascii=False, indent=indent)
    if _SURROGATE.search(text):
        text = json.dumps(value, ensure_ascii=True, indent=indent)
    return text
