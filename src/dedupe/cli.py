"""The ``dedupe`` command: options -> config -> one library call -> a readable result.

This is the only module that imports typer or rich, and the only one that prints.
"""

from __future__ import annotations

import json
import shlex
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from dedupe import __version__
from dedupe.api import scan_path
from dedupe.config import ScanConfig, ShingleSpec
from dedupe.core.lsh import candidate_probability, choose_bands
from dedupe.errors import ConfigError, DedupeError, InputError
from dedupe.index import Index
from dedupe.index_files import IndexRun, add_path, check_path
from dedupe.tune import (
    DEFAULT_MIN_PRECISION,
    DEFAULT_SHINGLES,
    SimilarityDistribution,
    TuneResult,
    TuneRow,
    histogram,
    parse_thresholds,
)

EXIT_INPUT = 2
DEFAULTS = ScanConfig()
_MAX_WARNINGS_SHOWN = 20

app = typer.Typer(
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    # Markdown re-flows help paragraphs to the terminal (plain rich keeps our line breaks).
    rich_markup_mode="markdown",
    help="Find duplicate and near-duplicate documents and repeated paragraphs in text corpora.",
)
# An error is one line however narrow the terminal (soft_wrap), so it can be grepped and pasted,
# and it quotes paths and values as they are (no markup: "data[1].jsonl" keeps its brackets).
err = Console(stderr=True, highlight=False, soft_wrap=True, markup=False)
out = Console(highlight=False, soft_wrap=True)


class InputFormat(StrEnum):
    jsonl = "jsonl"
    text = "text"


class Engine(StrEnum):
    local = "local"
    dask = "dask"


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


# Options that several commands share.
FormatOption = Annotated[
    InputFormat | None,
    typer.Option("--format", help="Input format; detected from the name when left out."),
]
TextField = Annotated[str, typer.Option(help="JSONL field that holds the text.")]
IdField = Annotated[
    str, typer.Option(help="JSONL field that holds the id; the line number when absent.")
]


@app.command(no_args_is_help=True)
def scan(
    corpus: Annotated[
        str,
        typer.Argument(
            help="A JSONL file (.jsonl, .jsonl.gz), a directory of .txt/.md files, one text file, "
            "'-' for JSONL on standard input, or a dataset: a directory, a quoted glob "
            "('shards/*.jsonl.gz') or a URL (s3://bucket/news/) of JSONL(.gz) and Parquet files.",
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
    fmt: FormatOption = None,
    text_field: TextField = "text",
    id_field: IdField = "id",
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
            # Escaped: rich reads an unescaped [default: ...] as markup and drops it.
            "or the longest.  \\[default: first; longest with --measure containment]",
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
            help="An index (an SQLite file, created if absent, or redis://HOST:PORT/DB): "
            "compare the corpus with everything indexed before and add it. Clusters name the "
            "original, which may be an earlier record; paragraphs repeated across documents are "
            "not reported.",
        ),
    ] = None,
    report: Annotated[
        bool,
        typer.Option(
            "--report/--no-report",
            help="Also write report.html: totals, similarity histograms, the largest clusters "
            "and sampled removals side by side (one self-contained file; not with --index).",
        ),
    ] = True,
    engine: Annotated[
        Engine,
        typer.Option(
            help="Where a dataset is scanned: local (this machine) or dask (a Dask cluster; "
            "install dedupe[dask]). The output is byte-identical.",
        ),
    ] = Engine.local,
    scheduler: Annotated[
        str | None,
        typer.Option(
            help="With --engine dask: the scheduler's address (tcp://HOST:8786). Without it a "
            "local cluster of --jobs workers starts for the run.",
            show_default=False,
        ),
    ] = None,
    driver_rows: Annotated[
        int | None,
        typer.Option(
            min=0,
            help="With --engine dask: link documents (and paragraphs) on this machine, one "
            "label each in its memory, up to this many; above it the candidate pairs stay on "
            "the workers and components are found there (slower; same output). Default "
            "50,000,000.",
            show_default=False,
        ),
    ] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Print nothing but errors.")] = False,
) -> None:
    """Find duplicate documents and repeated paragraphs; write clusters and a cleaned copy.

    Writes into --out: clusters.jsonl (one line per cluster of duplicates, with the kept member
    and each member's similarity to it), cleaned.jsonl or cleaned/ (every record but the removed
    duplicates, with repeated paragraphs cut out and every other byte unchanged), summary.json
    (counts, skipped records with file, line and reason, parameters, time) and report.html (what
    was removed and why, with sampled removals beside the text they duplicate).

    Example: dedupe scan articles.jsonl --out out/ --threshold 0.8 --shingle word:5

    Example: dedupe scan today.jsonl --out out/ --index seen.sqlite

    Example: dedupe scan 's3://bucket/news/*.parquet' --out out/ --engine dask --scheduler tcp://10.0.0.5:8786
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

            def on_progress(records: int, characters: int) -> None:
                progress.update(task, records=records, mb=characters / 1e6)

            result = scan_path(
                corpus,
                out_dir,
                cfg,
                fmt=fmt.value if fmt else None,
                text_field=text_field,
                id_field=id_field,
                progress=on_progress,
                on_note=warnings.append,
                jobs=jobs,
                report=report,
                engine=engine.value,
                scheduler=scheduler,
                driver_rows=driver_rows,
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


@app.command(no_args_is_help=True)
def tune(
    corpus: Annotated[
        str,
        typer.Argument(
            help="The corpus, as for scan: a JSONL file (.jsonl, .jsonl.gz), a directory of "
            ".txt/.md files, one text file, '-' for JSONL on standard input, or a dataset (a "
            "directory, glob or URL of JSONL(.gz) and Parquet files).",
            show_default=False,
        ),
    ],
    pairs: Annotated[
        Path | None,
        typer.Option(
            "--pairs",
            help="CSV of labelled pairs with the columns id_a,id_b,is_duplicate (1/0, true/false "
            "or yes/no); ids as scan reads them (--id-field, the file path for a directory). "
            "Without it, tune shows how similar the candidate pairs are instead.",
            show_default=False,
        ),
    ] = None,
    out_dir: Annotated[
        Path | None,
        typer.Option(
            "--out",
            "-o",
            help="Directory for tune.json (every row) and, with matplotlib, PNG plots (created).",
            show_default=False,
        ),
    ] = None,
    thresholds: Annotated[
        str,
        typer.Option(help="Thresholds to try: FROM:TO:STEP or a list such as 0.5,0.6,0.7."),
    ] = "0.3:0.95:0.05",
    shingles: Annotated[
        str | None,
        typer.Option(
            help="Shingles to try, comma-separated.  "
            # Escaped: rich would read an unescaped [default: ...] as markup and drop it.
            f"\\[default: {','.join(DEFAULT_SHINGLES)} with --pairs; {DEFAULTS.shingle} without]",
            show_default=False,
        ),
    ] = None,
    num_perms: Annotated[
        str, typer.Option(help="MinHash permutations to try, comma-separated.")
    ] = str(DEFAULTS.num_perm),
    measure: Annotated[
        Measure,
        typer.Option(help="As for scan: jaccard, or containment to also link copies cut short."),
    ] = Measure.jaccard,
    containment_threshold: Annotated[
        float,
        typer.Option(
            min=0.01, max=1.0, help="With --measure containment: held fixed while tune sweeps."
        ),
    ] = DEFAULTS.containment_threshold,
    min_precision: Annotated[
        float,
        typer.Option(
            min=0.0,
            max=1.0,
            help="Recommend the highest recall among settings with at least this precision.",
        ),
    ] = DEFAULT_MIN_PRECISION,
    seed: Annotated[int, typer.Option(help="Seed of the MinHash permutations.")] = DEFAULTS.seed,
    fmt: FormatOption = None,
    text_field: TextField = "text",
    id_field: IdField = "id",
    jobs: Annotated[
        int | None,
        typer.Option(
            min=1, help="Worker processes for signing (default: all cores); results are the same."
        ),
    ] = None,
) -> None:
    """Choose --threshold and --shingle for scan from your own labelled pairs.

    With --pairs, every threshold x shingle (x num_perm) is scored on the labelled pairs: a pair
    is found when scan at that setting puts both records in one cluster (paragraphs aside). It
    prints the table, recommends the setting with the highest recall among those with
    precision at or above --min-precision (ties to the higher threshold) and the scan command
    to run. Without --pairs it prints a histogram of the similarity of candidate pairs, to show
    where the corpus splits into unrelated pairs and copies.

    Example: dedupe tune articles.jsonl --pairs labels.csv --out tune/
    """
    from dedupe.labels import read_labels
    from dedupe.pipeline import default_jobs
    from dedupe.readers import open_source
    from dedupe.tune import tune as run_tune

    try:
        base = ScanConfig(
            seed=seed,
            measure=measure.value,  # type: ignore[arg-type]
            containment_threshold=containment_threshold,
        )
        swept = parse_thresholds(thresholds)
        perms = _parse_ints(num_perms, "num-perms")
        shingle_list = None if shingles is None else [s for s in shingles.split(",") if s.strip()]
        labels = None if pairs is None else read_labels(pairs)
        with (
            open_source(
                corpus, fmt.value if fmt else None, text_field=text_field, id_field=id_field
            ) as source,
            _status("reading") as step,
        ):
            result = run_tune(
                source,
                labels,
                thresholds=swept,
                shingles=shingle_list,
                num_perms=perms,
                measure=base.measure,
                min_precision=min_precision,
                config=base,
                jobs=default_jobs() if jobs is None else jobs,
                on_step=step,
            )
    except DedupeError as error:
        err.print(f"dedupe: error: {error}")
        raise typer.Exit(EXIT_INPUT) from None
    except OSError as error:
        err.print(f"dedupe: error: {error.strerror or error}: {error.filename or ''}".rstrip(": "))
        raise typer.Exit(1) from None
    command = _tune_scan_command(result, corpus, fmt, text_field, id_field)
    _print_tune(result, pairs, command)
    if out_dir is not None:
        _write_tune_outputs(result, out_dir, corpus, pairs, command)


def _parse_ints(text: str, option: str) -> list[int]:
    try:
        return [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        message = f"--{option} {text!r}: give whole numbers such as 128 or 64,128,256"
        raise ConfigError(message) from None


@contextmanager
def _status(first: str) -> Iterator[Callable[[str], None]]:
    """A spinner on standard error naming the current step, only when it is a terminal."""
    if not sys.stderr.isatty():
        yield lambda message: None
        return
    with err.status(first) as status:
        yield lambda message: status.update(message)


def _tune_scan_command(
    result: TuneResult,
    corpus: str,
    fmt: InputFormat | None,
    text_field: str,
    id_field: str,
) -> str | None:
    """The exact ``dedupe scan`` command of the recommendation, or None without one."""
    cfg = result.recommended_config()
    if cfg is None:
        return None
    parts = ["dedupe", "scan", shlex.quote(corpus), "--out", "deduped"]
    if fmt is not None:
        parts += ["--format", fmt.value]
    if text_field != "text":
        parts += ["--text-field", shlex.quote(text_field)]
    if id_field != "id":
        parts += ["--id-field", shlex.quote(id_field)]
    parts += ["--threshold", f"{cfg.threshold:g}", "--shingle", str(cfg.shingle)]
    if cfg.num_perm != DEFAULTS.num_perm:
        parts += ["--num-perm", str(cfg.num_perm)]
    if cfg.seed != DEFAULTS.seed:
        parts += ["--seed", str(cfg.seed)]
    if cfg.measure != DEFAULTS.measure:
        parts += ["--measure", cfg.measure]
        if cfg.containment_threshold != DEFAULTS.containment_threshold:
            parts += ["--containment-threshold", f"{cfg.containment_threshold:g}"]
    return " ".join(parts)


def _print_tune(result: TuneResult, pairs: Path | None, command: str | None) -> None:
    out.print(
        f"{_count(result.records_read, 'record')} read: {result.records_scanned:,} scanned, "
        f"{result.records_read - result.records_scanned:,} skipped or empty."
    )
    if result.labelled:
        out.print(
            f"{_count(result.labelled_duplicates, 'labelled duplicate pair')} and "
            f"{_count(result.labelled_non_duplicates, 'labelled non-duplicate pair')} "
            f"from {pairs}."
        )
        out.print(_sweep_table(result))
        _print_recommendation(result, command)
    else:
        out.print(
            "No --pairs: how similar the candidate pairs are. Copies gather near 1.0, unrelated "
            "documents at the left; a threshold in the valley between them separates the two."
        )
        for found in result.distributions:
            _print_distribution(found)
        out.print("Label some pairs (id_a,id_b,is_duplicate) and give them as --pairs to measure.")


def _sweep_table(result: TuneResult) -> Table:
    several_perms = len({row.num_perm for row in result.rows}) > 1
    table = Table(title=f"dedupe tune: measure {result.config.measure}", title_justify="left")
    table.add_column("shingle")
    if several_perms:
        table.add_column("perms", justify="right")
    for name in ("threshold", "bands", "precision", "recall", "F1", "found", "missed", "false"):
        table.add_column(name, justify="right")
    table.add_column("")
    rows = result.rows
    for index, row in enumerate(rows):
        last_of_setting = index + 1 == len(rows) or (
            rows[index + 1].shingle,
            rows[index + 1].num_perm,
        ) != (
            row.shingle,
            row.num_perm,
        )
        chosen = row is result.recommendation
        cells = [row.shingle] + ([str(row.num_perm)] if several_perms else [])
        cells += [
            f"{row.threshold:.2f}",
            f"{row.bands}x{row.rows}",
            "-" if row.precision is None else f"{row.precision:.3f}",
            f"{row.recall:.3f}",
            f"{row.f1:.3f}",
            f"{row.found:,}",
            f"{row.missed:,}",
            f"{row.false_pairs:,}",
            "◀" if chosen else "",
        ]
        table.add_row(*cells, style="bold" if chosen else None, end_section=last_of_setting)
    return table


def _describe(row: TuneRow) -> str:
    precision = "-" if row.precision is None else f"{row.precision:.3f}"
    return (
        f"--threshold {row.threshold:g} --shingle {row.shingle}"
        f"{'' if row.num_perm == DEFAULTS.num_perm else f' --num-perm {row.num_perm}'}: "
        f"precision {precision}, recall {row.recall:.3f} "
        f"({row.found:,} of {row.found + row.missed:,} labelled duplicates found, "
        f"{_count(row.false_pairs, 'labelled non-duplicate')} joined)"
    )


def _print_recommendation(result: TuneResult, command: str | None) -> None:
    row = result.recommendation
    if row is None:
        out.print(
            "No setting put any labelled duplicate pair in one cluster: check that the ids in "
            "--pairs name records that are copies of each other."
        )
        return
    if result.floor_reached:
        out.print(f"Recommended: {_describe(row)}.")
    else:
        out.print(
            f"No setting reached precision {result.min_precision:g} on these labels. "
            f"The best F1 ({row.f1:.3f}) is {_describe(row)}."
        )
    if result.labelled_non_duplicates == 0:
        out.print(
            "Note: no pair is labelled a non-duplicate, so precision is 1.0 wherever anything "
            "is found; add pairs that must stay apart to measure it."
        )
    out.print(f"  {command}", markup=False)


def _print_distribution(found: SimilarityDistribution) -> None:
    out.print(
        f"\nCandidate pairs by estimated Jaccard similarity ({found.shingle} shingles, "
        f"{found.num_perm} permutations; LSH for {found.floor:g}: {found.bands} bands x "
        f"{found.rows} rows); {_count(found.exact_duplicates, 'exact duplicate')} "
        "(after normalisation) not shown:"
    )
    _print_histogram(found.jaccard, found.floor)
    counts = "   ".join(f">= {t:g}: {n:,}" for t, n in found.at_least())
    out.print(f"Pairs {counts}", markup=False)
    if found.containment is not None:
        out.print(
            "Share of the shorter document in the longer (--measure containment), for pairs "
            "of comparable length:"
        )
        _print_histogram(found.containment, found.floor)


_BAR_WIDTH = 40


def _print_histogram(values: Any, low: float) -> None:
    bins = histogram(values, low)
    top = max((b.count for b in bins), default=0)
    for b in bins:
        bar = "█" * (0 if top == 0 else round(_BAR_WIDTH * b.count / top))
        if b.count and not bar:
            bar = "▏"
        out.print(f"  {b.low:.2f}-{b.high:.2f}  {bar:<{_BAR_WIDTH}}  {b.count:,}", markup=False)


def _write_tune_outputs(
    result: TuneResult, out_dir: Path, corpus: str, pairs: Path | None, command: str | None
) -> None:
    from dedupe import plots
    from dedupe.writers import write_summary

    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        document = {
            "input": corpus,
            "pairs": None if pairs is None else str(pairs),
            "scan_command": command,
            **result.as_dict(),
        }
        write_summary(out_dir / "tune.json", document)
        written = [out_dir / "tune.json"]
        if plots.available():
            written += plots.write_tune_plots(result, out_dir)
        else:
            out.print(f"Plots need matplotlib: {plots.INSTALL_HINT}", markup=False)
    except OSError as error:
        err.print(f"dedupe: error: {error.strerror or error}: {error.filename or ''}".rstrip(": "))
        raise typer.Exit(1) from None
    out.print(f"Wrote {', '.join(str(path) for path in written)}", markup=False)


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


def _require_index(location: str) -> None:
    """Exit 2 when ``location`` is a file path with no file (a server URL is not checked)."""
    if "://" not in location and not Path(location).exists():
        err.print(f"dedupe: error: no index at {location}")
        raise typer.Exit(EXIT_INPUT)


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
    str,
    typer.Argument(
        help="The index: an SQLite file (created by add if absent), or redis://HOST:PORT/DB "
        "for one shared by several machines."
    ),
]
Corpus = Annotated[
    str,
    typer.Argument(
        help="A JSONL file, a directory of .txt/.md files, one text file, '-' for JSONL on "
        "standard input, or a dataset (a directory, glob or URL of JSONL(.gz) and Parquet files).",
        show_default=False,
    ),
]


@index_app.command("add", no_args_is_help=True)
def index_add(
    index: IndexPath,
    corpus: Corpus,
    text_field: TextField = "text",
    id_field: IdField = "id",
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
    text_field: TextField = "text",
    id_field: IdField = "id",
) -> None:
    """Print a JSON line per record: is it a copy of an indexed one? Changes nothing.

    Each line holds the id, "new" or "duplicate", the original it duplicates, the similarity
    and the paragraphs its cleaned text leaves out.

    Example: dedupe index check seen.sqlite incoming.jsonl
    """
    _require_index(index)
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
    _require_index(index)
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
    _require_index(index)
    with _failures(), _open_index(index, None) as opened:
        removed = opened.remove_many(ids)
    out.print(f"removed {removed:,} of {_count(len(ids), 'id')}")
    if removed < len(ids):
        raise typer.Exit(1)


def _count(number: int, noun: str) -> str:
    return f"{number:,} {noun}{'' if number == 1 else 's'}"


#: Words of unchanged text shown around each difference in `explain`'s diff.
_DIFF_CONTEXT_WORDS = 6


@app.command(no_args_is_help=True)
def explain(
    first: Annotated[
        str,
        typer.Argument(
            help="A file, a record id (with --corpus), or the text itself; with --doc, the corpus.",
            show_default=False,
        ),
    ],
    second: Annotated[
        str | None,
        typer.Argument(help="The second file, id or text.", show_default=False),
    ] = None,
    corpus: Annotated[
        str | None,
        typer.Option(help="Read FIRST and SECOND as record ids of this corpus (as scan reads it)."),
    ] = None,
    doc: Annotated[
        str | None,
        typer.Option(help="Show the repeated paragraphs of this record of the corpus FIRST."),
    ] = None,
    text_field: TextField = "text",
    id_field: IdField = "id",
    threshold: Annotated[
        float, typer.Option(min=0.01, max=1.0, help="As for scan.")
    ] = DEFAULTS.threshold,
    shingle: Annotated[str, typer.Option(help="As for scan.")] = str(ShingleSpec()),
    num_perm: Annotated[int, typer.Option(help="As for scan.")] = DEFAULTS.num_perm,
    seed: Annotated[int, typer.Option(help="As for scan.")] = DEFAULTS.seed,
    measure: Annotated[Measure, typer.Option(help="As for scan.")] = Measure.jaccard,
    containment_threshold: Annotated[
        float, typer.Option(min=0.01, max=1.0, help="As for scan.")
    ] = DEFAULTS.containment_threshold,
) -> None:
    """Show why two texts are or are not duplicates under the current settings.

    Prints the scan's verdict and its reason, the estimated (MinHash) and exact Jaccard
    similarity, the LSH bands that collided, shingles found in only one text, and a word diff
    (removed words as [-...-], added ones as {+...+}). With --doc ID it shows which paragraphs
    of that record a scan removes and which earlier paragraph each repeats.

    Example: dedupe explain wire.txt mirror.txt --threshold 0.8
    """
    from dedupe.explain import explain as run_explain

    try:
        cfg = ScanConfig(
            threshold=threshold,
            num_perm=num_perm,
            shingle=ShingleSpec.parse(shingle),
            seed=seed,
            measure=measure.value,  # type: ignore[arg-type]
            containment_threshold=containment_threshold,
        )
        if doc is not None:
            (text,) = _corpus_texts(first, [doc], text_field, id_field).values()
            _print_repeats(doc, text, cfg)
            return
        if second is None:
            raise ConfigError("give two texts, files or ids to compare (or --doc ID CORPUS)")
        if corpus is not None:
            texts = _corpus_texts(corpus, [first, second], text_field, id_field)
            a, b = texts[first], texts[second]
        else:
            a, b = _text_or_file(first), _text_or_file(second)
        explanation = run_explain(a, b, cfg)
    except DedupeError as error:
        err.print(f"dedupe: error: {error}")
        raise typer.Exit(EXIT_INPUT) from None
    _print_explanation(explanation, first, second)


def _text_or_file(value: str) -> str:
    """The file's text when ``value`` names a file, else ``value`` itself."""
    path = Path(value)
    if len(value) < 4096 and path.is_file():
        try:
            return path.read_bytes().decode("utf-8", errors="replace")
        except OSError as error:
            raise InputError(value, None, error.strerror or str(error)) from None
    return value


def _corpus_texts(corpus: str, ids: list[str], text_field: str, id_field: str) -> dict[str, str]:
    from dedupe.readers import open_source
    from dedupe.records import Record

    wanted = set(ids)
    found: dict[str, str] = {}
    with open_source(corpus, text_field=text_field, id_field=id_field) as source:
        for item in source.records(spans=False):
            if isinstance(item, Record) and item.id in wanted and item.id not in found:
                found[item.id] = item.text
    missing = [i for i in ids if i not in found]
    if missing:
        raise InputError(corpus, None, f"no record with id {missing[0]!r}")
    return found


def _print_explanation(e: Any, first: str, second: str | None) -> None:
    verdict = "[bold red]duplicate[/]" if e.duplicate else "[bold green]not a duplicate[/]"
    out.print(f"{verdict}: {e.reason}")
    out.print(
        f"Jaccard: estimated {e.estimated_jaccard:.3f} ({e.config.num_perm} permutations), "
        f"exact {e.exact_jaccard:.3f}; {e.shared:,} {e.config.shingle} shingles shared of "
        f"{e.shingles_a:,} (A) and {e.shingles_b:,} (B)"
    )
    if e.estimated_containment is not None:
        out.print(f"Containment of the shorter text in the longer: {e.estimated_containment:.3f}")
    out.print(
        f"LSH: {e.bands} bands x {e.rows} rows; {len(e.collided_bands)} band(s) collided"
        + (f" (first: {e.collided_bands[0]})" if e.collided_bands else "")
        + f"; P(candidate) at this similarity {e.candidate_probability:.3f}"
    )
    for label, shingles in (("A", e.only_a), ("B", e.only_b)):
        if shingles:
            shown = " | ".join(shingles)
            out.print(f"Only in {label}: {shown}", markup=False)
    changes = [op for op in e.diff if op[0] != "equal"]
    if not changes:
        out.print("No word differs (the texts differ at most in whitespace).")
        return
    out.print(f"Differences, A = {first!r} -> B = {second!r}:", markup=False)
    out.print(_diff_text(e.diff))


def _diff_text(diff: Any) -> Any:
    from rich.text import Text

    text = Text()
    last = len(diff) - 1
    for index, (op, words) in enumerate(diff):
        if op == "delete":
            text.append(f"[-{words}-]", style="red strike")
        elif op == "insert":
            text.append(f"{{+{words}+}}", style="green")
        else:
            tokens = words.split()
            keep = _DIFF_CONTEXT_WORDS
            head = tokens[:keep] if index > 0 else []
            tail = tokens[-keep:] if index < last else []
            if len(tokens) > len(head) + len(tail):
                shown = " ".join(head) + (" … " if head or tail else "…") + " ".join(tail)
            else:
                shown = words
            text.append(shown.strip(), style="dim")
        text.append(" ")
    return text


def _print_repeats(doc_id: str, text: str, cfg: ScanConfig) -> None:
    from dedupe.api import scan

    result = scan([(doc_id, text)], cfg)
    (record,) = result.records
    clusters = [c for c in result.clusters if c.level == "paragraph"]
    if not record.removed_paragraphs:
        out.print(f"{doc_id}: no paragraph repeats an earlier one.", markup=False)
        return
    out.print(
        f"{doc_id}: {_count(len(record.removed_paragraphs), 'paragraph')} removed as repeats:",
        markup=False,
    )
    for cluster in clusters:
        for member in cluster.members[1:]:
            if member.paragraph in record.removed_paragraphs:
                out.print(
                    f"  paragraph {member.paragraph} repeats paragraph {cluster.keep.paragraph} "
                    f"(similarity {member.similarity:.3f}):",
                    markup=False,
                )
                out.print(f"    kept:    {cluster.keep.text}", markup=False)
                out.print(f"    removed: {member.text}", markup=False)


def run() -> None:
    """Console-script entry point: never a traceback for an expected failure."""
    try:
        app()
    except KeyboardInterrupt:
        err.print("dedupe: interrupted")
        raise SystemExit(130) from None
