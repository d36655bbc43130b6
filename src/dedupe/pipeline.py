"""Drives the core over batches: pass one of a scan. No files, no printing, no clock.

Records stream in; each batch is turned into compact features (signatures, hashes, unit spans)
and its texts are dropped, so memory grows with the number of documents and paragraphs, not
with the text. When the input ends, the document graph, then the paragraph graph of the kept
documents, are built, verified and clustered, and every record gets a verdict.
"""

from __future__ import annotations

import multiprocessing
import os
from collections import deque
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field

import numpy as np

from dedupe.config import CONTAINMENT_MIN_RATIO, ScanConfig
from dedupe.core.cluster import connected_components, equal_key_pairs, keepers
from dedupe.core.features import BatchFeatures, featurise
from dedupe.core.lsh import band_keys, choose_bands, pairs_sharing_keys
from dedupe.core.segment import drop_spans
from dedupe.core.shingle import I64
from dedupe.core.signature import permutations
from dedupe.core.verify import estimated_containment, estimated_jaccard
from dedupe.errors import InputError
from dedupe.records import Origin, Record, Skipped
from dedupe.result import Analysis, Verdict

Progress = Callable[[int, int], None]
"""Called after each batch with (records seen, characters of text seen)."""

# A batch is cut at this many documents or characters, whichever comes first: large enough that
# numpy's per-call overhead vanishes (measured flat above ~500 news articles), small enough that
# its token list stays in the tens of megabytes.
BATCH_DOCUMENTS = 2_000
BATCH_CHARACTERS = 8_000_000


@dataclass(frozen=True, slots=True)
class MemberRef:
    """A cluster member before its text is known: document position, unit index and span."""

    position: int
    doc_id: str
    paragraph: int | None
    span: tuple[int, int] | None
    similarity: float


@dataclass(frozen=True, slots=True)
class ClusterDraft:
    level: str
    members: tuple[MemberRef, ...]  # the kept member first


@dataclass(slots=True)
class PassOne:
    """What pass one returns: the analysis and the cluster drafts whose texts a writer fills."""

    analysis: Analysis
    drafts: list[ClusterDraft] = field(default_factory=list)


def _concat(parts: list[np.ndarray], dtype: type, width: int | None = None) -> np.ndarray:
    if parts:
        return np.concatenate(parts)
    return np.empty((0, width) if width else 0, dtype=dtype)


@dataclass(frozen=True, slots=True)
class DocumentArrays:
    """Document-level features of a whole input, one row per scanned document in scan order:
    MinHash signatures, exact keys (hash of the normalised tokens), whether a document has any
    token, distinct shingle counts (containment mode only) and text lengths."""

    signatures: np.ndarray
    exact: np.ndarray
    comparable: np.ndarray
    sizes: np.ndarray
    lengths: np.ndarray


def exact_links(docs: DocumentArrays) -> tuple[I64, np.ndarray]:
    """Exact duplicates after normalisation, linked to the first of their group, and the mask of
    documents that represent their group in LSH (every other member is already linked)."""
    exact_pairs = equal_key_pairs(docs.exact, docs.comparable)
    representative = docs.comparable.copy()
    representative[exact_pairs[:, 1]] = False
    return exact_pairs, representative


def lsh_candidates(
    signatures: np.ndarray, representative: np.ndarray, bands: int, rows: int
) -> I64:
    """Pairs of representatives that share a band key: they depend on the bands alone, so a
    sweep over thresholds with the same bands computes them once."""
    return pairs_sharing_keys(band_keys(signatures, bands, rows), representative)


def verify_candidates(docs: DocumentArrays, candidates: I64, config: ScanConfig) -> I64:
    """The candidates that the full signatures confirm at ``config``'s thresholds."""
    similarity = estimated_jaccard(docs.signatures, candidates)
    accept = similarity >= config.threshold
    if config.measure == "containment":
        size_a, size_b = docs.sizes[candidates[:, 0]], docs.sizes[candidates[:, 1]]
        contained = estimated_containment(similarity, size_a, size_b)
        # Below the ratio the bands were not chosen to find such pairs, and the estimate
        # of a small set's share in a large one is too noisy to act on.
        comparable_sizes = np.minimum(size_a, size_b) >= CONTAINMENT_MIN_RATIO * np.maximum(
            size_a, size_b
        )
        accept |= comparable_sizes & (contained >= config.containment_threshold)
    return candidates[accept]


def default_jobs() -> int:
    """All the cores this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


class Scanner:
    """Accumulates batch features; :meth:`finish` clusters them. Use :func:`analyse`.

    With ``jobs > 1`` batches are featurised in worker processes, in order: the features of a
    batch depend on nothing but its texts, so the result is identical to ``jobs=1``. The pool
    starts only when a second batch arrives; a small input never pays for it.
    """

    def __init__(self, config: ScanConfig, jobs: int = 1) -> None:
        self.config = config
        self.jobs = max(1, jobs)
        self._pool: ProcessPoolExecutor | None = None
        self._in_flight: deque[Future[BatchFeatures]] = deque()
        self._first_texts: list[str] | None = None
        self.perms = permutations(config.num_perm, config.seed)
        self.bands, self.rows = choose_bands(
            config.candidate_threshold, config.num_perm, config.min_candidate_probability
        )
        self.paragraph_bands, self.paragraph_rows = choose_bands(
            config.paragraph_threshold, config.paragraph_num_perm, config.min_candidate_probability
        )
        self.ids: list[str] = []
        self.positions: list[int] = []
        self.lengths: list[int] = []
        self.batches: list[BatchFeatures] = []
        self.first_seen: dict[str, Origin] = {}
        self.analysis = Analysis()
        self._pending: list[Record] = []
        self._pending_chars = 0

    # -- intake -----------------------------------------------------------------------------
    def _skip(self, skipped: Skipped) -> None:
        if self.config.strict:
            raise InputError(skipped.origin.path, skipped.origin.line, skipped.reason)
        self.analysis.skipped.append(skipped)

    def add(self, item: Record | Skipped) -> None:
        stats = self.analysis.stats
        stats.records_read += 1
        if isinstance(item, Skipped):
            self._skip(item)
            return
        for note in item.notes:
            if self.config.strict:
                raise InputError(item.origin.path, item.origin.line, note)
            self.analysis.notes.append((item.origin, note))
        if not item.text.strip():
            self._skip(Skipped(item.position, item.origin, "empty text", item.id))
            return
        if item.id in self.first_seen:
            first = self.first_seen[item.id]
            self._skip(
                Skipped(
                    item.position,
                    item.origin,
                    f"duplicate id {item.id!r} (first at {first})",
                    item.id,
                )
            )
            return
        self.first_seen[item.id] = item.origin
        self._pending.append(item)
        self._pending_chars += len(item.text)
        if len(self._pending) >= BATCH_DOCUMENTS or self._pending_chars >= BATCH_CHARACTERS:
            self.flush()

    def flush(self) -> None:
        if not self._pending:
            return
        texts = [record.text for record in self._pending]
        if self.jobs == 1:
            self.batches.append(featurise(texts, self.config, self.perms))
        elif self._pool is None and self._first_texts is None:
            # Hold the first batch back: if the input ends here, it is signed in-process.
            self._first_texts = texts
        else:
            self._submit(texts)
        for record in self._pending:
            self.ids.append(record.id)
            self.positions.append(record.position)
            self.lengths.append(len(record.text))
        self._pending = []
        self._pending_chars = 0

    def _submit(self, texts: list[str]) -> None:
        if self._pool is None:
            # forkserver: safe beside the progress bar's thread, unlike fork.
            context = multiprocessing.get_context("forkserver")
            self._pool = ProcessPoolExecutor(self.jobs, mp_context=context)
            if self._first_texts is not None:
                first, self._first_texts = self._first_texts, None
                self._in_flight.append(self._pool.submit(featurise, first, self.config, self.perms))
        self._in_flight.append(self._pool.submit(featurise, texts, self.config, self.perms))
        # Bound the batches held in memory: results are collected in submission order.
        while len(self._in_flight) > 2 * self.jobs:
            self.batches.append(self._in_flight.popleft().result())

    def _drain(self) -> None:
        if self._first_texts is not None:
            first, self._first_texts = self._first_texts, None
            self.batches.append(featurise(first, self.config, self.perms))
        while self._in_flight:
            self.batches.append(self._in_flight.popleft().result())
        if self._pool is not None:
            self._pool.shutdown()
            self._pool = None

    def close(self) -> None:
        """Stop the worker processes (after an error; :meth:`finish` does it otherwise)."""
        if self._pool is not None:
            self._pool.shutdown(cancel_futures=True)
            self._pool = None

    # -- pass one's end -----------------------------------------------------------------------
    def finish(self) -> PassOne:
        self.flush()
        self._drain()
        result = PassOne(self.analysis)
        removed = self._documents(result)
        self._paragraphs(result, removed)
        stats = self.analysis.stats
        stats.records_skipped = len(self.analysis.skipped)
        stats.records_kept = sum(1 for v in self.analysis.verdicts.values() if v.status == "kept")
        stats.documents_removed = len(self.analysis.verdicts) - stats.records_kept
        stats.document_clusters = sum(1 for d in result.drafts if d.level == "document")
        stats.paragraph_clusters = sum(1 for d in result.drafts if d.level == "paragraph")
        return result

    def signed_documents(self) -> DocumentArrays:
        """Sign what is still pending and return the document features of the whole input,
        in scan order: what :func:`dedupe.tune.tune` links at many thresholds."""
        self.flush()
        self._drain()
        return DocumentArrays(
            signatures=_concat(
                [b.doc_signatures for b in self.batches], np.uint32, self.config.num_perm
            ),
            exact=_concat([b.doc_exact for b in self.batches], np.uint64),
            comparable=_concat([b.doc_tokens for b in self.batches], np.int64) > 0,
            sizes=_concat([b.doc_sizes for b in self.batches], np.int64),
            lengths=np.asarray(self.lengths, dtype=np.int64),
        )

    def _documents(self, result: PassOne) -> np.ndarray:
        """Document graph: exact groups plus verified LSH candidates. Returns the keeper index of
        every document (itself when kept)."""
        n = len(self.ids)
        docs = self.signed_documents()
        signatures = docs.signatures
        exact_pairs, representative = exact_links(docs)
        candidates = lsh_candidates(docs.signatures, representative, self.bands, self.rows)
        verified = verify_candidates(docs, candidates, self.config)
        stats = self.analysis.stats
        stats.candidate_pairs = len(candidates)
        stats.verified_pairs = len(verified)

        labels = connected_components(n, np.concatenate([exact_pairs, verified]))
        keeper = keepers(labels, docs.lengths, self.config.keep_rule)
        members = np.flatnonzero(keeper != np.arange(n))
        with_keeper = estimated_jaccard(signatures, np.stack([keeper[members], members], axis=1))
        member_similarity = dict(zip(members.tolist(), with_keeper.tolist(), strict=True))

        groups: dict[int, list[int]] = {}
        for member in members.tolist():
            groups.setdefault(int(keeper[member]), []).append(member)
        for kept in sorted(groups):
            refs = [MemberRef(self.positions[kept], self.ids[kept], None, None, 1.0)]
            refs += [
                MemberRef(
                    self.positions[m], self.ids[m], None, None, round(member_similarity[m], 4)
                )
                for m in sorted(groups[kept])
            ]
            result.drafts.append(ClusterDraft("document", tuple(refs)))
        for index in range(n):
            position, doc_id = self.positions[index], self.ids[index]
            if keeper[index] != index:
                kept = int(keeper[index])
                self.analysis.verdicts[position] = Verdict(
                    position,
                    doc_id,
                    "duplicate",
                    self.ids[kept],
                    round(member_similarity[index], 4),
                )
            else:
                self.analysis.verdicts[position] = Verdict(position, doc_id, "kept")
        return keeper

    def _paragraphs(self, result: PassOne, doc_keeper: np.ndarray) -> None:
        """Paragraph graph of the kept documents: within-document repeats (exact sets) and
        cross-document near-duplicates (verified paragraph signatures)."""
        if not self.config.paragraphs:
            return
        # Global unit numbering: batches in order, units in document and text order.
        unit_doc, unit_start, unit_end, eligible, exact, sigs = [], [], [], [], [], []
        rep_a, rep_b, rep_j = [], [], []
        doc_offset = unit_offset = 0
        for batch in self.batches:
            unit_doc.append(batch.unit_doc + doc_offset)
            unit_start.append(batch.unit_start)
            unit_end.append(batch.unit_end)
            eligible.append(batch.eligible + unit_offset)
            exact.append(batch.eligible_exact)
            sigs.append(batch.eligible_signatures)
            rep_a.append(batch.repeat_earlier + unit_offset)
            rep_b.append(batch.repeat_later + unit_offset)
            rep_j.append(batch.repeat_jaccard)
            doc_offset += len(batch.doc_tokens)
            unit_offset += len(batch.unit_doc)
        u_doc = _concat(unit_doc, np.int64)
        u_start, u_end = _concat(unit_start, np.int64), _concat(unit_end, np.int64)
        elig = _concat(eligible, np.int64)
        e_exact = _concat(exact, np.uint64)
        e_sigs = _concat(sigs, np.uint32, self.config.paragraph_num_perm)
        n_docs = len(self.ids)
        kept_doc = doc_keeper == np.arange(n_docs)
        # Index of each unit inside its document, for cluster output.
        doc_first_unit = np.searchsorted(u_doc, np.arange(n_docs))
        u_index = np.arange(len(u_doc)) - doc_first_unit[u_doc]

        # Within-document repeats (already verified on exact sets), in eligible numbering.
        elig_of_unit = np.full(len(u_doc), -1, dtype=np.int64)
        elig_of_unit[elig] = np.arange(len(elig))
        within_a = elig_of_unit[_concat(rep_a, np.int64)]
        within_b = elig_of_unit[_concat(rep_b, np.int64)]
        within_j = _concat(rep_j, np.float64)
        alive = kept_doc[u_doc[elig]]
        keep_pair = alive[within_a]
        within_a, within_b, within_j = within_a[keep_pair], within_b[keep_pair], within_j[keep_pair]
        exact_within = dict(
            zip(
                zip(within_a.tolist(), within_b.tolist(), strict=True),
                within_j.tolist(),
                strict=True,
            )
        )

        # Across documents: exact repeats and verified LSH candidates, different documents only.
        e_doc = u_doc[elig]
        exact_pairs = equal_key_pairs(e_exact, alive)
        keys = band_keys(e_sigs, self.paragraph_bands, self.paragraph_rows)
        candidates = pairs_sharing_keys(keys, alive)
        candidates = candidates[e_doc[candidates[:, 0]] != e_doc[candidates[:, 1]]]
        cross = candidates[estimated_jaccard(e_sigs, candidates) >= self.config.paragraph_threshold]
        exact_pairs = exact_pairs[e_doc[exact_pairs[:, 0]] != e_doc[exact_pairs[:, 1]]]

        edges = np.concatenate([np.stack([within_a, within_b], axis=1), exact_pairs, cross])
        labels = connected_components(len(elig), edges)
        sizes = np.bincount(labels, minlength=len(elig))
        in_cluster = np.flatnonzero(sizes[labels] > 1)

        drops: dict[int, set[int]] = {}
        for later in within_b.tolist():
            drops.setdefault(int(e_doc[later]), set()).add(int(elig[later]))
        boilerplate = 0
        components: dict[int, list[int]] = {}
        for node in in_cluster.tolist():
            components.setdefault(int(labels[node]), []).append(node)
        min_docs = self.config.boilerplate_min_docs
        for root in sorted(components):
            nodes = components[root]  # ascending: the root, the earliest paragraph, first
            docs = {int(e_doc[node]) for node in nodes}
            keeper_node = nodes[0]
            refs = []
            for node in nodes:
                if node == keeper_node:
                    similarity = 1.0
                elif (keeper_node, node) in exact_within:
                    similarity = exact_within[(keeper_node, node)]
                else:
                    pair = np.array([[keeper_node, node]])
                    similarity = float(estimated_jaccard(e_sigs, pair)[0])
                unit = int(elig[node])
                doc = int(e_doc[node])
                refs.append(
                    MemberRef(
                        self.positions[doc],
                        self.ids[doc],
                        int(u_index[unit]),
                        (int(u_start[unit]), int(u_end[unit])),
                        round(similarity, 4),
                    )
                )
            result.drafts.append(ClusterDraft("paragraph", tuple(refs)))
            if min_docs and len(docs) >= min_docs:
                for node in nodes:
                    unit = int(elig[node])
                    doc_drops = drops.setdefault(int(e_doc[node]), set())
                    if unit not in doc_drops:
                        boilerplate += 1
                        doc_drops.add(unit)

        stats = self.analysis.stats
        for doc, units in sorted(drops.items()):
            first = int(doc_first_unit[doc])
            last = int(doc_first_unit[doc + 1]) if doc + 1 < n_docs else len(u_doc)
            spans = list(zip(u_start[first:last].tolist(), u_end[first:last].tolist(), strict=True))
            local = sorted(unit - first for unit in units)
            position = self.positions[doc]
            verdict = self.analysis.verdicts[position]
            self.analysis.verdicts[position] = Verdict(
                position,
                verdict.id,
                "kept",
                drop_spans=tuple(drop_spans(self.lengths[doc], spans, local)),
                dropped_paragraphs=tuple(local),
            )
            stats.paragraphs_removed += len(local)
        stats.boilerplate_paragraphs_removed = boilerplate


def analyse(
    items: Iterable[Record | Skipped],
    config: ScanConfig,
    progress: Progress | None = None,
    jobs: int = 1,
) -> PassOne:
    """Pass one over ``items``: every record gets a verdict or a skip; returns the analysis and
    the cluster drafts. Raises :class:`InputError` on the first bad record if ``config.strict``.
    ``jobs`` worker processes sign the batches; the result does not depend on it."""
    scanner = Scanner(config, jobs)
    characters = 0
    try:
        for item in items:
            scanner.add(item)
            if isinstance(item, Record):
                characters += len(item.text)
            if progress is not None and scanner.analysis.stats.records_read % 500 == 0:
                progress(scanner.analysis.stats.records_read, characters)
        result = scanner.finish()
    finally:
        scanner.close()
    if progress is not None:
        progress(scanner.analysis.stats.records_read, characters)
    return result
