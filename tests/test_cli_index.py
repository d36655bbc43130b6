"""``dedupe index add|check|stats|remove`` and ``dedupe scan --index`` as a user runs them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from typer.testing import CliRunner

from dedupe.cli import app
from tests.conftest import fresh_location
from tests.test_cli import ARTICLE, OTHER

runner = CliRunner()
FRESH = (
    "Heavy rain flooded several streets in the old town overnight, and the fire brigade pumped "
    "water out of dozens of cellars until the early morning."
)


def _jsonl(path: Path, rows: list[tuple[str, str]]) -> Path:
    path.write_text("".join(json.dumps({"id": i, "text": t}) + "\n" for i, t in rows))
    return path


def test_add_check_stats_remove(backend, tmp_path, request):
    index = fresh_location(backend, tmp_path, request, "seen")
    day1 = _jsonl(tmp_path / "day1.jsonl", [("wire-1", ARTICLE), ("other", OTHER)])
    day2 = _jsonl(tmp_path / "day2.jsonl", [("mirror-7", ARTICLE + "!"), ("fresh", FRESH)])
    added = runner.invoke(app, ["index", "add", index, str(day1)])
    assert added.exit_code == 0, added.output
    assert "2 added (2 new, 0 duplicates)" in added.output
    checked = runner.invoke(app, ["index", "check", index, str(day2)])
    rows = [json.loads(line) for line in checked.output.splitlines()]
    assert [(r["id"], r["status"], r["duplicate_of"]) for r in rows] == [
        ("mirror-7", "duplicate", "wire-1"),
        ("fresh", "new", None),
    ]
    stats = json.loads(runner.invoke(app, ["index", "stats", index]).output)
    assert (stats["records"], stats["parameters"]["num_perm"]) == (2, 128)
    removed = runner.invoke(app, ["index", "remove", index, "other", "nope"])
    assert (removed.exit_code, removed.output.strip()) == (1, "removed 1 of 2 ids")


def test_scan_with_index_compares_with_earlier_batches(backend, tmp_path, request):
    index = fresh_location(backend, tmp_path, request, "seen")
    day1 = _jsonl(tmp_path / "day1.jsonl", [("wire-1", ARTICLE), ("other", OTHER)])
    day2 = _jsonl(tmp_path / "day2.jsonl", [("mirror-7", ARTICLE + "!"), ("fresh", FRESH)])
    for day in (day1, day2):
        done = runner.invoke(
            app, ["scan", str(day), "--out", str(tmp_path / day.stem), "--index", index]
        )
        assert done.exit_code == 0, done.output
    (cluster,) = [
        json.loads(x) for x in (tmp_path / "day2" / "clusters.jsonl").read_text().splitlines()
    ]
    assert [m["doc_id"] for m in cluster["members"]] == ["wire-1", "mirror-7"]
    kept = (tmp_path / "day2" / "cleaned.jsonl").read_text().splitlines()
    assert [json.loads(line)["id"] for line in kept] == ["fresh"]
    summary = json.loads((tmp_path / "day2" / "summary.json").read_text())
    assert (summary["documents_removed"], summary["index"]["records"]) == (1, 4)


def test_other_parameters_are_one_line_and_exit_2(tmp_path):
    index = str(tmp_path / "seen.sqlite")
    day1 = _jsonl(tmp_path / "day1.jsonl", [("wire-1", ARTICLE)])
    assert runner.invoke(app, ["index", "add", index, str(day1)]).exit_code == 0
    done = subprocess.run(
        [sys.executable, "-m", "dedupe", "index", "add", index, str(day1), "--threshold", "0.8"],
        capture_output=True,
        env={**os.environ, "COLUMNS": "80"},
        check=False,
    )
    assert done.returncode == 2
    message = done.stderr.decode().strip()
    assert "\n" not in message and "threshold=0.55" in message and "threshold=0.8" in message
    missing = runner.invoke(app, ["index", "check", str(tmp_path / "no.sqlite"), str(day1)])
    assert missing.exit_code == 2
