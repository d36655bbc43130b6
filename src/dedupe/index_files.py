"""Files into and against an :class:`~dedupe.Index`: what ``dedupe index add|check`` and
``dedupe scan --index`` run. Reads like ``scan_path`` (same formats, same skips)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dedupe.core.clean import remove_spans
from dedupe.index import Index, IndexVerdict
from dedupe.records import Origin, Record, Skipped
from dedupe.result import Cluster, Member

if TYPE_CHECKING:
    from dedupe.readers import Source

#: Records read before their ids are looked up and they are added, as one group.
_GROUP = 2_000


@dataclass(slots=True)
class IndexRun:
    """What adding a file to an index did. ``duplicates`` maps each added duplicate to its
    original as the index holds it once the whole file is in (scan's clusters)."""

    records_read: int = 0
    added: int = 0
    new: int = 0
    duplicates: dict[str, str] = field(default_factory=dict)
    skipped: list[Skipped] = field(default_factory=list)
    notes: list[tuple[Origin, str]] = field(default_factory=list)
    elapsed_seconds: float = 0.0

    def summary(self, index: Index, extra: dict[str, Any]) -> dict[str, Any]:
        return {
            **extra,
            "records_read": self.records_read,
            "records_added": self.added,
            "records_kept": self.added - len(self.duplicates),
            "documents_removed": len(self.duplicates),
            "records_skipped": len(self.skipped),
            "skipped": [s.as_dict() for s in self.skipped],
            "warnings": [{"file": o.path, "line": o.line, "warning": m} for o, m in self.notes],
            "index": index.stats().as_dict(),
            "elapsed_seconds": self.elapsed_seconds,
        }


def _usable(item: Record | Skipped, run: IndexRun) -> Record | None:
    run.records_read += 1
    if isinstance(item, Skipped):
        run.skipped.append(item)
        return None
    run.notes.extend((item.origin, note) for note in item.notes)
    if not item.text.strip():
        run.skipped.append(Skipped(item.position, item.origin, "empty text", item.id))
        return None
    return item


def add_path(
    path: str,
    index: Index,
    out_dir: str | Path | None = None,
    *,
    fmt: str | None = None,
    text_field: str = "text",
    id_field: str = "id",
) -> tuple[IndexRun, dict[str, Any]]:
    """Add every record of ``path`` to ``index``; with ``out_dir``, also write what ``scan``
    writes for this batch: the cleaned copy of the records that are originals once all of it is
    in, ``clusters.jsonl`` (each duplicate with the original it has, possibly an earlier-indexed
    record) and ``summary.json``. An id the index already holds is skipped with a reason."""
    from dedupe.readers import open_source
    from dedupe.writers import CleanedWriter, write_clusters, write_summary

    started = time.perf_counter()
    run = IndexRun()
    spans: dict[int, tuple[tuple[int, int], ...]] = {}
    added_ids: list[str] = []
    added_at: dict[int, str] = {}
    with open_source(path, fmt, text_field=text_field, id_field=id_field) as source:  # type: ignore[arg-type]
        group: list[Record] = []

        def flush() -> None:
            known = index.originals([r.id for r in group])
            fresh, seen = [], set(known)
            for record in group:
                if record.id in seen:
                    reason = f"id {record.id!r} is already in the index"
                    run.skipped.append(Skipped(record.position, record.origin, reason, record.id))
                    continue
                seen.add(record.id)
                fresh.append(record)
            verdicts = index.check_and_add_many([(r.id, r.text) for r in fresh])
            for record, verdict in zip(fresh, verdicts, strict=True):
                spans[record.position] = verdict.drop_spans
                added_ids.append(record.id)
                added_at[record.position] = record.id
            group.clear()

        for item in source:
            record = _usable(item, run)
            if record is not None:
                group.append(record)
                if len(group) >= _GROUP:
                    flush()
        flush()
        originals = index.originals(added_ids)
        run.added = len(added_ids)
        run.duplicates = {k: v for k, v in originals.items() if v is not None}
        run.new = run.added - len(run.duplicates)
        run.elapsed_seconds = round(time.perf_counter() - started, 3)
        summary = run.summary(index, {"input": path, "format": source.format})
        if out_dir is None:
            return run, summary
        out = Path(out_dir)
        summary["output"] = str(out)
        if source.format == "dataset":
            _write_dataset(out, source, spans, added_at, run.duplicates, text_field, id_field)
        else:
            with CleanedWriter(out, source.format, source.is_tree, text_field, id_field) as writer:
                for item in source:
                    if (
                        isinstance(item, Record)
                        and item.position in spans
                        and item.id not in run.duplicates
                    ):
                        writer.write(item, remove_spans(item.text, spans[item.position]))
    write_clusters(out / "clusters.jsonl", _clusters(index, run.duplicates))
    write_summary(out / "summary.json", summary)
    return run, summary


def _write_dataset(
    out: Path,
    source: Source,
    spans: dict[int, tuple[tuple[int, int], ...]],
    added_at: dict[int, str],
    duplicates: dict[str, str],
    text_field: str,
    id_field: str,
) -> None:
    """A dataset's cleaned copies, one per input file under ``cleaned/``, as a scan writes them:
    the records added as originals, without their repeated paragraphs."""
    import numpy as np

    from dedupe.dataset_scan import LocalEngine, split_verdicts, write_cleaned_tree
    from dedupe.datasets import DUPLICATE, KEPT

    assert source.files is not None  # a dataset source lists its files
    status = np.zeros(sum(source.counts), dtype=np.int8)
    for position, doc_id in added_at.items():
        status[position] = DUPLICATE if doc_id in duplicates else KEPT
    drops = {position: cut for position, cut in spans.items() if cut}
    verdicts = split_verdicts(status, drops, source.counts)
    write_cleaned_tree(out, source.files, verdicts, LocalEngine(1, text_field, id_field))


def _clusters(index: Index, duplicates: dict[str, str]) -> list[Cluster]:
    groups: dict[str, list[str]] = {}
    for member, original in duplicates.items():
        groups.setdefault(original, []).append(member)
    clusters = []
    for number, (original, members) in enumerate(groups.items(), start=1):
        keep = Member(original, None, 1.0, "")
        # The index links by verified similarity; it keeps no exact-hash table to tell "exact".
        rest = tuple(
            Member(m, None, index.similarity(original, m), "", "near-duplicate") for m in members
        )
        clusters.append(Cluster(f"d{number:06d}", "document", keep, (keep, *rest)))
    return clusters


def check_path(
    path: str,
    index: Index,
    *,
    fmt: str | None = None,
    text_field: str = "text",
    id_field: str = "id",
    skipped: list[Skipped] | None = None,
) -> Iterator[IndexVerdict]:
    """A verdict for every usable record of ``path`` against ``index``; changes nothing.
    Skipped records go to ``skipped``."""
    from dedupe.readers import open_source

    run = IndexRun()
    with open_source(path, fmt, text_field=text_field, id_field=id_field) as source:  # type: ignore[arg-type]
        usable = (r for r in map(lambda item: _usable(item, run), source) if r is not None)
        yield from index.check_many((r.id, r.text) for r in usable)
    if skipped is not None:
        skipped.extend(run.skipped)
