"""Behaviour of dedupe.scan on small named corpora."""

from __future__ import annotations

import pytest

from dedupe import ConfigError, ScanConfig, scan

LEAD = (
    "A senior official said Friday that while the minister believes the hour-long conversation "
    "was important, it didn't resolve any acute issues or lead to any change in policy."
)
BODY = (
    "The call marked the highest level of contact since the war began in late February, and "
    "officials described it as a positive step without giving details of its content."
)
OTHER = (
    "Direct communications between the two militaries are considered crucial to avoid any "
    "misunderstanding or unwarranted escalation in hostilities along the border."
)
FOOTER = "Follow us on Twitter and Facebook for the latest news from our newsroom every single day."


def test_repeated_lead_after_caption_with_changed_quotes_is_removed():
    text = f"Headline\n\n{LEAD}\n\nPhoto caption\n \n{LEAD.replace(chr(39), chr(34))}\n\n{BODY}\n"
    (record,) = scan([("a", text)]).records
    assert record.text == f"Headline\n\n{LEAD}\n\nPhoto caption\n \n{BODY}\n"
    assert record.removed_paragraphs == (3,)


def test_repeat_with_a_few_words_edited_is_removed():
    edited = LEAD.replace("hour-long", "lengthy").replace("Friday", "on Friday")
    (record,) = scan([("a", f"{LEAD}\n\n{BODY}\n\n{edited}")]).records
    assert record.text == f"{LEAD}\n\n{BODY}"


def test_pull_quote_contained_in_an_earlier_paragraph_is_removed():
    quote = "\u201cit didn't resolve any acute issues or lead to any change in policy\u201d"
    (record,) = scan([("a", f"{LEAD}\n\n{quote}\n\n{BODY}")]).records
    assert record.text == f"{LEAD}\n\n{BODY}"


def test_natural_short_repeats_stay():
    text = (
        f"Advertisement\n\n{LEAD}\n\n- \n\nAdvertisement\n\n{BODY}\n\n- \n\nRead more\n\nRead more"
    )
    result = scan([("a", text)])
    assert result.records[0].text == text
    assert result.stats.paragraphs_removed == 0


def test_distinct_paragraphs_stay():
    text = f"{LEAD}\n\n{BODY}\n\n{OTHER}"
    assert scan([("a", text)]).records[0].text == text


def test_flattened_text_falls_back_to_sentences():
    sentences = [
        LEAD,
        BODY,
        OTHER,
        "Meanwhile the markets were calm and oil prices barely moved.",
        "Analysts expect further talks in the coming weeks, possibly in Geneva or Vienna.",
        "The ministry declined to comment on the record when reached by telephone.",
        LEAD.replace("Friday", "on Friday"),
    ]
    text = " ".join(sentences)
    (record,) = scan([("a", text)]).records
    assert record.text.count("A senior official said") == 1
    assert record.removed_paragraphs == (6,)


def test_cross_document_paragraphs_are_reported_and_boilerplate_removed():
    docs = [(f"d{i}", f"{body}\n\n{FOOTER}") for i, body in enumerate([LEAD, BODY, OTHER])]
    reported = scan(docs)
    (cluster,) = [c for c in reported.clusters if c.level == "paragraph"]
    assert [m.doc_id for m in cluster.members] == ["d0", "d1", "d2"]
    assert all(m.paragraph == 1 for m in cluster.members)
    assert all(r.text.endswith(FOOTER) for r in reported.records)
    cleaned = scan(docs, boilerplate_min_docs=3)
    assert [r.text for r in cleaned.records] == [LEAD, BODY, OTHER]
    assert cleaned.stats.boilerplate_paragraphs_removed == 3
    assert all(r.text.endswith(FOOTER) for r in scan(docs, boilerplate_min_docs=4).records)


def test_near_duplicate_documents_cluster_with_similarity():
    base = f"{LEAD}\n\n{BODY}\n\n{OTHER}"
    variants = [
        ("orig", base),
        ("header", "NewsSite 14-May-2022 | Total Views\n\n" + base),
        ("typo", base.replace("official", "offical")),
        ("unrelated", "Completely different words make up this short text about gardening tips."),
    ]
    result = scan(variants)
    assert result.duplicates == {"header": "orig", "typo": "orig"}
    (cluster,) = [c for c in result.clusters if c.level == "document"]
    assert cluster.keep.doc_id == "orig"
    assert all(0.7 <= m.similarity <= 1.0 for m in cluster.members)


def test_dicts_with_fields_and_ids():
    result = scan(
        [{"id": 7, "text": LEAD, "url": "u1"}, {"text": BODY, "lang": "en"}], id_field="id"
    )
    assert [r.as_dict() for r in result.records] == [
        {"url": "u1", "id": "7", "text": LEAD},
        {"lang": "en", "id": "2", "text": BODY},
    ]


def test_bad_library_records_are_skipped_with_reasons():
    result = scan([{"text": 5}, {"body": "x"}, "just a string", ("a", LEAD)])
    assert [s.reason.split(" ")[0:2] for s in result.skipped] == [
        ["text", "is"],
        ["missing", "text"],
        ["a", "str"],
    ]
    assert [r.id for r in result.records] == ["a"]


def test_config_errors_quote_the_value():
    with pytest.raises(ConfigError, match=r"0\.0"):
        scan([], threshold=0.0)
    with pytest.raises(ConfigError, match="word:N"):
        ScanConfig(shingle="words")  # type: ignore[arg-type]


def test_char_shingles():
    result = scan([("a", LEAD), ("b", LEAD.replace("Friday", "Fridey"))], shingle="char:9")
    assert result.duplicates == {"b": "a"}


def _story(words: int, seed: int) -> str:
    import random

    rng = random.Random(seed)
    vocabulary = [f"w{i}" for i in range(3000)]
    return " ".join(rng.choice(vocabulary) for _ in range(words)) + "."


def test_copy_cut_short_is_found_only_when_measuring_containment():
    full = _story(600, 1)
    cut = " ".join(full.split()[:360])  # 60 %: Jaccard ~0.6 of 5-grams, containment 1.0
    records = [("cut", cut), ("full", full), ("other", _story(600, 2))]
    assert scan(records, threshold=0.8).duplicates == {}
    result = scan(records, threshold=0.8, measure="containment")
    # The longer copy is kept, though the cut one came first.
    assert result.duplicates == {"cut": "full"}
    assert [r.id for r in result.records] == ["full", "other"]


def test_containment_ignores_a_short_text_inside_a_much_longer_one():
    full = _story(1000, 3)
    excerpt = " ".join(full.split()[:300])  # 30 %: below CONTAINMENT_MIN_RATIO
    result = scan([("full", full), ("excerpt", excerpt)], measure="containment")
    assert result.duplicates == {}


def test_keep_rule_defaults_follow_the_measure():
    assert ScanConfig().keep_rule == "first"
    assert ScanConfig(measure="containment").keep_rule == "longest"
    assert ScanConfig(measure="containment", keep="first").keep_rule == "first"
    assert ScanConfig(measure="containment").as_dict()["keep"] == "longest"
    with pytest.raises(ConfigError, match="measure"):
        ScanConfig(measure="overlap")  # type: ignore[arg-type]
