"""Datasets (many JSONL(.gz) and Parquet files) on the local engine: reading, numbering across
files, cleaned copies per file, and the feature algebra the Dask engine relies on."""

from __future__ import annotations

import gzip
import json
import os
from dataclasses import fields

import numpy as np
import pytest

from dedupe import scan_path
from dedupe.config import ScanConfig
from dedupe.core.features import concat_features, featurise, select_documents
from dedupe.core.signature import permutations
from dedupe.datasets import is_dataset, list_data_files, read_file
from dedupe.errors import ConfigError, InputError
from dedupe.records import Record
from tests.corpus_gen import corpus
from tests.dataset_gen import BOILERPLATE, output_files, write_dataset

if os.environ.get("CI"):  # CI installs the test extras: a missing pyarrow is a failure there
    import pyarrow.parquet as pq
else:
    pq = pytest.importorskip("pyarrow.parquet")


def _same_features(a, b) -> None:
    for f in fields(a):
        assert np.array_equal(getattr(a, f.name), getattr(b, f.name)), f.name


def test_features_of_parts_are_the_features_of_the_whole():
    texts = [text for _, text in corpus(3, 30, 20)]
    config = ScanConfig()
    perms = permutations(config.num_perm, config.seed)
    whole = featurise(texts, config, perms)
    parts = [featurise(texts[:7], config, perms), featurise(texts[7:], config, perms)]
    _same_features(concat_features(parts, config.num_perm, config.paragraph_num_perm), whole)
    keep = np.array([i % 3 != 1 for i in range(len(texts))])
    chosen = [t for t, k in zip(texts, keep, strict=True) if k]
    _same_features(select_documents(whole, keep), featurise(chosen, config, perms))


def test_a_dataset_lists_its_data_files_in_path_order(tmp_path):
    write_dataset(tmp_path, seed=1)
    (tmp_path / "b" / "notes.csv").write_text("not data")
    files = list_data_files(str(tmp_path))
    assert [f.relative for f in files] == ["a.jsonl", "b/c.jsonl.gz", "b/e.ndjson", "d.parquet"]
    assert [f.kind for f in files] == ["jsonl", "jsonl", "jsonl", "parquet"]
    assert [f.relative for f in list_data_files(str(tmp_path / "b" / "*.*"))] == [
        "c.jsonl.gz",
        "e.ndjson",
    ]
    assert is_dataset(str(tmp_path)) and is_dataset(str(tmp_path / "*.jsonl"))
    (tmp_path / "x.txt").write_text("a text corpus")
    assert not is_dataset(str(tmp_path))  # a directory with text files is a text corpus


def test_records_are_numbered_across_files_and_every_record_is_accounted_for(tmp_path):
    ids = write_dataset(tmp_path / "in", seed=2)
    out = tmp_path / "out"
    result = scan_path(str(tmp_path / "in"), out, jobs=1)
    summary = result.summary
    positions = 0
    for file in list_data_files(str(tmp_path / "in")):
        positions += sum(1 for _ in read_file(file, positions))
    # 2 extra records in c.jsonl.gz (a repeated id, a blank text) and a malformed line.
    assert summary["records_read"] == positions == len(ids) + 3
    assert summary["records_read"] == (
        summary["records_kept"] + summary["documents_removed"] + summary["records_skipped"]
    )
    reasons = {(s["file"].split("/")[-1], s["reason"].split(" (")[0]) for s in summary["skipped"]}
    assert ("c.jsonl.gz", f"duplicate id {ids[0]!r}") in reasons
    assert ("c.jsonl.gz", "empty text") in reasons
    assert any(name == "a.jsonl" and r.startswith("malformed JSON") for name, r in reasons)
    written = 0
    kept_ids = set()
    for name in ["a.jsonl", "b/c.jsonl.gz", "b/e.ndjson"]:
        opener = gzip.open if name.endswith(".gz") else open
        with opener(out / "cleaned" / name, "rt", encoding="utf-8") as stream:
            for line in stream:
                kept_ids.add(json.loads(line)["id"])
                written += 1
    table = pq.read_table(out / "cleaned" / "d.parquet")
    assert table.column_names == ["id", "text", "rank"]
    kept_ids |= set(table.column("id").to_pylist())
    written += table.num_rows
    assert written == summary["records_kept"] == len(kept_ids)
    removed = {
        m["doc_id"]
        for line in (out / "clusters.jsonl").read_text().splitlines()
        for m in json.loads(line)["members"][1:]
        if json.loads(line)["level"] == "document"
    }
    assert not removed & kept_ids
    assert len(removed) == summary["documents_removed"]


def test_kept_lines_keep_their_bytes_and_gzip_output_is_reproducible(tmp_path):
    write_dataset(tmp_path / "in", seed=3)
    first = output_files(_scan(tmp_path / "in", tmp_path / "o1"))
    second = output_files(_scan(tmp_path / "in", tmp_path / "o2"))
    assert first == second
    source = (tmp_path / "in" / "a.jsonl").read_text().splitlines(keepends=True)
    cleaned = (tmp_path / "o1" / "cleaned" / "a.jsonl").read_text().splitlines(keepends=True)
    changed = [line for line in cleaned if line not in source]
    # Only lines that lose a repeated paragraph differ, and only in their text.
    assert len(changed) < len(cleaned) / 4
    originals = {json.loads(line)["id"]: json.loads(line) for line in source[:-1]}
    for line in changed:
        record = json.loads(line)
        assert record["site"] == "a" and record["text"] in originals[record["id"]]["text"]


def _scan(src, out, **options):
    scan_path(str(src), out, jobs=1, **options)
    return out


def test_boilerplate_is_cut_from_parquet_rows_too(tmp_path):
    write_dataset(tmp_path / "in", seed=4)
    out = _scan(tmp_path / "in", tmp_path / "o", boilerplate_min_docs=5)
    texts = pq.read_table(out / "cleaned" / "d.parquet").column("text").to_pylist()
    assert texts and not any(BOILERPLATE in text for text in texts)


def test_parquet_without_the_text_column_is_a_clear_error(tmp_path):
    import pyarrow as pa

    pq.write_table(pa.table({"id": ["a"], "body": ["words"]}), tmp_path / "x.parquet")
    with pytest.raises(InputError, match=r"x.parquet: no column 'text' \(columns: id, body\)"):
        scan_path(str(tmp_path / "x.parquet"), tmp_path / "o")
    parquet = tmp_path / "ok"
    parquet.mkdir()
    pq.write_table(
        pa.table({"id": ["a", "b"], "body": ["same words here", None]}), parquet / "y.parquet"
    )
    result = scan_path(str(parquet), tmp_path / "o2", text_field="body")
    assert result.summary["records_kept"] == 1
    assert result.summary["skipped"][0]["reason"] == "text column 'body' is null"
    assert result.summary["skipped"][0]["line"] == 2


def test_a_dataset_on_an_fsspec_filesystem_reads_like_a_local_one(tmp_path):
    fsspec = pytest.importorskip("fsspec")
    write_dataset(tmp_path / "in", seed=5)
    memory = fsspec.filesystem("memory")
    for path in sorted((tmp_path / "in").rglob("*.*")):
        memory.pipe(f"/news/{path.relative_to(tmp_path / 'in').as_posix()}", path.read_bytes())
    local = output_files(_scan(tmp_path / "in", tmp_path / "o1"))
    remote = output_files(_scan("memory://news", tmp_path / "o2"))
    assert local.keys() == remote.keys()
    named = {"summary.json", "report.html"}  # these name the input
    assert {k: v for k, v in local.items() if k not in named} == {
        k: v for k, v in remote.items() if k not in named
    }


def test_text_files_and_stdin_are_not_for_the_dask_engine(tmp_path):
    (tmp_path / "a.txt").write_text("words")
    with pytest.raises(ConfigError, match="reads JSONL"):
        scan_path(str(tmp_path), tmp_path / "o", engine="dask", fmt="text")
    with pytest.raises(ConfigError, match="engine 'spark' is not one of: local, dask"):
        scan_path(str(tmp_path), tmp_path / "o", engine="spark")


def test_records_read_from_a_dataset_are_records(tmp_path):
    write_dataset(tmp_path, seed=6)
    (file,) = [f for f in list_data_files(str(tmp_path)) if f.kind == "parquet"]
    items = list(read_file(file, 100))
    assert items[0].position == 100 and isinstance(items[0], Record)
    assert items[0].origin.line == 1 and items[0].origin.path == file.display


def test_tune_and_the_index_read_datasets_too(tmp_path):
    from typer.testing import CliRunner

    from dedupe.cli import app

    write_dataset(tmp_path / "in", seed=7)
    runner = CliRunner()
    scanned = runner.invoke(app, ["scan", str(tmp_path / "in"), "--out", str(tmp_path / "s")])
    assert scanned.exit_code == 0, scanned.output
    args = ["scan", str(tmp_path / "in"), "--out", str(tmp_path / "i")]
    indexed = runner.invoke(app, [*args, "--index", str(tmp_path / "seen.sqlite")])
    assert indexed.exit_code == 0, indexed.output
    # Added one at a time to the index, the dataset gets the same cleaned copies as a scan.
    assert output_files(tmp_path / "s" / "cleaned") == output_files(tmp_path / "i" / "cleaned")
    tuned = runner.invoke(app, ["tune", str(tmp_path / "in"), "--out", str(tmp_path / "t")])
    assert tuned.exit_code == 0, tuned.output
    assert "Pairs >= 0.5" in tuned.output


def test_scan_path_takes_a_pathlib_path_as_a_string_path(tmp_path):
    # A library caller hands over a Path as readily as a str: the same scan either way, for a
    # dataset directory and for a single JSONL file.
    write_dataset(tmp_path / "in", seed=3)
    single = tmp_path / "one.jsonl"
    single.write_text('{"id": "a", "text": "one two three four five six"}\n')
    for source in (tmp_path / "in", single):
        by_str = scan_path(str(source), tmp_path / "s", jobs=1).summary
        by_path = scan_path(source, tmp_path / "p", jobs=1).summary
        assert by_path["records_read"] == by_str["records_read"] > 0
        assert (tmp_path / "p" / "clusters.jsonl").read_bytes() == (
            tmp_path / "s" / "clusters.jsonl"
        ).read_bytes()
