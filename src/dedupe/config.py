"""Frozen, self-validating configuration. Defaults carry the measurement that chose them."""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field, replace
from typing import Any, Literal

from dedupe.errors import ConfigError

ShingleKind = Literal["word", "char"]
KeepRule = Literal["first", "longest"]
Measure = Literal["jaccard", "containment"]
Verify = Literal["auto", "estimate", "exact"]

#: In containment mode a shorter document is compared with longer ones down to this ratio of
#: their shingle counts: LSH needs a Jaccard floor, and a copy holding half of its source at
#: containment c has Jaccard c*r / (1 + r - c*r) with r = 0.5 (0.33 at c = 0.75). The syndicated
#: copies our users meet are cut to 55-70 %; shorter excerpts would need a far lower floor.
CONTAINMENT_MIN_RATIO = 0.5

_SHINGLE_RE = re.compile(r"^(word|char):([1-9][0-9]*)$")


@dataclass(frozen=True, slots=True)
class ShingleSpec:
    """What a shingle is: ``word:5`` = five consecutive words, ``char:9`` = nine characters."""

    kind: ShingleKind = "word"
    size: int = 5

    @classmethod
    def parse(cls, text: str) -> ShingleSpec:
        """Parse ``word:N`` or ``char:N``.

        >>> ShingleSpec.parse("char:7")
        ShingleSpec(kind='char', size=7)
        """
        match = _SHINGLE_RE.match(text.strip().lower())
        if match is None:
            raise ConfigError(
                f"shingle {text!r} is not KIND:SIZE; "
                "use word:N (e.g. word:5) or char:N (e.g. char:9)"
            )
        size = int(match.group(2))
        if size > 64:
            raise ConfigError(f"shingle size {size} is too large (at most 64)")
        return cls(kind=match.group(1), size=size)  # type: ignore[arg-type]

    def __str__(self) -> str:
        return f"{self.kind}:{self.size}"


@dataclass(frozen=True, slots=True)
class ScanConfig:
    """Everything that decides what a scan calls a duplicate.

    Document level
        ``threshold``: Jaccard similarity of shingle sets at or above which two documents are
        near-duplicates. ``num_perm``: MinHash permutations (128 gives a standard error of the
        estimate of at most 0.044, 0.035 at J=0.8). ``min_candidate_probability``: the LSH bands
        are chosen so that a pair at exactly the threshold becomes a candidate with at least this
        probability (datasketch's equal-weight choice gives only 0.40 at 0.8 with 128
        permutations); every candidate is verified before it joins a cluster (see Verification).

    The defaults come from ``benchmarks/quality.py`` (BENCHMARKS.md): on 4,305 labelled news
    records, word 5-grams at threshold 0.55 made no false pair in 20 runs (5 permutation seeds x
    2 corpus seeds) while finding every exact and lightly edited copy and 98.6-100 % of the
    moderately edited ones (typos, a sentence added or dropped; Jaccard down to 0.6); at 0.5 up to
    4 false pairs appear (real articles on one story reach J = 0.5), at 0.6 moderate recall falls
    to 0.97. 256 permutations lift moderate recall to 0.99-1.0 for twice the signing time.

    Partial copies
        ``measure="containment"`` also links a document to a longer one that holds at least
        ``containment_threshold`` of its shingles (a syndicated copy cut short), estimated from
        the signatures and the exact shingle counts and verified like every pair, when it has
        at least :data:`CONTAINMENT_MIN_RATIO` as many shingles as the longer one; the kept
        member is then the longest unless ``keep`` says otherwise. On the labelled news, 0.75
        found 93-97 % of the copies cut to 55-70 % with pair precision 0.999-1.0 (0.8: 83-92 %
        and 1.0; 0.7: 98-99 % and 0.993).

    Verification
        ``verify="exact"`` decides every candidate on the exact Jaccard similarity of the two
        shingle sets (kept in a temporary file during the scan, 4 bytes a distinct shingle):
        a candidate pair is linked if and only if it reaches the threshold, and the reported
        similarities are exact. ``verify="estimate"`` decides it on the MinHash estimate: the
        share of equal signature positions, off by sqrt(J(1-J)/num_perm) (0.035 at J=0.8 with
        128 permutations), so about a third of the pairs just above the threshold fall below it
        and some below it are linked. ``"auto"`` (the default) is exact on the local engine and
        estimate where exact is not offered: the Dask engine and an index. On the x10 news
        benchmark exact found 99 % of the pairs at or above 0.8 (estimate 69 %) for 13 % more
        time; on the labelled news it removed every false link at 0.5 (BENCHMARKS.md).

    Paragraph level
        Paragraphs of at least ``min_paragraph_words`` words are compared inside each document on
        exact sets of word ``paragraph_ngram``-grams: a later paragraph is a repeat when its Jaccard
        similarity with an earlier one reaches ``paragraph_threshold`` or when at least
        ``paragraph_containment`` of its shingles lie in an earlier one (a pull quote).
        ``boilerplate_min_docs`` > 0 removes a paragraph found in that many distinct documents.
        Measured on 300 articles with 150 injected repeats: 0.6 / 0.8 remove 99.3 % of the
        repeats and lose no original paragraph; a containment of 0.7 removes all of them but, on
        the flattened NewsArticles text, also sentences of live-match commentary that share a
        player's name and a stock phrase.
    """

    threshold: float = 0.55
    num_perm: int = 128
    shingle: ShingleSpec = field(default_factory=ShingleSpec)
    seed: int = 1
    keep: KeepRule | None = None
    measure: Measure = "jaccard"
    containment_threshold: float = 0.75
    min_candidate_probability: float = 0.95
    paragraphs: bool = True
    min_paragraph_words: int = 8
    paragraph_ngram: int = 3
    paragraph_threshold: float = 0.6
    paragraph_containment: float = 0.8
    paragraph_num_perm: int = 32
    boilerplate_min_docs: int = 0
    verify: Verify = "auto"
    strict: bool = False

    def __post_init__(self) -> None:
        if isinstance(self.shingle, str):
            object.__setattr__(self, "shingle", ShingleSpec.parse(self.shingle))
        for name in (
            "threshold",
            "containment_threshold",
            "paragraph_threshold",
            "paragraph_containment",
        ):
            value = getattr(self, name)
            if not 0.0 < value <= 1.0:
                raise ConfigError(f"{name} must be in (0, 1], got {value!r}")
        if not 0.0 < self.min_candidate_probability < 1.0:
            raise ConfigError(
                "min_candidate_probability must be in (0, 1), "
                f"got {self.min_candidate_probability!r}"
            )
        if not 2 <= self.num_perm <= 1024:
            raise ConfigError(f"num_perm must be between 2 and 1024, got {self.num_perm!r}")
        if not 2 <= self.paragraph_num_perm <= self.num_perm:
            raise ConfigError(
                f"paragraph_num_perm must be between 2 and num_perm ({self.num_perm}), "
                f"got {self.paragraph_num_perm!r}"
            )
        if self.keep not in (None, "first", "longest"):
            raise ConfigError(f"keep must be 'first' or 'longest', got {self.keep!r}")
        if self.verify not in ("auto", "estimate", "exact"):
            raise ConfigError(f"verify must be 'auto', 'estimate' or 'exact', got {self.verify!r}")
        if self.measure not in ("jaccard", "containment"):
            raise ConfigError(f"measure must be 'jaccard' or 'containment', got {self.measure!r}")
        if not 0 <= self.seed < 2**32:
            raise ConfigError(f"seed must be in [0, 2**32), got {self.seed!r}")
        if self.min_paragraph_words < 1 or not 1 <= self.paragraph_ngram <= 16:
            raise ConfigError(
                "min_paragraph_words must be >= 1 and paragraph_ngram in 1..16, got "
                f"{self.min_paragraph_words!r} and {self.paragraph_ngram!r}"
            )
        if self.boilerplate_min_docs < 0 or self.boilerplate_min_docs == 1:
            raise ConfigError(
                "boilerplate_min_docs must be 0 (off) or at least 2, "
                f"got {self.boilerplate_min_docs!r}"
            )

    @property
    def keep_rule(self) -> KeepRule:
        """``keep``, or its default: the first record, or the longest when measuring
        containment (a copy cut short must not replace its source)."""
        if self.keep is not None:
            return self.keep
        return "longest" if self.measure == "containment" else "first"

    @property
    def candidate_threshold(self) -> float:
        """The Jaccard similarity the LSH bands are chosen for: the threshold, or in containment
        mode the Jaccard of a copy at the containment threshold holding
        :data:`CONTAINMENT_MIN_RATIO` of its source, if lower.

        >>> round(ScanConfig(measure="containment").candidate_threshold, 3)
        0.333
        """
        if self.measure == "jaccard":
            return self.threshold
        c, r = self.containment_threshold, CONTAINMENT_MIN_RATIO
        return min(self.threshold, c * r / (1 + r - c * r))

    def resolved(self, exact: bool = True) -> ScanConfig:
        """This config with ``verify="auto"`` made definite: ``"exact"`` where the engine can
        verify exactly (``exact``), ``"estimate"`` otherwise.

        >>> ScanConfig().resolved().verify, ScanConfig().resolved(exact=False).verify
        ('exact', 'estimate')
        """
        if self.verify != "auto":
            return self
        return replace(self, verify="exact" if exact else "estimate")

    def as_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["shingle"] = str(self.shingle)
        out["keep"] = self.keep_rule
        return out
