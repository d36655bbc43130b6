"""A scan of a dataset (many JSONL(.gz) or Parquet files) on an engine: this process or Dask.

Both engines run the same stages on the same pure core and this module drives them the same
way, so their outputs are byte-identical:

1. pass one (the engine): read and sign every file, link documents and paragraphs, verdicts;
2. pass two (the engine): each file re-read and its cleaned copy written to the same relative
   path under ``cleaned/``, with the text cuts that cluster previews and the report show;
3. here: ``clusters.jsonl``, ``summary.json`` and ``report.html`` from what the two returned.

Records are numbered across the files in their sorted order (:mod:`dedupe.datasets`), so ids,
cluster labels and keepers come from the input, never from the engine.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Literal, Protocol

import numpy as np

from dedupe.config import ScanConfig
from dedupe.datasets import (
    DUPLICATE,
    KEPT,
    DataFile,
    FileVerdicts,
    FileWritten,
    list_data_files,
    read_files,
    write_cleaned_file,
)
from dedupe.errors import ConfigError
from dedupe.pipeline import PassOne, Progress, analyse, default_jobs
from dedupe.result import Analysis

Engine = Literal["local", "dask"]
ENGINES: tuple[Engine, ...] = ("local", "dask")

#: Name of the cleaned tree under the output directory.
CLEANED_DIR = "cleaned"


class ScanEngine(Protocol):
    """Runs the two passes of a dataset scan; see :class:`LocalEngine`."""

    def pass_one(
        self, files: Sequence[DataFile], config: ScanConfig, progress: Progress | None
    ) -> tuple[PassOne, list[int]]:
        """Pass one over ``files``, and how many positions each file's records take."""
        ...

    def write(
        self, files: Sequence[DataFile], targets: Sequence[Path], verdicts: Sequence[FileVerdicts]
    ) -> list[FileWritten]:
        """Pass two: the cleaned copy of each file at its target."""
        ...


class LocalEngine:
    """The engine of one machine: files read one after another, ``jobs`` processes sign."""

    def __init__(
        self,
        jobs: int | None = None,
        text_field: str = "text",
        id_field: str = "id",
        memory: int | None = None,
    ):
        self.jobs = default_jobs() if jobs is None else jobs
        self.text_field = text_field
        self.id_field = id_field
        self.memory = memory

    def pass_one(
        self, files: Sequence[DataFile], config: ScanConfig, progress: Progress | None
    ) -> tuple[PassOne, list[int]]:
        counts: list[int] = []
        records = read_files(files, counts, text_field=self.text_field, id_field=self.id_field)
        return analyse(records, config, progress, self.jobs, self.memory), counts

    def write(
        self, files: Sequence[DataFile], targets: Sequence[Path], verdicts: Sequence[FileVerdicts]
    ) -> list[FileWritten]:
        return [
            write_cleaned_file(
                file, target, verdict, text_field=self.text_field, id_field=self.id_field
            )
            for file, target, verdict in zip(files, targets, verdicts, strict=True)
        ]

    def close(self) -> None:
        """Nothing to stop."""


def file_verdicts(analysis: Analysis, counts: Sequence[int]) -> list[FileVerdicts]:
    """Each file's slice of the verdicts, by position."""
    total = int(sum(counts))
    status = np.zeros(total, dtype=np.int8)
    verdicts = analysis.verdicts
    status[verdicts.positions("kept")] = KEPT
    status[verdicts.positions("duplicate")] = DUPLICATE
    return split_verdicts(status, dict(verdicts.cuts()), counts)


def split_verdicts(
    status: np.ndarray, drops: dict[int, tuple[tuple[int, int], ...]], counts: Sequence[int]
) -> list[FileVerdicts]:
    """Per-position ``status`` and ``drops`` cut into each file's :class:`FileVerdicts`."""
    firsts = np.cumsum([0, *counts])[:-1]
    out = [
        FileVerdicts(int(first), status[first : first + count].copy())
        for first, count in zip(firsts.tolist(), counts, strict=True)
    ]
    if drops:
        positions = np.fromiter(drops, dtype=np.int64, count=len(drops))
        owners = np.searchsorted(firsts, positions, side="right") - 1
        for owner, position in zip(owners.tolist(), positions.tolist(), strict=True):
            out[owner].drops[position] = drops[position]
    return out


def write_cleaned_tree(
    out: Path, files: Sequence[DataFile], verdicts: Sequence[FileVerdicts], engine: ScanEngine
) -> list[FileWritten]:
    """Pass two on ``engine``: every file's cleaned copy, built in a hidden folder beside
    ``out/cleaned`` and renamed into place, so a failed run leaves the previous tree whole."""
    from dedupe.writers import _create_temp_dir, _replace_dir

    out.mkdir(parents=True, exist_ok=True)
    tree = _create_temp_dir(out, f".{CLEANED_DIR}.tmp-")
    try:
        written = engine.write(files, [tree / file.relative for file in files], verdicts)
        _replace_dir(tree, out / CLEANED_DIR)
    except BaseException:
        shutil.rmtree(tree, ignore_errors=True)
        raise
    return written


def assign_cuts(
    verdicts: Sequence[FileVerdicts], requests: list[tuple[Any, int, int, int | None, int]]
) -> None:
    """Hand each text cut to the file that holds its record."""
    if not requests:
        return
    firsts = np.array([v.first for v in verdicts], dtype=np.int64)
    positions = np.fromiter((r[1] for r in requests), dtype=np.int64, count=len(requests))
    owners = np.searchsorted(firsts, positions, side="right") - 1
    for owner, request in zip(owners.tolist(), requests, strict=True):
        verdicts[owner].cuts.append(request)


def open_engine(
    engine: Engine,
    *,
    jobs: int | None = None,
    scheduler: str | None = None,
    text_field: str = "text",
    id_field: str = "id",
    driver_rows: int | None = None,
    memory: int | None = None,
) -> LocalEngine | Any:
    """The engine by name; close it when done."""
    if engine == "local":
        if scheduler is not None:
            raise ConfigError("--scheduler is for --engine dask")
        if driver_rows is not None:
            raise ConfigError("--driver-rows is for --engine dask")
        return LocalEngine(jobs, text_field, id_field, memory)
    if memory is not None:
        raise ConfigError("--memory is for --engine local: Dask workers hold the signatures")
    if engine == "dask":
        from dedupe.dask_engine import DaskEngine

        return DaskEngine(
            scheduler=scheduler,
            workers=jobs,
            text_field=text_field,
            id_field=id_field,
            driver_rows=driver_rows,
        )
    raise ConfigError(f"engine {engine!r} is not one of: {', '.join(ENGINES)}")


def scan_dataset(
    spec: str,
    out_dir: str | Path,
    config: ScanConfig,
    *,
    engine: Engine = "local",
    scheduler: str | None = None,
    jobs: int | None = None,
    text_field: str = "text",
    id_field: str = "id",
    progress: Progress | None = None,
    report: bool = True,
    on_stage: Callable[[str], None] | None = None,
    driver_rows: int | None = None,
    memory: int | None = None,
) -> tuple[dict[str, Any], int, list[Any]]:
    """Scan the dataset ``spec`` on ``engine`` and write ``clusters.jsonl``, ``cleaned/`` (one
    cleaned copy per input file, at its relative path), ``summary.json`` and ``report.html``.
    Returns the summary, the number of clusters and the reading notes. ``driver_rows``: see
    :class:`dedupe.dask_engine.DaskEngine`."""
    from dedupe.api import Previews, write_results
    from dedupe.report import ReportSampler

    started = time.perf_counter()
    config = config.resolved(exact=engine == "local")
    files = list_data_files(spec)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    runner = open_engine(
        engine,
        jobs=jobs,
        scheduler=scheduler,
        text_field=text_field,
        id_field=id_field,
        driver_rows=driver_rows,
        memory=memory,
    )
    try:
        pass_one, counts = runner.pass_one(files, config, progress)
        analysis = pass_one.analysis
        previews = Previews(pass_one.tables, out)
        sampler = ReportSampler(pass_one.tables, config) if report else None
        verdicts = file_verdicts(analysis, counts)
        assign_cuts(verdicts, previews.requests())
        if sampler is not None:
            assign_cuts(verdicts, [(("report", *r[0]), *r[1:]) for r in sampler.requests()])
        if on_stage is not None:
            on_stage("writing cleaned copies")
        written = write_cleaned_tree(out, files, verdicts, runner)
    finally:
        runner.close()
    with previews:
        for done in written:
            analysis.stats.bytes_removed += done.bytes_removed
            for key, text in done.cuts:
                if key[0] == "report":
                    assert sampler is not None  # report cuts are asked for only with a sampler
                    sampler.put(key[1:], text)
                else:
                    previews.put(key, text)
        extra = {"input": spec, "format": "dataset", "files": len(files), "output": str(out)}
        writers = default_jobs() if jobs is None else jobs
        summary, clusters = write_results(
            out, pass_one, previews, sampler, config, extra, started, writers
        )
    return summary, clusters, analysis.notes
