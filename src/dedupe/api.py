"""The library entry points. The CLI calls these and nothing else."""

from __future__ import annotations

import bisect
import contextlib
import itertools
import os
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from dedupe.budget import memory_bytes
from dedupe.config import ScanConfig
from dedupe.core import clean
from dedupe.core.clean import remove_spans
from dedupe.errors import ConfigError
from dedupe.pipeline import PassOne, Progress, SpanChunks, analyse, default_jobs
from dedupe.records import Origin, Record, Skipped
from dedupe.result import (
    Analysis,
    CleanedRecord,
    Cluster,
    ClusterTable,
    Member,
    ScanResult,
    ScanStats,
    Verdict,
    column_values,
)
from dedupe.spool import PreviewSpool, SpooledTexts

I64 = np.ndarray

#: Paragraph text in clusters is cut at this many characters.
PREVIEW_CHARS = 200

if TYPE_CHECKING:
    from dedupe.readers import Line
    from dedupe.report import ReportSampler
    from dedupe.writers import CleanedWriter

_LIBRARY_ORIGIN = "<input>"


def _config(config: ScanConfig | None, options: dict[str, Any]) -> ScanConfig:
    if config is not None and options:
        return replace(config, **options)
    if config is not None:
        return config
    try:
        return ScanConfig(**options)
    except TypeError as error:
        raise ConfigError(f"unknown option: {error}") from None


def as_record(item: Any, position: int, text_field: str, id_field: str) -> Record | Skipped:
    """One library input item (a dict, an ``(id, text)`` pair or a Record) as the record at
    ``position``, or a skip saying why it cannot be one."""
    origin = Origin(_LIBRARY_ORIGIN, position + 1)
    if isinstance(item, Record):
        return replace(item, position=position)
    if isinstance(item, tuple) and len(item) == 2:
        doc_id, text = item
        fields = None
    elif isinstance(item, Mapping):
        if text_field not in item:
            return Skipped(position, origin, f"missing text field {text_field!r}")
        text = item[text_field]
        doc_id = item.get(id_field, position + 1)
        fields = {k: v for k, v in item.items() if k not in (text_field, id_field)}
    else:
        return Skipped(
            position, origin, f"a {type(item).__name__} is not a dict or an (id, text) pair"
        )
    if not isinstance(text, str):
        return Skipped(position, origin, f"text is a {type(text).__name__}, not a string")
    if not isinstance(doc_id, str | int) or isinstance(doc_id, bool):
        return Skipped(position, origin, f"id is a {type(doc_id).__name__}, not a string or number")
    return Record(position, str(doc_id), text, origin, fields=fields)


def render_clusters(tables: list[ClusterTable], previews: Previews) -> list[Cluster]:
    """Public clusters from pass one's tables and the paragraph texts collected in pass two."""
    clusters = []
    for table, texts in zip(tables, previews.texts, strict=True):
        size = table.members
        paragraphs: list[int | None] = [None] * size
        if table.paragraphs is not None:
            paragraphs = column_values(table.paragraphs, 0, size)
        rules = ["kept"] * size if table.rules is None else column_values(table.rules, 0, size)
        repeats = [None] * size if table.repeats is None else column_values(table.repeats, 0, size)
        doc_ids = column_values(table.doc_ids, 0, size)  # packed ids: each made once (take)
        similarities = column_values(table.similarities, 0, size)
        members = list(map(Member, doc_ids, paragraphs, similarities, texts, rules, repeats))
        for number, (first, last) in enumerate(itertools.pairwise(table.bounds), start=1):
            cluster = tuple(members[first:last])
            level = table.level
            clusters.append(Cluster(f"{table.prefix}{number:06d}", level, cluster[0], cluster))
    return clusters


def removed_bytes(text: str, verdict: Verdict) -> int:
    """UTF-8 bytes of ``text`` that ``verdict`` removes (all of a duplicate's)."""
    return clean.removed_bytes(text, verdict.status == "duplicate", verdict.drop_spans)


class Previews:
    """The texts cluster members show: a paragraph's first PREVIEW_CHARS characters, "" for a
    document. Pass two hands each record's text to :meth:`take`, which parks the cuts in a
    :class:`~dedupe.spool.PreviewSpool` (temporary files in ``directory``, the system's by
    default) until the writers read ``texts``, aligned with the tables' members. Close it (or
    use it as a context manager) to drop the files."""

    def __init__(self, tables: list[ClusterTable], directory: Path | str | None = None) -> None:
        self._tables = tables
        self._spool = PreviewSpool([table.members for table in tables], directory)
        # Per paragraph table: the distinct record positions its members come from (sorted,
        # a list for bisect), and where each one's members lie in the table's members grouped
        # by position (``order``), with their preview spans in that order: a record's cuts are
        # then three slices, not a gather per member.
        self._plans: list[tuple[int, list[int], list[int], list[int], I64, I64, I64]] = []
        for number, table in enumerate(tables):
            if table.starts is None or table.ends is None or table.members == 0:
                continue
            positions = np.asarray(table.positions, dtype=np.int64)
            order = np.argsort(positions, kind="stable")
            grouped = positions[order]
            firsts = np.flatnonzero(np.r_[True, grouped[1:] != grouped[:-1]])
            lasts = np.r_[firsts[1:], len(grouped)]
            starts = np.asarray(table.starts, dtype=np.int64)[order]
            ends = np.minimum(np.asarray(table.ends, dtype=np.int64)[order], starts + PREVIEW_CHARS)
            self._plans.append(
                (
                    number,
                    grouped[firsts].tolist(),
                    firsts.tolist(),
                    lasts.tolist(),
                    order,
                    starts,
                    ends,
                )
            )

    @property
    def texts(self) -> list[SpooledTexts]:
        """Each table's member texts, read from the spool on demand."""
        return [self._spool.texts(number) for number in range(len(self._tables))]

    def requests(self) -> list[tuple[Any, int, int, int | None, int]]:
        """The cuts :meth:`take` would make, as ``(key, position, start, end, limit)`` for
        :class:`dedupe.datasets.FileVerdicts`: an engine that reads texts elsewhere cuts them
        there and hands each back to :meth:`put`."""
        wanted: list[tuple[Any, int, int, int | None, int]] = []
        for number, table in enumerate(self._tables):
            if table.paragraphs is None or table.starts is None or table.ends is None:
                continue
            size = table.members
            for member, (position, start, end) in enumerate(
                zip(
                    column_values(table.positions, 0, size),
                    column_values(table.starts, 0, size),
                    column_values(table.ends, 0, size),
                    strict=True,
                )
            ):
                wanted.append(((number, member), position, start, end, PREVIEW_CHARS))
        return wanted

    def put(self, key: tuple[int, int], text: str) -> None:
        """The preview of member ``key = (table, member)``, cut as :meth:`requests` asked."""
        self._spool.put(key[0], (key[1],), (text,))

    def take(self, text: str, position: int) -> None:
        """Cut the previews of the record at ``position`` from its ``text``."""
        for number, keys, firsts, lasts, order, starts, ends in self._plans:
            at = bisect.bisect_left(keys, position)
            if at == len(keys) or keys[at] != position:
                continue
            first, last = firsts[at], lasts[at]
            cuts = list(
                map(
                    text.__getitem__,
                    map(slice, starts[first:last].tolist(), ends[first:last].tolist()),
                )
            )
            self._spool.put(number, order[first:last].tolist(), cuts)

    def close(self) -> None:
        """Drop the spooled texts."""
        self._spool.close()

    def __enter__(self) -> Previews:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def scan(
    records: Iterable[Any],
    config: ScanConfig | None = None,
    *,
    text_field: str = "text",
    id_field: str = "id",
    progress: Progress | None = None,
    jobs: int = 1,
    memory: int | str | None = None,
    **options: Any,
) -> ScanResult:
    """Find duplicate documents and repeated paragraphs in ``records``.

    ``records`` is any iterable of dicts (text in ``text_field``, id in ``id_field``, other
    fields passed through) or of ``(id, text)`` pairs. Options are the fields of
    :class:`ScanConfig` (``threshold=0.8``, ``shingle="word:5"``, ...). ``jobs`` worker
    processes sign large inputs; the result is the same for any number. ``memory`` (bytes, or
    a size such as ``"4G"``; default 16 MiB, ``"unlimited"``: no bound) bounds the signature
    arrays held in memory; beyond it they are held in temporary files
    (:mod:`dedupe.budget`), with the same result.

    >>> pairs = [("a", "The cat sat on the mat today."), ("b", "The cat sat on the mat today!")]
    >>> result = scan(pairs)
    >>> result.duplicates
    {'b': 'a'}
    """
    started = time.perf_counter()
    cfg = _config(config, options).resolved()
    items: list[Record | Skipped] = []

    def intake() -> Iterator[Record | Skipped]:
        # Kept for the result as they stream in: signing starts with the first batch, not
        # after the whole input is read (x1 news: 0.05 s earlier).
        for position, item in enumerate(records):
            record = as_record(item, position, text_field, id_field)
            items.append(record)
            yield record

    pass_one = analyse(intake(), cfg, progress, jobs, memory_bytes(memory))
    result = _assemble(items, pass_one, cfg)
    result.stats.elapsed_seconds = round(time.perf_counter() - started, 3)
    return result


def _assemble(items: list[Record | Skipped], pass_one: PassOne, cfg: ScanConfig) -> ScanResult:
    with Previews(pass_one.tables) as previews:
        return _assemble_with(items, pass_one, cfg, previews)


def _assemble_with(
    items: list[Record | Skipped], pass_one: PassOne, cfg: ScanConfig, previews: Previews
) -> ScanResult:
    analysis = pass_one.analysis
    cleaned: list[CleanedRecord] = []
    duplicates: dict[str, str] = {}
    verdicts: list[Verdict] = []  # in position order, as the items are
    for item in items:
        if not isinstance(item, Record):
            continue
        verdict = analysis.verdicts.get(item.position)
        if verdict is None:
            continue
        verdicts.append(verdict)
        previews.take(item.text, item.position)
        analysis.stats.bytes_removed += removed_bytes(item.text, verdict)
        if verdict.status == "duplicate":
            duplicates[item.id] = verdict.duplicate_of or ""
            continue
        cleaned.append(
            CleanedRecord(
                item.id,
                remove_spans(item.text, verdict.drop_spans),
                verdict.dropped_paragraphs,
                item.origin,
                item.fields,
            )
        )
    return ScanResult(
        clusters=render_clusters(pass_one.tables, previews),
        records=cleaned,
        duplicates=duplicates,
        skipped=analysis.skipped,
        stats=analysis.stats,
        config=cfg.as_dict(),
        verdicts=verdicts,
    )


def _scan_dataset_path(
    path: str,
    out_dir: str | Path,
    cfg: ScanConfig,
    engine: str,
    scheduler: str | None,
    jobs: int | None,
    fmt: str | None,
    text_field: str,
    id_field: str,
    progress: Progress | None,
    on_note: Callable[[str], None] | None,
    report: bool,
    driver_rows: int | None,
    memory: int | None,
    on_stage: Callable[[str], None] | None = None,
) -> FileScan:
    from dedupe.dataset_scan import ENGINES, scan_dataset

    if engine not in ENGINES:
        raise ConfigError(f"engine {engine!r} is not one of: {', '.join(ENGINES)}")
    if path == "-" or fmt == "text":
        raise ConfigError(
            f"engine {engine!r} reads JSONL(.gz) and Parquet files: a file, a directory, a glob "
            "or a URL"
        )
    summary, clusters, notes = scan_dataset(
        path,
        out_dir,
        cfg,
        engine=engine,  # type: ignore[arg-type]  # checked against ENGINES above
        scheduler=scheduler,
        jobs=jobs,
        text_field=text_field,
        id_field=id_field,
        progress=progress,
        report=report,
        driver_rows=driver_rows,
        memory=memory,
        on_stage=on_stage,
    )
    if on_note is not None:
        for origin, message in notes:
            on_note(f"{origin}: {message}")
    return FileScan(Path(out_dir), summary, clusters, notes)


@dataclass(frozen=True, slots=True)
class FileScan:
    """What :func:`scan_path` wrote and counted."""

    out_dir: Path
    summary: dict[str, Any]
    clusters: int
    notes: list[tuple[Origin, str]]


def summary_dict(
    stats: ScanStats,
    skipped: list[Skipped],
    notes: list[tuple[Origin, str]],
    cfg: ScanConfig,
    extra: dict[str, Any],
) -> dict[str, Any]:
    from dedupe.core.lsh import choose_bands
    from dedupe.pipeline import Scanner  # noqa: F401  (documents where bands come from)

    # The bands the Scanner used: chosen for the candidate threshold, lower in containment mode.
    bands, rows = choose_bands(cfg.candidate_threshold, cfg.num_perm, cfg.min_candidate_probability)
    return {
        **extra,
        "records_read": stats.records_read,
        "records_kept": stats.records_kept,
        "documents_removed": stats.documents_removed,
        "paragraphs_removed": stats.paragraphs_removed,
        "boilerplate_paragraphs_removed": stats.boilerplate_paragraphs_removed,
        "bytes_removed": stats.bytes_removed,
        "removed_by_rule": dict(stats.removed_by_rule),
        "records_skipped": stats.records_skipped,
        "skipped": [s.as_dict() for s in skipped],
        "warnings": [{"file": o.path, "line": o.line, "warning": m} for o, m in notes],
        "document_clusters": stats.document_clusters,
        "paragraph_clusters": stats.paragraph_clusters,
        "candidate_pairs": stats.candidate_pairs,
        "verified_pairs": stats.verified_pairs,
        "parameters": {**cfg.as_dict(), "lsh_bands": bands, "lsh_rows": rows},
        "elapsed_seconds": stats.elapsed_seconds,
    }


def _pass_two(
    records: Iterable[Line | Record | Skipped],
    analysis: Analysis,
    writer: CleanedWriter | None = None,
    previews: Previews | None = None,
    sampler: ReportSampler | None = None,
    count: bool = True,
) -> None:
    """Pass two over ``records`` (a JSONL input's unparsed lines, :meth:`Source.lines`): the
    kept ones' cleaned text to ``writer``, the members' previews to ``previews``, the sampled
    texts to ``sampler`` and, with ``count``, the bytes removed into the stats."""
    from dedupe.readers import Line

    verdicts, stats = analysis.verdicts, analysis.stats
    for item in records:
        if isinstance(item, Skipped):
            continue
        if isinstance(item, Line):
            # A line is parsed only where its text is wanted: most are kept whole and written
            # as they were read, without a verdict made for them.
            wanted = previews is not None or (sampler is not None and sampler.wants(item.position))
            if not wanted and verdicts.kept_whole(item.position):
                if writer is not None:
                    writer.write_line(item.raw)
                continue
        verdict = verdicts.get(item.position)
        if verdict is None:
            continue
        if isinstance(item, Line):
            if not wanted and not count and (writer is None or verdict.status != "kept"):
                continue  # nothing to count or write
            parsed = item.parse()
            if not isinstance(parsed, Record):  # read as a record in pass one: not here
                continue
            item = parsed
        if previews is not None:
            previews.take(item.text, item.position)
        if sampler is not None:
            sampler.take(item.text, item.position)
        if count and (verdict.status == "duplicate" or verdict.drop_spans):
            stats.bytes_removed += removed_bytes(item.text, verdict)
        if writer is not None and verdict.status == "kept":
            writer.write(item, remove_spans(item.text, verdict.drop_spans))


def _write_in_pass_two(
    out: Path,
    pass_one: PassOne,
    sampler: ReportSampler | None,
    new_writer: Callable[[], CleanedWriter],
    reread: Callable[[], Iterable[Line | Record | Skipped]],
    jobs: int,
    cfg: ScanConfig,
    extra: dict[str, Any],
    started: float,
) -> tuple[dict[str, Any], int]:
    """The outputs with the previews cut in pass two (where no child cut them during linking):
    where forking is safe a child writes the cleaned copies while this process cuts the
    previews and writes clusters.jsonl; otherwise one pass does both."""
    from dedupe.forks import ForkedCall, can_fork

    analysis = pass_one.analysis

    def write_cleaned() -> None:
        with new_writer() as writer:
            _pass_two(reread(), analysis, writer, count=False)

    # The previews wait in temporary files beside the output (see dedupe.spool).
    with Previews(pass_one.tables, out) as previews, ForkedCall(write_cleaned) as cleaning:
        forked = cleaning.start(fork=jobs > 1 and can_fork())
        if forked:
            _pass_two(reread(), analysis, previews=previews, sampler=sampler)
        else:
            with new_writer() as writer:
                _pass_two(reread(), analysis, writer, previews, sampler)
        summary, clusters = write_results(
            out, pass_one, previews, sampler, cfg, extra, started, jobs
        )
        if forked:
            cleaning.join()
    return summary, clusters


def write_results(
    out: Path,
    pass_one: PassOne,
    previews: Previews,
    sampler: ReportSampler | None,
    cfg: ScanConfig,
    extra: dict[str, Any],
    started: float,
    jobs: int = 1,
) -> tuple[dict[str, Any], int]:
    """After pass two: ``clusters.jsonl`` (formatted by ``jobs`` processes where forking is
    safe), ``summary.json`` (``extra`` first, the time since ``started``) and, with a
    ``sampler``, ``report.html``. Returns the summary and the number of clusters written."""
    from dedupe.writers import write_cluster_tables

    clusters = write_cluster_tables(
        out / "clusters.jsonl", pass_one.tables, previews.texts, jobs=jobs
    )
    summary = _write_summary_and_report(out, pass_one, previews.texts, sampler, cfg, extra, started)
    return summary, clusters


def _write_summary_and_report(
    out: Path,
    pass_one: PassOne,
    texts: Sequence[Sequence[str]],
    sampler: ReportSampler | None,
    cfg: ScanConfig,
    extra: dict[str, Any],
    started: float,
) -> dict[str, Any]:
    """``summary.json`` (``extra`` first, the time since ``started``) and, with a ``sampler``,
    ``report.html`` (``texts``: each table's member texts); returns the summary."""
    from dedupe.report import render_report
    from dedupe.writers import atomic_write_bytes, write_summary

    analysis = pass_one.analysis
    analysis.stats.elapsed_seconds = round(time.perf_counter() - started, 3)
    summary = summary_dict(analysis.stats, analysis.skipped, analysis.notes, cfg, extra)
    write_summary(out / "summary.json", summary)
    if sampler is not None:
        page = render_report(summary, sampler.data(texts))
        atomic_write_bytes(out / "report.html", page.encode("utf-8", "backslashreplace"))
    return summary


def scan_path(
    path: str | os.PathLike[str],
    out_dir: str | Path,
    config: ScanConfig | None = None,
    *,
    fmt: str | None = None,
    text_field: str = "text",
    id_field: str = "id",
    progress: Progress | None = None,
    on_note: Callable[[str], None] | None = None,
    stdin: Any = None,
    jobs: int | None = None,
    report: bool = True,
    engine: str = "local",
    scheduler: str | None = None,
    driver_rows: int | None = None,
    memory: int | str | None = None,
    on_stage: Callable[[str], None] | None = None,
    **options: Any,
) -> FileScan:
    """Scan a file, a directory of text files, ``-`` (JSONL on standard input) or a dataset
    (a directory, glob or fsspec URL of JSONL(.gz) and Parquet files) and write
    ``clusters.jsonl``, the cleaned copy (``cleaned.jsonl``, or ``cleaned/`` with one file per
    input file), ``summary.json`` and (with ``report``) ``report.html`` into ``out_dir``.

    Two passes: the first signs and clusters (keeping no text), the second re-reads the input to
    write cleaned copies byte-for-byte. Standard input is spooled to a temporary file first.
    ``jobs`` worker processes sign (default: all cores); the output does not depend on it.
    With more than one job, where forking is safe, a child also re-reads the input while the
    graphs are linked, to cut the paragraphs' previews, and ``jobs`` children write
    clusters.jsonl during pass two.
    ``engine="dask"`` runs a dataset scan on a Dask cluster (at ``scheduler``, or a local one
    of ``jobs`` workers) with byte-identical output; call it under ``if __name__ ==
    "__main__":`` in a script, as any code that starts worker processes. Above
    ``driver_rows`` documents (or paragraphs) the Dask engine links them on the workers.
    ``memory``: as for :func:`scan` (the local engine). ``on_stage`` is told when the input
    has been read ("linking"), when the documents are linked ("linking paragraphs", with
    paragraphs on) and when pass two starts ("writing cleaned copies").
    """
    from dedupe.datasets import is_dataset

    path = os.fspath(path)
    if engine != "local" or (path != "-" and fmt is None and is_dataset(path)):
        return _scan_dataset_path(
            path,
            out_dir,
            _config(config, options),
            engine,
            scheduler,
            jobs,
            fmt,
            text_field,
            id_field,
            progress,
            on_note,
            report,
            driver_rows,
            memory_bytes(memory),
            on_stage,
        )
    if scheduler is not None:
        raise ConfigError("a scheduler address is for engine='dask'")
    if driver_rows is not None:
        raise ConfigError("driver_rows is for engine='dask'")
    from dedupe.forks import can_fork
    from dedupe.readers import open_source
    from dedupe.report import ReportSampler
    from dedupe.unit_previews import Blank, UnitPreviews
    from dedupe.writers import CleanedWriter, ClustersInChildren

    started = time.perf_counter()
    cfg = _config(config, options).resolved()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    with open_source(path, fmt, text_field=text_field, id_field=id_field, stdin=stdin) as source:  # type: ignore[arg-type]
        # Spans of text values are found only for the few lines a writer changes.
        records = source.records(spans=False)
        jobs = default_jobs() if jobs is None else jobs
        assert source.format != "dataset"  # datasets went to _scan_dataset_path above
        cleaned_format = source.format
        extra = {"input": path, "format": source.format, "output": str(out)}

        def new_writer() -> CleanedWriter:
            return CleanedWriter(out, cleaned_format, source.is_tree, text_field, id_field)

        def reread() -> Iterator[Record | Skipped]:
            return source.records(spans=False)

        def reread_lines() -> Iterator[Line | Record | Skipped]:
            return source.lines()

        with contextlib.ExitStack() as stack:
            # Where forking is safe, a child cuts the preview of every paragraph while this
            # process links (dedupe.unit_previews), so that clusters.jsonl is formatted by
            # forked children while this process writes the cleaned copies. It is forked now,
            # while this process is small, and waits for the paragraphs.
            units = None
            if jobs > 1 and can_fork() and cfg.paragraphs:
                units = stack.enter_context(UnitPreviews(PREVIEW_CHARS, out))
                units.park(reread)

            def before_linking(spans: SpanChunks) -> None:
                if units is not None:
                    units.start(spans)

            pass_one = analyse(
                records, cfg, progress, jobs, memory_bytes(memory), on_stage, before_linking
            )
            analysis = pass_one.analysis
            if on_stage is not None:
                on_stage("writing cleaned copies")
            tables = pass_one.tables
            sampler = ReportSampler(tables, cfg) if report else None
            # The previews are all there (or none are needed: no paragraphs), and the
            # children that format clusters.jsonl may fork.
            if units is not None:
                ready = units.wait() and can_fork()
            else:
                ready = not cfg.paragraphs and jobs > 1 and can_fork()
            if ready:
                texts = [Blank(t.members) if units is None else units.texts(t) for t in tables]
                with ClustersInChildren(out / "clusters.jsonl", tables, texts, jobs) as writing:
                    with new_writer() as writer:
                        _pass_two(reread_lines(), analysis, writer, sampler=sampler)
                    clusters = writing.finish()
                summary = _write_summary_and_report(
                    out, pass_one, texts, sampler, cfg, extra, started
                )
            else:
                summary, clusters = _write_in_pass_two(
                    out, pass_one, sampler, new_writer, reread_lines, jobs, cfg, extra, started
                )
    if on_note is not None:
        for origin, message in analysis.notes:
            on_note(f"{origin}: {message}")
    return FileScan(out, summary, clusters, analysis.notes)
