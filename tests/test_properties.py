"""Invariants of a scan, for any corpus: nothing lost, kept text unchanged, determinism,
idempotence."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings

from dedupe import scan
from dedupe.core.segment import paragraph_spans

from .strategies import corpora

SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(corpora())
def test_every_record_accounted_for_exactly_once(corpus):
    result = scan(corpus)
    ids = [doc_id for doc_id, _ in corpus]
    kept = [r.id for r in result.records]
    removed = list(result.duplicates)
    skipped = [s.id for s in result.skipped]
    assert sorted(kept + removed + skipped) == sorted(ids)
    assert len(set(kept) | set(removed) | set(skipped)) == len(ids)
    for duplicate, original in result.duplicates.items():
        assert original in kept, (
            f"{duplicate} removed as duplicate of {original}, which is not kept"
        )
    for skip in result.skipped:
        assert skip.reason


@SETTINGS
@given(corpora())
def test_cleaned_text_is_original_minus_whole_paragraphs_in_order(corpus):
    originals = dict(corpus)
    result = scan(corpus)
    for record in result.records:
        original = originals[record.id]
        units = [original[s:e] for s, e in paragraph_spans(original)]
        removed = set(record.removed_paragraphs)
        kept_units = [u for i, u in enumerate(units) if i not in removed]
        # The kept paragraphs appear verbatim and in order ...
        cursor = 0
        for unit in kept_units:
            found = record.text.find(unit, cursor)
            assert found >= 0, f"kept paragraph {unit!r} altered or out of order"
            cursor = found + len(unit)
        # ... and nothing else but whitespace separators disappeared.
        assert record.text.split() == [w for u in kept_units for w in u.split()]
        if not removed:
            assert record.text == original


@SETTINGS
@given(corpora())
def test_same_input_same_output(corpus):
    first, second = scan(corpus), scan(corpus)
    assert [c.as_dict() for c in first.clusters] == [c.as_dict() for c in second.clusters]
    assert [(r.id, r.text) for r in first.records] == [(r.id, r.text) for r in second.records]
    assert first.duplicates == second.duplicates


@SETTINGS
@given(corpora())
def test_scanning_cleaned_output_again_removes_nothing(corpus):
    result = scan(corpus)
    again = scan([(r.id, r.text) for r in result.records])
    assert again.duplicates == {}
    assert again.stats.paragraphs_removed == 0
    assert [(r.id, r.text) for r in again.records] == [(r.id, r.text) for r in result.records]


@SETTINGS
@given(corpora())
def test_members_similarity_and_keep(corpus):
    result = scan(corpus)
    for cluster in result.clusters:
        assert len(cluster.members) >= 2
        assert cluster.members[0] == cluster.keep
        assert cluster.keep.similarity == 1.0
        assert all(0.0 <= m.similarity <= 1.0 for m in cluster.members)
        if cluster.level == "document":
            assert all(m.paragraph is None for m in cluster.members)
        else:
            assert all(m.paragraph is not None and len(m.text) <= 200 for m in cluster.members)
