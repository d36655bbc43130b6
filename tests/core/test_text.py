"""Normalisation, segmentation and within-document repeats on small, named cases."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dedupe.core.normalise import normalise_text, word_tokens
from dedupe.core.repeats import overlapping_units, repeated_units
from dedupe.core.segment import (
    _SENTENCE_END_RE,
    cut_spans,
    drop_spans,
    paragraph_spans,
    sentence_spans,
)

SAME_FOR_COMPARISON = [
    ("it didn't resolve", 'it didn"t resolve'),
    ("it didn't resolve", "it didn\u2019t resolve"),
    ("\u201cacute issues\u201d", '"acute issues"'),
    ("The call \u2014 initiated", 'The call "? initiated'),
    ("The call\u2014initiated", "The call - initiated"),
    ("non\u00a0breaking space", "non breaking  space"),
    ("line\r\nbreaks\nhere", "line breaks here"),
    ("CASE Folding", "case folding"),
    ("ﬁnance ｆｕｌｌwidth", "finance fullwidth"),
]


@pytest.mark.parametrize(("a", "b"), SAME_FOR_COMPARISON)
def test_variants_compare_equal(a, b):
    assert word_tokens(a) == word_tokens(b)
    assert normalise_text(a) == normalise_text(b)


MUST_DIFFER = [("the cat", "the cap"), ("don't", "dont"), ("a b", "ab")]


@pytest.mark.parametrize(("a", "b"), MUST_DIFFER)
def test_real_differences_stay(a, b):
    assert word_tokens(a) != word_tokens(b)


def test_cjk_is_tokenised_per_character():
    assert word_tokens("東京都に住んでいます") == list("東京都に住んでいます")


def _texts(text):
    return [text[s:e] for s, e in paragraph_spans(text)]


def test_blank_lines_with_spaces_and_nbsp_separate():
    text = "One para here.\n \nTwo para here.\n\u00a0\u00a0\n\nThree."
    assert _texts(text) == ["One para here.", "Two para here.", "Three."]


def test_single_line_breaks_end_paragraphs_in_scraped_pages():
    text = "Byline 14 May\nTotal Views |\nMoscow: the body of the article starts here."
    assert _texts(text) == [
        "Byline 14 May",
        "Total Views |",
        "Moscow: the body of the article starts here.",
    ]


def test_hard_wrapped_prose_is_one_paragraph():
    line = "word " * 14
    text = "\n".join([line.strip()] * 5) + "\nend."
    assert len(paragraph_spans(text)) == 1


def test_one_long_block_falls_back_to_sentences():
    sentence = "This is a sentence that says something about the war in Ukraine today. "
    text = sentence * 20
    assert len(paragraph_spans(text)) == 20


def test_crlf_text_segments_like_lf():
    text = "First para.\r\n\r\nSecond para.\r\n"
    assert _texts(text) == ["First para.", "Second para."]


def test_drop_spans_keep_other_bytes():
    text = "A one.\n\nB two.\n \nC three.\n"
    units = paragraph_spans(text)
    cut = drop_spans(len(text), units, [1])
    kept = "".join(
        text[a:b]
        for a, b in zip([0] + [e for _, e in cut], [s for s, _ in cut] + [len(text)], strict=True)
    )
    assert kept == "A one.\n\nC three.\n"


@st.composite
def _documents_with_drops(draw: st.DrawFn) -> tuple[list[list[tuple[int, int]]], list[list[int]]]:
    """Documents as unit spans (ascending, gaps of 0-3 characters between them: units may touch)
    and, per document, the units to drop (any subset, all and none included)."""
    documents, dropped = [], []
    for _ in range(draw(st.integers(1, 6))):
        spans, at = [], draw(st.integers(0, 3))
        for _ in range(draw(st.integers(0, 7))):
            length = draw(st.integers(1, 5))
            spans.append((at, at + length))
            at += length + draw(st.integers(0, 3))
        documents.append(spans)
        dropped.append(sorted(draw(st.sets(st.integers(0, max(len(spans) - 1, 0))))))
        if not spans:
            dropped[-1] = []
    return documents, dropped


@given(_documents_with_drops())
@settings(max_examples=300, deadline=None)
def test_cut_spans_equal_drop_spans_of_each_document(case):
    documents, dropped = case
    unit_doc = np.array([d for d, spans in enumerate(documents) for _ in spans], dtype=np.int64)
    starts = np.array([s for spans in documents for s, _ in spans], dtype=np.int64)
    ends = np.array([e for spans in documents for _, e in spans], dtype=np.int64)
    first = np.cumsum([0] + [len(spans) for spans in documents])
    flat = np.array(
        [first[d] + u for d, units in enumerate(dropped) for u in units], dtype=np.int64
    )
    doc, start, end = cut_spans(unit_doc, starts, ends, flat)
    expected = [
        (d, a, b)
        for d, spans in enumerate(documents)
        if dropped[d]
        for a, b in drop_spans(spans[-1][1], spans, dropped[d])
    ]
    assert list(zip(doc.tolist(), start.tolist(), end.tolist(), strict=True)) == expected


def test_repeats_by_jaccard_and_containment():
    # unit 0: 1..20; unit 1: 1..18 + 50,51 (near-dup); unit 2: 5..12 (pull quote); unit 3: other.
    units = [
        list(range(1, 21)),
        [*range(1, 19), 50, 51],
        list(range(5, 13)),
        list(range(100, 120)),
    ]
    sh = np.array([h for u in units for h in u], dtype=np.uint32)
    owner = np.repeat(np.arange(4), [len(u) for u in units])
    pairs = overlapping_units(sh, owner, np.zeros(4, dtype=np.int64), 4)
    earlier, later, _ = repeated_units(pairs, 0.6, 0.8)
    assert set(zip(earlier.tolist(), later.tolist(), strict=True)) >= {(0, 1), (0, 2)}
    assert 3 not in later.tolist()


def test_repeats_never_cross_documents():
    sh = np.array([1, 2, 3, 1, 2, 3], dtype=np.uint32)
    owner = np.array([0, 0, 0, 1, 1, 1])
    pairs = overlapping_units(sh, owner, np.array([0, 1]), 2)
    assert len(pairs.earlier) == 0


SENTENCE_ALPHABET = st.sampled_from(
    [*"aB9 .!?\"')]\u201d\u2019\u201c\u2018([\n\t\u00a0\u2003x", ". A", "! \u201cB", '." 7']
)


@settings(max_examples=300, deadline=None)
@given(st.lists(SENTENCE_ALPHABET, max_size=40).map("".join), st.integers(0, 5), st.integers(0, 5))
def test_sentence_spans_are_the_pattern_matches(text, cut_start, cut_end):
    start, end = min(cut_start, len(text)), max(min(cut_start, len(text)), len(text) - cut_end)
    spans = sentence_spans(text, start, end)
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    if start == end:
        assert spans == []
        return
    matches = list(_SENTENCE_END_RE.finditer(text, start, end))
    expected = list(
        zip([start, *(m.end() for m in matches)], [*(m.end(1) for m in matches), end], strict=True)
    )
    assert spans == expected


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.lists(st.integers(0, 12), min_size=1, max_size=15), min_size=1, max_size=8),
    st.integers(1, 3),
)
def test_overlapping_units_brute_force(units, docs):
    shingles = np.array([h for unit in units for h in unit], dtype=np.uint32)
    owner = np.repeat(np.arange(len(units)), [len(u) for u in units])
    group = np.sort(np.arange(len(units)) % docs)
    pairs = overlapping_units(shingles, owner, group, len(units))
    expected = {
        (a, b): len(set(units[a]) & set(units[b]))
        for a in range(len(units))
        for b in range(a + 1, len(units))
        if group[a] == group[b] and set(units[a]) & set(units[b])
    }
    codes = zip(pairs.earlier.tolist(), pairs.later.tolist(), strict=True)
    found = dict(zip(codes, pairs.intersection.tolist(), strict=True))
    assert found == expected
    for a, b, sa, sb in zip(
        pairs.earlier, pairs.later, pairs.size_earlier, pairs.size_later, strict=True
    ):
        assert (sa, sb) == (len(set(units[a])), len(set(units[b])))


PARAGRAPH_ALPHABET = st.sampled_from(
    [
        *"aB9 .!?\"')]\u201d\u2019\u201c\u2018([\n\t\u00a0\u2003\u2028\x1c\x00xé",
        ". A",
        "! \u201cB",
        '." 7',
        "\n\n",
        "\n \n",
        "\U0001d400",
        "Sentence one goes on. ",
    ]
)


@settings(max_examples=400, deadline=None)
@given(st.lists(st.lists(PARAGRAPH_ALPHABET, max_size=60).map("".join), max_size=6))
def test_paragraph_bounds_are_the_paragraph_spans_of_every_text(texts):
    """The batch's array of spans is every text's paragraph_spans in order, flattened texts
    (one long line, split into sentences) included."""
    from dedupe.core import segment

    original = segment.FLATTENED_MIN_CHARS
    segment.FLATTENED_MIN_CHARS = 20  # short generated texts reach the sentence rule
    try:
        bounds, counts = segment.paragraph_bounds(texts)
        expected = [paragraph_spans(text) for text in texts]
    finally:
        segment.FLATTENED_MIN_CHARS = original
    assert counts.tolist() == [len(spans) for spans in expected]
    assert bounds.tolist() == [list(span) for spans in expected for span in spans]


def test_space_table_is_the_pattern_space_class():
    import re

    from dedupe.core.segment import _space_table

    table = _space_table()
    space = re.compile(r"\s")
    for code in range(0x10000):
        if 0xD800 <= code < 0xE000:
            continue
        assert bool(table[code]) == bool(space.match(chr(code))), hex(code)
