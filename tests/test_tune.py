"""dedupe.tune and dedupe.labels: the sweep, its equality with scan, the recommendation."""

from __future__ import annotations

import numpy as np
import pytest

from dedupe import InputError, ScanConfig, scan
from dedupe.labels import LabelledPair, read_labels
from dedupe.tune import (
    TuneRow,
    histogram,
    parse_thresholds,
    recommend,
    sign_corpus,
    tune,
)
from tests.synthetic import make_corpus


@pytest.fixture(scope="module")
def small_corpus():
    """120 sources with a copy each (30 per difficulty), 30 siblings, 60 unrelated articles."""
    return make_corpus(sources=120, siblings=30, unrelated=60, seed=1)


def _scan_partition(records, **options) -> set[frozenset[str]]:
    result = scan(records, paragraphs=False, **options)
    return {
        frozenset(m.doc_id for m in c.members) for c in result.clusters if c.level == "document"
    }


# --- the library ---------------------------------------------------------------------------


@pytest.mark.parametrize("measure", ["jaccard", "containment"])
@pytest.mark.parametrize("shingle", ["word:5", "char:5"])
def test_linking_a_signed_corpus_makes_the_clusters_scan_makes(small_corpus, measure, shingle):
    signed = sign_corpus(small_corpus.records, ScanConfig(shingle=shingle, measure=measure))
    for threshold in (0.3, 0.45, 0.55, 0.75, 0.95):
        linked = signed.link(threshold)
        groups: dict[int, set[str]] = {}
        for doc_id, label in zip(signed.ids, linked.components.tolist(), strict=True):
            groups.setdefault(label, set()).add(doc_id)
        ours = {frozenset(g) for g in groups.values() if len(g) > 1}
        theirs = _scan_partition(
            small_corpus.records, shingle=shingle, measure=measure, threshold=threshold
        )
        assert ours == theirs, (shingle, measure, threshold)


def test_a_tune_row_scores_what_scan_decides(small_corpus):
    result = tune(small_corpus.records, small_corpus.labels(), shingles=["word:5"])
    for row in result.rows[::3]:
        clusters = _scan_partition(small_corpus.records, threshold=row.threshold)
        together = {frozenset(p) for c in clusters for p in _pairs(c)}
        found = [frozenset((a, b)) in together for a, b, _ in small_corpus.labels()]
        duplicate = [d for _, _, d in small_corpus.labels()]
        assert row.found == sum(f and d for f, d in zip(found, duplicate, strict=True))
        assert row.false_pairs == sum(f and not d for f, d in zip(found, duplicate, strict=True))


def _pairs(cluster: frozenset[str]) -> list[tuple[str, str]]:
    members = sorted(cluster)
    return [(a, b) for i, a in enumerate(members) for b in members[i + 1 :]]


def test_recommendation_reaches_the_labels(small_corpus):
    result = tune(small_corpus.records, small_corpus.labels())
    assert len(result.rows) == 14 * 4
    chosen = result.recommendation
    assert chosen is not None and result.floor_reached
    assert chosen.precision == 1.0
    # Truncated copies hold 55-70 % of their source: Jaccard 0.4-0.6 with word shingles, so
    # only a low threshold finds them all, and the siblings (below 0.35) stay apart.
    assert chosen.recall == 1.0
    assert chosen.threshold <= 0.45
    assert result.labelled_duplicates == 120 and result.labelled_non_duplicates == 30
    cfg = result.recommended_config()
    assert cfg is not None and cfg.threshold == chosen.threshold
    assert str(cfg.shingle) == chosen.shingle


def test_containment_sweep_recommends_a_containment_scan(small_corpus):
    result = tune(
        small_corpus.records,
        small_corpus.labels(),
        shingles=["word:5"],
        thresholds=[0.55, 0.7, 0.85],
        measure="containment",
    )
    chosen = result.recommendation
    assert chosen is not None and result.floor_reached
    cfg = result.recommended_config()
    assert cfg is not None and cfg.measure == "containment"
    # Containment links the truncated copies that Jaccard at the same threshold misses.
    jaccard = tune(
        small_corpus.records, small_corpus.labels(), shingles=["word:5"], thresholds=[0.7]
    )
    (jaccard_row,) = jaccard.rows
    assert next(r for r in result.rows if r.threshold == 0.7).recall > jaccard_row.recall


def test_unlabelled_distribution_counts_candidate_pairs(small_corpus):
    result = tune(small_corpus.records)
    (found,) = result.distributions
    assert found.shingle == "word:5" and not result.labelled
    assert found.exact_duplicates == 30  # the exact copies
    assert len(found.jaccard) and float(found.jaccard.min()) >= found.floor
    at = dict(found.at_least())
    assert at[0.5] >= at[0.9] > 0
    assert sum(b.count for b in histogram(found.jaccard, found.floor)) == len(found.jaccard)


def _row(threshold: float, found: int, false_pairs: int, missed: int, shingle="word:5") -> TuneRow:
    return TuneRow(shingle, 128, threshold, 1, 1, found, false_pairs, missed, 0, 0)


def test_recommend_prefers_recall_then_the_higher_threshold():
    rows = [_row(0.4, 10, 1, 0), _row(0.5, 9, 0, 1), _row(0.6, 9, 0, 1), _row(0.7, 5, 0, 5)]
    chosen, reached = recommend(rows, 0.995)
    assert reached and chosen is rows[2]


def test_recommend_falls_back_to_f1_and_says_so():
    rows = [_row(0.4, 10, 5, 0), _row(0.5, 8, 1, 2), _row(0.6, 2, 1, 8)]
    chosen, reached = recommend(rows, 0.995)
    assert not reached and chosen is rows[1]
    assert recommend([_row(0.5, 0, 0, 10)], 0.995) == (None, False)


def test_labelled_id_not_in_corpus_is_an_error_naming_the_line(small_corpus):
    labels = [*small_corpus.labels(), ("a0", "nobody", False)]
    with pytest.raises(InputError) as caught:
        tune(small_corpus.records, labels, shingles=["word:5"], thresholds=[0.5])
    assert caught.value.line == len(labels) and "unknown id 'nobody'" in caught.value.reason


def test_parse_thresholds_range_and_errors():
    assert parse_thresholds("0.3:0.95:0.05") == tuple(round(0.3 + 0.05 * i, 2) for i in range(14))
    for bad in ("0.5:x", "0.9:0.5:0.1", "0,1.5", ""):
        with pytest.raises(ValueError):
            parse_thresholds(bad)


def test_histogram_puts_one_in_the_last_bin():
    bins = histogram(np.array([0.3, 0.349, 0.35, 1.0]), 0.3, 0.05)
    assert (bins[0].count, bins[1].count, bins[-1].count) == (2, 1, 1)


# --- the labels file -----------------------------------------------------------------------


def test_read_labels_accepts_a_bom_words_and_repeats(tmp_path):
    path = tmp_path / "labels.csv"
    path.write_bytes(
        b"\xef\xbb\xbfnote,ID_A,id_b,is_duplicate\r\n"
        b"same story,x,y,yes\r\n"
        b"again,y,x,true\r\n"
        b",x,z,0\r\n"
        b"\r\n"
    )
    pairs = read_labels(path)
    assert [(p.id_a, p.id_b, p.is_duplicate) for p in pairs] == [
        ("x", "y", True),
        ("x", "z", False),
    ]
    assert pairs[1].origin.line == 4


def test_labelled_pair_objects_carry_their_origin():
    pair = LabelledPair("a", "b", True)
    assert pair.origin.path == "<labels>"
