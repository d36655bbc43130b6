"""The bundled seed article: its lead paragraph comes back after a caption, with `didn"t`."""

from __future__ import annotations

import json
from pathlib import Path

from dedupe import scan, scan_path
from dedupe.core.segment import paragraph_spans

SEEDS = Path(__file__).resolve().parent.parent / "seeds"
LEAD = "A senior Defence Department official said Friday"


def _seed_text() -> str:
    (path,) = sorted(SEEDS.glob("*.txt"))
    return path.read_text(encoding="utf-8")


def test_seed_lead_kept_once_and_other_paragraphs_verbatim():
    original = _seed_text()
    result = scan([("seed", original)])
    (record,) = result.records
    assert record.text.count(LEAD) == 1
    assert original.count(LEAD) == 2
    # The first occurrence (with `didn"t`) is the one kept.
    assert 'it didn"t resolve' in record.text
    units = [original[s:e] for s, e in paragraph_spans(original)]
    removed = [u for u in units if u not in record.text]
    assert len(removed) == 1 and removed[0].startswith(LEAD) and "didn't" in removed[0]
    for unit in units:
        if unit is not removed[0] and unit != removed[0]:
            assert unit in record.text


def test_seed_scan_path_writes_the_paragraph_cluster(tmp_path):
    run = scan_path(str(SEEDS), tmp_path / "out")
    (cleaned,) = (tmp_path / "out" / "cleaned").rglob("*.txt")
    assert cleaned.read_text(encoding="utf-8").count(LEAD) == 1
    clusters = [
        json.loads(line) for line in (tmp_path / "out" / "clusters.jsonl").read_text().splitlines()
    ]
    (cluster,) = [c for c in clusters if c["level"] == "paragraph"]
    assert cluster["keep"]["text"].startswith(LEAD)
    assert len(cluster["members"]) == 2
    assert cluster["members"][1]["similarity"] >= 0.9
    assert {m["doc_id"] for m in cluster["members"]} == {cleaned.name}
    assert run.summary["paragraphs_removed"] == 1
    assert run.summary["records_read"] == 1
