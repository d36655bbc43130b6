"""dedupe explain: the evidence behind one decision, from the library and the command line."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from dedupe import ScanConfig, scan
from dedupe.cli import app
from dedupe.explain import explain

runner = CliRunner()
SEEDS = Path(__file__).resolve().parent.parent / "seeds"
SEED = SEEDS / "000_32b1650f6225da17.txt"


def _seed_leads() -> tuple[str, str]:
    first, repeat = [p for p in SEED.read_text().splitlines() if "A senior Defence" in p]
    return first, repeat


def test_seed_lead_pair_is_an_exact_duplicate_differing_in_one_apostrophe():
    first, repeat = _seed_leads()
    e = explain(first, repeat)
    assert e.duplicate and e.exact_duplicate
    assert e.estimated_jaccard == 1.0 and e.exact_jaccard == 1.0
    assert len(e.collided_bands) == e.bands
    assert [op for op in e.diff if op[0] != "equal"] == [
        ("delete", 'didn"t'),
        ("insert", "didn't"),
    ]


def test_verdict_is_the_scans_and_the_reason_names_the_threshold():
    a = " ".join(f"w{i}" for i in range(60))
    b = " ".join(f"w{i}" if i % 9 else f"x{i}" for i in range(60))
    for threshold in (0.2, 0.5, 0.9):
        config = ScanConfig(threshold=threshold)
        e = explain(a, b, config)
        assert e.duplicate == bool(scan([("a", a), ("b", b)], config).duplicates)
        assert str(threshold) in e.reason
    assert abs(explain(a, b).exact_jaccard - explain(a, b).estimated_jaccard) < 0.2


def test_cli_explain_two_files_shows_verdict_bands_and_diff(tmp_path):
    first, repeat = _seed_leads()
    (tmp_path / "a.txt").write_text(first)
    (tmp_path / "b.txt").write_text(repeat)
    result = runner.invoke(app, ["explain", str(tmp_path / "a.txt"), str(tmp_path / "b.txt")])
    assert result.exit_code == 0, result.output
    assert "duplicate: exact duplicate" in result.output
    assert "bands x" in result.output and "collided" in result.output
    assert "[-didn\"t-] {+didn't+}" in result.output


def test_cli_explain_ids_of_a_corpus_and_unknown_id(tmp_path):
    corpus = tmp_path / "c.jsonl"
    corpus.write_text(
        '{"id": "a", "text": "The council voted on Tuesday to expand the bicycle lanes."}\n'
        '{"id": "b", "text": "Officials said the talks had ended without any agreement."}\n'
    )
    result = runner.invoke(app, ["explain", "a", "b", "--corpus", str(corpus)])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("not a duplicate")
    missing = runner.invoke(app, ["explain", "a", "zz", "--corpus", str(corpus)])
    assert missing.exit_code == 2
    assert "no record with id 'zz'" in missing.output


def test_cli_explain_doc_shows_the_seeds_repeated_lead():
    result = runner.invoke(app, ["explain", "--doc", SEED.name, str(SEEDS)])
    assert result.exit_code == 0, result.output
    assert "paragraph 6 repeats paragraph 1" in result.output
    assert "removed: A senior Defence Department official said Friday" in result.output
