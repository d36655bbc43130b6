"""Writers: atomic files, cleaned JSONL lines that keep every other byte, mirrored text trees."""

from __future__ import annotations

import contextlib
import io
import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dedupe.api import Previews, render_clusters
from dedupe.pipeline import similarity_codes
from dedupe.readers import open_source
from dedupe.records import Origin, Record
from dedupe.result import Cluster, ClusterTable, Member, similarity_column
from dedupe.writers import (
    CleanedWriter,
    atomic_open,
    atomic_write_bytes,
    cleaned_jsonl_line,
    cluster_chunks,
    write_cluster_tables,
    write_clusters,
    write_summary,
)


def listing(folder: Path) -> list[str]:
    """Every path under ``folder``, hidden ones included, relative and sorted."""
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*"))


def read_one(line: bytes, **kwargs: Any) -> Record:
    with open_source("-", stdin=io.BytesIO(line), **kwargs) as source:
        (record,) = list(source)
    assert isinstance(record, Record), record
    return record


def jsonl_record(raw: str, text: str, span: tuple[int, int], doc_id: str = "a") -> Record:
    return Record(0, doc_id, text, Origin("in.jsonl", 1), raw=raw, text_span=span)


def text_record(doc_id: str, text: str, path: str | None = None) -> Record:
    return Record(0, doc_id, text, Origin(path or f"corpus/{doc_id}"))


# --- atomic files ----------------------------------------------------------------------------


def test_atomic_write_bytes_creates_and_replaces_without_leftovers(tmp_path: Path) -> None:
    target = tmp_path / "out.bin"
    atomic_write_bytes(target, b"first")
    atomic_write_bytes(target, b"second\r\n")
    assert target.read_bytes() == b"second\r\n"
    assert listing(tmp_path) == ["out.bin"]


def test_atomic_write_gets_the_same_mode_as_open(tmp_path: Path) -> None:
    reference = tmp_path / "reference"
    reference.write_bytes(b"")
    target = tmp_path / "atomic"
    atomic_write_bytes(target, b"")
    assert target.stat().st_mode == reference.stat().st_mode


def test_atomic_open_exception_keeps_old_file(tmp_path: Path) -> None:
    target = tmp_path / "report.json"
    target.write_text("old")
    with pytest.raises(RuntimeError, match="boom"), atomic_open(target) as stream:
        stream.write("new, half written")
        raise RuntimeError("boom")
    assert target.read_text() == "old"
    assert listing(tmp_path) == ["report.json"]


def test_atomic_open_exception_creates_nothing(tmp_path: Path) -> None:
    with pytest.raises(KeyboardInterrupt), atomic_open(tmp_path / "new.txt") as stream:
        stream.write("x")
        raise KeyboardInterrupt
    assert listing(tmp_path) == []


def test_atomic_open_writes_line_ends_as_given(tmp_path: Path) -> None:
    target = tmp_path / "t.txt"
    with atomic_open(target) as stream:
        stream.write("a\r\nb\nc\u00e9")
    assert target.read_bytes() == "a\r\nb\nc\u00e9".encode()


def test_atomic_open_rejects_non_write_modes(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="mode 'a'"), atomic_open(tmp_path / "x", "a"):
        pass
    assert listing(tmp_path) == []


# --- clusters and summary --------------------------------------------------------------------


def make_cluster(cluster_id: str, text: str) -> Cluster:
    keep = Member("doc-1", 0, 1.0, text)
    return Cluster(cluster_id, "paragraph", keep, (keep, Member("doc-2", 3, 0.9, text)))


def test_write_clusters_one_object_per_line(tmp_path: Path) -> None:
    clusters = [make_cluster("c1", "caf\u00e9"), make_cluster("c2", "plain")]
    target = tmp_path / "clusters.jsonl"
    assert write_clusters(target, iter(clusters)) == 2
    data = target.read_bytes()
    assert "caf\u00e9".encode() in data  # not escaped
    lines = data.decode().split("\n")
    assert lines[-1] == ""
    assert [json.loads(line) for line in lines[:-1]] == [c.as_dict() for c in clusters]


def test_write_clusters_empty_and_lone_surrogate(tmp_path: Path) -> None:
    target = tmp_path / "clusters.jsonl"
    assert write_clusters(target, []) == 0
    assert target.read_bytes() == b""
    assert write_clusters(target, [make_cluster("c", "half \ud800 pair")]) == 1
    assert json.loads(target.read_text())["keep"]["text"] == "half \ud800 pair"


STRINGS = st.text(
    st.sampled_from([*'ab "\\/\n\t\x00\x1f\u00e9\u2019\u65e5', "\ud800", "\U0001f600"])
)


@st.composite
def cluster_tables(draw: st.DrawFn) -> tuple[list[ClusterTable], list[list[str]]]:
    tables, texts = [], []
    for level in ("document", "paragraph"):
        sizes = draw(st.lists(st.integers(2, 4), max_size=4))
        bounds = [0]
        for size in sizes:
            bounds.append(bounds[-1] + size)
        n = bounds[-1]
        ids = draw(st.lists(STRINGS, min_size=n, max_size=n))
        sims = draw(st.lists(st.floats(0, 1), min_size=n, max_size=n))
        if level == "document":
            tables.append(ClusterTable(level, bounds, list(range(n)), ids, sims))
            texts.append([""] * n)
        else:
            paragraphs = draw(st.lists(st.integers(0, 999), min_size=n, max_size=n))
            spans = [0] * n
            tables.append(
                ClusterTable(level, bounds, list(range(n)), ids, sims, paragraphs, spans, spans)
            )
            texts.append(draw(st.lists(STRINGS, min_size=n, max_size=n)))
    return tables, texts


def _as_arrays(table: ClusterTable) -> ClusterTable:
    """``table`` with numpy columns, as pass one makes the paragraph table."""
    return ClusterTable(
        table.level,
        table.bounds,
        np.asarray(table.positions, dtype=np.int64),
        np.asarray(table.doc_ids, dtype=object),
        np.asarray(table.similarities, dtype=np.float64),
        *(
            None if column is None else np.asarray(column, dtype=np.int64)
            for column in (table.paragraphs, table.starts, table.ends)
        ),
    )


@settings(max_examples=80, deadline=None)
@given(cluster_tables(), st.integers(1, 6))
def test_cluster_tables_are_written_as_their_clusters(
    tables_and_texts: Any, chunk_members: int
) -> None:
    tables, texts = tables_and_texts
    with Previews(tables) as previews:
        for number, table_texts in enumerate(texts):
            for member, text in enumerate(table_texts):
                previews.put((number, member), text)
        clusters = render_clusters(tables, previews)
        with _temporary_folder() as folder:
            expected, fast = folder / "expected.jsonl", folder / "fast.jsonl"
            chunked, arrays = folder / "chunked.jsonl", folder / "arrays.jsonl"
            assert write_clusters(expected, clusters) == write_cluster_tables(fast, tables, texts)
            assert fast.read_bytes() == expected.read_bytes()
            # In chunks of a few members, from numpy columns and spooled texts: the same bytes.
            write_cluster_tables(chunked, tables, previews.texts, chunk_members)
            assert chunked.read_bytes() == expected.read_bytes()
            write_cluster_tables(arrays, [_as_arrays(t) for t in tables], texts, chunk_members)
            assert arrays.read_bytes() == expected.read_bytes()
            # Shares formatted in forked processes (where forking is safe), read from the spool.
            forked = folder / "forked.jsonl"
            count = write_cluster_tables(forked, tables, previews.texts, chunk_members, jobs=3)
            assert forked.read_bytes() == expected.read_bytes()
            assert count == len(clusters)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.one_of(
            st.floats(0, 1),
            # Halfway between two 4-digit values, and the doubles beside it.
            st.integers(0, 9_999).map(lambda k: (k + 0.5) / 10_000),
            st.integers(0, 9_999).map(lambda k: np.nextafter((k + 0.5) / 10_000, 0.0)),
            st.integers(0, 10_000).map(lambda k: k / 10_000),
        ),
        max_size=40,
    )
)
def test_similarity_codes_are_the_rounded_similarities(values: list[float]) -> None:
    codes = similarity_codes(np.array(values, dtype=np.float64))
    assert codes.dtype == np.uint16
    column = similarity_column(codes)
    assert list(column) == [round(float(v), 4) for v in values]
    assert np.asarray(column, dtype=np.float64).tolist() == [round(float(v), 4) for v in values]


def test_a_coded_similarity_column_is_written_as_its_values(tmp_path: Path) -> None:
    values = [1.0, 0.8123, 0.5, 1.0, 0.0001, 0.0]
    codes = similarity_codes(np.array(values))
    tables = [
        ClusterTable("paragraph", [0, 3, 6], list(range(6)), list("abcdef"), sims, *[[0] * 6] * 3)
        for sims in (values, similarity_column(codes))
    ]
    texts = [["x"] * 6]
    write_cluster_tables(tmp_path / "floats.jsonl", tables[:1], texts)
    write_cluster_tables(tmp_path / "codes.jsonl", tables[1:], texts, jobs=2)
    written = (tmp_path / "codes.jsonl").read_bytes()
    assert written == (tmp_path / "floats.jsonl").read_bytes()
    assert b'"similarity": 0.8123' in written and b'"similarity": 0.0001' in written


def test_cluster_chunks_cover_every_cluster_once() -> None:
    bounds = [0, 2, 5, 6, 9, 30, 31]
    for chunk_members in (1, 3, 4, 100):
        chunks = list(cluster_chunks(bounds, chunk_members))
        assert [c for first, last in chunks for c in range(first, last)] == list(range(6))
        assert all(bounds[last] - bounds[first] >= chunk_members for first, last in chunks[:-1])
    assert list(cluster_chunks([0], 5)) == []


@contextlib.contextmanager
def _temporary_folder() -> Iterator[Path]:
    with tempfile.TemporaryDirectory() as name:
        yield Path(name)


def test_write_summary_indented_ordered_with_newline(tmp_path: Path) -> None:
    target = tmp_path / "summary.json"
    summary = {"zeta": 1, "alpha": {"name": "\u00e9"}}
    write_summary(target, summary)
    text = target.read_text(encoding="utf-8")
    assert text == '{\n  "zeta": 1,\n  "alpha": {\n    "name": "\u00e9"\n  }\n}\n'
    assert listing(tmp_path) == ["summary.json"]


# --- cleaned JSONL lines ---------------------------------------------------------------------


def test_cleaned_line_unchanged_text_is_the_raw_line() -> None:
    raw = '{"text":"a\\u00e9",  "id": "a"}'
    assert cleaned_jsonl_line(jsonl_record(raw, "a\u00e9", (7, 17)), "a\u00e9") is raw


def test_cleaned_line_keeps_ascii_escaping_style() -> None:
    raw = '{"id": "a", "text": "x\\u00e9y"}'
    line = cleaned_jsonl_line(jsonl_record(raw, "x\u00e9y", (20, 30)), "\u00e9 only")
    assert line == '{"id": "a", "text": "\\u00e9 only"}'


def test_cleaned_line_keeps_raw_unicode_style() -> None:
    raw = '{"id": "\u00e9", "text": "x"}'
    line = cleaned_jsonl_line(jsonl_record(raw, "x", (20, 23)), "\u00e9 \u4e2d")
    assert line == '{"id": "\u00e9", "text": "\u00e9 \u4e2d"}'


def test_cleaned_line_escapes_lone_surrogates_in_a_unicode_line() -> None:
    raw = '{"id": "\u00e9", "text": "x"}'
    line = cleaned_jsonl_line(jsonl_record(raw, "x", (20, 23)), "bad \ud800")
    line.encode("utf-8")  # must not raise
    assert json.loads(line)["text"] == "bad \ud800"


def test_cleaned_line_for_library_input_uses_fields() -> None:
    record = Record(0, "doc", "old", Origin("<memory>"), fields={"lang": "fr", "id": "stale"})
    line = cleaned_jsonl_line(record, "nouveau \u00e9", text_field="body")
    assert line == '{"lang": "fr", "id": "doc", "body": "nouveau \u00e9"}'


def test_cleaned_line_without_span_finds_it_in_the_line() -> None:
    record = Record(0, "doc", "old", Origin("x"), raw='{"text" : "old", "id": "doc"}')
    assert cleaned_jsonl_line(record, "new") == '{"text" : "new", "id": "doc"}'


def test_cleaned_line_without_a_text_value_cannot_change_text() -> None:
    record = Record(0, "doc", "old", Origin("x"), raw='{"body": "old"}')
    with pytest.raises(ValueError, match="no text span"):
        cleaned_jsonl_line(record, "new")


json_scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=10)
)
json_values = st.recursive(
    json_scalars,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=8,
)


@settings(max_examples=100, deadline=None)
@given(
    others=st.dictionaries(
        st.text(max_size=8).filter(lambda k: k not in ("text", "id")), json_values, max_size=5
    ),
    text_at=st.integers(min_value=0, max_value=5),
    text=st.text(),
    new_text=st.text(),
    ensure_ascii=st.booleans(),
    separators=st.sampled_from([(",", ":"), (", ", ": "), (" ,\t", " :  ")]),
    padding=st.sampled_from(["", " ", "\t "]),
)
def test_text_span_and_cleaned_line_round_trip(
    others: dict[str, Any],
    text_at: int,
    text: str,
    new_text: str,
    ensure_ascii: bool,
    separators: tuple[str, str],
    padding: str,
) -> None:
    items = list(others.items())
    items.insert(min(text_at, len(items)), ("text", text))
    original = dict(items)
    raw = padding + json.dumps(original, ensure_ascii=ensure_ascii, separators=separators) + padding
    record = read_one(raw.encode("utf-8") + b"\n")

    assert record.raw == raw
    assert record.text == text
    assert record.text_span is not None
    start, end = record.text_span
    assert json.loads(raw[start:end]) == text

    assert cleaned_jsonl_line(record, text) == raw
    line = cleaned_jsonl_line(record, new_text)
    assert line[:start] == raw[:start]
    assert line.endswith(raw[end:])
    parsed = json.loads(line)
    assert parsed == {**original, "text": new_text}
    assert list(parsed) == list(original)
    if raw.isascii():
        assert line.isascii()


# --- CleanedWriter ---------------------------------------------------------------------------


def test_cleaned_jsonl_appears_only_on_commit(tmp_path: Path) -> None:
    out = tmp_path / "out"
    writer = CleanedWriter(out, "jsonl", is_tree=False)
    raw = '{"id":"a","text":"keep\\n\\ndrop"}'
    writer.write(jsonl_record(raw, "keep\n\ndrop", (17, 31)), "keep\n\n")
    writer.write(jsonl_record('{"text":"t","id":"b"}', "t", (8, 11), doc_id="b"), "t")
    assert not (out / "cleaned.jsonl").exists()
    writer.commit()
    assert (out / "cleaned.jsonl").read_bytes() == (
        b'{"id":"a","text":"keep\\n\\n"}\n{"text":"t","id":"b"}\n'
    )
    assert listing(out) == ["cleaned.jsonl"]
    assert writer.written == 2


def test_cleaned_jsonl_abort_keeps_previous_output(tmp_path: Path) -> None:
    (tmp_path / "cleaned.jsonl").write_text("previous\n")
    with pytest.raises(RuntimeError), CleanedWriter(tmp_path, "jsonl", is_tree=False) as writer:
        writer.write(Record(0, "a", "t", Origin("m")), "t")
        raise RuntimeError("interrupted")
    assert (tmp_path / "cleaned.jsonl").read_text() == "previous\n"
    assert listing(tmp_path) == ["cleaned.jsonl"]
    with pytest.raises(ValueError, match="closed"):
        writer.write(Record(0, "a", "t", Origin("m")), "t")


def test_cleaned_tree_mirrors_nested_dirs_and_keeps_crlf_bytes(tmp_path: Path) -> None:
    out = tmp_path / "out"
    with CleanedWriter(out, "text", is_tree=True) as writer:
        writer.write(text_record("a.md", "top\r\n"), "top\r\n")
        writer.write(text_record("b/deep/z.txt", "p1\r\n\r\np2\r\n"), "p2\r\n")
        writer.write(text_record("b/\u00e9.txt", "x"), "caf\u00e9\n")
        assert not (out / "cleaned").exists()
    assert listing(out) == [
        "cleaned",
        "cleaned/a.md",
        "cleaned/b",
        "cleaned/b/deep",
        "cleaned/b/deep/z.txt",
        "cleaned/b/\u00e9.txt",
    ]
    assert (out / "cleaned" / "a.md").read_bytes() == b"top\r\n"
    assert (out / "cleaned" / "b" / "deep" / "z.txt").read_bytes() == b"p2\r\n"
    assert (out / "cleaned" / "b" / "\u00e9.txt").read_bytes() == "caf\u00e9\n".encode()


def test_cleaned_tree_replaces_old_output_whole(tmp_path: Path) -> None:
    stale = tmp_path / "cleaned" / "gone"
    stale.mkdir(parents=True)
    (stale / "old.txt").write_text("stale")
    with CleanedWriter(tmp_path, "text", is_tree=True) as writer:
        writer.write(text_record("new.txt", "n"), "n")
    assert listing(tmp_path) == ["cleaned", "cleaned/new.txt"]


def test_cleaned_tree_abort_removes_temp_and_keeps_old(tmp_path: Path) -> None:
    (tmp_path / "cleaned").mkdir()
    (tmp_path / "cleaned" / "old.txt").write_text("old")
    writer = CleanedWriter(tmp_path, "text", is_tree=True)
    writer.write(text_record("new.txt", "n"), "n")
    assert any(name.startswith(".cleaned.tmp-") for name in listing(tmp_path))
    writer.abort()
    writer.abort()  # idempotent
    assert listing(tmp_path) == ["cleaned", "cleaned/old.txt"]


def test_cleaned_single_text_file_is_named_for_its_file(tmp_path: Path) -> None:
    record = text_record("ignored-id", "a\r\n", path=str(tmp_path / "in" / "note.txt"))
    with CleanedWriter(tmp_path / "out", "text", is_tree=False) as writer:
        writer.write(record, "a\r\n")
    assert listing(tmp_path / "out") == ["cleaned", "cleaned/note.txt"]
    assert (tmp_path / "out" / "cleaned" / "note.txt").read_bytes() == b"a\r\n"


@pytest.mark.parametrize("doc_id", ["../escape.txt", "/abs.txt", "", ".", "a/../../b.txt"])
def test_cleaned_tree_rejects_ids_outside_the_tree(tmp_path: Path, doc_id: str) -> None:
    with (
        CleanedWriter(tmp_path, "text", is_tree=True) as writer,
        pytest.raises(ValueError, match="does not name a file"),
    ):
        writer.write(text_record(doc_id, "x"), "x")
    assert listing(tmp_path) == ["cleaned"]


def test_cleaned_tree_refuses_two_records_for_one_file(tmp_path: Path) -> None:
    with CleanedWriter(tmp_path, "text", is_tree=True) as writer:
        writer.write(text_record("a.txt", "x"), "x")
        with pytest.raises(ValueError, match="same file"):
            writer.write(text_record("a.txt", "y"), "y")


def test_read_then_write_unchanged_tree_is_byte_identical(tmp_path: Path) -> None:
    root = tmp_path / "corpus"
    (root / "sub").mkdir(parents=True)
    files = {
        "one.txt": b"para one\r\n\r\npara two\r\n",
        "sub/two.md": "# t\u00eftle\n\nbody\n".encode(),
        "sub/three.txt": b"no final newline",
    }
    for name, data in files.items():
        (root / name).write_bytes(data)
    out = tmp_path / "out"
    with open_source(str(root)) as source, CleanedWriter(out, source.format, source.is_tree) as w:
        for record in source:
            assert isinstance(record, Record)
            w.write(record, record.text)
    for name, data in files.items():
        assert (out / "cleaned" / name).read_bytes() == data


def test_read_then_write_unchanged_jsonl_is_byte_identical(tmp_path: Path) -> None:
    data = b'{"id": 1, "text": "a\\u00e9"}\r\n\n{"text":"\xc3\xa9","x":[1,2]}\n'
    src = tmp_path / "in.jsonl"
    src.write_bytes(data)
    with open_source(str(src)) as source, CleanedWriter(tmp_path, source.format, False) as w:
        for record in source:
            assert isinstance(record, Record)
            w.write(record, record.text)
    assert (tmp_path / "cleaned.jsonl").read_bytes() == data.replace(b"\r\n\n", b"\n")


def test_cleaned_writer_mode_matches_open(tmp_path: Path) -> None:
    reference = tmp_path / "reference"
    reference.write_bytes(b"")
    (tmp_path / "ref-dir").mkdir()
    with CleanedWriter(tmp_path, "text", is_tree=True) as writer:
        writer.write(text_record("a.txt", "x"), "x")
    assert (tmp_path / "cleaned" / "a.txt").stat().st_mode == reference.stat().st_mode
    assert os.stat(tmp_path / "cleaned").st_mode == os.stat(tmp_path / "ref-dir").st_mode
