"""The ``dedupe`` command: options -> config -> one library call -> a readable result.

This is the only module that imports typer or rich, and the only one that prints.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from dedupe import __version__
from dedupe.api import scan_path
from dedupe.config import ScanConfig, ShingleSpec
from dedupe.core.lsh import candidate_probability, choose_bands
from dedupe.errors import ConfigError, DedupeError, InputError
from dedupe.index import Index
from dedupe.index_files import IndexRun, add_path, check_path

EXIT_INPUT = 2
DEFAULTS = ScanConfig()
_MAX_WARNINGS_SHOWN = 20

app = typer.Typer(
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    help="Find duplicate and near-duplicate documents and repeated paragraphs in text corpora.",
)
err = Console(stderr=True, highlight=False)
out = Console(highlight=False, soft_wrap=True)


class InputFormat(StrEnum):
    jsonl = "jsonl"
    text = "text"


class Keep(StrEnum):
    first = "first"
    longest = "longest"


class Measure(StrEnum):
    jaccard = "jaccard"
    containment = "containment"


def _version(value: bool) -> None:
    if value:
        out.print(f"dedupe {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version.")
    ] = False,
) -> None:
    """Find duplicate and near-duplicate documents and repeated paragraphs in text corpora.

    Example: dedupe scan articles.jsonl --out cleaned/
    """


def _explain_bands(cfg: ScanConfig) -> None:
    floor = cfg.candidate_threshold
    bands, rows = choose_bands(floor, cfg.num_perm, cfg.min_candidate_probability)
    out.print(
        f"LSH: {bands} bands x {rows} rows of {cfg.num_perm} permutations for Jaccard "
        f"{floor:.3f} ({cfg.shingle} shingles)"
    )
    if cfg.measure == "containment":
        out.print(
            f"  containment {cfg.containment_threshold} of a copy holding half its source or "
            f"more means Jaccard {floor:.3f} or more; the Jaccard threshold is {cfg.threshold}"
        )
    for similarity in sorted({floor - 0.2, floor - 0.1, floor, cfg.threshold, floor + 0.1}):
        if 0 < similarity <= 1:
            p = float(candidate_probability(similarity, bands, rows))
            out.print(f"  P(candidate | Jaccard {similarity:.2f}) = {p:.3f}")
    out.print("  every candidate is verified on its full signature before it joins a cluster")


@app.command(no_args_is_help=True)
def scan(
    corpus: Annotated[
        str,
        typer.Argument(
            help="A JSONL file (.jsonl, .jsonl.gz), a directory of .txt/.md files, one text file, "
            "or '-' for JSONL on standard input.",
            show_default=False,
        ),
    ],
    out_dir: Annotated[
        Path,
        typer.Option(
            "--out",
            "-o",
            help="Directory for clusters.jsonl, the cleaned copy and summary.json (created).",
        ),
    ],
    fmt: Annotated[
        InputFormat | None,
        typer.Option("--format", help="Input format; detected from the name when left out."),
    ] = None,
    text_field: Annotated[str, typer.Option(help="JSONL field that holds the text.")] = "text",
    id_field: Annotated[
        str, typer.Option(help="JSONL field that holds the id; the line number when absent.")
    ] = "id",
    threshold: Annotated[
        float,
        typer.Option(
            min=0.01,
            max=1.0,
            help="Jaccard similarity of shingle sets at or above which two documents are "
            "duplicates. 0.55 found every lightly edited copy of labelled news and no false "
            "pair (BENCHMARKS.md); raise it to keep loosely related versions apart.",
        ),
    ] = DEFAULTS.threshold,
    shingle: Annotated[
        str, typer.Option(help="Shingles compared: word:N (N words) or char:N (N characters).")
    ] = str(ShingleSpec()),
    num_perm: Annotated[
        int, typer.Option(help="MinHash permutations per document.")
    ] = DEFAULTS.num_perm,
    seed: Annotated[int, typer.Option(help="Seed of the MinHash permutations.")] = DEFAULTS.seed,
    keep: Annotated[
        Keep | None,
        typer.Option(
            help="Which member of a duplicate cluster stays: the first in input order, "
            "or the longest.  [default: first; longest with --measure containment]",
            show_default=False,
        ),
    ] = None,
    measure: Annotated[
        Measure,
        typer.Option(
            help="jaccard: documents are duplicates when their shingle sets are similar. "
            "containment: also when a document's shingles lie mostly inside a longer one "
            "(a copy cut short), at --containment-threshold.",
        ),
    ] = Measure.jaccard,
    containment_threshold: Annotated[
        float,
        typer.Option(
            min=0.01,
            max=1.0,
            help="With --measure containment: the share of a shorter document's shingles that "
            "a longer one must hold.",
        ),
    ] = DEFAULTS.containment_threshold,
    paragraphs: Annotated[
        bool,
        typer.Option(
            "--paragraphs/--no-paragraphs",
            help="Also find paragraphs repeated inside a document (removed) and across "
            "documents (reported).",
        ),
    ] = True,
    boilerplate_min_docs: Annotated[
        int,
        typer.Option(
            min=0,
            help="Remove a paragraph found in at least this many documents from every "
            "cleaned copy (0: off).",
        ),
    ] = 0,
    strict: Annotated[
        bool,
        typer.Option(help="Stop at the first bad record (exit code 2) instead of skipping it."),
    ] = False,
    jobs: Annotated[
        int | None,
        typer.Option(
            min=1, help="Worker processes for signing (default: all cores); output is the same."
        ),
    ] = None,
    explain_bands: Annotated[
        bool, typer.Option(help="Print the LSH bands chosen and the S-curve around the threshold.")
    ] = False,
    index: Annotated[
        str | None,
        typer.Option(
            help="An index (SQLite file, created if absent): compare the corpus with everything "
            "indexed before and add it. Clusters name the original, which may be an earlier "
            "record; paragraphs repeated across documents are not reported.",
        ),
    ] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Print nothing but errors.")] = False,
) -> None:
    """Find duplicate documents and repeated paragraphs; write clusters and a cleaned copy.

    Writes into --out: clusters.jsonl (one line per cluster of duplicates, with the kept member
    and each member's similarity to it), cleaned.jsonl or cleaned/ (every record but the removed
    duplicates, with repeated paragraphs cut out and every other byte unchanged) and summary.json
    (counts, skipped records with file, line and reason, parameters, time).

    Example: dedupe scan articles.jsonl --out out/ --threshold 0.8 --shingle word:5

    Example: dedupe scan today.jsonl --out out/ --index seen.sqlite
    """
    try:
        cfg = ScanConfig(
            threshold=threshold,
            num_perm=num_perm,
            shingle=ShingleSpec.parse(shingle),
            seed=seed,
            keep=None if keep is None else keep.value,  # type: ignore[arg-type]
            measure=measure.value,  # type: ignore[arg-type]
            containment_threshold=containment_threshold,
            paragraphs=paragraphs,
            boilerplate_min_docs=boilerplate_min_docs,
            strict=strict,
        )
    except ConfigError as error:
        err.print(f"dedupe: error: {error}")
        raise typer.Exit(EXIT_INPUT) from None
    if explain_bands and not quiet:
        _explain_bands(cfg)
    if index is not None:
        explicit = _explicit_options(cfg)
        with _failures(), _open_index(index, cfg if explicit else None) as opened:
            run_, summary = add_path(
                corpus,
                opened,
                out_dir,
                fmt=fmt.value if fmt else None,
                text_field=text_field,
                id_field=id_field,
            )
        if not quiet:
            _print_index_run(run_, summary)
        return
    warnings: list[str] = []
    show_progress = sys.stderr.isatty() and not quiet
    progress = Progress(
        TextColumn("[bold]scanning[/bold]"),
        BarColumn(bar_width=None),
        TextColumn("{task.fields[records]:,} records, {task.fields[mb]:.1f} MB"),
        TimeElapsedColumn(),
        console=err,
        transient=True,
        disable=not show_progress,
    )
    try:
        with progress:
            task = progress.add_task("scan", total=None, records=0, mb=0.0)

            def report(records: int, characters: int) -> None:
                progress.update(task, records=records, mb=characters / 1e6)

            result = scan_path(
                corpus,
                out_dir,
                cfg,
                fmt=fmt.value if fmt else None,
                text_field=text_field,
                id_field=id_field,
                progress=report,
                on_note=warnings.append,
                jobs=jobs,
            )
    except InputError as error:
        err.print(f"dedupe: error: {error}")
        raise typer.Exit(EXIT_INPUT) from None
    except DedupeError as error:
        err.print(f"dedupe: error: {error}")
        raise typer.Exit(EXIT_INPUT) from None
    except OSError as error:
        err.print(f"dedupe: error: {error.strerror or error}: {error.filename or ''}".rstrip(": "))
        raise typer.Exit(1) from None
    if not quiet:
        _print_summary(result.summary, warnings)


def _print_summary(summary: dict[str, Any], warnings: list[str]) -> None:
    lines = [
        f"{s['file']}{'' if s['line'] is None else ':' + str(s['line'])}: skipped: {s['reason']}"
        for s in summary["skipped"]
    ]
    lines += [f"{w}" for w in warnings]
    for line in lines[:_MAX_WARNINGS_SHOWN]:
        err.print(f"warning: {line}", markup=False)
    if len(lines) > _MAX_WARNINGS_SHOWN:
        err.print(f"warning: ... and {len(lines) - _MAX_WARNINGS_SHOWN} more (see summary.json)")
    out.print(
        f"{_count(summary['records_read'], 'record')} read: {summary['records_kept']:,} kept, "
        f"{summary['documents_removed']:,} removed as duplicates, "
        f"{summary['records_skipped']:,} skipped; "
        f"{_count(summary['paragraphs_removed'], 'repeated paragraph')} removed "
        f"({summary['boilerplate_paragraphs_removed']:,} as boilerplate)."
    )
    out.print(
        f"{_count(summary['document_clusters'], 'document cluster')}, "
        f"{_count(summary['paragraph_clusters'], 'paragraph cluster')}, "
        f"{summary['elapsed_seconds']:.2f} s. Output: {summary['output']}"
    )


def _explicit_options(cfg: ScanConfig) -> bool:
    """Whether any option that an index stores differs from the default (an existing index is
    then checked against them; otherwise it is opened with its own)."""
    ignored = {"strict", "keep"}
    return any(
        value != getattr(DEFAULTS, name)
        for name, value in ((n, getattr(cfg, n)) for n in cfg.__slots__)  # type: ignore[attr-defined]
        if name not in ignored
    )


@contextmanager
def _failures() -> Iterator[None]:
    """Library errors as one line and exit code 2; OS errors as one line and exit code 1."""
    try:
        yield
    except (DedupeError, KeyError) as error:
        message = error.args[0] if isinstance(error, KeyError) and error.args else error
        err.print(f"dedupe: error: {message}", markup=False, soft_wrap=True)
        raise typer.Exit(EXIT_INPUT) from None
    except OSError as error:
        err.print(f"dedupe: error: {error.strerror or error}: {error.filename or ''}".rstrip(": "))
        raise typer.Exit(1) from None


def _open_index(location: str, cfg: ScanConfig | None) -> Index:
    return Index(location, cfg)


def _print_index_run(run_: IndexRun, summary: dict[str, Any]) -> None:
    for skipped in run_.skipped[:_MAX_WARNINGS_SHOWN]:
        err.print(f"warning: {skipped.origin}: skipped: {skipped.reason}", markup=False)
    out.print(
        f"{_count(run_.records_read, 'record')} read: {run_.added:,} added "
        f"({run_.new:,} new, {_count(len(run_.duplicates), 'duplicate')}), "
        f"{len(run_.skipped):,} skipped; the index holds {summary['index']['records']:,}."
    )


index_app = typer.Typer(
    no_args_is_help=True,
    help="A persistent index: is an article a copy of one seen before?",
)
app.add_typer(index_app, name="index")

IndexPath = Annotated[
    str, typer.Argument(help="The index: an SQLite file (created by add if absent).")
]
Corpus = Annotated[
    str,
    typer.Argument(
        help="A JSONL file, a directory of .txt/.md files, one text file, or '-' for JSONL on "
        "standard input.",
        show_default=False,
    ),
]


@index_app.command("add", no_args_is_help=True)
def index_add(
    index: IndexPath,
    corpus: Corpus,
    text_field: Annotated[str, typer.Option(help="JSONL field that holds the text.")] = "text",
    id_field: Annotated[str, typer.Option(help="JSONL field that holds the id.")] = "id",
    threshold: Annotated[
        float | None,
        typer.Option(min=0.01, max=1.0, help="Jaccard threshold of a new index [default: 0.55]."),
    ] = None,
    shingle: Annotated[
        str | None, typer.Option(help="Shingles of a new index [default: word:5].")
    ] = None,
    num_perm: Annotated[
        int | None, typer.Option(help="MinHash permutations of a new index [default: 128].")
    ] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Print nothing but errors.")] = False,
) -> None:
    """Add every record of a corpus; each is checked against everything indexed before it.

    An existing index keeps the parameters it was built with; giving different ones is an error.

    Example: dedupe index add seen.sqlite today.jsonl
    """
    options: dict[str, Any] = {}
    if threshold is not None:
        options["threshold"] = threshold
    if shingle is not None:
        options["shingle"] = shingle
    if num_perm is not None:
        options["num_perm"] = num_perm
    with _failures():
        cfg = ScanConfig(**options) if options else None
        with _open_index(index, cfg) as opened:
            run_, summary = add_path(corpus, opened, text_field=text_field, id_field=id_field)
    if not quiet:
        _print_index_run(run_, summary)


@index_app.command("check", no_args_is_help=True)
def index_check(
    index: IndexPath,
    corpus: Corpus,
    text_field: Annotated[str, typer.Option(help="JSONL field that holds the text.")] = "text",
    id_field: Annotated[str, typer.Option(help="JSONL field that holds the id.")] = "id",
) -> None:
    """Print a JSON line per record: is it a copy of an indexed one? Changes nothing.

    Each line holds the id, "new" or "duplicate", the original it duplicates, the similarity
    and the paragraphs its cleaned text leaves out.

    Example: dedupe index check seen.sqlite incoming.jsonl
    """
    if not Path(index).exists():
        err.print(f"dedupe: error: no index at {index}")
        raise typer.Exit(EXIT_INPUT)
    skipped: list[Any] = []
    with _failures(), _open_index(index, None) as opened:
        for verdict in check_path(
            corpus, opened, text_field=text_field, id_field=id_field, skipped=skipped
        ):
            row = {
                "id": verdict.id,
                "status": verdict.status,
                "duplicate_of": verdict.duplicate_of,
                "similarity": verdict.similarity,
                "removed_paragraphs": list(verdict.removed_paragraphs),
            }
            out.print(json.dumps(row), markup=False, highlight=False)
    for item in skipped:
        err.print(f"warning: {item.origin}: skipped: {item.reason}", markup=False)


@index_app.command("stats", no_args_is_help=True)
def index_stats(index: IndexPath) -> None:
    """Print the index's counts, size on disk and parameters as JSON.

    Example: dedupe index stats seen.sqlite
    """
    if not Path(index).exists():
        err.print(f"dedupe: error: no index at {index}")
        raise typer.Exit(EXIT_INPUT)
    with _failures(), _open_index(index, None) as opened:
        out.print(json.dumps(opened.stats().as_dict(), indent=2), markup=False)


@index_app.command("remove", no_args_is_help=True)
def index_remove(
    index: IndexPath,
    ids: Annotated[list[str], typer.Argument(help="Ids of the records to remove.")],
) -> None:
    """Remove records; their clusters are regrouped without them.

    Example: dedupe index remove seen.sqlite article-17 article-18
    """
    if not Path(index).exists():
        err.print(f"dedupe: error: no index at {index}")
        raise typer.Exit(EXIT_INPUT)
    with _failures(), _open_index(index, None) as opened:
        removed = opened.remove_many(ids)
    out.print(f"removed {removed:,} of {_count(len(ids), 'id')}")
    if removed < len(ids):
        raise typer.Exit(1)


def _count(number: int, noun: str) -> str:
    return f"{number:,} {noun}{'' if number == 1 else 's'}"


def run() -> None:
    """Console-script entry point: never a traceback for an expected failure."""
    try:
        app()
    except KeyboardInterrupt:
        err.print("dedupe: interrupted")
        raise SystemExit(130) from None
