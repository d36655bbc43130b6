"""A persistent "seen this before?" index: one article at a time, the same decisions as ``scan``.

Each record is featurised exactly as a one-record batch of ``scan`` (signed without its own
repeated paragraphs), its LSH band keys are looked up in the store, and every record sharing a key
is verified on the full signature with scan's rule (estimated Jaccard at or above the threshold,
or containment in containment mode). A band collision alone never makes a duplicate.

The index keeps scan's clusters: every record stores the seq of its cluster's original (the
earliest added member, scan's keep-first rule). A record matching several clusters joins them
and the earliest original wins, so after any sequence of adds and removes the stored originals
are those ``scan`` gives on the live records in the order they were added. What ``check``
answered earlier is not revised: if C was new and a later B joins C's cluster to A's, C's stored
original becomes A, as in scan, but C's verdict was "new" when it arrived.

>>> with Index(":memory:") as index:
...     index.check_and_add("a", "The cat sat on the mat today.").status
...     verdict = index.check_and_add("b", "The cat sat on the mat today!")
...     verdict.status, verdict.duplicate_of, verdict.similarity
'new'
('duplicate', 'a', 1.0)
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, fields
from functools import partial
from pathlib import Path
from types import TracebackType
from typing import Any, Literal, TypeVar

import numpy as np
import numpy.typing as npt

from dedupe.config import CONTAINMENT_MIN_RATIO, ScanConfig
from dedupe.core.clean import remove_spans
from dedupe.core.cluster import connected_components
from dedupe.core.features import featurise
from dedupe.core.lsh import band_keys, choose_bands, pairs_sharing_keys
from dedupe.core.normalise import NORMALISATION_VERSION
from dedupe.core.segment import drop_spans
from dedupe.core.signature import permutations
from dedupe.core.verify import estimated_containment, estimated_jaccard
from dedupe.errors import ConfigError, InputError, RecordExistsError
from dedupe.storage import Conflict, Store, StoredDocument, Transaction, open_store

#: Bumped when the stored layout or the meaning of a stored value changes.
INDEX_FORMAT = 1

#: Records featurised and written per transaction by the batch methods: featurising 500 news
#: articles at once costs about a tenth per article of featurising them one by one.
BATCH_RECORDS = 500

# Parameters that change what is stored or decided; the index refuses to open with others.
_COMPARED = (
    "format",
    "normalisation_version",
    "shingle",
    "num_perm",
    "seed",
    "lsh_bands",
    "lsh_rows",
    "threshold",
    "measure",
    "containment_threshold",
    "min_candidate_probability",
    "paragraphs",
    "min_paragraph_words",
    "paragraph_ngram",
    "paragraph_threshold",
    "paragraph_containment",
    "paragraph_num_perm",
    "keep",
)

Status = Literal["new", "duplicate"]
T = TypeVar("T")
U32 = npt.NDArray[np.uint32]


@dataclass(frozen=True, slots=True)
class IndexVerdict:
    """The answer for one record.

    ``status`` "duplicate": the record is a near-duplicate of indexed records; ``duplicate_of``
    is the original of their cluster (the earliest added) and ``similarity`` the estimated
    Jaccard similarity with it, as ``scan`` reports them; ``nearest`` is the most similar
    verified match and ``nearest_similarity`` its similarity. ``text`` is the record without its
    repeated paragraphs (sliced from the input; ``removed_paragraphs`` are their 0-based
    indices, ``drop_spans`` the character spans cut). ``added``: whether it is now indexed.
    """

    id: str
    status: Status
    duplicate_of: str | None
    similarity: float | None
    nearest: str | None
    nearest_similarity: float | None
    text: str
    removed_paragraphs: tuple[int, ...]
    drop_spans: tuple[tuple[int, int], ...]
    added: bool


@dataclass(frozen=True, slots=True)
class IndexStats:
    """Counts and size of an index."""

    location: str
    records: int
    originals: int
    duplicates: int
    bytes_on_disk: int
    parameters: dict[str, Any]

    def as_dict(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.__slots__}  # type: ignore[attr-defined]


@dataclass(frozen=True, slots=True)
class _Prepared:
    """A record's features, computed before any transaction (signing is the slow part)."""

    id: str
    text: str
    signature: U32
    size: int
    keys: tuple[int, ...]
    drop_spans: tuple[tuple[int, int], ...]
    removed_paragraphs: tuple[int, ...]


def index_parameters(config: ScanConfig) -> dict[str, Any]:
    """What an index stores about how it was built: the config, the LSH bands, the versions."""
    bands, rows = choose_bands(
        config.candidate_threshold, config.num_perm, config.min_candidate_probability
    )
    out = config.as_dict()
    out.pop("strict")
    out.pop("verify")  # always by estimate ("exact" is refused)
    out.update(
        format=INDEX_FORMAT,
        normalisation_version=NORMALISATION_VERSION,
        lsh_bands=bands,
        lsh_rows=rows,
    )
    return out


def config_from_parameters(parameters: dict[str, Any]) -> ScanConfig:
    names = {f.name for f in fields(ScanConfig)}
    return ScanConfig(**{k: v for k, v in parameters.items() if k in names})


def _refuse_unsupported(config: ScanConfig) -> None:
    if config.keep_rule != "first":
        raise ConfigError(
            f"an index keeps the earliest added record of a cluster, not the {config.keep_rule}: "
            "it cannot take back an answer it gave; use keep='first'"
        )
    if config.boilerplate_min_docs:
        raise ConfigError(
            "an index does not remove cross-document boilerplate "
            f"(boilerplate_min_docs={config.boilerplate_min_docs}); use 0"
        )
    if config.verify == "exact":
        raise ConfigError(
            "an index verifies on the signatures it stores, not on exact shingle sets "
            f"(verify={config.verify!r}); use 'estimate' or 'auto'"
        )


def _mismatch(location: str, stored: dict[str, Any], wanted: dict[str, Any]) -> ConfigError:
    differ = [name for name in _COMPARED if stored.get(name) != wanted.get(name)]
    was = ", ".join(f"{name}={stored.get(name)!r}" for name in differ)
    asked = ", ".join(f"{name}={wanted.get(name)!r}" for name in differ)
    return ConfigError(
        f"index {location} was built with {was}, not {asked}; open it without parameters "
        "to use its own, or build a new index"
    )


def _refuse_other_versions(location: str, stored: dict[str, Any]) -> None:
    """An index built by a dedupe whose stored layout or comparison keys differ from this one's
    cannot be read by it (its signatures would not compare with a new text's), with or
    without parameters."""
    ours = {"format": INDEX_FORMAT, "normalisation_version": NORMALISATION_VERSION}
    differ = [name for name, value in ours.items() if stored.get(name) != value]
    if differ:
        was = ", ".join(f"{name}={stored.get(name)!r}" for name in differ)
        now = ", ".join(f"{name}={ours[name]!r}" for name in differ)
        raise ConfigError(
            f"index {location} was built by another version of dedupe ({was}; this one has "
            f"{now}): its signatures do not compare with this version's; build a new index "
            "from the same records"
        )


def folded_keys(signatures: U32, bands: int, rows: int) -> npt.NDArray[np.int64]:
    """Band keys as one signed 32-bit integer per (record, band), the band mixed in so that keys
    of different bands do not meet in one table. 32 bits keep a stored key at 4 bytes; at a
    million records a lookup of 32 keys meets an unrelated record by chance with probability
    32e6 / 2**32 = 0.7 %, and that record is then rejected by verification."""
    keys = band_keys(signatures, bands, rows)
    salts = (np.arange(1, bands + 1, dtype=np.uint64) * np.uint64(0xD6E8FEB86659FD93)).astype(
        np.uint64
    )
    top = ((keys ^ salts) >> np.uint64(32)).astype(np.int64)
    return top - np.int64(2**31)


def accepted(
    config: ScanConfig,
    similarity: npt.NDArray[np.float64],
    size_a: npt.ArrayLike,
    size_b: npt.ArrayLike,
) -> npt.NDArray[np.bool_]:
    """Scan's verification rule on candidate pairs with the given estimated Jaccard similarity
    (and, in containment mode, distinct shingle counts)."""
    accept = similarity >= config.threshold
    if config.measure == "containment":
        a = np.asarray(size_a, dtype=np.int64)
        b = np.asarray(size_b, dtype=np.int64)
        contained = estimated_containment(similarity, a, b)
        comparable = np.minimum(a, b) >= CONTAINMENT_MIN_RATIO * np.maximum(a, b)
        accept = accept | (comparable & (contained >= config.containment_threshold))
    return np.asarray(accept, dtype=np.bool_)


class Index:
    """A persistent, verified near-duplicate index at ``location``.

    ``location`` is a file path (an SQLite database, created if absent) or ``":memory:"`` for
    a throw-away index in a temporary file. A new index takes ``config`` (or ScanConfig
    ``**options``); an existing one uses the parameters it was built with and raises
    :class:`ConfigError` when given different ones. Safe to share between threads; several
    processes may open the same file at once.
    """

    def __init__(
        self, location: str | Path, config: ScanConfig | None = None, **options: Any
    ) -> None:
        if config is not None and options:
            raise ConfigError("give either config or options, not both")
        requested = config if config is not None or not options else ScanConfig(**options)
        self._tempdir = None
        if str(location) == ":memory:":
            import tempfile

            self._tempdir = tempfile.TemporaryDirectory(prefix="dedupe-index-")
            location = Path(self._tempdir.name) / "index.sqlite"
        if requested is not None:
            _refuse_unsupported(requested)
        self._store: Store = open_store(location)

        def settle(tx: Transaction) -> ScanConfig:
            stored = tx.parameters()
            if stored is None:
                chosen = requested or ScanConfig()
                tx.set_parameters(index_parameters(chosen))
                return chosen
            _refuse_other_versions(self._store.location, stored)
            if requested is not None:
                wanted = index_parameters(requested)
                if any(stored.get(n) != wanted.get(n) for n in _COMPARED):
                    raise _mismatch(self._store.location, stored, wanted)
            return config_from_parameters(stored)

        try:
            chosen = self._run(True, settle)
        except BaseException:
            self.close()
            raise
        self.config = chosen.resolved(exact=False)
        self.parameters = index_parameters(chosen)
        self.bands = int(self.parameters["lsh_bands"])
        self.rows = int(self.parameters["lsh_rows"])
        self._perms = permutations(chosen.num_perm, chosen.seed)

    def _run(self, writing: bool, body: Callable[[Transaction], T]) -> T:
        """``body`` in a read or write transaction, run again when an optimistic backend
        reports that another client committed in between (nothing of the attempt was kept)."""
        while True:
            try:
                with self._store.write() if writing else self._store.read() as tx:
                    result = body(tx)
                return result
            except Conflict:
                continue

    @property
    def location(self) -> str:
        return self._store.location

    # -- features ------------------------------------------------------------------------------
    def _prepare(self, records: Sequence[tuple[str, str]]) -> list[_Prepared]:
        for doc_id, text in records:
            if not isinstance(doc_id, str) or not isinstance(text, str):
                raise InputError(
                    self.location, None, f"record {doc_id!r}: id and text must be strings"
                )
            if not text.strip():
                raise InputError(self.location, None, f"record {doc_id!r}: empty text")
        if not records:
            return []
        texts = [text for _, text in records]
        features = featurise(texts, self.config, self._perms, lookup=True)
        keys = folded_keys(features.doc_signatures, self.bands, self.rows)
        first_unit = np.searchsorted(features.unit_doc, np.arange(len(texts) + 1))
        repeats: dict[int, set[int]] = {}
        for unit in features.repeat_later.tolist():
            repeats.setdefault(int(features.unit_doc[unit]), set()).add(int(unit))
        out = []
        for doc, (doc_id, text) in enumerate(records):
            first, last = int(first_unit[doc]), int(first_unit[doc + 1])
            local = sorted(unit - first for unit in repeats.get(doc, ()))
            spans: tuple[tuple[int, int], ...] = ()
            if local:
                units = list(
                    zip(
                        features.unit_start[first:last].tolist(),
                        features.unit_end[first:last].tolist(),
                        strict=True,
                    )
                )
                spans = tuple(drop_spans(len(text), units, local))
            comparable = features.doc_tokens[doc] > 0  # scan never compares a wordless record
            out.append(
                _Prepared(
                    doc_id,
                    text,
                    features.doc_signatures[doc].copy(),
                    int(features.doc_sizes[doc]),
                    tuple(keys[doc].tolist()) if comparable else (),
                    spans,
                    tuple(local),
                )
            )
        return out

    def _signatures(self, documents: Sequence[StoredDocument]) -> U32:
        raw = b"".join(d.signature for d in documents)
        return np.frombuffer(raw, dtype="<u4").reshape(len(documents), self.config.num_perm)

    # -- decisions -----------------------------------------------------------------------------
    def _decide(
        self, tx: Transaction, record: _Prepared, added: bool
    ) -> tuple[IndexVerdict, list[int]]:
        """The verdict for ``record`` against the store, and the roots of the clusters it
        matches (earliest first)."""
        candidates = [c for c in tx.sharing_keys(record.keys) if c.id != record.id]
        roots: list[int] = []
        verdict = IndexVerdict(
            record.id,
            "new",
            None,
            None,
            None,
            None,
            remove_spans(record.text, record.drop_spans),
            record.removed_paragraphs,
            record.drop_spans,
            added,
        )
        if not candidates:
            return verdict, roots
        signatures = self._signatures(candidates)
        similarity = (signatures == record.signature).mean(axis=1)
        sizes = [c.size for c in candidates]
        accept = accepted(self.config, similarity, [record.size] * len(candidates), sizes)
        if not accept.any():
            return verdict, roots
        matched = np.flatnonzero(accept)
        roots = sorted({candidates[int(i)].root for i in matched})
        by_seq = {c.seq: c for c in candidates}
        original = by_seq.get(roots[0]) or tx.by_seqs([roots[0]])[0]
        with_original = float((self._signatures([original])[0] == record.signature).mean())
        # The most similar match; ties go to the earliest added (candidates come by seq).
        nearest = int(matched[np.argmax(similarity[matched])])
        return (
            IndexVerdict(
                record.id,
                "duplicate",
                original.id,
                round(with_original, 4),
                candidates[nearest].id,
                round(float(similarity[nearest]), 4),
                verdict.text,
                verdict.removed_paragraphs,
                verdict.drop_spans,
                added,
            ),
            roots,
        )

    def _add(self, tx: Transaction, record: _Prepared) -> IndexVerdict:
        if tx.by_id(record.id) is not None:
            raise RecordExistsError(f"id {record.id!r} is already in index {self.location}")
        verdict, roots = self._decide(tx, record, added=True)
        original = roots[0] if roots else None
        for other in roots[1:]:
            tx.merge(other, roots[0])  # this record joins their clusters: the earliest wins
        tx.insert(record.id, original, record.size, record.signature.tobytes(), record.keys)
        return verdict

    def _check_all(self, tx: Transaction, records: list[_Prepared]) -> list[IndexVerdict]:
        return [self._decide(tx, record, added=False)[0] for record in records]

    def _add_all(self, tx: Transaction, records: list[_Prepared]) -> list[IndexVerdict]:
        return [self._add(tx, record) for record in records]

    def _regroup(self, members: list[StoredDocument]) -> list[tuple[int, int | None]]:
        """New keepers for what is left of a cluster after a removal: its members' verified
        links again, connected components, the earliest of each component kept."""
        signatures = self._signatures(members)
        keys = folded_keys(signatures, self.bands, self.rows)
        pairs = pairs_sharing_keys(keys.view(np.uint64))
        sizes = np.array([m.size for m in members], dtype=np.int64)
        similarity = estimated_jaccard(signatures, pairs)
        links = pairs[accepted(self.config, similarity, sizes[pairs[:, 0]], sizes[pairs[:, 1]])]
        labels = connected_components(len(members), links)
        changed = []
        for i, member in enumerate(members):
            root = int(labels[i])
            keeper = None if root == i else members[root].seq
            if keeper != member.keeper:
                changed.append((member.seq, keeper))
        return changed

    # -- public operations ---------------------------------------------------------------------
    def check(self, doc_id: str, text: str) -> IndexVerdict:
        """Is ``text`` a near-duplicate of an indexed record? Changes nothing. A record already
        indexed under ``doc_id`` is left out of the comparison."""
        (record,) = self._prepare([(doc_id, text)])
        return self._run(False, lambda tx: self._decide(tx, record, added=False)[0])

    def check_and_add(self, doc_id: str, text: str) -> IndexVerdict:
        """Check ``text`` and add it, in one atomic step: no other thread or process can add
        between the check and the add. Raises :class:`RecordExistsError` for an indexed id."""
        (record,) = self._prepare([(doc_id, text)])
        return self._run(True, lambda tx: self._add(tx, record))

    def add(self, doc_id: str, text: str) -> IndexVerdict:
        """Add a record (a duplicate too: it joins its original's cluster). The same as
        :meth:`check_and_add`; the verdict tells what it was found to be."""
        return self.check_and_add(doc_id, text)

    def check_many(self, records: Iterable[tuple[str, str]]) -> Iterator[IndexVerdict]:
        """:meth:`check` for each ``(id, text)``, against the index as it is (records in the
        same batch are not compared with each other)."""
        for batch in _batches(records):
            prepared = self._prepare(batch)
            yield from self._run(False, partial(self._check_all, records=prepared))

    def check_and_add_many(self, records: Iterable[tuple[str, str]]) -> Iterator[IndexVerdict]:
        """:meth:`check_and_add` for each ``(id, text)`` in order, :data:`BATCH_RECORDS` to a
        transaction: a batch is added whole or not at all (a RecordExistsError rolls back its
        batch; earlier batches stay)."""
        for batch in _batches(records):
            prepared = self._prepare(batch)
            yield from self._run(True, partial(self._add_all, records=prepared))

    def add_many(self, records: Iterable[tuple[str, str]]) -> list[IndexVerdict]:
        return list(self.check_and_add_many(records))

    def remove(self, doc_id: str) -> bool:
        """Remove a record; False if it was not indexed. Its cluster is regrouped without it,
        as ``scan`` would group the records left."""

        def remove(tx: Transaction) -> bool:
            found = tx.by_id(doc_id)
            if found is None:
                return False
            members = [m for m in tx.members(found.root) if m.seq != found.seq]
            keys = folded_keys(self._signatures([found]), self.bands, self.rows)[0]
            tx.delete(found.seq, keys.tolist())
            if members:
                tx.set_keepers(self._regroup(members))
            return True

        return self._run(True, remove)

    def remove_many(self, doc_ids: Iterable[str]) -> int:
        """Remove each id; returns how many were indexed."""
        return sum(self.remove(doc_id) for doc_id in doc_ids)

    def originals(self, doc_ids: Sequence[str]) -> dict[str, str | None]:
        """For each indexed id among ``doc_ids``: the id of its cluster's original, None for an
        original. These are the clusters ``scan`` forms on the indexed records in added order."""

        def read(tx: Transaction) -> tuple[list[StoredDocument], dict[int, str]]:
            found = tx.by_ids(list(doc_ids))
            roots = {d.keeper for d in found if d.keeper is not None}
            return found, {d.seq: d.id for d in tx.by_seqs(roots)}

        found, root_ids = self._run(False, read)
        return {d.id: None if d.keeper is None else root_ids[d.keeper] for d in found}

    def similarity(self, doc_id: str, other_id: str) -> float:
        """Estimated Jaccard similarity of two indexed records (as scan reports it)."""
        found = self._run(False, lambda tx: tx.by_ids([doc_id, other_id]))
        if len({d.id for d in found}) < len({doc_id, other_id}):
            missing = sorted({doc_id, other_id} - {d.id for d in found})
            raise KeyError(f"not in index {self.location}: {', '.join(missing)}")
        signatures = self._signatures(found)
        return round(float((signatures[0] == signatures[-1]).mean()), 4)

    def __contains__(self, doc_id: object) -> bool:
        if not isinstance(doc_id, str):
            return False
        return self._run(False, lambda tx: tx.by_id(doc_id) is not None)

    def __len__(self) -> int:
        return self._run(False, lambda tx: tx.counts()[0])

    def stats(self) -> IndexStats:
        records, originals = self._run(False, lambda tx: tx.counts())
        return IndexStats(
            self.location,
            records,
            originals,
            records - originals,
            self._store.size_bytes(),
            dict(self.parameters),
        )

    def close(self) -> None:
        store = getattr(self, "_store", None)
        if store is not None:
            store.close()
        if self._tempdir is not None:
            self._tempdir.cleanup()
            self._tempdir = None

    def __enter__(self) -> Index:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.close()


def _batches(records: Iterable[tuple[str, str]]) -> Iterator[list[tuple[str, str]]]:
    batch: list[tuple[str, str]] = []
    for record in records:
        batch.append(record)
        if len(batch) >= BATCH_RECORDS:
            yield batch
            batch = []
    if batch:
        yield batch
