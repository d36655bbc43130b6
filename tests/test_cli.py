"""The command as a user runs it: a real subprocess for the main paths, exit codes, messages."""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from dedupe import ScanConfig
from dedupe.cli import app

SEEDS = Path(__file__).resolve().parent.parent / "seeds"
runner = CliRunner()

ARTICLE = (
    "Officials said on Friday that the talks between the two governments had ended without an "
    "agreement, and that a new round would be scheduled for next month in Geneva."
)
OTHER = (
    "The city council voted on Tuesday to expand the bicycle lane network across the northern "
    "districts, a plan that has been debated for more than three years."
)


def _dedupe(*args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    env = {**os.environ, "COLUMNS": "120"}
    return subprocess.run(
        [sys.executable, "-m", "dedupe", *args],
        input=stdin,
        capture_output=True,
        env=env,
        check=False,
    )


def _lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_scan_seeds_as_a_subprocess(tmp_path):
    done = _dedupe("scan", str(SEEDS), "--out", str(tmp_path / "out"))
    assert done.returncode == 0, done.stderr.decode()
    assert b"1 record read" in done.stdout
    assert b"1 repeated paragraph removed" in done.stdout
    assert b"Traceback" not in done.stderr
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary["paragraphs_removed"] == 1
    assert summary["parameters"]["num_perm"] == 128


def test_jsonl_duplicates_removed_and_fields_pass_through(tmp_path):
    corpus = tmp_path / "in.jsonl"
    rows = [
        {"id": "a", "text": ARTICLE, "url": "https://a.example/1", "score": 1.50},
        {
            "id": "b",
            "text": ARTICLE.replace("Friday", "friday") + " ",
            "url": "https://b.example/9",
        },
        {"id": "c", "text": OTHER, "meta": {"lang": "en"}},
    ]
    raw_lines = [json.dumps(row, separators=(",", ":")) for row in rows]
    corpus.write_text("\n".join(raw_lines) + "\n", encoding="utf-8")
    result = runner.invoke(app, ["scan", str(corpus), "--out", str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    cleaned_lines = (tmp_path / "out" / "cleaned.jsonl").read_text(encoding="utf-8").splitlines()
    assert cleaned_lines == [raw_lines[0], raw_lines[2]]  # byte-for-byte, b removed
    (cluster,) = _lines(tmp_path / "out" / "clusters.jsonl")
    assert cluster["level"] == "document"
    assert cluster["keep"] == {
        "doc_id": "a",
        "paragraph": None,
        "similarity": 1.0,
        "text": "",
        "rule": "kept",
        "repeats": None,
    }
    assert [m["doc_id"] for m in cluster["members"]] == ["a", "b"]


def test_keep_longest(tmp_path):
    corpus = tmp_path / "in.jsonl"
    longer = ARTICLE + " Both sides said the talks had been useful."
    corpus.write_text(
        json.dumps({"id": "short", "text": ARTICLE})
        + "\n"
        + json.dumps({"id": "long", "text": longer})
        + "\n"
    )
    result = runner.invoke(
        app,
        [
            "scan",
            str(corpus),
            "--out",
            str(tmp_path / "o"),
            "--keep",
            "longest",
            "--threshold",
            "0.6",
        ],
    )
    assert result.exit_code == 0, result.output
    (cluster,) = _lines(tmp_path / "o" / "clusters.jsonl")
    assert cluster["keep"]["doc_id"] == "long"


def test_gzip_and_stdin(tmp_path):
    payload = (json.dumps({"text": ARTICLE}) + "\n" + json.dumps({"text": ARTICLE}) + "\n").encode()
    gz = tmp_path / "in.jsonl.gz"
    gz.write_bytes(gzip.compress(payload))
    assert runner.invoke(app, ["scan", str(gz), "--out", str(tmp_path / "g")]).exit_code == 0
    done = _dedupe("scan", "-", "--out", str(tmp_path / "s"), stdin=payload)
    assert done.returncode == 0, done.stderr.decode()
    for out in ("g", "s"):
        summary = json.loads((tmp_path / out / "summary.json").read_text())
        assert summary["documents_removed"] == 1
        (cluster,) = _lines(tmp_path / out / "clusters.jsonl")
        assert [m["doc_id"] for m in cluster["members"]] == ["1", "2"]  # line numbers as ids


BAD_LINES = [
    (b'{"id": "x", "text": "unterminated}', "malformed JSON"),
    (b'{"id": "x", "body": "no text field"}', "missing text field"),
    (b'{"id": "x", "text": 42}', "not a string"),
    (b'{"id": "x", "text": ""}', "empty text"),
    (b'{"id": "a", "text": "a second record with the id a"}', "duplicate id"),
]


@pytest.mark.parametrize(("line", "reason"), BAD_LINES)
def test_bad_line_skipped_with_file_line_reason_and_strict_stops(tmp_path, line, reason):
    corpus = tmp_path / "in.jsonl"
    corpus.write_bytes(json.dumps({"id": "a", "text": ARTICLE}).encode() + b"\n" + line + b"\n")
    done = _dedupe("scan", str(corpus), "--out", str(tmp_path / "out"))
    assert done.returncode == 0, done.stderr.decode()
    stderr = done.stderr.decode()
    assert f"{corpus}:2" in stderr and reason in stderr
    assert "Traceback" not in stderr
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary["records_skipped"] == 1
    (skip,) = summary["skipped"]
    assert skip["line"] == 2 and reason in skip["reason"]
    strict = _dedupe("scan", str(corpus), "--out", str(tmp_path / "strict"), "--strict")
    assert strict.returncode == 2
    assert f"{corpus}:2" in strict.stderr.decode() and reason in strict.stderr.decode()
    assert b"Traceback" not in strict.stderr


def test_encoding_repairs_are_warned_not_skipped(tmp_path):
    corpus = tmp_path / "in.jsonl"
    corpus.write_bytes(
        b"\xef\xbb\xbf"
        + json.dumps({"id": "a", "text": ARTICLE}).encode()
        + b"\r\n"
        + b'{"id": "b", "text": "caf\xe9 au lait, a drink served in the morning in France"}\r\n'
        + json.dumps(
            {"id": "c", "text": "nul\u0000 byte inside a record that is otherwise fine"}
        ).encode()
        + b"\n"
    )
    done = _dedupe("scan", str(corpus), "--out", str(tmp_path / "out"))
    assert done.returncode == 0, done.stderr.decode()
    stderr = done.stderr.decode()
    assert "UTF-8" in stderr and "BOM" in stderr and "NUL" in stderr
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary["records_kept"] == 3 and summary["records_skipped"] == 0
    assert len(summary["warnings"]) == 3
    assert _dedupe("scan", str(corpus), "--out", str(tmp_path / "s"), "--strict").returncode == 2


def test_cjk_and_huge_document(tmp_path):
    chinese = "北京时间周五，两国国防部长进行了首次通话。双方讨论了乌克兰局势和沟通渠道问题。"
    huge = " ".join(f"word{i % 5000} other{i % 7919}" for i in range(1_200_000))  # ~15 MB
    assert len(huge) > 15_000_000
    corpus = tmp_path / "in.jsonl"
    with corpus.open("w", encoding="utf-8") as handle:
        for doc_id, text in [
            ("zh1", chinese),
            ("zh2", chinese + "谢谢。"),
            ("big", huge),
            ("ok", OTHER),
        ]:
            handle.write(json.dumps({"id": doc_id, "text": text}, ensure_ascii=False) + "\n")
    result = runner.invoke(app, ["scan", str(corpus), "--out", str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    (cluster,) = [
        c for c in _lines(tmp_path / "out" / "clusters.jsonl") if c["level"] == "document"
    ]
    assert [m["doc_id"] for m in cluster["members"]] == ["zh1", "zh2"]
    kept = [
        json.loads(line)["id"]
        for line in (tmp_path / "out" / "cleaned.jsonl").read_text().splitlines()
    ]
    assert kept == ["zh1", "big", "ok"]


def test_empty_documents_are_reported_not_clustered(tmp_path):
    corpus = tmp_path / "in.jsonl"
    corpus.write_text(
        "".join(
            json.dumps({"id": str(i), "text": t}) + "\n"
            for i, t in enumerate(["", " ", "\n\n", OTHER])
        )
    )
    result = runner.invoke(app, ["scan", str(corpus), "--out", str(tmp_path / "out")])
    assert result.exit_code == 0
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary["records_skipped"] == 3 and summary["document_clusters"] == 0
    assert all(s["reason"] == "empty text" for s in summary["skipped"])


def test_text_directory_mirrors_tree_and_keeps_bytes(tmp_path):
    root = tmp_path / "corpus"
    (root / "a" / "b").mkdir(parents=True)
    (root / "one.txt").write_bytes((ARTICLE + "\r\n\r\n" + OTHER + "\r\n").encode())
    (root / "a" / "b" / "copy.md").write_bytes((ARTICLE + "\r\n\r\n" + OTHER + "\r\n").encode())
    (root / "a" / "two.txt").write_bytes(
        (
            "Intro line of the page\n\n"
            + OTHER
            + "\n\nA caption\n\n"
            + OTHER.replace("Tuesday", "tuesday")
            + "\n"
        ).encode()
    )
    (root / "a" / "ignored.csv").write_text("x,y\n")
    result = runner.invoke(app, ["scan", str(root), "--out", str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    cleaned = tmp_path / "out" / "cleaned"
    assert sorted(p.relative_to(cleaned).as_posix() for p in cleaned.rglob("*") if p.is_file()) == [
        "a/b/copy.md",  # sorted paths are the input order: it comes before one.txt and is kept
        "a/two.txt",
    ]
    assert (cleaned / "a" / "b" / "copy.md").read_bytes() == (root / "one.txt").read_bytes()
    assert (
        cleaned / "a" / "two.txt"
    ).read_text() == "Intro line of the page\n\n" + OTHER + "\n\nA caption\n"


def test_errors_for_the_whole_run_are_one_line(tmp_path):
    missing = _dedupe("scan", str(tmp_path / "nope.jsonl"), "--out", str(tmp_path / "o"))
    assert missing.returncode == 2 and b"Traceback" not in missing.stderr
    assert b"nope.jsonl" in missing.stderr
    bad_option = _dedupe("scan", str(SEEDS), "--out", str(tmp_path / "o"), "--shingle", "words5")
    assert bad_option.returncode == 2 and b"word:N" in bad_option.stderr


def test_help_teaches_with_an_example():
    result = runner.invoke(app, ["scan", "--help"])
    assert result.exit_code == 0
    assert "Example:" in result.output and "--threshold" in result.output


def test_explain_bands(tmp_path):
    result = runner.invoke(
        app, ["scan", str(SEEDS), "--out", str(tmp_path / "o"), "--explain-bands"]
    )
    assert result.exit_code == 0
    assert "bands" in result.output and "P(candidate | Jaccard" in result.output


def test_measure_containment_keeps_the_full_copy(tmp_path):
    # The cut copy is the first 60 % of the full one: Jaccard 0.6, containment 1.0. Documents
    # only: as one paragraph each the two sit on the paragraph threshold (0.6), where the
    # 32-permutation estimate falls either way.
    words = [f"word{i % 701}x{i % 13}" for i in range(500)]
    full, cut = " ".join(words) + ".", " ".join(words[:300])
    corpus = tmp_path / "in.jsonl"
    corpus.write_text(
        json.dumps({"id": "cut", "text": cut}) + "\n" + json.dumps({"id": "full", "text": full})
    )
    out = tmp_path / "o"
    args = ["scan", str(corpus), "--out", str(out), "--threshold", "0.8", "--no-paragraphs"]
    assert runner.invoke(app, args).exit_code == 0
    assert _lines(out / "clusters.jsonl") == []
    result = runner.invoke(app, [*args, "--measure", "containment", "--explain-bands"])
    assert result.exit_code == 0, result.output
    assert "containment 0.75" in result.output
    (cluster,) = _lines(out / "clusters.jsonl")
    assert cluster["keep"]["doc_id"] == "full"
    summary = json.loads((out / "summary.json").read_text())
    assert summary["parameters"]["measure"] == "containment"
    assert summary["parameters"]["keep"] == "longest"


def test_an_error_is_one_line_in_a_narrow_terminal_and_keeps_brackets(tmp_path):
    missing = tmp_path / "a[1]" / ("a-rather-long-directory-name-" * 4) / "corpus.jsonl"
    result = runner.invoke(app, ["scan", str(missing), "--out", str(tmp_path / "o")])
    assert result.exit_code == 2
    (line,) = result.stderr.splitlines()
    assert line == f"dedupe: error: {missing}: no such file or directory"


def test_scan_help_shows_the_keep_default():
    result = runner.invoke(app, ["scan", "--help"], env={"COLUMNS": "200"})
    assert "[default: first;" in result.stdout  # rich would drop an unescaped [..]


def test_summary_reports_the_bands_the_scan_used_in_containment_mode(tmp_path):
    from dedupe.core.lsh import choose_bands

    corpus = tmp_path / "in.jsonl"
    corpus.write_text(json.dumps({"id": "a", "text": ARTICLE}) + "\n")
    args = ["scan", str(corpus), "--out", str(tmp_path / "o"), "--measure", "containment"]
    assert runner.invoke(app, args).exit_code == 0
    parameters = json.loads((tmp_path / "o" / "summary.json").read_text())["parameters"]
    cfg = ScanConfig(measure="containment")
    expected = choose_bands(cfg.candidate_threshold, cfg.num_perm, cfg.min_candidate_probability)
    assert (parameters["lsh_bands"], parameters["lsh_rows"]) == expected
    assert expected != choose_bands(cfg.threshold, cfg.num_perm, cfg.min_candidate_probability)
