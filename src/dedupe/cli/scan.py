"""``dedupe scan``: options -> config -> one library call -> a readable summary."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from dedupe.api import scan_path
from dedupe.cli.common import (
    DEFAULTS,
    EXIT_INPUT,
    MAX_WARNINGS_SHOWN,
    Engine,
    FormatOption,
    IdField,
    Keep,
    Measure,
    TextField,
    Verify,
    app,
    counted,
    err,
    explicit_options,
    failures,
    open_index,
    out,
    print_index_run,
)
from dedupe.config import ScanConfig, ShingleSpec
from dedupe.core.lsh import candidate_probability, choose_bands
from dedupe.errors import ConfigError, DedupeError, InputError
from dedupe.index_files import add_path
from dedupe.memory import limit_arenas


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
    if cfg.verify == "exact":
        out.print(
            "  every candidate is decided on the exact Jaccard similarity of its shingle sets"
        )
    else:
        out.print("  every candidate is verified on its full signature before it joins a cluster")


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
    verify: Annotated[
        Verify,
        typer.Option(
            help="How a candidate pair (documents sharing an LSH band) is decided. exact: on "
            "the exact Jaccard similarity of the two shingle sets, kept in a temporary file "
            "during the scan (no candidate at or above --threshold is missed, none below it is "
            "linked). estimate: on its MinHash signatures (faster; a pair just above "
            "--threshold is missed about a third of the time). auto: exact on the local "
            "engine, estimate with --engine dask or --index, which offer only that.",
        ),
    ] = Verify.auto,
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
            min=1,
            help="Worker processes for signing, and for cutting previews and writing "
            "clusters.jsonl beside the linking and the cleaned copies (default: all cores); "
            "the output is the same.",
        ),
    ] = None,
    memory: Annotated[
        str | None,
        typer.Option(
            help="Hold at most this much of the signatures and per-paragraph arrays in memory "
            "(512M, 4G, ...; 'unlimited': all); the rest goes to temporary files in $TMPDIR, "
            "read back as linking needs them. The output is the same. Signatures take about "
            "0.6 KB a document and 0.15 KB a paragraph. With --jobs 2 or more, linking also "
            "sorts the next LSH band while one is verified where that fits in it (about 22 "
            "bytes a document or distinct paragraph taking part): a larger --memory buys "
            "speed with memory. Default: 16M.",
            show_default=False,
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
            verify=verify.value,  # type: ignore[arg-type]
            paragraphs=paragraphs,
            boilerplate_min_docs=boilerplate_min_docs,
            strict=strict,
        )
    except ConfigError as error:
        err.print(f"dedupe: error: {error}")
        raise typer.Exit(EXIT_INPUT) from None
    if explain_bands and not quiet:
        _explain_bands(cfg.resolved(exact=index is None and engine.value == "local"))
    if index is not None:
        if memory is not None:
            err.print(
                "dedupe: error: --memory is for a scan without --index (an index holds "
                "its signatures in its own store)"
            )
            raise typer.Exit(EXIT_INPUT)
        explicit = explicit_options(cfg)
        with failures(), open_index(index, cfg if explicit else None) as opened:
            run_, summary = add_path(
                corpus,
                opened,
                out_dir,
                fmt=fmt.value if fmt else None,
                text_field=text_field,
                id_field=id_field,
            )
        if not quiet:
            print_index_run(run_, summary)
        return
    warnings: list[str] = []
    show_progress = sys.stderr.isatty() and not quiet
    # Refreshed by the scan's own progress calls (every 500 records), not by a thread: a
    # process running no other thread may fork its signing and writing processes, which start
    # in milliseconds (a forkserver beside the thread cost ~0.25 s, one writer 0.7 s at x10).
    progress = Progress(
        TextColumn("[bold]scanning[/bold]"),
        BarColumn(bar_width=None),
        TextColumn("{task.fields[records]:,} records, {task.fields[mb]:.1f} MB"),
        TimeElapsedColumn(),
        console=err,
        transient=True,
        auto_refresh=False,
        disable=not show_progress,
    )
    try:
        with progress:
            task = progress.add_task("scan", total=None, records=0, mb=0.0)
            seen = [0, 0]

            def on_progress(records: int, characters: int) -> None:
                seen[:] = [records, characters]
                progress.update(task, records=records, mb=characters / 1e6, refresh=True)

            def on_stage(stage: str) -> None:
                # Past reading the bar would stand still: a line says what comes instead.
                progress.stop()
                if show_progress:
                    read = f"read {counted(seen[0], 'record')} ({seen[1] / 1e6:.1f} MB); "
                    err.print(f"{read if stage == 'linking' else ''}{stage} ...", highlight=False)

            # One C heap for every thread of this process (dedupe.memory.limit_arenas).
            limit_arenas()
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
                memory=memory,
                on_stage=on_stage,
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
    for line in lines[:MAX_WARNINGS_SHOWN]:
        err.print(f"warning: {line}", markup=False)
    if len(lines) > MAX_WARNINGS_SHOWN:
        err.print(f"warning: ... and {len(lines) - MAX_WARNINGS_SHOWN} more (see summary.json)")
    out.print(
        f"{counted(summary['records_read'], 'record')} read: {summary['records_kept']:,} kept, "
        f"{summary['documents_removed']:,} removed as duplicates, "
        f"{summary['records_skipped']:,} skipped; "
        f"{counted(summary['paragraphs_removed'], 'repeated paragraph')} removed "
        f"({summary['boilerplate_paragraphs_removed']:,} as boilerplate)."
    )
    out.print(
        f"{counted(summary['document_clusters'], 'document cluster')}, "
        f"{counted(summary['paragraph_clusters'], 'paragraph cluster')}, "
        f"{summary['elapsed_seconds']:.2f} s. Output: {summary['output']}"
    )
