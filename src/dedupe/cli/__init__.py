"""The ``dedupe`` command: options -> config -> one library call -> a readable result.

One module per command (:mod:`.scan`, :mod:`.tune`, :mod:`.index`, :mod:`.explain`) over what
they share (:mod:`.common`). This package is the only code that imports typer or rich, and the
only code that prints.
"""

from __future__ import annotations

from typing import Annotated

import typer

from dedupe import __version__
from dedupe.cli.common import app, err, out


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


def run() -> None:
    """Console-script entry point: never a traceback for an expected failure."""
    try:
        app()
    except KeyboardInterrupt:
        err.print("dedupe: interrupted")
        raise SystemExit(130) from None


# The commands register themselves on ``app`` when imported.
from dedupe.cli import scan, tune, index, explain  # noqa: E402  # isort: skip  (help order)

__all__ = ["app", "explain", "index", "main", "run", "scan", "tune"]
