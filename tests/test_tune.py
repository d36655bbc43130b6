"""dedupe tune: the sweep, its equality with scan, the recommendation, the labels file, the CLI."""

from __future__ import annotations

import csv
import json
import os
import shlex
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from dedupe import InputError, ScanConfig, scan
from dedupe.cli import app
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

runner = CliRunner()


@pytest.fixture(scope="module")
def small_corpus():
    """120 sources with a copy each (30 per difficulty), 30 siblings, 60 unrelated articles."""
    return make_corpus(sources=120, siblings=30, unrelated=60, seed=1)


@pytest.fixture
def corpus_files(tmp_path, small_corpus):
    """The small corpus as JSONL and its labels as CSV, as a user would give them."""
    corpus = tmp_path / "articles.jsonl"
    corpus.write_text(
        "".join(json.dumps(record) + "\n" for record in small_corpus.records), encoding="utf-8"
    )
    labels = tmp_path / "pairs.csv"
    with labels.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["id_a", "id_b", "is_duplicate"])
        writer.writerows((a, b, int(d)) for a, b, d in small_corpus.labels())
    return corpus, labels


def _scan_partition(records, **options) -> set[frozenset[str]]:
    result = scan(records, paragraphs=False, **options)
    return {
        frozenset(m.doc_id for m in c.members) for c in result.clusters if c.level == "document"
    }


# --- the library ---------------------------------------------------------------------------


@pytest.mark.parametrize("verify", ["auto", "estimate"])
@pytest.mark.parametrize("measure", ["jaccard", "containment"])
@pytest.mark.parametrize("shingle", ["word:5", "char:5"])
def test_linking_a_signed_corpus_makes_the_clusters_scan_makes(
    small_corpus, measure, shingle, verify
):
    config = ScanConfig(shingle=shingle, measure=measure, verify=verify)
    with sign_corpus(small_corpus.records, config) as signed:
        assert (signed.sets is not None) == (verify == "auto")  # auto: exact, sets kept
        for threshold in (0.3, 0.45, 0.55, 0.75, 0.95):
            linked = signed.link(threshold)
            groups: dict[int, set[str]] = {}
            for doc_id, label in zip(signed.ids, linked.components.tolist(), strict=True):
                groups.setdefault(label, set()).add(doc_id)
            ours = {frozenset(g) for g in groups.values() if len(g) > 1}
            theirs = _scan_partition(
                small_corpus.records,
                shingle=shingle,
                measure=measure,
                threshold=threshold,
                verify=verify,
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
    # Truncated copies hold 55-70 % of their source (Jaccard 0.3-0.6 with word shingles): the
    # labels ask for them, so tune goes well below the default threshold, and the siblings
    # (sharing 20-45 % of the sentences) still stay apart.
    assert chosen.recall >= 0.99
    default = next(r for r in result.rows if (r.shingle, r.threshold) == ("word:5", 0.55))
    assert chosen.recall > default.recall and chosen.threshold <= 0.45
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


BAD_LABELS = [
    ("id_a,id_b,label\na0,a0~exact,1\n", 1, "missing column 'is_duplicate'"),
    ("id_a,id_b,is_duplicate\na0,a0~exact,maybe\n", 2, "is_duplicate must be 1 or 0"),
    ("id_a,id_b,is_duplicate\na0,a0~exact\n", 2, "expected 3 fields"),
    ("id_a,id_b,is_duplicate\na0,a0~exact,1\na1,nobody,0\n", 3, "unknown id 'nobody'"),
    ("id_a,id_b,is_duplicate\na0,a0,1\n", 2, "the same id 'a0'"),
    ("id_a,id_b,is_duplicate\na0,a0~exact,1\na0~exact,a0,0\n", 3, "the opposite at line 2"),
    ("id_a,id_b,is_duplicate\n,a0,1\n", 2, "empty id_a"),
    ("id_a,id_b,is_duplicate\na0,a1,0\n", None, "no pair is labelled a duplicate"),
    ("", None, "empty file"),
]


@pytest.mark.parametrize(("content", "line", "reason"), BAD_LABELS)
def test_bad_labels_file_is_one_line_with_file_line_and_exit_2(corpus_files, content, line, reason):
    corpus, labels = corpus_files
    labels.write_text(content, encoding="utf-8")
    result = runner.invoke(app, ["tune", str(corpus), "--pairs", str(labels)])
    assert result.exit_code == 2, result.output
    (message,) = result.stderr.splitlines()
    where = str(labels) if line is None else f"{labels}:{line}"
    assert message.startswith(f"dedupe: error: {where}: "), message
    assert reason in message


def test_missing_labels_file_and_bad_options_exit_2_without_traceback(corpus_files, tmp_path):
    corpus, _ = corpus_files
    for args in (
        ["--pairs", str(tmp_path / "nope.csv")],
        ["--shingles", "word:x"],
        ["--thresholds", "0.2:x"],
        ["--num-perms", "1"],
    ):
        done = subprocess.run(
            [sys.executable, "-m", "dedupe", "tune", str(corpus), *args],
            capture_output=True,
            check=False,
        )
        assert done.returncode == 2, (args, done.stderr)
        assert len(done.stderr.splitlines()) == 1 and b"Traceback" not in done.stderr


# --- the command ---------------------------------------------------------------------------


def test_tune_command_prints_table_recommendation_and_a_scan_command_that_runs(
    corpus_files, tmp_path
):
    corpus, labels = corpus_files
    result = runner.invoke(
        app,
        ["tune", str(corpus), "--pairs", str(labels), "--shingles", "word:5,char:5"],
        env={"COLUMNS": "120"},
    )
    assert result.exit_code == 0, result.output
    assert "120 labelled duplicate pairs and 30 labelled non-duplicate pairs" in result.stdout
    assert "Recommended: --threshold" in result.stdout
    command = next(line for line in result.stdout.splitlines() if "dedupe scan" in line)
    args = shlex.split(command.strip())
    assert args[:2] == ["dedupe", "scan"] and "--threshold" in args and "--shingle" in args
    args[args.index("--out") + 1] = str(tmp_path / "scanned")
    scanned = runner.invoke(app, args[1:])
    assert scanned.exit_code == 0, scanned.output


def test_unlabelled_tune_prints_a_histogram(corpus_files):
    corpus, _ = corpus_files
    result = runner.invoke(app, ["tune", str(corpus)])
    assert result.exit_code == 0, result.output
    assert "Candidate pairs by Jaccard similarity (word:5 shingles" in result.stdout
    bars = [line for line in result.stdout.splitlines() if line.startswith("  0.")]
    assert len(bars) == 14 and bars[0].startswith("  0.30-0.35") and "█" in result.stdout
    assert "Pairs >= 0.5:" in result.stdout


def test_plots_are_written_when_matplotlib_is_installed(corpus_files, tmp_path):
    pytest.importorskip("matplotlib")
    corpus, labels = corpus_files
    out = tmp_path / "tune"
    args = ["tune", str(corpus), "--pairs", str(labels), "--shingles", "word:5", "--out", str(out)]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    for name in ("precision_recall.png", "s_curve.png"):
        assert (out / name).read_bytes().startswith(b"\x89PNG"), name
    written = json.loads((out / "tune.json").read_text())
    assert len(written["rows"]) == 14 and written["recommendation"]["floor_reached"] is True
    assert written["scan_command"].startswith("dedupe scan ")
    unlabelled = runner.invoke(app, ["tune", str(corpus), "--out", str(tmp_path / "u")])
    assert unlabelled.exit_code == 0, unlabelled.output
    assert (tmp_path / "u" / "similarities.png").read_bytes().startswith(b"\x89PNG")


def test_without_matplotlib_tune_says_how_to_get_plots_and_goes_on(
    corpus_files, tmp_path, monkeypatch
):
    from dedupe import plots

    monkeypatch.setattr(plots, "available", lambda: False)
    corpus, labels = corpus_files
    out = tmp_path / "tune"
    args = ["tune", str(corpus), "--pairs", str(labels), "--shingles", "word:5", "--out", str(out)]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "Plots need matplotlib: pip install 'dedupe[plots]'" in result.stdout
    assert sorted(p.name for p in out.iterdir()) == ["tune.json"]


def test_tune_help_teaches_with_an_example():
    env = {**os.environ, "COLUMNS": "120"}
    done = subprocess.run(
        [sys.executable, "-m", "dedupe", "tune", "--help"],
        capture_output=True,
        env=env,
        check=True,
    )
    assert b"Example: dedupe tune articles.jsonl --pairs labels.csv --out tune/" in done.stdout


def test_readme_tune_example_runs(tmp_path):
    """The README's tune session, run as written, prints what the README shows."""
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Choosing the threshold", 1)[1].split("\n## ", 1)[0]
    script = section.split("```sh\n", 1)[1].split("```", 1)[0]
    shown = section.split("```console\n", 1)[1].split("```", 1)[0]
    env = {
        **os.environ,
        "COLUMNS": "100",
        "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}",
    }
    setup = subprocess.run(["bash", "-euc", script], cwd=tmp_path, env=env, check=True)
    assert setup.returncode == 0
    command = shown.splitlines()[0].removeprefix("$ ")
    done = subprocess.run(
        ["bash", "-euc", command], cwd=tmp_path, env=env, capture_output=True, check=False
    )
    assert done.returncode == 0, done.stderr.decode()
    printed = done.stdout.decode()
    for line in shown.splitlines()[1:]:
        assert line.rstrip() in printed, line
