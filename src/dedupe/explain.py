"""Why two texts are, or are not, duplicates: the numbers behind one decision of :func:`scan`.

``explain(a, b)`` runs the same stages as a scan on the pair (signatures of the texts as they will
be written, band keys, verification) and adds what a scan never computes: the exact Jaccard
similarity of the shingle sets, the shingles the texts share and do not share, and a word diff.
The verdict is the scan's own: the pair is scanned, not re-decided here.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, replace
from typing import Literal

import numpy as np

from dedupe.api import scan
from dedupe.config import CONTAINMENT_MIN_RATIO, ScanConfig
from dedupe.core.exact import pair_jaccard
from dedupe.core.features import featurise
from dedupe.core.lsh import band_keys, candidate_probability, choose_bands
from dedupe.core.normalise import normalise_text, word_tokens
from dedupe.core.signature import permutations
from dedupe.core.verify import estimated_containment, estimated_jaccard

DiffOp = Literal["equal", "delete", "insert"]

#: Shingles listed per side at most: enough to see what differs, short enough to read.
MAX_SHINGLES_SHOWN = 12


@dataclass(frozen=True, slots=True)
class Explanation:
    """The evidence for one pair under one configuration.

    ``collided_bands`` are the LSH bands whose keys are equal (a pair becomes a candidate when
    there is at least one). ``estimated_jaccard`` is what verification compares with the
    threshold; ``exact_jaccard`` is computed here from the shingle sets, for comparison.
    ``only_a``/``only_b`` are shingles of one text and not the other (at most
    :data:`MAX_SHINGLES_SHOWN`), ``diff`` the word-level differences of the original texts.
    """

    config: ScanConfig
    duplicate: bool
    reason: str
    exact_duplicate: bool
    estimated_jaccard: float
    exact_jaccard: float
    estimated_containment: float | None
    shingles_a: int
    shingles_b: int
    shared: int
    only_a: tuple[str, ...]
    only_b: tuple[str, ...]
    bands: int
    rows: int
    collided_bands: tuple[int, ...]
    candidate_probability: float
    diff: tuple[tuple[DiffOp, str], ...]


def shingle_strings(text: str, config: ScanConfig) -> list[str]:
    """The shingles of ``text`` as readable strings, in text order (with repeats).

    >>> shingle_strings("One two, THREE four", ScanConfig(shingle="word:3"))
    ['one two three', 'two three four']
    """
    size = config.shingle.size
    if config.shingle.kind == "char":
        normal = normalise_text(text)
        return [normal[i : i + size] for i in range(max(len(normal) - size + 1, 1))]
    tokens = word_tokens(text)
    if len(tokens) < size:
        return [" ".join(tokens)] if tokens else []
    return [" ".join(tokens[i : i + size]) for i in range(len(tokens) - size + 1)]


def word_diff(a: str, b: str) -> tuple[tuple[DiffOp, str], ...]:
    """Word-level differences between two texts as (op, words) runs; a replacement is a
    deletion followed by an insertion.

    >>> word_diff("the cat sat", "the dog sat")
    (('equal', 'the'), ('delete', 'cat'), ('insert', 'dog'), ('equal', 'sat'))
    """
    words_a, words_b = a.split(), b.split()
    matcher = difflib.SequenceMatcher(None, words_a, words_b, autojunk=False)
    out: list[tuple[DiffOp, str]] = []
    for op, a0, a1, b0, b1 in matcher.get_opcodes():
        if op == "equal":
            out.append(("equal", " ".join(words_a[a0:a1])))
            continue
        if a1 > a0:
            out.append(("delete", " ".join(words_a[a0:a1])))
        if b1 > b0:
            out.append(("insert", " ".join(words_b[b0:b1])))
    return tuple(out)


def _verified_on(config: ScanConfig) -> str:
    if config.verify == "exact":
        return "decided on the exact shingle sets"
    return f"verified on all {config.num_perm} permutations"


def _reason(
    config: ScanConfig,
    duplicate: bool,
    exact: bool,
    collided: int,
    estimate: float,
    containment: float | None,
    sizes_comparable: bool,
) -> str:
    """Why the scan decided as it did. ``estimate`` is the similarity the decision rests on:
    the MinHash estimate, or with ``verify="exact"`` the exact Jaccard of the shingle sets."""
    measured = "exact Jaccard" if config.verify == "exact" else "estimated Jaccard"
    if exact:
        return "exact duplicate: the same words after normalisation"
    if collided == 0:
        return (
            "not a candidate: no LSH band collided, so the pair was never compared "
            f"({measured} {estimate:.3f}, threshold {config.threshold})"
        )
    if estimate >= config.threshold:
        return (
            f"near-duplicate: {measured} {estimate:.3f} >= threshold {config.threshold} "
            f"({collided} band(s) collided, then {_verified_on(config)})"
        )
    if containment is not None and duplicate:
        return (
            f"partial copy: the shorter text's shingles lie {containment:.3f} in the longer "
            f"one (>= {config.containment_threshold}); {measured} {estimate:.3f}"
        )
    if containment is not None and not sizes_comparable:
        return (
            "the shorter text has less than "
            f"{CONTAINMENT_MIN_RATIO:.0%} of the longer one's shingles, too short to measure "
            f"containment; {measured} {estimate:.3f} < {config.threshold}"
        )
    below = f"{measured} {estimate:.3f} < threshold {config.threshold}"
    if containment is not None:
        below += f", containment {containment:.3f} < {config.containment_threshold}"
    return f"a candidate ({collided} band(s) collided) but {below}"


def explain(a: str, b: str, config: ScanConfig | None = None) -> Explanation:
    """Explain the scan's decision for the pair of texts ``a`` (earlier) and ``b``.

    >>> e = explain("The cat sat on the mat today.", "The cat sat on the mat today!")
    >>> e.duplicate, e.exact_duplicate
    (True, True)
    """
    cfg = (config if config is not None else ScanConfig()).resolved()
    pair_config = replace(cfg, strict=False)
    result = scan([("a", a), ("b", b)], pair_config)
    duplicate = bool(result.duplicates)

    features = featurise([a, b], pair_config, permutations(cfg.num_perm, cfg.seed))
    signatures = features.doc_signatures
    estimate = float(estimated_jaccard(signatures, np.array([[0, 1]]))[0])
    decided_on = estimate
    if cfg.verify == "exact":  # the scan decides on the sets' exact similarity
        sizes = features.doc_set_sizes
        decided_on = float(
            pair_jaccard(
                features.doc_set_values, np.cumsum(sizes) - sizes, sizes, np.array([[0, 1]])
            )[0]
        )
    exact = bool(features.doc_exact[0] == features.doc_exact[1]) and all(features.doc_tokens)
    bands, rows = choose_bands(cfg.candidate_threshold, cfg.num_perm, cfg.min_candidate_probability)
    keys = band_keys(signatures, bands, rows)
    collided = tuple(int(i) for i in np.flatnonzero(keys[0] == keys[1]))

    containment = None
    sizes_comparable = True
    if cfg.measure == "containment":
        sizes = features.doc_sizes
        containment = float(estimated_containment(np.array([decided_on]), sizes[:1], sizes[1:])[0])
        sizes_comparable = bool(min(sizes) >= CONTAINMENT_MIN_RATIO * max(sizes))

    shingles_a, shingles_b = set(shingle_strings(a, cfg)), set(shingle_strings(b, cfg))
    shared = shingles_a & shingles_b
    union = shingles_a | shingles_b
    order_a, order_b = shingle_strings(a, cfg), shingle_strings(b, cfg)
    only_a = tuple(dict.fromkeys(s for s in order_a if s not in shingles_b))
    only_b = tuple(dict.fromkeys(s for s in order_b if s not in shingles_a))
    return Explanation(
        config=cfg,
        duplicate=duplicate,
        reason=_reason(
            cfg, duplicate, exact, len(collided), decided_on, containment, sizes_comparable
        ),
        exact_duplicate=exact,
        estimated_jaccard=round(estimate, 4),
        exact_jaccard=round(len(shared) / len(union), 4) if union else 1.0,
        estimated_containment=None if containment is None else round(containment, 4),
        shingles_a=len(shingles_a),
        shingles_b=len(shingles_b),
        shared=len(shared),
        only_a=only_a[:MAX_SHINGLES_SHOWN],
        only_b=only_b[:MAX_SHINGLES_SHOWN],
        bands=bands,
        rows=rows,
        collided_bands=collided,
        candidate_probability=round(float(candidate_probability(estimate, bands, rows)), 4),
        diff=word_diff(a, b),
    )
