"""What a caller of scan_path hears while it runs: records read, then the stages after reading."""

from __future__ import annotations

import json
from pathlib import Path

from dedupe import ScanConfig, scan_path


def test_progress_counts_every_record_then_the_stages_follow(tmp_path: Path) -> None:
    texts = [f"record {i} has a few words of its own, number {i}." for i in range(1_100)]
    source = tmp_path / "in.jsonl"
    source.write_text("".join(json.dumps({"id": i, "text": t}) + "\n" for i, t in enumerate(texts)))
    events: list[tuple[object, ...]] = []
    scan_path(
        str(source),
        tmp_path / "out",
        progress=lambda records, characters: events.append(("progress", records, characters)),
        on_stage=lambda stage: events.append(("stage", stage)),
        jobs=1,
    )
    total = ("progress", 1_100, sum(map(len, texts)))
    assert [e[1] for e in events if e[0] == "progress"] == [500, 1_000, 1_100]
    # Reading ends with the whole count; the stages come after it, in order.
    assert events[-4:] == [
        total,
        ("stage", "linking"),
        ("stage", "linking paragraphs"),
        ("stage", "writing cleaned copies"),
    ]


def test_without_paragraphs_no_paragraph_stage_is_announced(tmp_path: Path) -> None:
    source = tmp_path / "in.jsonl"
    source.write_text(
        "".join(json.dumps({"id": i, "text": f"text number {i}"}) + "\n" for i in range(3))
    )
    stages: list[str] = []
    scan_path(
        str(source),
        tmp_path / "out",
        ScanConfig(paragraphs=False),
        on_stage=stages.append,
        jobs=1,
    )
    assert stages == ["linking", "writing cleaned copies"]
