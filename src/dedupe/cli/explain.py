"""``dedupe explain``: why two texts are (or are not) duplicates, and a text's own repeats."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from dedupe.cli.common import (
    DEFAULTS,
    EXIT_INPUT,
    IdField,
    Measure,
    TextField,
    Verify,
    app,
    counted,
    err,
    out,
)
from dedupe.config import ScanConfig, ShingleSpec
from dedupe.errors import ConfigError, DedupeError, InputError

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
    verify: Annotated[Verify, typer.Option(help="As for scan.")] = Verify.auto,
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
            verify=verify.value,  # type: ignore[arg-type]
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
        f"{doc_id}: {counted(len(record.removed_paragraphs), 'paragraph')} removed as repeats:",
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
