"""``dedupe index add|check|stats|remove``: the persistent index from the shell."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer

from dedupe.cli.common import (
    IdField,
    TextField,
    app,
    counted,
    err,
    failures,
    open_index,
    out,
    print_index_run,
    require_index,
)
from dedupe.config import ScanConfig
from dedupe.index_files import add_path, check_path

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
    with failures():
        cfg = ScanConfig(**options) if options else None
        with open_index(index, cfg) as opened:
            run_, summary = add_path(corpus, opened, text_field=text_field, id_field=id_field)
    if not quiet:
        print_index_run(run_, summary)


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
    require_index(index)
    skipped: list[Any] = []
    with failures(), open_index(index, None) as opened:
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
    require_index(index)
    with failures(), open_index(index, None) as opened:
        out.print(json.dumps(opened.stats().as_dict(), indent=2), markup=False)


@index_app.command("remove", no_args_is_help=True)
def index_remove(
    index: IndexPath,
    ids: Annotated[list[str], typer.Argument(help="Ids of the records to remove.")],
) -> None:
    """Remove records; their clusters are regrouped without them.

    Example: dedupe index remove seen.sqlite article-17 article-18
    """
    require_index(index)
    with failures(), open_index(index, None) as opened:
        removed = opened.remove_many(ids)
    out.print(f"removed {removed:,} of {counted(len(ids), 'id')}")
    if removed < len(ids):
        raise typer.Exit(1)
