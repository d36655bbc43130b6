"""``verify="exact"``: candidate pairs decided on exact shingle sets, against a brute-force
model; a pair that the estimate misses; determinism across batches and worker processes."""

from __future__ import annotations

import random

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import dedupe
from dedupe import ConfigError, Index, pipeline
from dedupe.config import ScanConfig
from dedupe.core.cluster import connected_components
from dedupe.core.features import featurise
from dedupe.core.lsh import choose_bands
from dedupe.core.signature import permutations
from dedupe.core.verify import exact_jaccard
from tests.strategies import corpora

WORDS = [f"w{i}" for i in range(3000)]


def _sets(texts: list[str], config: ScanConfig) -> list[np.ndarray]:
    exact = featurise(texts, ScanConfig(**{**config.as_dict(), "verify": "exact"}), PERMS)
    ends = np.cumsum(exact.doc_set_sizes)
    return np.split(exact.doc_set_values, ends[:-1])


PERMS = permutations(128, 1)


def _expected_duplicates(records: list[tuple[str, str]], config: ScanConfig) -> dict[str, str]:
    """Brute force: exact duplicates (after normalisation) and every LSH candidate pair whose
    exact Jaccard reaches the threshold, components, the first of each kept."""
    texts = [t for _, t in records if t.strip()]
    ids = [i for i, t in records if t.strip()]
    docs = pipeline.DocumentArrays(
        signatures=(features := featurise(texts, config, PERMS)).doc_signatures,
        exact=features.doc_exact,
        comparable=features.doc_tokens > 0,
        sizes=features.doc_sizes,
        lengths=np.array([len(t) for t in texts]),
    )
    exact_pairs, representative = pipeline.exact_links(docs)
    bands, rows = choose_bands(
        config.candidate_threshold, config.num_perm, config.min_candidate_probability
    )
    candidates = pipeline.lsh_candidates(docs.signatures, representative, bands, rows)
    sets = _sets(texts, config)
    linked = [
        p for p in candidates.tolist() if exact_jaccard(sets[p[0]], sets[p[1]]) >= config.threshold
    ]
    labels = connected_components(
        len(texts), np.array([*exact_pairs.tolist(), *linked]).reshape(-1, 2)
    )
    return {ids[i]: ids[int(labels[i])] for i in range(len(texts)) if labels[i] != i}


@settings(max_examples=40, deadline=None)
@given(records=corpora())
def test_exact_mode_links_the_candidates_that_reach_the_threshold(records):
    config = ScanConfig(verify="exact", paragraphs=False)
    result = dedupe.scan(records, config=config)
    assert result.duplicates == _expected_duplicates(records, config)


def _article(rng: random.Random, words: int = 300) -> str:
    return " ".join(rng.sample(WORDS, words))


def _near_pair(threshold: float) -> tuple[str, str, float]:
    """Two texts whose exact word-5-gram Jaccard is just above ``threshold`` and whose
    MinHash estimate (seed 1, 128 permutations) falls below it."""
    config = ScanConfig(threshold=threshold, paragraphs=False)
    for seed in range(200):
        rng = random.Random(seed)
        words = _article(rng).split()
        copy = list(words)
        for position in rng.sample(range(len(words)), 6):
            copy[position] = "edited"
        a, b = " ".join(words), " ".join(copy)
        features = featurise([a, b], config, PERMS)
        estimate = float((features.doc_signatures[0] == features.doc_signatures[1]).mean())
        sets = _sets([a, b], config)
        truth = exact_jaccard(sets[0], sets[1])
        if truth >= threshold > estimate:
            return a, b, truth
    raise AssertionError("no such pair in 200 seeds")


def test_a_pair_the_estimate_misses_is_linked_on_its_exact_similarity():
    a, b, truth = _near_pair(0.8)
    records = [("a", a), ("b", b)]
    by_estimate = dedupe.scan(records, threshold=0.8, paragraphs=False, verify="estimate")
    assert by_estimate.duplicates == {}
    result = dedupe.scan(records, threshold=0.8, paragraphs=False, verify="exact")
    assert result.duplicates == {"b": "a"}
    # The default, auto, is exact here on the local engine.
    assert dedupe.scan(records, threshold=0.8, paragraphs=False).duplicates == {"b": "a"}
    (cluster,) = [c for c in result.clusters if c.level == "document"]
    assert cluster.members[-1].similarity == round(truth, 4)  # the exact value is reported


def test_batches_and_worker_processes_do_not_change_exact_results(monkeypatch):
    rng = random.Random(5)
    records = [(f"d{i}", _article(rng, 120)) for i in range(40)]
    for i in range(20):
        words = rng.choice(records)[1].split()
        for position in rng.sample(range(len(words)), rng.randint(1, 4)):
            words[position] = "x"
        records.insert(rng.randrange(len(records)), (f"c{i}", " ".join(words)))
    whole = dedupe.scan(records, threshold=0.7, verify="exact")
    monkeypatch.setattr(pipeline, "BATCH_DOCUMENTS", 7)
    for jobs in (1, 2):
        again = dedupe.scan(records, threshold=0.7, verify="exact", jobs=jobs)
        assert [c.as_dict() for c in again.clusters] == [c.as_dict() for c in whole.clusters]
    assert len(whole.duplicates) >= 10


def test_an_index_refuses_exact_verification(tmp_path):
    with pytest.raises(ConfigError, match="verify"):
        Index(tmp_path / "i.sqlite", verify="exact")


def test_exact_verification_from_the_command_line(tmp_path):
    from typer.testing import CliRunner

    from dedupe.cli import app

    a, b, _ = _near_pair(0.8)
    source = tmp_path / "in.jsonl"
    source.write_text("".join(f'{{"id": "{i}", "text": "{t}"}}\n' for i, t in (("a", a), ("b", b))))
    runner = CliRunner()
    args = ["scan", str(source), "--threshold", "0.8", "--no-paragraphs", "--quiet"]
    done = runner.invoke(app, [*args, "--out", str(tmp_path / "e"), "--verify", "exact"])
    assert done.exit_code == 0, done.output
    assert '"b"' in (tmp_path / "e" / "clusters.jsonl").read_text()
    refused = runner.invoke(
        app,
        [
            *args,
            "--out",
            str(tmp_path / "i"),
            "--verify",
            "exact",
            "--index",
            str(tmp_path / "x.sqlite"),
        ],
    )
    assert refused.exit_code == 2 and "verify" in refused.output


def test_explain_gives_the_exact_decision_and_its_reason():
    from dedupe.explain import explain

    a, b, truth = _near_pair(0.8)
    by_estimate = explain(a, b, ScanConfig(threshold=0.8, paragraphs=False, verify="estimate"))
    by_sets = explain(a, b, ScanConfig(threshold=0.8, paragraphs=False))  # auto: exact
    assert not by_estimate.duplicate and "estimated Jaccard" in by_estimate.reason
    assert by_sets.duplicate and f"exact Jaccard {truth:.3f}" in by_sets.reason


def test_auto_is_exact_on_the_local_engine_and_estimate_in_an_index(tmp_path):
    a, b, _ = _near_pair(0.8)
    with Index(tmp_path / "i.sqlite", threshold=0.8, paragraphs=False) as index:
        assert index.config.verify == "estimate"
        index.add("a", a)
        assert index.check("b", b).status == "new"  # the estimate misses it, as documented
    local = dedupe.scan([("a", a), ("b", b)], threshold=0.8, paragraphs=False)
    assert local.config["verify"] == "exact" and local.duplicates == {"b": "a"}
    with pytest.raises(ConfigError, match="'auto', 'estimate' or 'exact'"):
        ScanConfig(verify="always")  # type: ignore[arg-type]


@pytest.mark.parametrize("num_perm", [16, 64, 128, 256])
@pytest.mark.parametrize("lowest", [0.3, 0.5, 0.8, 0.95])
def test_screening_cut_is_the_binomial_tail(num_perm, lowest):
    """Fewer than the cut equal positions: probability at most SCREEN_TAIL for a pair at the
    lowest accepted similarity; one more position would exceed it (exact binomial sums)."""
    from fractions import Fraction
    from math import comb

    from dedupe.core.verify import SCREEN_TAIL, screening_matches

    p = Fraction(lowest)

    def below(k: int) -> Fraction:
        return sum(
            (comb(num_perm, i) * p**i * (1 - p) ** (num_perm - i) for i in range(k)), Fraction(0)
        )

    cut = screening_matches(num_perm, lowest)
    assert below(cut) <= SCREEN_TAIL < below(cut + 1)
    assert cut < lowest * num_perm  # a screened estimate is always below ``lowest``


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 2**32 - 1), st.sampled_from([0.5, 0.8]), st.booleans())
def test_screened_exact_similarity_is_exact_wherever_it_could_be_accepted(
    seed, lowest, with_histograms
):
    """Screening answers a pair by its estimate only when the estimate is below ``lowest``, or
    by a bound below ``lowest`` from the sets' histograms or half of the sets; every pair whose
    exact similarity reaches ``lowest`` gets that exact similarity."""
    from dedupe.core.exact import below_cut, histograms
    from dedupe.core.lsh import LocalSignatures
    from dedupe.core.signature import minhash
    from dedupe.set_spool import ExactlyVerified

    rng = np.random.default_rng(seed)
    base = rng.choice(2**32, size=400, replace=False).astype(np.uint32)
    sets = [np.sort(np.unique(base[rng.random(400) < rng.uniform(0.3, 1.0)])) for _ in range(12)]
    sizes = np.array([len(s) for s in sets], dtype=np.int64)
    values = np.concatenate(sets)
    starts = np.cumsum(sizes) - sizes
    owner = np.repeat(np.arange(len(sets), dtype=np.int64), sizes)
    signatures = minhash(values, owner, len(sets), permutations(128, 1))
    below = below_cut(values, sizes)
    rows = histograms(values, sizes) if with_histograms else None
    exact = ExactlyVerified(LocalSignatures(signatures), values, starts, sizes, below, rows)
    screened = exact.screened(lowest)
    pairs = np.array([(a, b) for a in range(12) for b in range(a + 1, 12)], dtype=np.int64)
    truth, answer = exact.jaccard(pairs), screened.jaccard(pairs)
    estimate = LocalSignatures(signatures).jaccard(pairs)
    reached = truth >= lowest
    assert np.array_equal(answer[reached], truth[reached])
    differs = answer != truth
    assert (answer[differs] < lowest).all()
    by_estimate = answer == estimate
    # Not screened out: a bound, at least the exact similarity.
    assert (answer[differs & ~by_estimate] > truth[differs & ~by_estimate]).all()
