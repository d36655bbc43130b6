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
- **Driver**: connected components of the verified pairs (one int64 label per document and per
  paragraph), keepers by input order, verdicts; see :data:`DRIVER_LIMIT_ROWS`.
- **Workers, one task per input file**: re-read the file and write its cleaned copy; only the
  verdicts travel, never the text.

Ids and positions come from the input (file order, then line or row), so the output is
byte-identical to ``--engine local``: the same stages on the same arrays, with the band-by-band
component merge of :func:`~dedupe.core.lsh.components_by_bands` driven from here.
"""

from __future__ import annotations

import itertools
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
from dedupe.core.lsh import I64, band_key, band_pairs
from dedupe.core.verify import row_similarity
from dedupe.datasets import DataFile, FileVerdicts, FileWritten, read_file, write_cleaned_file
from dedupe.errors import ConfigError, InputError
from dedupe.pipeline import PassOne, Progress, Scanner, _Units, default_jobs, duplicate_id_reason
from dedupe.records import Origin, Skipped

#: The driver holds one label per document and per eligible paragraph (8 bytes each) while
#: linking: 100 million rows are 800 MB. Above this many rows the scan stops with a message
#: rather than run the driver out of memory.
DRIVER_LIMIT_ROWS = 400_000_000

#: Bands whose shuffle is submitted ahead of the one being verified.
BANDS_AHEAD = 2
#: Below this many bytes of band keys times buckets, every bucket task reads every partition's
#: split whole (data moved: keys x buckets) instead of one share task per split and bucket
#: (tasks: splits x buckets). 64 MB: the x10 news paragraphs, 4 buckets, stay under it.
WHOLE_SPLITS_BYTES = 64 << 20
_SPLIT_BYTES_PER_ROW = 24  # key, row, label
_PAIRS_PER_TASK = 20_000

log = logging.getLogger(__name__)


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

    ids: list[str]
    positions: list[int]
    lines: list[int | None]
    lengths: list[int]
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


def _band_split(
    signatures: np.ndarray,
    band: int,
    rows: int,
    first_row: int,
    selected: I64 | None,
    labels: I64,
    buckets: int,
) -> list[tuple[np.ndarray, I64, I64]]:
    """One partition's band keys, split by key into ``buckets``: (keys, global rows, labels)."""
    keys = band_key(signatures.T, band, rows)
    local = np.arange(len(keys), dtype=np.int64) if selected is None else selected
    keys = keys[local]
    bucket = (keys % np.uint64(buckets)).astype(np.int64)
    out = []
    for number in range(buckets):
        mine = bucket == number
        out.append((keys[mine], local[mine] + first_row, labels[mine]))
    return out


def _bucket_pairs(*parts: Any, bucket: int | None = None) -> I64:
    """Candidate pairs of one bucket of one band, from every partition's share of it (in
    partition order, so rows ascend as they do in the local engine). With ``bucket``, the
    parts are whole splits and this bucket's share is taken from each."""
    if bucket is not None:
        parts = tuple(split[bucket] for split in parts)
    keys = np.concatenate([p[0] for p in parts])
    rows = np.concatenate([p[1] for p in parts])
    labels = np.concatenate([p[2] for p in parts])
    local = band_pairs(keys, np.arange(len(keys), dtype=np.int64), labels)
    return rows[local]


def _take_rows(signatures: np.ndarray, rows: I64) -> np.ndarray:
    return signatures[rows]


def _pair_similarity(
    signatures: np.ndarray, local_a: I64, others: list[np.ndarray], at: I64
) -> np.ndarray:
    """Estimated Jaccard of rows ``local_a`` of this partition with rows ``at`` of the
    fetched ``others`` (concatenated)."""
    right = np.concatenate(others) if others else np.empty((0, signatures.shape[1]), np.uint32)
    return row_similarity(signatures[local_a], right[at])


def _pairs_similarity(
    parts: list[np.ndarray], owner_a: I64, local_a: I64, owner_b: I64, local_b: I64
) -> np.ndarray:
    """Estimated Jaccard of rows given as (partition, row) pairs of ``parts``."""
    width = parts[0].shape[1] if parts else 0
    left = np.empty((len(local_a), width), dtype=np.uint32)
    right = np.empty((len(local_b), width), dtype=np.uint32)
    for number in np.union1d(owner_a, owner_b).tolist():
        mine = owner_a == number
        left[mine] = parts[number][local_a[mine]]
        mine = owner_b == number
        right[mine] = parts[number][local_b[mine]]
    return row_similarity(left, right)


def _write_file(
    file: DataFile, target: str, verdicts: FileVerdicts, text_field: str, id_field: str
) -> FileWritten:
    return write_cleaned_file(file, target, verdicts, text_field=text_field, id_field=id_field)


# --- signatures held in the partitions -------------------------------------------------------


class PartitionedSignatures:
    """A :class:`~dedupe.core.lsh.SignatureSet` whose rows live in the partitions of a Dask
    cluster: partition ``p`` holds rows ``starts[p]`` to ``starts[p + 1] - 1``."""

    def __init__(
        self, client: Any, parts: list[Any], counts: Sequence[int], buckets: int, width: int
    ):
        self.client = client
        self.parts = parts
        self.starts = np.cumsum([0, *counts]).astype(np.int64)
        self.buckets = max(1, buckets)
        self.width = width
        # Bands submitted ahead of their turn, for one (rows, selected) sweep.
        self._ahead: dict[int, list[Any]] = {}
        self._sweep: tuple[int, int] | None = None
        self.small = len(self) * width * 4 <= WHOLE_SPLITS_BYTES
        if self.small and parts:
            # Every worker gets every partition once, instead of each verification fetching
            # the ones it lacks again.
            client.replicate(parts)

    def __len__(self) -> int:
        return int(self.starts[-1])

    def _owner(self, rows: I64) -> I64:
        return np.searchsorted(self.starts, rows, side="right") - 1

    def band_pairs(self, band: int, rows: int, labels: I64, selected: I64 | None) -> I64:
        """As :meth:`LocalSignatures.band_pairs`. Each call also submits the next
        :data:`BANDS_AHEAD` bands, so that their shuffles run while the driver verifies this
        band's pairs. Those bands prune buckets with labels a band or two old: components only
        grow, so a bucket they skip would be skipped now too; the pairs they keep that are
        linked since are dropped by the caller, as every linked pair is."""
        sweep = (rows, id(selected))
        if sweep != self._sweep:
            self._ahead.clear()
            self._sweep = sweep
        futures = self._ahead.pop(band, None)
        if futures is None:
            futures = self._submit_band(band, rows, labels, selected)
        for ahead in range(band + 1, min(band + 1 + BANDS_AHEAD, self.width // rows)):
            if ahead not in self._ahead:
                self._ahead[ahead] = self._submit_band(ahead, rows, labels, selected)
        found = [pairs for pairs in self.client.gather(futures) if len(pairs)]
        return np.concatenate(found) if found else np.empty((0, 2), dtype=np.int64)

    def _submit_band(self, band: int, rows: int, labels: I64, selected: I64 | None) -> list[Any]:
        submit = self.client.submit
        shares: list[list[Any]] = [[] for _ in range(self.buckets)]
        for number, part in enumerate(self.parts):
            first, last = int(self.starts[number]), int(self.starts[number + 1])
            if selected is None:
                local = None
                part_labels = labels[first:last]
            else:
                lo, hi = np.searchsorted(selected, [first, last])
                local = selected[lo:hi] - first
                part_labels = labels[selected[lo:hi]]
            if last == first or (local is not None and len(local) == 0):
                continue
            split = submit(
                _band_split, part, band, rows, first, local, part_labels, self.buckets, pure=False
            )
            for bucket in range(self.buckets):
                shares[bucket].append(split)
        count = len(self) if selected is None else len(selected)
        if count * self.buckets * _SPLIT_BYTES_PER_ROW <= WHOLE_SPLITS_BYTES:
            # Small: each bucket reads every split whole and takes its share, one task less
            # per split and bucket (task overhead, ~1 ms each, is what costs here).
            return [
                submit(_bucket_pairs, *share, bucket=number, pure=False)
                for number, share in enumerate(shares)
                if share
            ]
        return [
            submit(
                _bucket_pairs,
                *[submit(operator.getitem, split, number, pure=False) for split in share],
                pure=False,
            )
            for number, share in enumerate(shares)
            if share
        ]

    def jaccard(self, pairs: I64) -> np.ndarray:
        out = np.empty(len(pairs), dtype=np.float64)
        if len(pairs) == 0:
            return out
        submit = self.client.submit
        owner_a, owner_b = self._owner(pairs[:, 0]), self._owner(pairs[:, 1])
        if self.small:
            return self._jaccard_whole(pairs, owner_a, owner_b, out)
        # Stage 1: each partition hands out the rows that pairs elsewhere need from it.
        taken: dict[int, tuple[Any, I64]] = {}
        for number in np.unique(owner_b).tolist():
            rows = np.unique(pairs[owner_b == number, 1]) - self.starts[number]
            taken[number] = (submit(_take_rows, self.parts[number], rows, pure=False), rows)
        # Stage 2: each pair is verified where its first row lives, against the fetched rows.
        jobs = []
        for number in np.unique(owner_a).tolist():
            which = np.flatnonzero(owner_a == number)
            local_a = pairs[which, 0] - self.starts[number]
            b_owner = owner_b[which]
            needed = np.unique(b_owner).tolist()
            offsets = np.cumsum([0] + [len(taken[q][1]) for q in needed])
            at = np.empty(len(which), dtype=np.int64)
            for index, q in enumerate(needed):
                mine = b_owner == q
                local_b = pairs[which[mine], 1] - self.starts[q]
                at[mine] = offsets[index] + np.searchsorted(taken[q][1], local_b)
            fetched = [taken[q][0] for q in needed]
            future = submit(_pair_similarity, self.parts[number], local_a, fetched, at, pure=False)
            jobs.append((which, future))
        results = self.client.gather([future for _, future in jobs])
        for (which, _), values in zip(jobs, results, strict=True):
            out[which] = values
        return out

    def _jaccard_whole(self, pairs: I64, owner_a: I64, owner_b: I64, out: np.ndarray) -> np.ndarray:
        """Small signature sets, replicated to every worker: the pairs in a few chunks, each
        verified in one task on whichever worker runs it (a task per partition and two stages
        cost 40-100 ms a call in latency, and the linking stages make one call per band)."""
        local_a = pairs[:, 0] - self.starts[owner_a]
        local_b = pairs[:, 1] - self.starts[owner_b]
        chunks = max(1, min(self.buckets, len(pairs) // _PAIRS_PER_TASK))
        bounds = np.linspace(0, len(pairs), chunks + 1).astype(np.int64)
        futures = [
            self.client.submit(
                _pairs_similarity,
                self.parts,
                owner_a[lo:hi],
                local_a[lo:hi],
                owner_b[lo:hi],
                local_b[lo:hi],
                pure=False,
            )
            for lo, hi in itertools.pairwise(bounds.tolist())
        ]
        for (lo, hi), values in zip(
            itertools.pairwise(bounds.tolist()), self.client.gather(futures), strict=True
        ):
            out[lo:hi] = values
        return out


class _DaskScanner(Scanner):
    """A :class:`Scanner` filled from the partitions: the driver's arrays without signatures,
    the signatures themselves in the cluster."""

    documents: PartitionedSignatures
    units: PartitionedSignatures

    def document_signatures(self, docs: Any) -> PartitionedSignatures:
        return self.documents

    def unit_signatures(self, units: _Units) -> PartitionedSignatures:
        return self.units


# --- the engine ------------------------------------------------------------------------------


class DaskEngine:
    """Runs a dataset scan on a Dask cluster: the one at ``scheduler`` (an address such as
    ``tcp://10.0.0.5:8786``), or a local cluster of ``workers`` processes (default: one per
    core). Use as :class:`dedupe.dataset_scan.LocalEngine`; close it to stop a local cluster."""

    def __init__(
        self,
        scheduler: str | None = None,
        workers: int | None = None,
        text_field: str = "text",
        id_field: str = "id",
    ) -> None:
        self.client, self._cluster = _client(scheduler, workers)
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
        scanner.documents = PartitionedSignatures(
            client, doc_parts, doc_counts, buckets, config.num_perm
        )
        scanner.units = PartitionedSignatures(
            client, unit_parts, unit_counts, buckets, config.paragraph_num_perm
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
            scanner.ids += meta.ids
            scanner.positions += [p + offset for p in meta.positions]
            scanner.lengths += meta.lengths
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
