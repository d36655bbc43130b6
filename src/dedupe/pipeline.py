"""Drives the core over batches: pass one of a scan. No files, no printing, no clock.

Records stream in; each batch is turned into compact features (signatures, hashes, unit spans)
and its texts are dropped, so memory grows with the number of documents and paragraphs, not
with the text. When the input ends, the document graph, then the paragraph graph of the kept
documents, are built, verified and clustered, and every record gets a verdict.
"""

from __future__ import annotations

import os
import sys
from array import array
from collections import Counter, deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Literal

import numpy as np

from dedupe.budget import DEFAULT_MEMORY, ArrayBudget, RowStore
from dedupe.config import ScanConfig
from dedupe.core.cluster import (
    clustered_rows,
    connected_components,
    equal_key_pairs,
    keepers,
    merge_components,
)
from dedupe.core.exact import HISTOGRAM_BINS
from dedupe.core.features import BatchFeatures, featurise
from dedupe.core.lsh import (
    LocalSignatures,
    SignatureSet,
    band_keys,
    choose_bands,
    components_by_bands,
    pairs_sharing_keys,
)
from dedupe.core.runs import (
    first_of_runs,
    index_dtype,
    index_in_sorted,
    run_lengths,
    sorted_unique,
)
from dedupe.core.segment import cut_spans
from dedupe.core.shingle import I64
from dedupe.core.signature import permutations
from dedupe.core.verify import accepted, estimated_jaccard, lowest_accepted
from dedupe.errors import InputError
from dedupe.memory import release_free_memory
from dedupe.records import Origin, Record, Skipped
from dedupe.result import (
    RULE_CODE,
    RULES,
    SIMILARITY_SCALE,
    Analysis,
    ClusterTable,
    CodedColumn,
    PackedStrings,
    Verdict,
    column_counts,
    packed_ints,
    similarity_column,
)
from dedupe.set_spool import ExactlyVerified, SetSpool

if TYPE_CHECKING:
    from concurrent.futures import Future, ProcessPoolExecutor

Progress = Callable[[int, int], None]
"""Called every 500 records read and once when reading ends, with (records seen, characters of
text seen)."""
SpanChunks = Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]
"""The eligible paragraphs in scan order, a chunk at a time: their records' positions and their
character spans (:meth:`Scanner.eligible_spans`)."""
BeforeLinking = Callable[[SpanChunks], None]
"""Called once the input is signed, before linking, with the eligible paragraphs' spans."""

# A batch is cut at this many documents or characters, whichever comes first: large enough that
# numpy's per-call overhead vanishes (measured flat above ~500 news articles), small enough that
# the workers start early and its arrays stay in a few megabytes. 2,000 articles (8 M
# characters) a batch had been slower on 2 cores: x1 full scan 1.28 -> 1.16 s, x10 12.6 -> 12.1 s
# (the last batches sign while the others wait, and each batch's tens of MB of temporaries were
# fresh pages: system time 2.8 -> 2.0 s at x10).
BATCH_DOCUMENTS = 500
BATCH_CHARACTERS = 2_000_000
#: While the batches' paragraph arrays are gathered, freed memory is handed back to the system
#: every this many batches (about 70 MB at 500 news articles a batch): the batches' arrays
#: live in the C heap, the gathered copies outside it, so the heap would not shrink by itself.
TRIM_EVERY_BATCHES = 32


@dataclass(slots=True)
class PassOne:
    """What pass one returns: the analysis and the cluster tables (documents, then paragraphs)
    whose paragraph texts a writer fills in."""

    analysis: Analysis
    tables: list[ClusterTable] = field(default_factory=list)


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


def paragraph_representatives(
    equal: I64, labels: I64, e_doc: I64, alive: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """The paragraphs that take part in LSH, one per group of equal paragraphs, and the number
    per paragraph that :class:`Acceptance` compares in place of its document.

    ``equal`` links each live paragraph to the first one with its exact key; where ``labels``
    already joins the two, the later one is left out of LSH: its signature is the first's, so
    any pair it would be verified in gives what the first one's gives (the x100 benchmark's
    100 copies of an article hold most paragraphs tens of times over). A pair is only linked
    across documents, so a first paragraph whose group lies in more than one document gets a
    number (negative, its own) that no other paragraph's equals: some paragraph of the group
    lies in another document than any paragraph it is paired with.

    >>> equal = np.array([[0, 2], [0, 3]])
    >>> rep, attr = paragraph_representatives(
    ...     equal, np.array([0, 1, 0, 0]), np.array([5, 5, 5, 6]), np.ones(4, dtype=bool))
    >>> rep.tolist(), attr.tolist()
    ([True, True, False, False], [-1, 5, 5, 6])
    """
    representative = np.asarray(alive, dtype=np.bool_).copy()
    # Documents and -1 - paragraph: int32 while the paragraphs are fewer than 2**31 (x100: 8
    # million, 31 MB instead of 61 held through linking).
    attr = np.array(e_doc, dtype=np.int32 if len(e_doc) < 2**31 - 1 else np.int64, copy=True)
    # A chunk of pairs at a time (each pair's verdict is its own): a few arrays of a chunk
    # instead of copies of most of the pairs and of their documents.
    for begin in range(0, len(equal), PAIR_CHUNK):
        part = equal[begin : begin + PAIR_CHUNK]
        folded = part[labels[part[:, 0]] == labels[part[:, 1]]]
        representative[folded[:, 1]] = False
        spanning = folded[e_doc[folded[:, 0]] != e_doc[folded[:, 1]], 0]
        attr[spanning] = -1 - spanning
    return representative, attr


#: Pairs :func:`paragraph_representatives` and :func:`_across_documents` look at at a time.
PAIR_CHUNK = 1 << 20


def _across_documents(pairs: I64, e_doc: I64) -> I64:
    """The ``pairs`` whose two paragraphs lie in different documents, found a chunk at a
    time (a byte a pair beside the result, not two gathers of every pair's documents).

    >>> _across_documents(np.array([[0, 1], [0, 2], [1, 3]]), np.array([5, 5, 6, 7])).tolist()
    [[0, 2], [1, 3]]
    """
    apart = np.empty(len(pairs), dtype=np.bool_)
    for begin in range(0, len(pairs), PAIR_CHUNK):
        part = pairs[begin : begin + PAIR_CHUNK]
        np.not_equal(e_doc[part[:, 0]], e_doc[part[:, 1]], out=apart[begin : begin + len(part)])
    return pairs[apart]


def lsh_candidates(
    signatures: np.ndarray, representative: np.ndarray, bands: int, rows: int
) -> I64:
    """Pairs of representatives that share a band key: they depend on the bands alone, so a
    sweep over thresholds with the same bands computes them once."""
    return pairs_sharing_keys(band_keys(signatures, bands, rows), representative)


def verify_candidates(docs: DocumentArrays, candidates: I64, config: ScanConfig) -> I64:
    """The candidates that the full signatures confirm at ``config``'s thresholds."""
    return candidates[verified_mask(docs, candidates, config)]


def verified_mask(
    docs: DocumentArrays,
    candidates: I64,
    config: ScanConfig,
    similarity: np.ndarray | None = None,
) -> np.ndarray:
    """For each candidate pair, whether the full signatures confirm it at ``config``'s
    thresholds (Jaccard, or in containment mode also containment). ``similarity`` is the
    pairs' estimated Jaccard when the caller has it (signatures held elsewhere)."""
    if similarity is None:
        similarity = estimated_jaccard(docs.signatures, candidates)
    return accepted(config, similarity, docs.sizes[candidates[:, 0]], docs.sizes[candidates[:, 1]])


@dataclass(frozen=True, slots=True)
class Acceptance:
    """How the candidate pairs of one level are verified, as a function of their estimated
    Jaccard similarity and one number per row (``attrs``): distinct shingle counts for
    documents (containment mode), the document of each paragraph (pairs inside one document
    are never linked here: within-document repeats are found on exact sets). A plain value, so
    an engine can ship it to where the signatures are."""

    config: ScanConfig
    level: Literal["document", "paragraph"]

    def considered(self, attr_a: np.ndarray, attr_b: np.ndarray) -> np.ndarray:
        """Which pairs are worth estimating at all."""
        if self.level == "paragraph":
            return np.asarray(attr_a != attr_b, dtype=np.bool_)
        return np.ones(len(attr_a), dtype=np.bool_)

    def __call__(
        self, similarity: np.ndarray, attr_a: np.ndarray, attr_b: np.ndarray
    ) -> np.ndarray:
        """Which of the considered pairs are accepted."""
        if self.level == "paragraph":
            return np.asarray(similarity >= self.config.paragraph_threshold, dtype=np.bool_)
        return accepted(self.config, similarity, attr_a, attr_b)


def duplicate_id_reason(doc_id: str, first: Origin) -> str:
    """Why a record whose id came before is skipped."""
    return f"duplicate id {doc_id!r} (first at {first})"


def default_jobs() -> int:
    """All the cores this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def _start_method() -> str:
    """How signing workers start: by fork when this process runs no other thread (in
    milliseconds, with everything imported; forkserver's start cost 0.25 s of a 0.8 s scan of
    the x1 news corpus), on Linux only (macOS's system libraries are not safe to fork); by
    forkserver beside another thread (a caller's: the command's progress bar runs none), whose
    locks a fork could copy held; by spawn where there is no forkserver (Windows)."""
    import multiprocessing
    import threading

    if threading.active_count() == 1 and sys.platform.startswith("linux"):
        return "fork"
    return "forkserver" if "forkserver" in multiprocessing.get_all_start_methods() else "spawn"


class Scanner:
    """Accumulates batch features; :meth:`finish` clusters them. Use :func:`analyse`.

    With ``jobs > 1`` batches are featurised in worker processes, in order: the features of a
    batch depend on nothing but its texts, so the result is identical to ``jobs=1``. The pool
    starts only when a second batch arrives; a small input never pays for it.
    """

    def __init__(self, config: ScanConfig, jobs: int = 1, memory: int | None = None) -> None:
        self.config = config
        self.jobs = max(1, jobs)
        self.budget = ArrayBudget(memory)
        # Under a budget, each batch's signatures leave it as it is collected, into stores that
        # spill to a file once the budget is spent: pass one's memory then stays flat. Without
        # one (tune, a Dask worker) they stay in the batches, where those callers read them.
        self._rows: tuple[RowStore, RowStore] | None = None
        # The paragraphs' index arrays go the same way (x100: 8.8 million paragraphs, ~200 MB
        # that the batches held in memory through reading and document linking); they are
        # mapped as one set of arrays when pass one ends (``_unit_arrays``).
        self._unit_stores: _UnitStores | None = None
        self._unit_arrays: dict[str, np.ndarray] | None = None
        if memory is not None:
            self._rows = (RowStore(self.budget), RowStore(self.budget))
            self._unit_stores = _UnitStores(self.budget)
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
        # A list while records are added, then a PackedStrings (:meth:`finish`): x100's 382,400
        # ids as strings were copied page by page into every process forked to write
        # clusters.jsonl as it read them, and into this one as pass two read the verdicts.
        self.ids: Sequence[str] = []
        # Positions and character lengths as machine integers: 8 bytes a record, not a list
        # slot and an int object (36; x100: 382,400 records, 21 MB less held while linking).
        self.positions = array("q")
        self.lengths = array("q")
        self.batches: list[BatchFeatures] = []
        # Read only while records are added; dropped when linking begins (x100: 42 MB of
        # entries and origins).
        self.first_seen: dict[str, Origin] = {}
        self.analysis = Analysis()
        self._pending: list[Record] = []
        self._pending_chars = 0
        self._spool = SetSpool() if config.verify == "exact" else None

    def _collect(self, batch: BatchFeatures) -> None:
        """Keep a signed batch; its documents' shingle sets (``verify="exact"``) go to disk, its
        signatures to the stores (under a budget)."""
        if self._rows is not None:
            self._rows[0].append(batch.doc_signatures)
            self._rows[1].append(batch.eligible_signatures)
            batch = replace(
                batch,
                doc_signatures=np.empty((len(batch.doc_tokens), 0), dtype=np.uint32),
                eligible_signatures=np.empty((len(batch.eligible), 0), dtype=np.uint32),
            )
        if self._unit_stores is not None:
            self._unit_stores.append(batch)
            batch = replace(batch, **_EMPTY_UNITS)
        if self._spool is not None:
            self._spool.append(batch.doc_set_sizes, batch.doc_set_values, batch.doc_set_histograms)
            batch = replace(
                batch,
                doc_set_sizes=np.empty(0, dtype=np.int64),
                doc_set_values=np.empty(0, dtype=np.uint32),
                doc_set_histograms=np.empty((0, HISTOGRAM_BINS), dtype=np.uint8),
            )
        self.batches.append(batch)

    # -- intake -----------------------------------------------------------------------------
    def intake_ids(self) -> list[str]:
        """The list the ids of added records go to (before :meth:`finish`)."""
        assert isinstance(self.ids, list), "records are added before finish"
        return self.ids

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
        if not item.text or item.text.isspace():  # blank, without copying the text
            self._skip(Skipped(item.position, item.origin, "empty text", item.id))
            return
        if item.id in self.first_seen:
            first = self.first_seen[item.id]
            reason = duplicate_id_reason(item.id, first)
            self._skip(Skipped(item.position, item.origin, reason, item.id))
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
            self._collect(featurise(texts, self.config, self.perms))
        elif self._pool is None and self._first_texts is None and _start_method() != "fork":
            # Hold the first batch back: if the input ends here, it is signed in-process
            # rather than pay for starting a forkserver. A fork costs milliseconds: the first
            # batch goes to a worker at once and is signed while the next one is read.
            self._first_texts = texts
        else:
            self._submit(texts)
        ids = self.intake_ids()
        for record in self._pending:
            ids.append(record.id)
            self.positions.append(record.position)
            self.lengths.append(len(record.text))
        self._pending = []
        self._pending_chars = 0

    def _submit(self, texts: list[str]) -> None:
        if self._pool is None:
            # Imported here: a one-process scan should not pay for them (7 ms).
            import multiprocessing
            from concurrent.futures import ProcessPoolExecutor

            context = multiprocessing.get_context(_start_method())
            self._pool = ProcessPoolExecutor(self.jobs, mp_context=context)
            if self._first_texts is not None:
                first, self._first_texts = self._first_texts, None
                self._in_flight.append(self._pool.submit(featurise, first, self.config, self.perms))
        self._in_flight.append(self._pool.submit(featurise, texts, self.config, self.perms))
        # Bound the batches held in memory: results are collected in submission order.
        while len(self._in_flight) > 2 * self.jobs:
            self._collect(self._in_flight.popleft().result())

    def _drain(self) -> None:
        if self._first_texts is not None:
            first, self._first_texts = self._first_texts, None
            self._collect(featurise(first, self.config, self.perms))
        while self._in_flight:
            self._collect(self._in_flight.popleft().result())
        if self._pool is not None:
            self._pool.shutdown()
            self._pool = None

    def take_sets(self) -> SetSpool | None:
        """The documents' shingle sets (``verify="exact"``), for the caller to close: what
        :func:`dedupe.tune.tune` verifies with after :meth:`signed_documents`."""
        spool, self._spool = self._spool, None
        return spool

    def close(self) -> None:
        """Stop the worker processes (after an error; :meth:`finish` does it otherwise)."""
        if self._pool is not None:
            self._pool.shutdown(cancel_futures=True)
            self._pool = None
        if self._spool is not None:
            self._spool.close()
            self._spool = None
        if self._rows is not None:
            for store in self._rows:
                store.close()
        if self._unit_stores is not None:
            self._unit_stores.close()
        self.budget.close()

    # -- pass one's end -----------------------------------------------------------------------
    def finish(
        self,
        before_linking: BeforeLinking | None = None,
        on_stage: Callable[[str], None] | None = None,
    ) -> PassOne:
        """Sign what is pending, then link: the documents, then the paragraphs of the kept
        ones. ``before_linking`` is called first, with :meth:`eligible_spans`.
        ``on_stage("linking paragraphs")`` is called between the two (with paragraphs on):
        at x100 each takes about half a minute."""
        self.flush()
        self._drain()
        self.first_seen = {}
        # The ids in one buffer from here on (the clusters and verdicts read them from it):
        # the list's strings, one object each, go.
        self.ids = PackedStrings(self.ids)
        if self._unit_stores is not None:
            self._unit_arrays = self._unit_stores.arrays()
        if before_linking is not None:
            before_linking(self.eligible_spans())
        result = PassOne(self.analysis)
        try:
            removed = self._documents(result)
            if on_stage is not None and self.config.paragraphs:
                on_stage("linking paragraphs")
            self._paragraphs(result, removed)
        finally:
            if self._spool is not None:
                self._spool.close()
                self._spool = None
            self.budget.close()
        release_free_memory()  # the paragraph graph's arrays, freed on return
        stats = self.analysis.stats
        stats.records_skipped = len(self.analysis.skipped)
        stats.records_kept = self.analysis.verdicts.count("kept")
        stats.documents_removed = len(self.analysis.verdicts) - stats.records_kept
        stats.document_clusters = sum(len(t) for t in result.tables if t.level == "document")
        stats.paragraph_clusters = sum(len(t) for t in result.tables if t.level == "paragraph")
        by_rule = Counter[str]()
        for table in result.tables:
            if table.rules is not None:
                by_rule.update(column_counts(table.rules))
        stats.removed_by_rule = {rule: by_rule[rule] for rule in RULES[1:]}
        return result

    def eligible_spans(self) -> SpanChunks:
        """Every paragraph that could be compared (eligible), in scan order, a chunk at a time:
        its record's position and its character span. One chunk is held at a time, not 24
        bytes for each of 8 million paragraphs at x100."""
        positions = np.asarray(self.positions, dtype=np.int64)
        stored = self._unit_arrays
        if stored is not None:  # a chunk of eligible paragraphs at a time
            elig = stored["elig"]
            for begin in range(0, len(elig), SPAN_CHUNK):
                eligible = np.asarray(elig[begin : begin + SPAN_CHUNK])
                yield (
                    positions[stored["u_doc"][eligible]],
                    stored["u_start"][eligible],
                    stored["u_end"][eligible],
                )
            return
        doc_offset = 0
        for batch in self.batches:  # a batch at a time
            eligible = np.asarray(batch.eligible, dtype=np.int64)
            doc = np.asarray(batch.unit_doc, dtype=np.int64)[eligible] + doc_offset
            yield positions[doc], batch.unit_start[eligible], batch.unit_end[eligible]
            doc_offset += len(batch.doc_tokens)

    def signed_documents(self) -> DocumentArrays:
        """Sign what is still pending and return the document features of the whole input,
        in scan order: what :func:`dedupe.tune.tune` links at many thresholds. Call it once,
        at the end of the input: the batches' signatures move into one array (in memory or,
        beyond the scan's memory budget, in a file) and leave the batches."""
        self.flush()
        self._drain()
        if self._rows is not None:
            signatures = self._rows[0].array(self.config.num_perm)
        else:
            width = (
                self.batches[0].doc_signatures.shape[1] if self.batches else self.config.num_perm
            )
            rows = sum(len(b.doc_tokens) for b in self.batches)
            signatures = self.budget.empty((rows, width), np.uint32)
            row = 0
            for number, batch in enumerate(self.batches):
                count = len(batch.doc_tokens)
                signatures[row : row + count] = batch.doc_signatures
                self.batches[number] = replace(
                    batch, doc_signatures=np.empty((count, 0), dtype=np.uint32)
                )
                row += count
        return DocumentArrays(
            signatures=signatures,
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
        signatures = self.document_signatures(docs)
        if self._spool is not None:  # candidates from the bands, decided on exact sets
            assert isinstance(signatures, LocalSignatures), "exact verification is local"
            signatures = ExactlyVerified(signatures, *self._spool.sets())
        exact_pairs, representative = exact_links(docs)
        # Band by band, skipping pairs already connected: the same components as verifying
        # every candidate, without holding all of them. A corpus with many copies of each
        # article (the x100 benchmark: 100 per article) makes candidates grow with the square
        # of the copies, 2.9 GB of pairs at 380,000 documents, where this holds one band's.
        linked = signatures
        if isinstance(signatures, ExactlyVerified):  # exact sets only where they could matter
            linked = signatures.screened(lowest_accepted(self.config))
        labels, candidates, verified = self.link(
            linked,
            (self.bands, self.rows),
            connected_components(n, exact_pairs),
            Acceptance(self.config, "document"),
            docs.sizes,
            representative,
        )
        stats = self.analysis.stats
        stats.candidate_pairs, stats.verified_pairs = candidates, verified
        keeper = keepers(labels, docs.lengths, self.config.keep_rule)
        members = np.flatnonzero(keeper != np.arange(n))
        with_keeper = signatures.jaccard(np.stack([keeper[members], members], axis=1))
        rule_codes = _document_rules(docs, keeper, members, with_keeper, self.config)
        member_similarity = similarity_codes(with_keeper)
        # Clusters in the order of their keepers, each keeper first and its members after it
        # in ascending order.
        by_keeper = np.lexsort((members, keeper[members]))
        members = members[by_keeper]
        member_similarity, rule_codes = member_similarity[by_keeper], rule_codes[by_keeper]
        kept = keeper[members]
        positions = np.asarray(self.positions, dtype=np.int64)
        result.tables.append(
            _document_table(members, kept, member_similarity, rule_codes, positions, self.ids)
        )
        verdicts = self.analysis.verdicts
        member_ids = CodedColumn(members, self.ids)
        keeper_ids = CodedColumn(kept, self.ids)
        values = similarity_column(member_similarity)
        names = rule_names(rule_codes)
        for number, position in enumerate(positions[members].tolist()):
            verdicts[position] = Verdict(
                position,
                member_ids[number],
                "duplicate",
                keeper_ids[number],
                values[number],
                rule=names[number],
            )
        whole = np.flatnonzero(keeper == np.arange(n))
        verdicts.keep(positions[whole], CodedColumn(whole, self.ids))
        return keeper

    def _paragraphs(self, result: PassOne, doc_keeper: np.ndarray) -> None:
        """Paragraph graph of the kept documents: within-document repeats (exact sets) and
        cross-document near-duplicates (verified paragraph signatures)."""
        if not self.config.paragraphs:
            return
        # The batches are handed over and dropped one by one as their arrays are gathered: the
        # paragraph signatures alone are 1.0 GB at x100 (8 million x 32 x 4 bytes), and
        # gathering them beside the batches' copies held both.
        batches, self.batches = self.batches, []
        stored = None
        if self._rows is not None:
            stored = self._rows[1].array(self.config.paragraph_num_perm)
        if self._unit_arrays is not None and self._unit_stores is not None:
            assert stored is not None
            unit_arrays, self._unit_arrays = self._unit_arrays, None
            units = self._unit_stores.units(unit_arrays, stored)
            del unit_arrays
        else:
            units = _gather_units(batches, self.config.paragraph_num_perm, self.budget, stored)
        n_docs = len(self.ids)
        alive = (doc_keeper == np.arange(n_docs))[units.e_doc]
        # Within-document repeats (already verified on exact sets) of kept documents only.
        keep_pair = alive[units.within_a]
        within_a, within_b = units.within_a[keep_pair], units.within_b[keep_pair]
        within_j = units.within_j[keep_pair]
        e_sigs = self.unit_signatures(units)
        labels = self._paragraph_components(
            units, e_sigs, alive, np.stack([within_a, within_b], axis=1)
        )

        # Grouped by component in label order, ascending inside: the keeper (the component's
        # smallest node, its earliest paragraph) first.
        members, keeper = clustered_rows(labels)
        del labels, alive  # x100: 8 million paragraphs
        # The C heap hands back what each step freed before the next allocates: arrays below
        # glibc's (raised) mmap threshold leave holes that it keeps otherwise (x100: 350-500 MB
        # of free heap at the peaks of this table's steps).
        release_free_memory()
        similarity = _member_similarity(members, keeper, (within_a, within_b, within_j), e_sigs)
        release_free_memory()
        # Where each cluster begins, and the end: an array of ints, not a list of int objects
        # (x100: ~800,000 clusters) that each forked writer would copy as it reads them.
        starts = np.flatnonzero(first_of_runs(keeper))
        bounds = packed_ints(np.r_[starts, len(members)])
        rules = _paragraph_rules(
            members, keeper, starts, units.e_doc, within_b, self.config.boilerplate_min_docs
        )
        del starts
        repeats = _repeated_paragraphs(members, within_a, within_b, units)
        release_free_memory()
        result.tables.append(
            self._paragraph_table(units, members, similarity, bounds, rules, repeats)
        )
        # Dropped: the later copy of each repeat inside a document and every member of a
        # component spread over boilerplate_min_docs documents or more (the members whose rule
        # says so; the rest of those are later copies already), marked by eligible paragraph.
        gone = np.zeros(len(units.elig), dtype=np.bool_)
        gone[within_b] = True
        boilerplate = 0
        if self.config.boilerplate_min_docs:
            for first in range(0, len(members), PAIR_CHUNK):
                part = slice(first, first + PAIR_CHUNK)
                spread = members[part][rules[part] == RULE_CODE["boilerplate"]]
                gone[spread] = True
                boilerplate += len(spread)
        del keeper, similarity, rules, repeats
        release_free_memory()
        self._apply_drops(units, gone)
        self.analysis.stats.boilerplate_paragraphs_removed = boilerplate

    def document_signatures(self, docs: DocumentArrays) -> SignatureSet:
        """Where the document signatures are: here, in ``docs``. An engine that keeps them in
        its partitions overrides this (and :meth:`unit_signatures`)."""
        return LocalSignatures(docs.signatures, self.jobs)

    def unit_signatures(self, units: _Units) -> SignatureSet:
        """The signatures of the eligible paragraphs, in ``units``' numbering."""
        return LocalSignatures(units.e_sigs, self.jobs)

    def _paragraph_components(
        self, units: _Units, e_sigs: SignatureSet, alive: np.ndarray, within: np.ndarray
    ) -> I64:
        """Component label of every eligible paragraph: within-document repeats, exact repeats
        across documents and verified LSH candidates across documents, kept documents only."""
        e_doc = units.e_doc
        # Paragraph numbers and labels as int32 where the paragraphs are fewer than 2**31
        # (x100: 8 million): half the memory of the pairs, the labels held through linking
        # and the temporaries of both; merges keep the type.
        rows = index_dtype(len(e_doc))
        equal = equal_key_pairs(units.e_exact, alive, rows)
        # The few within-document repeats merged into the components of the many equal pairs
        # across documents (the same labels), rather than both concatenated: at x100 the
        # equal pairs are most paragraphs, 8 bytes each (48 MB), and they are dropped as soon
        # as they are used.
        labels = connected_components(len(e_doc), _across_documents(equal, e_doc), rows)
        labels = merge_components(labels, within, overwrite=True)
        representative, group_attr = self.paragraph_link_rows(equal, labels, e_doc, alive)
        del equal
        # What the steps above freed (x100: ~340 MB of the C heap, rows of 3.6 million
        # representatives sit below glibc's raised mmap threshold) goes back before the bands
        # allocate anew: it was the paragraph linking's peak until its first merge handed it
        # back (a scan's trace 850 -> 514 MB there).
        release_free_memory()
        bands = (self.paragraph_bands, self.paragraph_rows)
        acceptance = Acceptance(self.config, "paragraph")
        return self.link(e_sigs, bands, labels, acceptance, group_attr, representative)[0]

    def paragraph_link_rows(
        self, equal: I64, labels: I64, e_doc: I64, alive: np.ndarray
    ) -> tuple[np.ndarray, I64]:
        """The paragraphs that take part in LSH and the number :class:`Acceptance` compares
        for each: one per group of equal paragraphs (:func:`paragraph_representatives`). An
        engine whose partitions compare their own documents overrides this."""
        return paragraph_representatives(equal, labels, e_doc, alive)

    def link(
        self,
        signatures: SignatureSet,
        bands: tuple[int, int],
        labels: I64,
        acceptance: Acceptance,
        attrs: np.ndarray,
        mask: np.ndarray | None,
    ) -> tuple[I64, int, int]:
        """Component labels of ``labels``' graph plus the LSH candidates of the ``mask``ed rows
        of ``signatures`` that ``acceptance`` confirms (``attrs``: its number per row), with
        the counts of candidates verified and accepted; ``labels`` may be overwritten. Here
        band by band with one label per row in this process
        (:func:`~dedupe.core.lsh.components_by_bands`); an engine may link elsewhere, with the
        same labels."""
        counts = [0, 0]

        def verified(pairs: I64) -> np.ndarray:
            attr_a, attr_b = attrs[pairs[:, 0]], attrs[pairs[:, 1]]
            accept = acceptance.considered(attr_a, attr_b)
            if accept.all():  # no copies of the pairs and their attributes
                similarity = signatures.jaccard(pairs)
                accept = acceptance(similarity, attr_a, attr_b)
            else:
                similarity = signatures.jaccard(pairs[accept])
                accept[accept] = acceptance(similarity, attr_a[accept], attr_b[accept])
            counts[0] += len(pairs)
            counts[1] += int(accept.sum())
            return accept

        # With a second core, the next band is sorted while one is verified, where what that
        # holds fits the memory budget (BAND_AHEAD_BYTES a row that takes part). The C heap
        # keeps what each band's pieces freed unless asked to give it back (x100: the peak of
        # the trace summed over all processes 1,278 -> 1,149 MB, for 35 calls taking 0.18 s).
        rows = len(labels) if mask is None else int(np.count_nonzero(mask))
        limit = self.budget.limit
        lookahead = self.jobs > 1 and (limit is None or rows * BAND_AHEAD_BYTES <= limit)
        labels = components_by_bands(
            signatures,
            *bands,
            labels,
            verified,
            mask,
            lookahead,
            release_free_memory,
            overwrite=True,
        )
        return labels, counts[0], counts[1]

    def _paragraph_table(
        self,
        units: _Units,
        members: I64,
        similarity: np.ndarray,
        bounds: Sequence[int],
        rules: np.ndarray,
        repeats: CodedColumn,
    ) -> ClusterTable:
        """The paragraph clusters (``similarity``: the members' codes, as
        :func:`_member_similarity` gives them), their members' fields as numpy columns: ~6
        million members at x100, 8 bytes a value instead of a list slot and a Python object
        (~40 bytes), 4 for the positions, paragraph indices and spans where they fit (~100 MB
        less at x100) and 2 for the similarities. The columns are filled a chunk of members at a
        time: the int64 lookups of all members at once, narrowed after, held ~230 MB beside
        the table (x100: the paragraph stage's peak of anonymous memory)."""
        positions = np.asarray(self.positions, dtype=np.int64)
        n_units = len(units.u_doc)
        largest_end = int(units.u_end.max()) if n_units else 0
        count = len(members)
        doc, position, paragraph, begin, end = (
            _int_column(count, largest)
            for largest in (
                len(self.ids),
                int(positions.max()) if len(positions) else 0,
                n_units,
                largest_end,
                largest_end,
            )
        )
        for first in range(0, count, TABLE_CHUNK):
            part = slice(first, first + TABLE_CHUNK)
            chunk = members[part]
            unit = units.elig[chunk]
            doc[part] = units.e_doc[chunk]
            position[part] = positions[doc[part]]
            paragraph[part] = units.index_in_document(unit)
            begin[part] = units.u_start[unit]
            end[part] = units.u_end[unit]
        return ClusterTable(
            "paragraph",
            bounds,
            position,
            CodedColumn(doc, self.ids),
            similarity_column(similarity),
            paragraph,
            begin,
            end,
            CodedColumn(rules.astype(np.uint8, copy=False), RULES),
            repeats,
        )

    def _apply_drops(self, units: _Units, gone: np.ndarray) -> None:
        """Verdicts of the documents that lose paragraphs (``gone``: per eligible paragraph):
        the spans to cut and the paragraphs' places, as arrays
        (:meth:`~dedupe.result.Verdicts.trim`), worked out :data:`DROP_CHUNK` eligible
        paragraphs (whole documents) at a time: x100 with ``--boilerplate-min-docs 5`` drops 6
        million paragraphs, and the temporaries of all at once held ~700 MB."""
        offsets = index_dtype(int(units.u_end.max(initial=0)) + 1)
        docs: list[np.ndarray] = []
        cut_counts: list[np.ndarray] = []
        starts: list[np.ndarray] = []
        ends: list[np.ndarray] = []
        drop_counts: list[np.ndarray] = []
        places: list[np.ndarray] = []
        begin = removed = 0
        while begin < len(gone):
            # To the end of the document of the chunk's last paragraph.
            end = min(begin + DROP_CHUNK, len(gone))
            end = int(np.searchsorted(units.e_doc, units.e_doc[end - 1], side="right"))
            dropped = units.elig[begin + np.flatnonzero(gone[begin:end])]
            begin = end
            if len(dropped) == 0:
                continue
            removed += len(dropped)
            cut_doc, cut_start, cut_end = cut_spans(
                units.u_doc, units.u_start, units.u_end, dropped
            )
            # Every document that loses a unit has a cut.
            heads = np.flatnonzero(first_of_runs(cut_doc))
            docs.append(cut_doc[heads])
            cut_counts.append(run_lengths(heads, len(cut_doc)))
            starts.append(cut_start.astype(offsets))
            ends.append(cut_end.astype(offsets))
            unit_doc = units.u_doc[dropped]
            bounds = np.searchsorted(unit_doc, np.r_[docs[-1], unit_doc[-1] + 1])
            drop_counts.append(np.diff(bounds))
            places.append(units.index_in_document(dropped).astype(np.int32))
            del cut_doc, cut_start, cut_end, heads, unit_doc, dropped
        if not docs:
            return
        positions = np.asarray(self.positions, dtype=np.int64)[np.concatenate(docs)]
        # The parts are let go before the verdicts copy the wholes.
        cut_starts, cut_ends, dropped_places = (
            np.concatenate(parts) for parts in (starts, ends, places)
        )
        del starts, ends, places
        self.analysis.verdicts.trim(
            positions,
            np.r_[0, np.cumsum(np.concatenate(cut_counts))],
            cut_starts,
            cut_ends,
            np.r_[0, np.cumsum(np.concatenate(drop_counts))],
            dropped_places,
        )
        self.analysis.stats.paragraphs_removed += removed


#: A batch's per-unit index arrays: indices and character offsets inside the batch (emptied
#: once :class:`_UnitStores` holds them).
_UNIT_INDEX_FIELDS = (
    "unit_doc",
    "unit_start",
    "unit_end",
    "eligible",
    "repeat_earlier",
    "repeat_later",
)


#: Eligible paragraphs :meth:`Scanner._apply_drops` cuts at a time (whole documents): its
#: temporaries are some 15 arrays of 8 bytes each of them (32 MB).
DROP_CHUNK = 1 << 18


#: Members :meth:`Scanner._paragraph_table` fills its columns with at a time.
TABLE_CHUNK = 1 << 20


def _int_column(length: int, largest: int) -> np.ndarray:
    """An empty column for ``length`` non-negative integers up to ``largest``: int32 where
    they fit."""
    return np.empty(length, dtype=index_dtype(largest + 1))


@dataclass(frozen=True, slots=True)
class _Units:
    """The paragraph features of all batches in one numbering: units (every paragraph, in
    document and text order) and eligible units (``elig`` indexes units; ``e_*`` per eligible
    unit; ``within_*`` are within-document repeats in eligible numbering). Under a budget the
    per-unit arrays are the budget's (files beyond it): at x100 they are 8.8 million units and
    8.1 million eligible ones, 0.5 GB."""

    u_doc: I64
    u_start: I64
    u_end: I64
    doc_first_unit: I64
    elig: I64
    e_doc: I64
    e_exact: np.ndarray
    e_sigs: np.ndarray
    within_a: I64
    within_b: I64
    within_j: np.ndarray

    def index_in_document(self, units: I64) -> I64:
        """The place of each of ``units`` among its document's units."""
        # One new array, for the documents, their first units and the result in turn ("clip":
        # the indices are valid, and "raise" would copy through a buffer).
        first = self.u_doc[units].astype(np.int64, copy=False)
        np.take(self.doc_first_unit, first, out=first, mode="clip")
        return np.subtract(units, first, out=first)


#: What sorting the next LSH band while one is linked holds, a row: its keys, their sort and
#: the bucket table (measured at x100: 78 MB more at the paragraph linking's peak for 3.6
#: million representatives, which the look-ahead saves 6.6 s of 22.6). :meth:`Scanner.link`
#: sorts ahead where the rows' share fits the memory budget: x10's paragraphs and x100's
#: documents under the default 16 MiB, not x100's paragraphs.
BAND_AHEAD_BYTES = 22
#: Eligible paragraphs :meth:`Scanner.eligible_spans` gathers at a time from the stored arrays.
SPAN_CHUNK = 1 << 20
#: A batch's paragraph index arrays once :class:`_UnitStores` holds them.
_EMPTY_UNITS: dict[str, np.ndarray] = {
    **{name: np.empty(0, dtype=np.int32) for name in _UNIT_INDEX_FIELDS},
    "eligible_exact": np.empty(0, dtype=np.uint64),
    "repeat_jaccard": np.empty(0, dtype=np.float64),
}


class _UnitStores:
    """Pass one's paragraph index arrays in the scan's numbering (documents, units and
    eligible units counted across batches), appended batch by batch to
    :class:`~dedupe.budget.RowStore` s of the scan's budget: in memory while it lasts, else in
    files, as the signatures are. What :func:`_gather_units` makes from the batches, without
    the batches holding their arrays in memory until the paragraphs are linked."""

    _FIELDS = ("u_doc", "u_start", "u_end", "elig")

    def __init__(self, budget: ArrayBudget) -> None:
        self._budget = budget
        self._stores = {name: RowStore(budget, np.int64) for name in self._FIELDS}
        self._exact = RowStore(budget, np.uint64)
        self._within: tuple[list[I64], list[I64], list[np.ndarray]] = ([], [], [])
        self._docs = 0
        self._units = 0

    def append(self, batch: BatchFeatures) -> None:
        """Keep ``batch``'s paragraph arrays, renumbered after those kept so far."""
        columns = {
            "u_doc": np.asarray(batch.unit_doc, dtype=np.int64) + self._docs,
            "u_start": batch.unit_start,
            "u_end": batch.unit_end,
            "elig": np.asarray(batch.eligible, dtype=np.int64) + self._units,
        }
        for name, values in columns.items():
            self._stores[name].append(np.asarray(values, dtype=np.int64).reshape(-1, 1))
        self._exact.append(np.asarray(batch.eligible_exact, dtype=np.uint64).reshape(-1, 1))
        self._within[0].append(batch.repeat_earlier.astype(np.int64) + self._units)
        self._within[1].append(batch.repeat_later.astype(np.int64) + self._units)
        self._within[2].append(batch.repeat_jaccard)
        self._docs += len(batch.doc_tokens)
        self._units += len(batch.unit_doc)

    def arrays(self) -> dict[str, np.ndarray]:
        """The arrays (1-D, in memory or mapped from the files), once, when pass one ends."""
        arrays = {name: store.array(1).reshape(-1) for name, store in self._stores.items()}
        arrays["e_exact"] = self._exact.array(1).reshape(-1)
        return arrays

    def units(self, arrays: dict[str, np.ndarray], e_sigs: np.ndarray) -> _Units:
        """The :class:`_Units` of :meth:`arrays` and the eligible paragraphs' signatures."""
        names = ("u_doc", "u_start", "u_end", "elig", "e_exact")
        u_doc, u_start, u_end, elig, e_exact = (arrays[name] for name in names)
        return _units_of(
            (u_doc, u_start, u_end, elig, e_exact, e_sigs),
            self._docs,
            self._within,
            self._budget.empty,
        )

    def close(self) -> None:
        """Close the stores' files (after an error)."""
        for store in (*self._stores.values(), self._exact):
            store.close()


def _gather_units(
    batches: list[BatchFeatures],
    num_perm: int,
    budget: ArrayBudget | None = None,
    stored: np.ndarray | None = None,
) -> _Units:
    """Concatenate the batches' paragraph arrays, renumbering documents and units globally.
    Consumes ``batches``: each is removed from the list once its arrays are copied, so only
    one batch's are held twice. ``stored``: the signatures, already gathered (a
    :class:`~dedupe.budget.RowStore`'s array); the batches' are then empty. The arrays are
    filled in place (no list of parts beside the whole), from ``budget`` where one is given."""

    def empty(shape: tuple[int, ...], dtype: type) -> np.ndarray:
        return np.empty(shape, dtype) if budget is None else budget.empty(shape, dtype)

    num_units = sum(len(b.unit_doc) for b in batches)
    num_eligible = sum(len(b.eligible) for b in batches)
    u_doc, u_start, u_end = (empty((num_units,), np.int64) for _ in range(3))
    elig = empty((num_eligible,), np.int64)
    e_exact = empty((num_eligible,), np.uint64)
    rep_a, rep_b, rep_j = [], [], []
    doc_offset = unit_offset = elig_offset = 0
    # Width 0 where the signatures stay in a cluster's partitions (features.without_signatures).
    width = batches[0].eligible_signatures.shape[1] if batches else num_perm
    e_sigs = stored if stored is not None else empty((num_eligible, width), np.uint32)
    batches.reverse()  # popped from the end, in order
    while batches:
        batch = batches.pop()
        units = slice(unit_offset, unit_offset + len(batch.unit_doc))
        eligible = slice(elig_offset, elig_offset + len(batch.eligible))
        # Offsets are added in the int64 destination: a batch's own arrays may be int32.
        u_doc[units] = batch.unit_doc
        u_doc[units] += doc_offset
        u_start[units] = batch.unit_start
        u_end[units] = batch.unit_end
        elig[eligible] = batch.eligible
        elig[eligible] += unit_offset
        e_exact[eligible] = batch.eligible_exact
        if stored is None:
            e_sigs[eligible] = batch.eligible_signatures
        rep_a.append(batch.repeat_earlier.astype(np.int64) + unit_offset)
        rep_b.append(batch.repeat_later.astype(np.int64) + unit_offset)
        rep_j.append(batch.repeat_jaccard)
        doc_offset += len(batch.doc_tokens)
        unit_offset += len(batch.unit_doc)
        elig_offset += len(batch.eligible)
        del batch
        if len(batches) % TRIM_EVERY_BATCHES == 0:
            release_free_memory()  # the freed batches, before the copies outgrow them
    return _units_of(
        (u_doc, u_start, u_end, elig, e_exact, e_sigs), doc_offset, (rep_a, rep_b, rep_j), empty
    )


def _units_of(
    arrays: tuple[I64, I64, I64, I64, np.ndarray, np.ndarray],
    docs: int,
    within: tuple[list[I64], list[I64], list[np.ndarray]],
    empty: Callable[[tuple[int, ...], type], np.ndarray],
) -> _Units:
    """The :class:`_Units` of the scan-numbered ``arrays`` (``u_doc``, ``u_start``, ``u_end``,
    ``elig``, ``e_exact``, ``e_sigs``) of ``docs`` documents and the ``within``-document
    repeats in unit numbers (earlier, later, Jaccard; parts), ``e_doc`` made by ``empty``."""
    u_doc, u_start, u_end, elig, e_exact, e_sigs = arrays
    e_doc = empty((len(elig),), np.int64)
    np.take(u_doc, elig, out=e_doc, mode="clip")  # valid indices; "raise" copies through a buffer
    # Repeats are eligible units, and ``elig`` ascends: their eligible numbers are a search.
    return _Units(
        u_doc=u_doc,
        u_start=u_start,
        u_end=u_end,
        doc_first_unit=np.searchsorted(u_doc, np.arange(docs)),
        elig=elig,
        e_doc=e_doc,
        e_exact=e_exact,
        e_sigs=e_sigs,
        within_a=np.searchsorted(elig, _concat(within[0], np.int64)),
        within_b=np.searchsorted(elig, _concat(within[1], np.int64)),
        within_j=_concat(within[2], np.float64),
    )


#: Members :func:`_member_similarity` looks up at a time: its temporaries (pair codes, the pairs
#: to estimate, their values) are then a few arrays of this many, not of every member's (x100:
#: 6.4 million paragraph members, ~350 MB at once).
SIMILARITY_CHUNK = 1 << 20


def _member_similarity(
    members: I64,
    keeper: I64,
    within: tuple[I64, I64, np.ndarray],
    signatures: SignatureSet,
) -> np.ndarray:
    """Similarity of each member with its keeper as its code (:func:`similarity_codes`): 1.0
    for the keeper, the exact Jaccard where the pair is a known within-document repeat
    ``within = (earlier, later, jaccard)``, else the signature estimate, a chunk of members at
    a time (one call per member took 7.9 s at x10). Codes, 2 bytes a member, rather than the
    float64 similarities: x100's 6 million paragraph members held 48 MB of them from here
    until clusters.jsonl was written."""
    similarity = np.full(len(members), SIMILARITY_SCALE, dtype=np.uint16)
    others = np.flatnonzero(members != keeper)
    if len(others) == 0:
        return similarity
    earlier, later, jaccard = within
    # Pair codes a * width + b: width above every index in play.
    width = np.int64(max(int(members.max()), int(later.max(initial=0))) + 1)
    within_codes = earlier * width + later
    order = np.argsort(within_codes, kind="stable")
    sorted_codes = within_codes[order]
    del within_codes
    for begin in range(0, len(others), SIMILARITY_CHUNK):
        chunk = others[begin : begin + SIMILARITY_CHUNK]
        kept, member = keeper[chunk], members[chunk]
        codes = kept * width + member
        at = index_in_sorted(sorted_codes, codes)
        exact = at >= 0
        values = np.empty(len(chunk), dtype=np.float64)
        values[exact] = jaccard[order[at[exact]]]
        estimate = ~exact
        values[estimate] = signatures.jaccard(np.stack([kept[estimate], member[estimate]], axis=1))
        similarity[chunk] = similarity_codes(values)
    return similarity


def rule_names(codes: np.ndarray) -> list[str]:
    """The names (:data:`~dedupe.result.RULES`) of an array of rule codes, in one lookup."""
    names: list[str] = np.asarray(RULES, dtype=object)[codes].tolist()
    return names


def _document_table(
    members: I64,
    kept: I64,
    similarity: np.ndarray,
    rules: np.ndarray,
    positions: I64,
    ids: Sequence[str],
) -> ClusterTable:
    """The document clusters: ``members`` (removed documents, grouped by their keeper ``kept``
    in ascending order, ascending inside) with their similarity and rule codes, each group's
    keeper put in a slot before it.

    >>> table = _document_table(np.array([1, 4, 3]), np.array([0, 0, 2]),
    ...     np.array([9000, 8000, 10000], dtype=np.uint16), np.array([1, 1, 2], dtype=np.uint8),
    ...     np.arange(5) * 10, ["a", "b", "c", "d", "e"])
    >>> list(table.bounds), table.positions.tolist(), list(table.doc_ids)
    ([0, 3, 5], [0, 10, 40, 20, 30], ['a', 'b', 'e', 'c', 'd'])
    >>> list(table.similarities), list(table.rules)
    ([1.0, 0.9, 0.8, 1.0, 1.0], ['kept', 'exact', 'exact', 'kept', 'near-duplicate'])
    """
    first = first_of_runs(kept)
    slots = np.arange(len(members)) + np.cumsum(first)
    heads = np.flatnonzero(first)
    keeper_slots = heads + np.arange(len(heads))
    total = len(members) + len(heads)
    order = np.empty(total, dtype=np.int64)
    order[slots], order[keeper_slots] = members, kept[heads]
    codes = np.full(total, SIMILARITY_SCALE, dtype=np.uint16)
    codes[slots] = similarity
    rule_codes = np.full(total, RULE_CODE["kept"], dtype=np.uint8)
    rule_codes[slots] = rules
    return ClusterTable(
        "document",
        packed_ints(np.r_[keeper_slots, total]),
        positions[order],
        CodedColumn(order, ids),
        similarity_column(codes),
        rules=CodedColumn(rule_codes, RULES),
    )


def _document_rules(
    docs: DocumentArrays,
    keeper: np.ndarray,
    members: I64,
    similarity: np.ndarray,
    config: ScanConfig,
) -> np.ndarray:
    """Why each removed document goes, as rule codes (:data:`~dedupe.result.RULES`): "exact"
    when its normalised tokens hash like its keeper's, "containment" when only containment
    (below the Jaccard threshold) can have linked it, else "near-duplicate" (a verified link,
    possibly through other members)."""
    codes = np.full(len(members), RULE_CODE["near-duplicate"], dtype=np.uint8)
    if config.measure == "containment":
        codes[similarity < config.threshold] = RULE_CODE["containment"]
    codes[docs.exact[members] == docs.exact[keeper[members]]] = RULE_CODE["exact"]
    return codes


def _paragraph_rules(
    members: I64, keeper: I64, starts: I64, e_doc: I64, within_later: I64, min_docs: int
) -> np.ndarray:
    """Rule codes of paragraph cluster members (grouped by component ``keeper``):
    "repeated-paragraph" for the later copy of a repeat inside its document, "boilerplate" for
    every other member of a component in ``min_docs`` or more documents (as
    :func:`_drop_boilerplate` removes them), "kept" for the rest."""
    codes = np.full(len(members), RULE_CODE["kept"], dtype=np.uint8)
    if len(members) == 0:
        return codes
    if min_docs:
        codes[_spread_over(members, keeper, starts, e_doc, min_docs)] = RULE_CODE["boilerplate"]
    later = sorted_unique(within_later)
    for begin, found in _found_in(members, later):
        codes[begin + np.flatnonzero(found >= 0)] = RULE_CODE["repeated-paragraph"]
    return codes


def _spread_over(members: I64, keeper: I64, starts: I64, e_doc: I64, min_docs: int) -> np.ndarray:
    """Whether each member's component (a run of equal ``keeper``, beginning at ``starts``)
    spans ``min_docs`` or more distinct documents, counted :data:`PAIR_CHUNK` members at a
    time (whole components): the (component, document) codes of every member at once were
    ~400 MB of temporaries at x100.

    >>> docs, keeper = np.array([0, 1, 1, 2, 5]), np.array([0, 0, 0, 3, 3])
    >>> starts = np.array([0, 3])
    >>> _spread_over(np.arange(5), keeper, starts, docs, 2).tolist()
    [True, True, True, True, True]
    >>> _spread_over(np.arange(5), keeper, starts, docs, 3).tolist()
    [False, False, False, False, False]
    """
    spread = np.zeros(len(members), dtype=np.bool_)
    width = np.int64(int(e_doc.max(initial=0)) + 1)
    begin = 0
    while begin < len(members):
        # To the start of the first component at or after a chunk's length.
        at = int(np.searchsorted(starts, begin + PAIR_CHUNK))
        end = int(starts[at]) if at < len(starts) else len(members)
        component = np.cumsum(first_of_runs(keeper[begin:end])) - 1
        distinct = sorted_unique(component * width + e_doc[members[begin:end]])
        documents = np.bincount(distinct // width, minlength=int(component[-1]) + 1)
        spread[begin:end] = documents[component] >= min_docs
        begin = end
    return spread


def _found_in(values: I64, sorted_keys: I64) -> Iterator[tuple[int, I64]]:
    """For each chunk of :data:`PAIR_CHUNK` ``values``: its first index and, for each value, its
    index in ``sorted_keys`` (distinct, ascending) or -1. Looked up a chunk at a time: the
    temporaries of a lookup of every member at once (x100: 6 million paragraph members, an
    ``np.isin`` or a search of each) were the paragraph stage's peak as its table was made.

    >>> [(b, f.tolist()) for b, f in _found_in(np.array([4, 1, 9, 2]), np.array([1, 2, 3]))]
    [(0, [-1, 0, -1, 1])]
    """
    for begin in range(0, len(values), PAIR_CHUNK):
        yield begin, index_in_sorted(sorted_keys, values[begin : begin + PAIR_CHUNK])


def _repeated_paragraphs(members: I64, within_a: I64, within_b: I64, units: _Units) -> CodedColumn:
    """For each member that repeats an earlier paragraph of its document (``within_b``), the
    index in the document of the earliest paragraph it repeats (``within_a``); None for the rest.
    """
    # Code 0 for None, 1 + the index otherwise.
    repeats: np.ndarray = np.zeros(len(members), dtype=index_dtype(len(units.u_doc) + 1))
    if len(within_b) and len(members):
        order = np.lexsort((within_a, within_b))
        later, earlier = within_b[order], within_a[order]
        first = np.r_[True, later[1:] != later[:-1]]
        later, earlier = later[first], earlier[first]
        for begin, found in _found_in(members, later):
            hit = np.flatnonzero(found >= 0)
            index = units.index_in_document(units.elig[earlier[found[hit]]])
            repeats[begin + hit] = index + 1
    largest = int(repeats.max()) - 1 if len(repeats) else -1
    return CodedColumn(repeats, [None, *range(largest + 1)])


def similarity_codes(values: np.ndarray) -> np.ndarray:
    """The code (uint16, :func:`~dedupe.result.similarity_column`) of ``round(v, 4)`` for each
    similarity ``v`` in [0, 1], each distinct value rounded once: estimates take at most
    num_perm + 1 values, so a million similarities need a few dozen rounds.

    >>> similarity_codes(np.array([0.123449, 0.5, 2 / 3, 0.5, 1.0])).tolist()
    [1234, 5000, 6667, 5000, 10000]
    """
    distinct, inverse = np.unique(values, return_inverse=True)
    rounded = np.array([round(value, 4) for value in distinct.tolist()], dtype=np.float64)
    codes = np.rint(rounded * SIMILARITY_SCALE).astype(np.uint16)
    return codes[inverse.reshape(-1)]


def analyse(
    items: Iterable[Record | Skipped],
    config: ScanConfig,
    progress: Progress | None = None,
    jobs: int = 1,
    memory: int | None = None,
    on_stage: Callable[[str], None] | None = None,
    before_linking: BeforeLinking | None = None,
) -> PassOne:
    """Pass one over ``items``: every record gets a verdict or a skip; returns the analysis and
    the cluster drafts. Raises :class:`InputError` on the first bad record if ``config.strict``.
    ``jobs`` worker processes sign the batches; the result does not depend on it. Signatures
    beyond ``memory`` bytes (default :data:`~dedupe.budget.DEFAULT_MEMORY`) are held in
    temporary files (:mod:`dedupe.budget`). ``on_stage("linking")`` is called when the input
    has been read, before the last batches are collected and the graphs are linked, and
    ``on_stage("linking paragraphs")`` when the documents are; ``before_linking`` once the
    batches are collected (see :meth:`Scanner.finish`)."""
    scanner = Scanner(config, jobs, DEFAULT_MEMORY if memory is None else memory)
    characters = 0
    try:
        for item in items:
            scanner.add(item)
            if isinstance(item, Record):
                characters += len(item.text)
            if progress is not None and scanner.analysis.stats.records_read % 500 == 0:
                progress(scanner.analysis.stats.records_read, characters)
        if progress is not None:
            progress(scanner.analysis.stats.records_read, characters)
        if on_stage is not None:
            on_stage("linking")
        result = scanner.finish(before_linking, on_stage)
    finally:
        scanner.close()
    return result
