"""``dedupe tune``: threshold and shingle sweeps against labelled pairs, and the recommendation."""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from dedupe.cli.common import (
    DEFAULTS,
    EXIT_INPUT,
    FormatOption,
    IdField,
    InputFormat,
    Measure,
    TextField,
    app,
    counted,
    err,
    out,
    status,
)
from dedupe.config import ScanConfig
from dedupe.errors import ConfigError, DedupeError
from dedupe.tune import (
    DEFAULT_MIN_PRECISION,
    DEFAULT_SHINGLES,
    SimilarityDistribution,
    TuneResult,
    TuneRow,
    histogram,
    parse_thresholds,
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
            status("reading") as step,
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
        f"{counted(result.records_read, 'record')} read: {result.records_scanned:,} scanned, "
        f"{result.records_read - result.records_scanned:,} skipped or empty."
    )
    if result.labelled:
        out.print(
            f"{counted(result.labelled_duplicates, 'labelled duplicate pair')} and "
            f"{counted(result.labelled_non_duplicates, 'labelled non-duplicate pair')} "
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
        f"{counted(row.false_pairs, 'labelled non-duplicate')} joined)"
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
        f"\nCandidate pairs by Jaccard similarity ({found.shingle} shingles, "
        f"{found.num_perm} permutations; LSH for {found.floor:g}: {found.bands} bands x "
        f"{found.rows} rows); {counted(found.exact_duplicates, 'exact duplicate')} "
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
