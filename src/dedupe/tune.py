"""Choosing the threshold and the shingle from a user's own labelled pairs (``dedupe tune``).

Signing is the costly step and depends only on the shingle and the number of permutations, so
each (shingle, num_perm) is signed once by the scan's own :class:`~dedupe.pipeline.Scanner`, and
every threshold is then linked from those signatures by the scan's own functions
(:func:`~dedupe.pipeline.exact_links`, :func:`~dedupe.pipeline.lsh_candidates`,
:func:`~dedupe.pipeline.verified_mask`, connected components). The clusters at each setting
are therefore exactly those of ``dedupe.scan(..., paragraphs=False)`` at that setting (with
paragraphs on, a scan compares a document without its own repeated paragraphs, which changes
nothing for a document that repeats none). LSH candidates depend on the bands alone, and the
bands change only every few threshold steps, so they are computed once per choice of bands.

Scores follow ``benchmarks/quality.py``, restricted to the labelled pairs: a pair is predicted
when both records land in one document cluster; a labelled duplicate predicted is found, one not
predicted is missed; a labelled non-duplicate predicted is a false pair.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import numpy.typing as npt

from dedupe.api import as_record
from dedupe.config import CONTAINMENT_MIN_RATIO, Measure, ScanConfig, ShingleSpec
from dedupe.core.cluster import connected_components
from dedupe.core.lsh import LocalSignatures, choose_bands
from dedupe.core.shingle import I64
from dedupe.core.verify import estimated_containment
from dedupe.errors import ConfigError, InputError
from dedupe.labels import LIBRARY_ORIGIN, LabelledPair
from dedupe.pipeline import (
    DocumentArrays,
    Scanner,
    exact_links,
    lsh_candidates,
    verified_mask,
)
from dedupe.records import Origin, Record, Skipped
from dedupe.set_spool import ExactlyVerified, SetSpool

__all__ = [
    "DEFAULT_MIN_PRECISION",
    "DEFAULT_SHINGLES",
    "DEFAULT_THRESHOLDS",
    "DISTRIBUTION_FLOOR",
    "Bin",
    "SignedCorpus",
    "SimilarityDistribution",
    "TuneResult",
    "TuneRow",
    "histogram",
    "parse_thresholds",
    "recommend",
    "sign_corpus",
    "tune",
]

F64 = npt.NDArray[np.float64]

#: 0.30 .. 0.95: below 0.3 word-shingle Jaccard no longer tells copies from articles on one
#: story (real same-story pairs reach 0.5 on the news benchmark); 1.0 is exact copies only.
DEFAULT_THRESHOLDS = tuple(round(0.3 + 0.05 * step, 2) for step in range(14))
#: The shingles the quality benchmark found worth comparing: short word n-grams forgive more
#: edits, long ones fewer shared phrases; char:5 suits text without spaces.
DEFAULT_SHINGLES = ("word:3", "word:5", "word:7", "char:5")
DEFAULT_NUM_PERMS = (ScanConfig().num_perm,)
#: One false pair in 200 found pairs: what the defaults kept on the labelled news (none in 20
#: runs), loose enough that one doubtful label does not rule out every setting.
DEFAULT_MIN_PRECISION = 0.995
#: Without labels, candidate pairs are drawn at this Jaccard similarity and above: low enough to
#: show the whole slope between unrelated documents and copies.
DISTRIBUTION_FLOOR = 0.3
#: Thresholds whose pair counts an unlabelled distribution reports.
COMMON_THRESHOLDS = (0.5, 0.6, 0.7, 0.8, 0.9)
HISTOGRAM_STEP = 0.05


# --- parsing options -----------------------------------------------------------------------


def parse_thresholds(text: str) -> tuple[float, ...]:
    """Thresholds from a comma-separated list or a ``FROM:TO:STEP`` range (both ends included).

    >>> parse_thresholds("0.5:0.7:0.1")
    (0.5, 0.6, 0.7)
    >>> parse_thresholds("0.8, 0.6")
    (0.6, 0.8)
    """
    text = text.strip()
    try:
        if ":" in text:
            start, stop, step = (float(part) for part in text.split(":"))
            if step <= 0 or stop < start:
                raise ConfigError(
                    f"thresholds {text!r}: FROM:TO:STEP needs FROM <= TO and STEP > 0"
                )
            count = math.floor((stop - start) / step + 1e-9) + 1
            values = [round(start + step * i, 6) for i in range(count)]
        else:
            values = [float(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise ConfigError(
            f"thresholds {text!r} are not numbers; give 0.5,0.6,0.7 or FROM:TO:STEP (0.3:0.95:0.05)"
        ) from None
    if not values:
        raise ConfigError("no thresholds given")
    for value in values:
        if not 0.0 < value <= 1.0:
            raise ConfigError(f"threshold {value} is outside (0, 1]")
    return tuple(sorted(set(values)))


def _parse_shingles(shingles: Iterable[str | ShingleSpec]) -> tuple[ShingleSpec, ...]:
    specs = []
    for shingle in shingles:
        spec = shingle if isinstance(shingle, ShingleSpec) else ShingleSpec.parse(shingle)
        if spec not in specs:
            specs.append(spec)
    if not specs:
        raise ConfigError("no shingles given")
    return tuple(specs)


# --- one signing, linked at any threshold --------------------------------------------------


@dataclass(frozen=True, slots=True)
class Linked:
    """The document clusters at one threshold: a component label per scanned document."""

    components: I64
    bands: int
    rows: int
    candidate_pairs: int
    verified_pairs: int


@dataclass(slots=True)
class SignedCorpus:
    """A corpus signed once at one (shingle, num_perm): link it at any threshold. With exact
    verification (``config.verify``, the default) it holds the documents' shingle sets in a
    temporary file: close it (or use it as a context manager) when done."""

    config: ScanConfig
    ids: Sequence[str]
    docs: DocumentArrays
    records_read: int
    skipped: list[Skipped]
    sets: SetSpool | None = None
    _exact: tuple[I64, npt.NDArray[np.bool_]] | None = None
    _candidates: dict[tuple[int, int], I64] = field(default_factory=dict)
    _similarity: dict[tuple[int, int], F64] = field(default_factory=dict)
    _table: LocalSignatures | ExactlyVerified | None = None

    def __enter__(self) -> SignedCorpus:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Remove the shingle sets' file."""
        if self.sets is not None:
            self._table = None  # the map before the file
            self.sets.close()
            self.sets = None

    def similarity(self, pairs: I64) -> F64:
        """Jaccard similarity of each pair of documents as the scan decides it: exact from the
        shingle sets, or estimated from the signatures (``verify="estimate"``), by the
        scan's own signature sets."""
        if self._table is None:
            local = LocalSignatures(self.docs.signatures)
            self._table = local if self.sets is None else ExactlyVerified(local, *self.sets.sets())
        return self._table.jaccard(pairs)

    def setting(self, threshold: float) -> ScanConfig:
        """The scan configuration of this signing at ``threshold``."""
        return replace(self.config, threshold=threshold)

    def bands(self, threshold: float) -> tuple[int, int]:
        """The LSH bands and rows a scan at ``threshold`` uses (as the Scanner chooses them)."""
        cfg = self.setting(threshold)
        return choose_bands(cfg.candidate_threshold, cfg.num_perm, cfg.min_candidate_probability)

    def exact(self) -> tuple[I64, npt.NDArray[np.bool_]]:
        """Exact-duplicate links and the LSH representatives; the same at every threshold."""
        if self._exact is None:
            self._exact = exact_links(self.docs)
        return self._exact

    def candidates(self, bands: int, rows: int) -> I64:
        """LSH candidate pairs for these bands, computed once per choice of bands."""
        key = (bands, rows)
        if key not in self._candidates:
            _, representative = self.exact()
            self._candidates[key] = lsh_candidates(self.docs.signatures, representative, *key)
        return self._candidates[key]

    def link(self, threshold: float) -> Linked:
        """The document clusters a scan at ``threshold`` (paragraphs off) makes."""
        bands, rows = self.bands(threshold)
        exact_pairs, _ = self.exact()
        candidates = self.candidates(bands, rows)
        if (bands, rows) not in self._similarity:  # the same candidates at other thresholds
            self._similarity[bands, rows] = self.similarity(candidates)
        verified = candidates[
            verified_mask(
                self.docs, candidates, self.setting(threshold), self._similarity[bands, rows]
            )
        ]
        components = connected_components(len(self.ids), np.concatenate([exact_pairs, verified]))
        return Linked(components, bands, rows, len(candidates), len(verified))


def _reader(
    records: Iterable[Any], text_field: str, id_field: str
) -> Callable[[], Iterator[Record | Skipped]]:
    """A function that reads ``records`` again from the start at each call, turning library
    items into records as :func:`dedupe.scan` does. A re-iterable (a list, a
    :class:`~dedupe.readers.Source`) is read again each time, so a file is never held in
    memory; a one-shot iterator is kept in a list first."""
    if iter(records) is records:
        records = list(records)

    def read() -> Iterator[Record | Skipped]:
        # A reader numbers every line, skipped ones included, so a record's position is its
        # index here too, as it is for library items.
        for position, item in enumerate(records):
            yield (
                item
                if isinstance(item, Skipped)
                else as_record(item, position, text_field, id_field)
            )

    return read


def _sign(
    read: Callable[[], Iterator[Record | Skipped]], config: ScanConfig, jobs: int
) -> SignedCorpus:
    scanner = Scanner(config, jobs)
    try:
        for item in read():
            scanner.add(item)
        docs = scanner.signed_documents()
        sets = scanner.take_sets()
    finally:
        scanner.close()
    return SignedCorpus(
        config,
        scanner.ids,
        docs,
        scanner.analysis.stats.records_read,
        scanner.analysis.skipped,
        sets,
    )


def sign_corpus(
    records: Iterable[Any],
    config: ScanConfig | None = None,
    *,
    text_field: str = "text",
    id_field: str = "id",
    jobs: int = 1,
) -> SignedCorpus:
    """Sign ``records`` (anything :func:`dedupe.scan` takes) once at ``config``'s shingle and
    num_perm, paragraphs off, for linking at many thresholds with :meth:`SignedCorpus.link`.
    Verifying exactly (the default), it holds the shingle sets in a temporary file: use it as
    a context manager (``with sign_corpus(records) as signed: ...``) or close it."""
    cfg = replace(config or ScanConfig(), paragraphs=False).resolved()
    return _sign(_reader(records, text_field, id_field), cfg, jobs)


# --- scores and the recommendation ---------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TuneRow:
    """The scores of one setting over the labelled pairs. ``precision`` is None when the
    setting put no labelled pair in a cluster (nothing to be precise about)."""

    shingle: str
    num_perm: int
    threshold: float
    bands: int
    rows: int
    found: int
    false_pairs: int
    missed: int
    candidate_pairs: int
    verified_pairs: int

    @property
    def precision(self) -> float | None:
        predicted = self.found + self.false_pairs
        return self.found / predicted if predicted else None

    @property
    def recall(self) -> float:
        labelled = self.found + self.missed
        return self.found / labelled if labelled else 0.0

    @property
    def f1(self) -> float:
        precision, recall = self.precision, self.recall
        if not precision or not recall:
            return 0.0
        return 2 * precision * recall / (precision + recall)

    def as_dict(self) -> dict[str, Any]:
        precision = self.precision
        return {
            "shingle": self.shingle,
            "num_perm": self.num_perm,
            "threshold": self.threshold,
            "lsh_bands": self.bands,
            "lsh_rows": self.rows,
            "precision": None if precision is None else round(precision, 4),
            "recall": round(self.recall, 4),
            "f1": round(self.f1, 4),
            "duplicates_found": self.found,
            "duplicates_missed": self.missed,
            "false_pairs": self.false_pairs,
            "candidate_pairs": self.candidate_pairs,
            "verified_pairs": self.verified_pairs,
        }


def recommend(rows: Sequence[TuneRow], min_precision: float) -> tuple[TuneRow | None, bool]:
    """The setting to use and whether it reaches ``min_precision``.

    Among the rows with precision at least ``min_precision``, the highest recall; ties go to
    the higher threshold (further from the false pairs), then the higher precision, then the
    fewer permutations and the earlier row. When no row reaches the floor, the best F1 on the
    same ties, and False. None when no setting found any labelled duplicate.
    """
    order = {id(row): index for index, row in enumerate(rows)}

    def ties(row: TuneRow) -> tuple[float, float, int, int]:
        return (row.threshold, row.precision or 0.0, -row.num_perm, -order[id(row)])

    reaching = [r for r in rows if r.precision is not None and r.precision >= min_precision]
    reaching = [r for r in reaching if r.found > 0]
    if reaching:
        return max(reaching, key=lambda r: (r.recall, *ties(r))), True
    scored = [r for r in rows if r.f1 > 0]
    if not scored:
        return None, False
    return max(scored, key=lambda r: (r.f1, *ties(r))), False


# --- distributions of similarity -----------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Bin:
    low: float
    high: float
    count: int


def histogram(values: npt.ArrayLike, low: float, step: float = HISTOGRAM_STEP) -> list[Bin]:
    """Counts of ``values`` in bins of ``step`` from ``low`` to 1.0; the last bin holds 1.0.

    >>> [(b.low, b.count) for b in histogram([0.5, 0.52, 0.9, 1.0], 0.5, 0.25)]
    [(0.5, 2), (0.75, 2)]
    """
    data = np.asarray(values, dtype=np.float64)
    count = max(1, math.ceil((1.0 - low) / step - 1e-9))
    # The epsilon keeps a value like 0.55 in its own bin despite float rounding of (v-low)/step.
    index = np.floor((data[data >= low] - low) / step + 1e-9).astype(np.int64)
    counts = np.bincount(np.minimum(index, count - 1), minlength=count)
    return [
        Bin(round(low + step * i, 4), round(min(1.0, low + step * (i + 1)), 4), int(counts[i]))
        for i in range(count)
    ]


@dataclass(frozen=True, slots=True)
class SimilarityDistribution:
    """The Jaccard similarity (as the scan decides it: exact by default) of every LSH candidate
    pair at or above ``floor``, for a user without labels to see where their data splits.
    Exact duplicates (after normalisation) are linked before LSH and counted in
    ``exact_duplicates`` instead. ``containment`` (containment
    mode only): the share of the shorter document in the longer, for the pairs whose
    sizes are comparable enough for the scan to act on it."""

    shingle: str
    num_perm: int
    floor: float
    bands: int
    rows: int
    documents: int
    exact_duplicates: int
    jaccard: F64
    containment: F64 | None = None

    def at_least(self, thresholds: Sequence[float] = COMMON_THRESHOLDS) -> list[tuple[float, int]]:
        """The number of candidate pairs at or above each threshold."""
        return [(t, int(np.count_nonzero(self.jaccard >= t))) for t in thresholds]

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "shingle": self.shingle,
            "num_perm": self.num_perm,
            "floor": self.floor,
            "lsh_bands": self.bands,
            "lsh_rows": self.rows,
            "documents": self.documents,
            "exact_duplicates": self.exact_duplicates,
            "candidate_pairs": len(self.jaccard),
            "jaccard_histogram": [
                {"from": b.low, "to": b.high, "pairs": b.count}
                for b in histogram(self.jaccard, self.floor)
            ],
            "pairs_at_least": {str(t): n for t, n in self.at_least()},
        }
        if self.containment is not None:
            out["containment_histogram"] = [
                {"from": b.low, "to": b.high, "pairs": b.count}
                for b in histogram(self.containment, self.floor)
            ]
        return out


def distribution(signed: SignedCorpus, floor: float = DISTRIBUTION_FLOOR) -> SimilarityDistribution:
    """Candidate pairs of ``signed`` at the bands a scan at ``floor`` uses, and their
    similarities at or above it."""
    bands, rows = signed.bands(floor)
    exact_pairs, _ = signed.exact()
    candidates = signed.candidates(bands, rows)
    jaccard = signed.similarity(candidates)
    containment = None
    if signed.config.measure == "containment":
        sizes = signed.docs.sizes
        size_a, size_b = sizes[candidates[:, 0]], sizes[candidates[:, 1]]
        share = estimated_containment(jaccard, size_a, size_b)
        # As the scan's verification: only comparable sizes may be linked by containment.
        comparable = np.minimum(size_a, size_b) >= CONTAINMENT_MIN_RATIO * np.maximum(
            size_a, size_b
        )
        containment = np.sort(share[comparable & (share >= floor)])
    return SimilarityDistribution(
        shingle=str(signed.config.shingle),
        num_perm=signed.config.num_perm,
        floor=floor,
        bands=bands,
        rows=rows,
        documents=len(signed.ids),
        exact_duplicates=len(exact_pairs),
        jaccard=np.sort(jaccard[jaccard >= floor]),
        containment=containment,
    )


# --- the sweep -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class LabelSimilarities:
    """Jaccard similarity (as the scan decides it) of the labelled pairs at one (shingle,
    num_perm): what the S-curve plot draws the chosen bands over."""

    shingle: str
    num_perm: int
    duplicates: F64
    non_duplicates: F64


@dataclass(slots=True)
class TuneResult:
    """What :func:`tune` measured. With labels: one row per setting and the recommendation;
    without: one similarity distribution per (shingle, num_perm)."""

    config: ScanConfig
    min_precision: float
    records_read: int
    records_scanned: int
    skipped: list[Skipped]
    labelled_duplicates: int = 0
    labelled_non_duplicates: int = 0
    rows: list[TuneRow] = field(default_factory=list)
    recommendation: TuneRow | None = None
    floor_reached: bool = False
    similarities: list[LabelSimilarities] = field(default_factory=list)
    distributions: list[SimilarityDistribution] = field(default_factory=list)

    @property
    def labelled(self) -> bool:
        return bool(self.rows)

    def recommended_config(self) -> ScanConfig | None:
        """The scan configuration of the recommendation (paragraphs as the scan default)."""
        row = self.recommendation
        if row is None:
            return None
        return replace(
            self.config,
            threshold=row.threshold,
            shingle=ShingleSpec.parse(row.shingle),
            num_perm=row.num_perm,
            paragraphs=ScanConfig().paragraphs,
        )

    def similarities_of(self, row: TuneRow) -> LabelSimilarities | None:
        for found in self.similarities:
            if (found.shingle, found.num_perm) == (row.shingle, row.num_perm):
                return found
        return None

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "measure": self.config.measure,
            "containment_threshold": self.config.containment_threshold,
            "seed": self.config.seed,
            "min_candidate_probability": self.config.min_candidate_probability,
            "records_read": self.records_read,
            "records_scanned": self.records_scanned,
            "records_skipped": len(self.skipped),
            "skipped": [s.as_dict() for s in self.skipped],
        }
        if self.labelled:
            out.update(
                {
                    "min_precision": self.min_precision,
                    "labelled_duplicates": self.labelled_duplicates,
                    "labelled_non_duplicates": self.labelled_non_duplicates,
                    "recommendation": None
                    if self.recommendation is None
                    else {**self.recommendation.as_dict(), "floor_reached": self.floor_reached},
                    "rows": [row.as_dict() for row in self.rows],
                }
            )
        out["distributions"] = [d.as_dict() for d in self.distributions]
        return out


def _as_pairs(labels: Iterable[LabelledPair | tuple[str, str, bool]]) -> list[LabelledPair]:
    pairs = []
    for index, label in enumerate(labels):
        if isinstance(label, LabelledPair):
            pairs.append(label)
        else:
            id_a, id_b, is_duplicate = label
            origin = Origin(LIBRARY_ORIGIN.path, index + 1)
            pairs.append(LabelledPair(str(id_a), str(id_b), bool(is_duplicate), origin))
    if not any(pair.is_duplicate for pair in pairs):
        where = pairs[0].origin.path if pairs else LIBRARY_ORIGIN.path
        raise InputError(where, None, "no pair is labelled a duplicate; recall needs at least one")
    return pairs


def _label_indices(
    pairs: Sequence[LabelledPair], signed: SignedCorpus
) -> tuple[I64, I64, npt.NDArray[np.bool_]]:
    """Document indices of each labelled pair; an id not scanned is an InputError at its line."""
    index = {doc_id: i for i, doc_id in enumerate(signed.ids)}
    skipped = {s.id: s.reason for s in signed.skipped if s.id is not None}
    left, right = [], []
    for pair in pairs:
        for doc_id in (pair.id_a, pair.id_b):
            if doc_id not in index:
                reason = (
                    f"id {doc_id!r} is a skipped record ({skipped[doc_id]})"
                    if doc_id in skipped
                    else f"unknown id {doc_id!r}: no record in the corpus has it"
                )
                raise InputError(pair.origin.path, pair.origin.line, reason)
        left.append(index[pair.id_a])
        right.append(index[pair.id_b])
    positive = np.array([pair.is_duplicate for pair in pairs], dtype=bool)
    return np.array(left, dtype=np.int64), np.array(right, dtype=np.int64), positive


def _score(
    signed: SignedCorpus, threshold: float, left: I64, right: I64, positive: npt.NDArray[np.bool_]
) -> TuneRow:
    linked = signed.link(threshold)
    found = linked.components[left] == linked.components[right]
    true_pairs = int(np.count_nonzero(found & positive))
    return TuneRow(
        shingle=str(signed.config.shingle),
        num_perm=signed.config.num_perm,
        threshold=threshold,
        bands=linked.bands,
        rows=linked.rows,
        found=true_pairs,
        false_pairs=int(np.count_nonzero(found & ~positive)),
        missed=int(np.count_nonzero(positive)) - true_pairs,
        candidate_pairs=linked.candidate_pairs,
        verified_pairs=linked.verified_pairs,
    )


def tune(
    records: Iterable[Any],
    labels: Iterable[LabelledPair | tuple[str, str, bool]] | None = None,
    *,
    thresholds: Sequence[float] = DEFAULT_THRESHOLDS,
    shingles: Sequence[str | ShingleSpec] | None = None,
    num_perms: Sequence[int] = DEFAULT_NUM_PERMS,
    measure: Measure = "jaccard",
    min_precision: float = DEFAULT_MIN_PRECISION,
    config: ScanConfig | None = None,
    text_field: str = "text",
    id_field: str = "id",
    jobs: int = 1,
    on_step: Callable[[str], None] | None = None,
) -> TuneResult:
    """Sweep thresholds x shingles x num_perms over ``records`` and score each setting on
    ``labels`` (pairs ``(id_a, id_b, is_duplicate)`` or :class:`~dedupe.labels.LabelledPair`).

    ``records`` is anything :func:`dedupe.scan` takes, or a :class:`~dedupe.readers.Source`
    (read once per shingle and num_perm). ``config`` supplies what is not swept (seed,
    containment threshold, band probability). ``shingles`` defaults to
    :data:`DEFAULT_SHINGLES` with labels and to the scan's default shingle without.

    With labels, the result holds a row per setting and the recommendation (see
    :func:`recommend`). Without, it holds the distribution of candidate similarities from
    :data:`DISTRIBUTION_FLOOR` up for each shingle and num_perm. Raises
    :class:`~dedupe.errors.InputError` for a labelled id that is not in the corpus, and
    :class:`~dedupe.errors.ConfigError` for an option out of range.

    >>> docs = [("a", "the cat sat on the warm mat by the door today"),
    ...         ("b", "the cat sat on the warm mat by the door today!"),
    ...         ("c", "a dog ran across the wide green field after a ball")]
    >>> result = tune(docs, [("a", "b", True), ("a", "c", False)], shingles=["word:3"])
    >>> row = result.recommendation
    >>> row.threshold, row.recall, row.precision, result.floor_reached
    (0.95, 1.0, 1.0, True)
    """
    if not 0.0 <= min_precision <= 1.0:
        raise ConfigError(f"min_precision must be in [0, 1], got {min_precision!r}")
    pairs = None if labels is None else _as_pairs(labels)
    base = replace(config or ScanConfig(), measure=measure, paragraphs=False).resolved()
    chosen = shingles if shingles is not None else (DEFAULT_SHINGLES if pairs else (base.shingle,))
    specs = _parse_shingles(chosen)
    # Validate every setting before the first (slow) signing.
    settings = [
        replace(base, shingle=s, num_perm=n) for s in specs for n in dict.fromkeys(num_perms)
    ]
    if not thresholds or not num_perms:
        raise ConfigError("give at least one threshold and one num_perm")
    for threshold in thresholds:
        replace(base, threshold=threshold)
    read = _reader(records, text_field, id_field)
    result: TuneResult | None = None
    indices = None
    for cfg in settings:
        if on_step is not None:
            on_step(f"signing with {cfg.shingle} shingles, {cfg.num_perm} permutations")
        with _sign(read, cfg, jobs) as signed:
            if result is None:
                result = TuneResult(
                    base, min_precision, signed.records_read, len(signed.ids), signed.skipped
                )
            if pairs is None:
                result.distributions.append(distribution(signed))
                continue
            if indices is None:
                indices = _label_indices(pairs, signed)
                result.labelled_duplicates = int(np.count_nonzero(indices[2]))
                result.labelled_non_duplicates = len(pairs) - result.labelled_duplicates
            left, right, positive = indices
            for threshold in sorted(thresholds):
                result.rows.append(_score(signed, threshold, left, right, positive))
            similarity = signed.similarity(np.stack([left, right], axis=1))
            result.similarities.append(
                LabelSimilarities(
                    str(cfg.shingle), cfg.num_perm, similarity[positive], similarity[~positive]
                )
            )
    assert result is not None  # settings is never empty
    if pairs is not None:
        result.recommendation, result.floor_reached = recommend(result.rows, min_precision)
    return result
