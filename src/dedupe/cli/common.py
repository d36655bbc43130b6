"""What the commands share: the app, the two consoles, option types and error handling.

The ``dedupe.cli`` package is the only code that imports typer or rich, and the only code that
prints.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from dedupe.config import ScanConfig
from dedupe.errors import DedupeError
from dedupe.index import Index
from dedupe.index_files import IndexRun

EXIT_INPUT = 2
DEFAULTS = ScanConfig()
MAX_WARNINGS_SHOWN = 20

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


class Verify(StrEnum):
    auto = "auto"
    estimate = "estimate"
    exact = "exact"


# Options that several commands share.
FormatOption = Annotated[
    InputFormat | None,
    typer.Option("--format", help="Input format; detected from the name when left out."),
]
TextField = Annotated[str, typer.Option(help="JSONL field that holds the text.")]
IdField = Annotated[
    str, typer.Option(help="JSONL field that holds the id; the line number when absent.")
]


@contextmanager
def status(first: str) -> Iterator[Callable[[str], None]]:
    """A spinner on standard error naming the current step, only when it is a terminal."""
    if not sys.stderr.isatty():
        yield lambda message: None
        return
    with err.status(first) as status:
        yield lambda message: status.update(message)


def explicit_options(cfg: ScanConfig) -> bool:
    """Whether any option that an index stores differs from the default (an existing index is
    then checked against them; otherwise it is opened with its own)."""
    ignored = {"strict", "keep"}
    return any(
        value != getattr(DEFAULTS, name)
        for name, value in ((n, getattr(cfg, n)) for n in cfg.__slots__)  # type: ignore[attr-defined]
        if name not in ignored
    )


@contextmanager
def failures() -> Iterator[None]:
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


def require_index(location: str) -> None:
    """Exit 2 when ``location`` is a file path with no file (a server URL is not checked)."""
    if "://" not in location and not Path(location).exists():
        err.print(f"dedupe: error: no index at {location}")
        raise typer.Exit(EXIT_INPUT)


def open_index(location: str, cfg: ScanConfig | None) -> Index:
    return Index(location, cfg)


def print_index_run(run_: IndexRun, summary: dict[str, Any]) -> None:
    for skipped in run_.skipped[:MAX_WARNINGS_SHOWN]:
        err.print(f"warning: {skipped.origin}: skipped: {skipped.reason}", markup=False)
    out.print(
        f"{counted(run_.records_read, 'record')} read: {run_.added:,} added "
        f"({run_.new:,} new, {counted(len(run_.duplicates), 'duplicate')}), "
        f"{len(run_.skipped):,} skipped; the index holds {summary['index']['records']:,}."
    )


def counted(number: int, noun: str) -> str:
    return f"{number:,} {noun}{'' if number == 1 else 's'}"
