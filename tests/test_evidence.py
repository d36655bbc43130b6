"""Every removal names the rule that removed it: clusters.jsonl members and summary.json."""

from __future__ import annotations

import json

from dedupe import scan, scan_path
from tests.test_api import BODY, FOOTER, LEAD, OTHER, _story


def _rules(result, level):
    return [(m.doc_id, m.rule) for c in result.clusters if c.level == level for m in c.members]


def test_exact_and_near_duplicate_documents():
    base = f"{LEAD}\n\n{BODY}\n\n{OTHER}"
    result = scan(
        [
            ("orig", base),
            ("same", base.upper()),  # equal after normalisation
            ("typo", base.replace("official", "offical")),
        ]
    )
    assert _rules(result, "document") == [
        ("orig", "kept"),
        ("same", "exact"),
        ("typo", "near-duplicate"),
    ]
    assert {v.id: v.rule for v in result.verdicts} == {
        "orig": None,
        "same": "exact",
        "typo": "near-duplicate",
    }
    removed = result.stats.removed_by_rule
    assert removed["exact"] == 1 and removed["near-duplicate"] == 1
    assert sum(removed.values()) == result.stats.documents_removed


def test_copy_cut_short_is_removed_by_containment():
    full = _story(600, 1)
    cut = " ".join(full.split()[:360])
    result = scan([("cut", cut), ("full", full)], threshold=0.8, measure="containment")
    assert _rules(result, "document") == [("full", "kept"), ("cut", "containment")]
    assert result.stats.removed_by_rule["containment"] == 1


def test_repeated_paragraph_and_reported_cross_document_paragraph():
    docs = [
        ("a", f"{LEAD}\n\n{BODY}\n\n{LEAD}"),
        ("b", f"{OTHER}\n\n{BODY}"),
    ]
    result = scan(docs)
    clusters = {tuple(m.paragraph for m in c.members): c for c in result.clusters}
    lead = clusters[(0, 2)]
    assert [m.rule for m in lead.members] == ["kept", "repeated-paragraph"]
    body = clusters[(1, 1)]
    # Across documents without --boilerplate-min-docs: reported, not removed.
    assert [m.rule for m in body.members] == ["kept", "kept"]
    removed = result.stats.removed_by_rule
    assert removed["repeated-paragraph"] == result.stats.paragraphs_removed == 1


def test_boilerplate_removes_every_copy():
    docs = [(f"d{i}", f"{body}\n\n{FOOTER}") for i, body in enumerate([LEAD, BODY, OTHER])]
    result = scan(docs, boilerplate_min_docs=3)
    assert _rules(result, "paragraph") == [
        ("d0", "boilerplate"),
        ("d1", "boilerplate"),
        ("d2", "boilerplate"),
    ]
    removed = result.stats.removed_by_rule
    assert removed["boilerplate"] == result.stats.boilerplate_paragraphs_removed == 3


def test_files_carry_rules_and_counts(tmp_path):
    base = f"{LEAD}\n\n{BODY}\n\n{LEAD}"
    source = tmp_path / "in.jsonl"
    source.write_text(
        "".join(json.dumps({"id": i, "text": t}) + "\n" for i, t in [("a", base), ("b", base)])
    )
    run = scan_path(str(source), tmp_path / "out")
    lines = [json.loads(x) for x in (tmp_path / "out" / "clusters.jsonl").read_text().splitlines()]
    rules = {
        (c["level"], m["doc_id"], m["paragraph"]): m["rule"] for c in lines for m in c["members"]
    }
    assert rules == {
        ("document", "a", None): "kept",
        ("document", "b", None): "exact",
        ("paragraph", "a", 0): "kept",
        ("paragraph", "a", 2): "repeated-paragraph",
    }
    assert all(c["keep"]["rule"] == "kept" for c in lines)
    repeats = {(m["doc_id"], m["paragraph"]): m["repeats"] for c in lines for m in c["members"]}
    assert repeats == {("a", None): None, ("b", None): None, ("a", 0): None, ("a", 2): 0}
    assert run.summary["removed_by_rule"] == {
        "exact": 1,
        "near-duplicate": 0,
        "containment": 0,
        "repeated-paragraph": 1,
        "boilerplate": 0,
    }


def test_bytes_removed_counts_duplicates_and_cut_paragraphs(tmp_path):
    base = f"{LEAD}\n\n{BODY}\n\n{LEAD}"
    copy = base.replace("official", "officiel")
    source = tmp_path / "in.jsonl"
    source.write_text(
        "".join(json.dumps({"id": i, "text": t}) + "\n" for i, t in [("a", base), ("b", copy)])
    )
    run = scan_path(str(source), tmp_path / "out")
    (kept,) = [json.loads(x) for x in (tmp_path / "out" / "cleaned.jsonl").read_text().splitlines()]
    expected = len(copy.encode()) + len(base.encode()) - len(kept["text"].encode())
    assert run.summary["bytes_removed"] == expected
    assert scan([("a", base), ("b", copy)]).stats.bytes_removed == expected


def test_repeated_paragraph_names_the_paragraph_of_its_own_document():
    # The lead repeats in b, whose cluster keeps a's copy: the evidence names b's paragraph 0.
    docs = [("a", f"{LEAD}\n\n{BODY}"), ("b", f"{LEAD}\n\n{OTHER}\n\n{LEAD}")]
    result = scan(docs)
    (lead,) = [c for c in result.clusters if c.level == "paragraph" and len(c.members) == 3]
    got = [(m.doc_id, m.paragraph, m.rule, m.repeats) for m in lead.members]
    assert got == [
        ("a", 0, "kept", None),
        ("b", 0, "kept", None),
        ("b", 2, "repeated-paragraph", 0),
    ]
