"""The Dask engine: the same scan, with the work spread over a Dask cluster.

What runs where:

- **Workers, one task per input file**: read the file and sign its records with the pure core
  (:class:`~dedupe.pipeline.Scanner` over the file's batches). The file's features stay on the
  worker; the driver gathers the small per-record fields (ids, lengths, exact keys, paragraph
  spans) but never the signatures or the text.
- **Workers, per LSH band**: band keys computed where the signatures are, split into buckets by
  key and shuffled so that every bucket is reduced in one task into candidate pairs
  (:func:`~dedupe.core.lsh.band_pairs`, the same function as the local engine).
- **Workers, verification**: the signature rows a pair needs from another file are fetched from
  that file's partition and joined with the pair where its first row lives.
- **Driver or workers, components**: up to :data:`DRIVER_COMPONENT_ROWS` rows in a level, the
  driver merges each band's verified pairs into one int64 label per row as it goes; above it,
  the pairs stay on the workers and are contracted into components there
  (:mod:`dedupe.dask_linking`).
- **Driver**: keepers by input order, verdicts, cluster tables; see :data:`DRIVER_LIMIT_ROWS`.
- **Workers, one task per input file**: re-read the file and write its cleaned copy; only the
  verdicts travel, never the text.

Ids and positions come from the input (file order, then line or row), so the output is
byte-identical to ``--engine local``: the same stages on the same arrays, with the band-by-band
component merge of :func:`~dedupe.core.lsh.components_by_bands` driven from here.
"""

from __future__ import annotations

import logging
import operator
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from dedupe.config import ScanConfig
from dedupe.core.features import (
    BatchFeatures,
    concat_features,
    select_documents,
    without_signatures,
)
from dedupe.core.lsh import SignatureSet
from dedupe.dask_linking import PartitionedSignatures
from dedupe.datasets import DataFile, FileVerdicts, FileWritten, read_file, write_cleaned_file
from dedupe.errors import ConfigError, InputError
from dedupe.pipeline import (
    Acceptance,
    PassOne,
    Progress,
    Scanner,
    _Units,
    default_jobs,
    duplicate_id_reason,
)
from dedupe.records import Origin, Skipped

#: The driver holds a few numbers per document and per paragraph (ids, positions, lengths,
#: exact keys, paragraph spans, and a component label each: 8 bytes a row in the components
#: alone). Above this many rows the scan stops with a message rather than run it out of memory.
DRIVER_LIMIT_ROWS = 400_000_000
#: Up to this many rows in a level (documents, or eligible paragraphs) the driver links band by
#: band (a label per row and one band's pairs in its memory, the quicker way); above it the
#: candidate and verified pairs stay on the workers and components are contracted there.
DRIVER_COMPONENT_ROWS = 50_000_000

log = logging.getLogger(__name__)
# A library's logger: silent unless the application configures logging.
logging.getLogger("dedupe").addHandler(logging.NullHandler())


def _client(scheduler: str | None, workers: int | None) -> tuple[Any, Any]:
    try:
        from distributed import Client, LocalCluster
    except ImportError:
        raise ConfigError("--engine dask needs Dask: pip install 'dedupe[dask]'") from None
    if scheduler is not None:
        try:
            # Dask's connect timeout (distributed.comm.timeouts.connect, 30 s) applies.
            return Client(scheduler), None
        except OSError as error:
            raise ConfigError(f"cannot reach the Dask scheduler at {scheduler}: {error}") from None
    import dask

    # Dask's nannies set MALLOC_TRIM_THRESHOLD_ in their workers (to hand memory back to the
    # system); any value of it turns off glibc's adaptive mmap threshold, so every large numpy
    # array is mapped and faulted in afresh: signing a shard took 1.08 s instead of 0.55 s.
    with dask.config.set({"distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_": None}):
        cluster = _local_cluster(LocalCluster, workers)
    return Client(cluster), cluster


def _local_cluster(factory: Any, workers: int | None) -> Any:
    return factory(
        n_workers=workers or default_jobs(),
        threads_per_worker=1,
        processes=True,
        dashboard_address=None,
        # No dashboard, and the scheduler's HTTP endpoint on a free loopback port: its default,
        # 8787, is taken by any other cluster running here.
        scheduler_kwargs={"dashboard_address": "127.0.0.1:0"},
        silence_logs=logging.ERROR,
    )


# --- tasks (run on the workers; plain functions of their arguments) ------------------------


@dataclass(frozen=True, slots=True)
class _Signed:
    """One file after pass one on its worker; positions are counted from the file's start."""

    ids: Sequence[str]
    positions: Sequence[int]
    lines: list[int | None]
    lengths: Sequence[int]
    skipped: list[Skipped]
    notes: list[tuple[Origin, str]]
    records: int
    features: BatchFeatures


def _sign_file(file: DataFile, config: ScanConfig, text_field: str, id_field: str) -> _Signed:
    scanner = Scanner(replace(config, strict=False), jobs=1)
    lines: dict[int, int | None] = {}
    for item in read_file(file, 0, text_field=text_field, id_field=id_field):
        scanner.add(item)
        lines[item.position] = item.origin.line
    scanner.flush()
    return _Signed(
        ids=scanner.ids,
        positions=scanner.positions,
        lines=[lines[p] for p in scanner.positions],
        lengths=scanner.lengths,
        skipped=scanner.analysis.skipped,
        notes=scanner.analysis.notes,
        records=scanner.analysis.stats.records_read,
        features=concat_features(scanner.batches, config.num_perm, config.paragraph_num_perm),
    )


def _meta(signed: _Signed) -> _Signed:
    return replace(signed, features=without_signatures(signed.features))


def _document_sizes(signed: _Signed) -> np.ndarray:
    return signed.features.doc_sizes


def _unit_documents(signed: _Signed, first_document: int) -> np.ndarray:
    """The document of each eligible paragraph, numbered across partitions."""
    features = signed.features
    return features.unit_doc[features.eligible] + first_document


def _drop_documents(signed: _Signed, keep: np.ndarray) -> _Signed:
    rows = np.flatnonzero(keep).tolist()
    return replace(
        signed,
        ids=[signed.ids[i] for i in rows],
        positions=[signed.positions[i] for i in rows],
        lines=[signed.lines[i] for i in rows],
        lengths=[signed.lengths[i] for i in rows],
        features=select_documents(signed.features, keep),
    )


def _document_signatures(signed: _Signed) -> np.ndarray:
    return signed.features.doc_signatures


def _unit_signatures(signed: _Signed) -> np.ndarray:
    return signed.features.eligible_signatures


def _write_file(
    file: DataFile, target: str, verdicts: FileVerdicts, text_field: str, id_field: str
) -> FileWritten:
    return write_cleaned_file(file, target, verdicts, text_field=text_field, id_field=id_field)


class _DaskScanner(Scanner):
    """A :class:`Scanner` filled from the partitions: the driver's arrays without signatures,
    the signatures themselves in the cluster."""

    documents: PartitionedSignatures
    units: PartitionedSignatures
    driver_rows: int

    def document_signatures(self, docs: Any) -> PartitionedSignatures:
        return self.documents

    def unit_signatures(self, units: _Units) -> PartitionedSignatures:
        return self.units

    def paragraph_link_rows(
        self, equal: np.ndarray, labels: np.ndarray, e_doc: np.ndarray, alive: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        # Linked on the cluster, pairs are judged by the documents the partitions hold, which
        # know nothing of groups: every live paragraph takes part there.
        if len(self.units) > self.driver_rows:
            return alive, e_doc
        return super().paragraph_link_rows(equal, labels, e_doc, alive)

    def link(
        self,
        signatures: SignatureSet,
        bands: tuple[int, int],
        labels: np.ndarray,
        acceptance: Acceptance,
        attrs: np.ndarray,
        mask: np.ndarray | None,
    ) -> tuple[np.ndarray, int, int]:
        if isinstance(signatures, PartitionedSignatures) and len(signatures) > self.driver_rows:
            selected = None if mask is None else np.flatnonzero(mask)
            return signatures.components(bands, labels, acceptance, selected)
        return super().link(signatures, bands, labels, acceptance, attrs, mask)


# --- the engine ------------------------------------------------------------------------------


class DaskEngine:
    """Runs a dataset scan on a Dask cluster: the one at ``scheduler`` (an address such as
    ``tcp://10.0.0.5:8786``), or a local cluster of ``workers`` processes (default: one per
    core). Use as :class:`dedupe.dataset_scan.LocalEngine`; close it to stop a local cluster.
    A level (documents, paragraphs) of more than ``driver_rows`` rows (default
    :data:`DRIVER_COMPONENT_ROWS`) is linked on the workers."""

    def __init__(
        self,
        scheduler: str | None = None,
        workers: int | None = None,
        text_field: str = "text",
        id_field: str = "id",
        driver_rows: int | None = None,
    ) -> None:
        self.client, self._cluster = _client(scheduler, workers)
        self.driver_rows = DRIVER_COMPONENT_ROWS if driver_rows is None else driver_rows
        self.text_field = text_field
        self.id_field = id_field
        if scheduler is not None:
            try:
                _check_workers(self.client)
            except BaseException:
                self.client.close()
                raise

    def close(self) -> None:
        self.client.close()
        if self._cluster is not None:
            self._cluster.close()

    def __enter__(self) -> DaskEngine:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def workers(self) -> int:
        return max(1, len(self.client.scheduler_info().get("workers", {})))

    def pass_one(
        self, files: Sequence[DataFile], config: ScanConfig, progress: Progress | None
    ) -> tuple[PassOne, list[int]]:
        from distributed import as_completed

        if config.verify == "exact":
            raise ConfigError(
                "--verify exact runs on the local engine only: the Dask engine verifies "
                "candidates on the signatures in its partitions"
            )
        config = config.resolved(exact=False)
        client = self.client
        signed = [
            client.submit(_sign_file, f, config, self.text_field, self.id_field, pure=False)
            for f in files
        ]
        meta_futures = [client.submit(_meta, s, pure=False) for s in signed]
        metas: list[_Signed | None] = [None] * len(files)
        index = {future.key: number for number, future in enumerate(meta_futures)}
        records = characters = 0
        for future in as_completed(meta_futures):
            meta = future.result()
            metas[index[future.key]] = meta
            records += meta.records
            characters += sum(meta.lengths)
            if progress is not None:
                progress(records, characters)
        scanner = _DaskScanner(config, 1)
        scanner.driver_rows = self.driver_rows
        counts = self._adopt(scanner, files, signed, [m for m in metas if m is not None])
        if len(scanner.ids) + sum(len(b.eligible) for b in scanner.batches) > DRIVER_LIMIT_ROWS:
            raise ConfigError(
                f"more than {DRIVER_LIMIT_ROWS:,} documents and paragraphs: the driver's "
                "component labels would not fit; split the dataset"
            )
        buckets = 2 * self.workers
        doc_parts = [client.submit(_document_signatures, s, pure=False) for s in signed]
        unit_parts = [client.submit(_unit_signatures, s, pure=False) for s in signed]
        doc_counts = [len(b.doc_tokens) for b in scanner.batches]
        unit_counts = [len(b.eligible) for b in scanner.batches]
        doc_attrs = unit_attrs = None
        if sum(doc_counts) > self.driver_rows:
            doc_attrs = [client.submit(_document_sizes, s, pure=False) for s in signed]
        if sum(unit_counts) > self.driver_rows:
            firsts = np.cumsum([0, *doc_counts[:-1]]).tolist()
            unit_attrs = [
                client.submit(_unit_documents, s, first, pure=False)
                for s, first in zip(signed, firsts, strict=True)
            ]
        scanner.documents = PartitionedSignatures(
            client, doc_parts, doc_counts, buckets, config.num_perm, doc_attrs
        )
        scanner.units = PartitionedSignatures(
            client, unit_parts, unit_counts, buckets, config.paragraph_num_perm, unit_attrs
        )
        result = scanner.finish()
        del signed, doc_parts, unit_parts
        return result, counts

    def _adopt(
        self,
        scanner: Scanner,
        files: Sequence[DataFile],
        signed: list[Any],
        metas: list[_Signed],
    ) -> list[int]:
        """Fill ``scanner`` with the partitions' records in input order, as if it had read
        them itself: positions shifted by the records of earlier files, and an id met in an
        earlier file makes a later record a skip, as one reader would have made it."""
        analysis = scanner.analysis
        first_seen: dict[str, Origin] = {}
        skipped: list[Skipped] = []
        offset = 0
        counts = []
        for number, (file, meta) in enumerate(zip(files, metas, strict=True)):
            keep = np.ones(len(meta.ids), dtype=bool)
            # The partition's own first of each id: what its duplicate-id skips name.
            local_first: dict[str, Origin] = {}
            for row, doc_id in enumerate(meta.ids):
                origin = Origin(file.display, meta.lines[row])
                local_first[doc_id] = origin
                first = first_seen.setdefault(doc_id, origin)
                if first is not origin:
                    keep[row] = False
                    reason = duplicate_id_reason(doc_id, first)
                    skipped.append(Skipped(meta.positions[row] + offset, origin, reason, doc_id))
            for skip in meta.skipped:
                if skip.id in local_first and skip.reason == duplicate_id_reason(
                    skip.id, local_first[skip.id]
                ):
                    skip = replace(skip, reason=duplicate_id_reason(skip.id, first_seen[skip.id]))
                skipped.append(replace(skip, position=skip.position + offset))
            if not keep.all():
                signed[number] = self.client.submit(
                    _drop_documents, signed[number], keep, pure=False
                )
                meta = _drop_documents(meta, keep)
            scanner.intake_ids().extend(meta.ids)
            scanner.positions.extend([p + offset for p in meta.positions])
            scanner.lengths.extend(meta.lengths)
            scanner.batches.append(meta.features)
            analysis.notes += meta.notes
            offset += meta.records
            counts.append(meta.records)
        skipped.sort(key=lambda s: s.position)
        analysis.skipped = skipped
        analysis.stats.records_read = offset
        if scanner.config.strict:
            _raise_first(analysis.skipped, analysis.notes, files)
        return counts

    def write(
        self, files: Sequence[DataFile], targets: Sequence[Path], verdicts: Sequence[FileVerdicts]
    ) -> list[FileWritten]:
        futures = [
            self.client.submit(
                _write_file, f, str(t), v, self.text_field, self.id_field, pure=False
            )
            for f, t, v in zip(files, targets, verdicts, strict=True)
        ]
        written: list[FileWritten] = self.client.gather(futures)
        return written


def _worker_dedupe_version() -> str:
    import dedupe

    return str(dedupe.__version__)


def _check_workers(client: Any) -> None:
    """Fail early, with a message, when a worker lacks dedupe or runs another version: the
    first task would fail anyway, with a traceback about unpickling."""
    from dedupe import __version__

    try:
        found = client.run(_worker_dedupe_version)
    except Exception as error:  # e.g. "No module named 'dedupe'" from unpickling the probe
        raise ConfigError(f"the Dask workers cannot run dedupe: {error}") from None
    if not found:
        raise ConfigError("the Dask cluster has no workers")
    other = {address: version for address, version in found.items() if version != __version__}
    if other:
        address, version = sorted(other.items())[0]
        raise ConfigError(
            f"Dask worker {address} has dedupe {version}, this process {__version__}: install "
            "the same version on every worker"
        )


def _raise_first(
    skipped: list[Skipped], notes: list[tuple[Origin, str]], files: Sequence[DataFile]
) -> None:
    """In strict mode: the error a one-process reader would have stopped at first."""
    order = {file.display: number for number, file in enumerate(files)}
    events = [((order[s.origin.path], s.origin.line or 0, 1), s.origin, s.reason) for s in skipped]
    events += [((order[o.path], o.line or 0, 0), o, note) for o, note in notes]
    if events:
        _, origin, reason = min(events, key=operator.itemgetter(0))
        raise InputError(origin.path, origin.line, reason)
