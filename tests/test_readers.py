"""Readers: every format, every bad-input case, stable positions across re-reads."""

from __future__ import annotations

import dataclasses
import gzip
import io
import json
import os
import tempfile
from pathlib import Path

import pytest

from dedupe.errors import ConfigError, InputError
from dedupe.readers import (
    NOTE_BOM,
    NOTE_INVALID_UTF8,
    NOTE_NUL,
    Line,
    detect_format,
    open_source,
    text_value_span,
)
from dedupe.records import Origin, Record, Skipped


def write_lines(path: Path, *lines: str | bytes, end: bytes = b"\n") -> Path:
    path.write_bytes(b"".join((ln if isinstance(ln, bytes) else ln.encode()) + end for ln in lines))
    return path


def read_all(path: Path | str, **kwargs: object) -> list[Record | Skipped]:
    with open_source(str(path), **kwargs) as source:  # type: ignore[arg-type]
        return list(source)


def only(items: list[Record | Skipped]) -> Record | Skipped:
    assert len(items) == 1, items
    return items[0]


def as_record(item: Record | Skipped) -> Record:
    assert isinstance(item, Record), item
    return item


def as_skipped(item: Record | Skipped) -> Skipped:
    assert isinstance(item, Skipped), item
    return item


@pytest.fixture
def text_tree(tmp_path: Path) -> Path:
    """A directory: nested .txt and .md files, a .csv to ignore, names out of creation order."""
    root = tmp_path / "corpus"
    (root / "b" / "deep").mkdir(parents=True)
    (root / "b" / "deep" / "z.md").write_bytes(b"# deep\r\n\r\nmarkdown\r\n")
    (root / "b" / "a.txt").write_bytes(b"nested text")
    (root / "c.txt").write_bytes(b"top text")
    (root / "a.md").write_bytes(b"top markdown")
    (root / "table.csv").write_bytes(b"x,y\n1,2\n")
    return root


# --- detect_format ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("-", "jsonl"),
        ("data.jsonl", "jsonl"),
        ("data.JSONL", "jsonl"),
        ("data.jsonl.gz", "jsonl"),
        ("data.json", "jsonl"),
        ("data.ndjson", "jsonl"),
        ("data.ndjson.gz", "jsonl"),
        ("notes.txt", "text"),
        ("notes.md", "text"),
        ("notes.rst", "text"),
        ("noext", "text"),
    ],
)
def test_detect_format_by_name(name: str, expected: str) -> None:
    assert detect_format(name) == expected


def test_detect_format_directory_is_text(tmp_path: Path) -> None:
    folder = tmp_path / "looks.jsonl"
    folder.mkdir()
    assert detect_format(str(folder)) == "text"


# --- JSONL -----------------------------------------------------------------------------------


def test_jsonl_records_fields_and_origin(tmp_path: Path) -> None:
    first_line = '{"id": "a", "text": "hello"}'
    path = write_lines(tmp_path / "in.jsonl", first_line, '{"text": "x", "id": 7}')
    with open_source(str(path)) as source:
        assert (source.format, source.root, source.is_tree) == ("jsonl", str(path), False)
        first, second = (as_record(r) for r in source)
    origin = Origin(str(path), 1)
    assert first == Record(0, "a", "hello", origin, raw=first_line, text_span=(20, 27))
    assert second.id == "7"
    assert second.origin == Origin(str(path), 2)
    assert second.notes == ()


def test_jsonl_gzip_by_suffix_and_by_magic_bytes(tmp_path: Path) -> None:
    body = b'{"id": "a", "text": "one"}\n{"id": "b", "text": "two"}\n'
    suffixed = tmp_path / "in.jsonl.gz"
    suffixed.write_bytes(gzip.compress(body))
    unsuffixed = tmp_path / "in.jsonl"
    unsuffixed.write_bytes(gzip.compress(body))
    for path in (suffixed, unsuffixed):
        records = [as_record(r) for r in read_all(path)]
        assert [(r.id, r.text) for r in records] == [("a", "one"), ("b", "two")]


def test_jsonl_gz_suffix_that_is_not_compressed_still_reads(tmp_path: Path) -> None:
    path = write_lines(tmp_path / "plain.jsonl.gz", '{"text": "t"}')
    assert as_record(only(read_all(path))).text == "t"


def test_truncated_gzip_fails_the_run(tmp_path: Path) -> None:
    data = gzip.compress(b'{"text": "t"}\n' * 1000)
    path = tmp_path / "cut.jsonl.gz"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(InputError, match="cannot read"):
        read_all(path)


def test_positions_count_skipped_lines_but_not_blank_ones(tmp_path: Path) -> None:
    path = write_lines(
        tmp_path / "in.jsonl",
        '{"text": "a"}',
        "",
        "   ",
        "{bad",
        '{"text": "b"}',
    )
    items = read_all(path)
    assert [type(i).__name__ for i in items] == ["Record", "Skipped", "Record"]
    assert [i.position for i in items] == [0, 1, 2]
    assert [i.origin.line for i in items] == [1, 4, 5]


def test_reiteration_yields_identical_records(tmp_path: Path) -> None:
    path = write_lines(tmp_path / "in.jsonl", '{"text": "a"}', "[1]", '{"text": "b", "id": 3}')
    with open_source(str(path)) as source:
        assert list(source) == list(source)
        assert len(list(source)) == 3


def test_malformed_line_is_skipped_with_line_and_reason_and_reading_goes_on(
    tmp_path: Path,
) -> None:
    bad = '{"id": "x" "text": "y"}'
    path = write_lines(tmp_path / "in.jsonl", '{"text": "a"}', bad, '{"text": "c"}')
    _, bad_item, last = read_all(path)
    skipped = as_skipped(bad_item)
    assert skipped.origin == Origin(str(path), 2)
    assert skipped.reason == "malformed JSON: Expecting ',' delimiter at column 12"
    assert as_record(last).text == "c"


@pytest.mark.parametrize(
    "line",
    [
        '{"a" 1}',
        '{"a": }',
        '{"a": 1 "b": 2}',
        "{'a': 1}",
        '{"a": 1}}',
        '{"a": 1} x',
        '{"a": [1, 2}',
        '{"a": "unterminated}',
        '{"a": "bad \\q escape"}',
        '{"a": "ctrl \x01 char"}',
        "{",
        '{"a"',
        '{"a":',
        '{"a": 1,',
        "   {  ",
        "not json",
        '"\ufeff"x',
    ],
)
def test_malformed_reason_matches_json_module(tmp_path: Path, line: str) -> None:
    with pytest.raises(json.JSONDecodeError) as expected:
        json.loads(line)
    path = write_lines(tmp_path / "in.jsonl", line)
    skipped = as_skipped(only(read_all(path)))
    exc = expected.value
    assert skipped.reason == f"malformed JSON: {exc.msg} at column {exc.colno}"


def test_trailing_comma_is_malformed(tmp_path: Path) -> None:
    # The message for this case changed in Python 3.13; only its shape is pinned here.
    path = write_lines(tmp_path / "in.jsonl", '{"text": "a",}')
    assert as_skipped(only(read_all(path))).reason.startswith("malformed JSON: ")


def test_deep_nesting_is_skipped_not_a_crash(tmp_path: Path) -> None:
    path = write_lines(tmp_path / "in.jsonl", '{"text": ' + "[" * 100_000 + "]" * 100_000 + "}")
    assert as_skipped(only(read_all(path))).reason.startswith("malformed JSON")


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ("[1, 2]", "line is a JSON array, not an object"),
        ('"text"', "line is a JSON string, not an object"),
        ("3", "line is a JSON number, not an object"),
        ("null", "line is JSON null, not an object"),
        ("true", "line is a JSON boolean, not an object"),
    ],
)
def test_non_object_line_is_skipped(tmp_path: Path, line: str, reason: str) -> None:
    path = write_lines(tmp_path / "in.jsonl", line)
    assert as_skipped(only(read_all(path))).reason == reason


def test_missing_text_field_names_other_string_fields(tmp_path: Path) -> None:
    path = write_lines(
        tmp_path / "in.jsonl",
        '{"id": "a", "title": "T", "n": 3, "body": "B"}',
        '{"id": "b", "n": 3}',
    )
    with_fields, without = (as_skipped(i) for i in read_all(path))
    assert with_fields.reason == "missing text field 'text' (fields: body, title)"
    assert with_fields.id == "a"
    assert without.reason == "missing text field 'text'"


def test_missing_text_field_lists_at_most_eight_fields(tmp_path: Path) -> None:
    line = json.dumps({f"f{i}": "v" for i in range(12)})
    reason = as_skipped(only(read_all(write_lines(tmp_path / "in.jsonl", line)))).reason
    assert reason == "missing text field 'text' (fields: f0, f1, f10, f11, f2, f3, f4, f5, ...)"


@pytest.mark.parametrize(
    ("value", "kind"),
    [
        ("3", "a number"),
        ("null", "null"),
        ("[]", "an array"),
        ("{}", "an object"),
        ("true", "a boolean"),
    ],
)
def test_non_string_text_is_skipped(tmp_path: Path, value: str, kind: str) -> None:
    path = write_lines(tmp_path / "in.jsonl", f'{{"id": "a", "text": {value}}}')
    skipped = as_skipped(only(read_all(path)))
    assert skipped.reason == f"text field 'text' is {kind}, not a string"
    assert skipped.id == "a"


def test_invalid_utf8_is_replaced_and_noted(tmp_path: Path) -> None:
    path = write_lines(tmp_path / "in.jsonl", b'{"text": "caf\xe9 ok"}')
    record = as_record(only(read_all(path)))
    assert record.text == "caf\ufffd ok"
    assert record.notes == (NOTE_INVALID_UTF8,)


def test_bom_is_removed_and_noted_on_the_first_line_only(tmp_path: Path) -> None:
    path = write_lines(tmp_path / "in.jsonl", b'\xef\xbb\xbf{"text": "a"}', b'{"text": "b"}')
    first, second = (as_record(i) for i in read_all(path))
    assert first.notes == (NOTE_BOM,)
    assert first.raw == '{"text": "a"}'
    assert first.text_span == (9, 12)
    assert second.notes == ()


def test_crlf_line_ends_are_stripped_without_a_note(tmp_path: Path) -> None:
    path = write_lines(tmp_path / "in.jsonl", '{"text": "a\\r\\nb"}', '{"text": "c"}', end=b"\r\n")
    first, second = (as_record(i) for i in read_all(path))
    assert first.raw == '{"text": "a\\r\\nb"}'
    assert first.text == "a\r\nb"
    assert (first.notes, second.notes) == ((), ())


def test_last_line_without_newline(tmp_path: Path) -> None:
    path = tmp_path / "in.jsonl"
    path.write_bytes(b'{"text": "a"}\n{"text": "b"}')
    assert [as_record(i).text for i in read_all(path)] == ["a", "b"]


def test_nul_characters_are_kept_and_noted(tmp_path: Path) -> None:
    path = write_lines(tmp_path / "in.jsonl", '{"text": "a\\u0000b"}')
    record = as_record(only(read_all(path)))
    assert record.text == "a\x00b"
    assert record.notes == (NOTE_NUL,)


def test_fifteen_megabyte_line(tmp_path: Path) -> None:
    text = "word " * 3_000_000
    path = write_lines(tmp_path / "big.jsonl", json.dumps({"id": "big", "text": text}))
    assert path.stat().st_size > 15_000_000
    record = as_record(only(read_all(path)))
    assert record.text == text
    assert record.raw is not None and record.text_span is not None
    start, end = record.text_span
    assert (start, end) == (record.raw.index('"word'), len(record.raw) - 1)


def test_missing_id_is_the_line_number(tmp_path: Path) -> None:
    path = write_lines(tmp_path / "in.jsonl", "", '{"text": "a"}', '{"text": "b", "id": 12}')
    assert [as_record(i).id for i in read_all(path)] == ["2", "12"]


@pytest.mark.parametrize(
    ("value", "expected"),
    [('"s"', "s"), ("12", "12"), ("-3", "-3"), ("1.5", "1.5"), ('""', "")],
)
def test_id_values_become_strings(tmp_path: Path, value: str, expected: str) -> None:
    path = write_lines(tmp_path / "in.jsonl", f'{{"id": {value}, "text": "t"}}')
    assert as_record(only(read_all(path))).id == expected


@pytest.mark.parametrize(
    ("value", "kind"),
    [("null", "null"), ("{}", "an object"), ("[1]", "an array"), ("true", "a boolean")],
)
def test_unusable_id_is_skipped(tmp_path: Path, value: str, kind: str) -> None:
    path = write_lines(tmp_path / "in.jsonl", f'{{"id": {value}, "text": "t"}}')
    skipped = as_skipped(only(read_all(path)))
    assert skipped.reason == f"id field 'id' is {kind}, not a string or number"
    assert skipped.origin.line == 1


def test_other_text_and_id_fields(tmp_path: Path) -> None:
    path = write_lines(tmp_path / "in.jsonl", '{"text": "no", "doc": "D1", "body": "yes"}')
    record = as_record(only(read_all(path, text_field="body", id_field="doc")))
    assert (record.id, record.text) == ("D1", "yes")
    assert record.raw is not None and record.text_span is not None
    start, end = record.text_span
    assert record.raw[start:end] == '"yes"'


def test_span_is_the_top_level_value_and_the_last_duplicate(tmp_path: Path) -> None:
    raw = '{ "meta" : {"text": "inner"}, "text":"first" , "text" :\t"last\\"q" }'
    record = as_record(only(read_all(write_lines(tmp_path / "in.jsonl", raw))))
    assert record.text == 'last"q'
    assert record.text_span is not None
    start, end = record.text_span
    assert raw[start:end] == '"last\\"q"'


# --- standard input --------------------------------------------------------------------------


@pytest.fixture
def spool_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty folder that receives the stdin spool, so a test can watch it come and go."""
    folder = tmp_path / "spool"
    folder.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    return folder


def test_stdin_is_spooled_rereadable_and_removed_on_close(spool_dir: Path) -> None:
    data = b'{"id": "a", "text": "one"}\n{"id": "b", "text": "two"}\n'
    source = open_source("-", stdin=io.BytesIO(data))
    assert (source.format, source.root, source.is_tree) == ("jsonl", "-", False)
    first = list(source)
    assert first == list(source)
    assert [as_record(r).origin for r in first] == [Origin("<stdin>", 1), Origin("<stdin>", 2)]
    assert len(list(spool_dir.iterdir())) == 1
    source.close()
    assert list(spool_dir.iterdir()) == []
    with pytest.raises(ValueError, match="closed"):
        iter(source)


def test_stdin_context_manager_and_gzip(spool_dir: Path) -> None:
    data = gzip.compress(b'{"text": "zipped"}\n')
    with open_source("-", stdin=io.BytesIO(data)) as source:
        assert as_record(only(list(source))).text == "zipped"
    assert list(spool_dir.iterdir()) == []


def test_stdin_as_text_is_a_config_error(spool_dir: Path) -> None:
    with pytest.raises(ConfigError, match="standard input"):
        open_source("-", "text", stdin=io.BytesIO(b"x"))
    assert list(spool_dir.iterdir()) == []


# --- text files ------------------------------------------------------------------------------


def test_directory_recursive_sorted_and_mirrored_ids(text_tree: Path) -> None:
    with open_source(str(text_tree)) as source:
        assert (source.format, source.is_tree) == ("text", True)
        records = [as_record(r) for r in source]
    assert [r.id for r in records] == ["a.md", "b/a.txt", "b/deep/z.md", "c.txt"]
    assert [r.position for r in records] == [0, 1, 2, 3]
    assert records[2].origin == Origin(os.path.join(str(text_tree), "b", "deep", "z.md"), None)
    assert records[2].text == "# deep\r\n\r\nmarkdown\r\n"
    assert records[2].raw is None and records[2].text_span is None


def test_directory_reiteration_is_identical(text_tree: Path) -> None:
    with open_source(str(text_tree)) as source:
        assert list(source) == list(source)


def test_directory_file_that_vanishes_is_skipped_in_place(text_tree: Path) -> None:
    with open_source(str(text_tree)) as source:
        (text_tree / "b" / "a.txt").unlink()
        items = list(source)
    skipped = as_skipped(items[1])
    assert (skipped.position, skipped.id) == (1, "b/a.txt")
    assert skipped.reason == "no such file or directory"
    assert as_record(items[2]).position == 2


def test_single_text_file(tmp_path: Path) -> None:
    path = tmp_path / "note.txt"
    path.write_bytes(b"\xef\xbb\xbfline one\r\nbad \xff byte\x00")
    with open_source(str(path)) as source:
        assert (source.format, source.is_tree) == ("text", False)
        record = as_record(only(list(source)))
    assert record.id == "note.txt"
    assert record.origin == Origin(str(path), None)
    assert record.text == "line one\r\nbad \ufffd byte\x00"
    assert record.notes == (NOTE_BOM, NOTE_INVALID_UTF8, NOTE_NUL)


def test_format_override_reads_jsonl_file_as_text(tmp_path: Path) -> None:
    path = write_lines(tmp_path / "in.jsonl", '{"text": "a"}')
    record = as_record(only(read_all(path, fmt="text")))
    assert record.text == '{"text": "a"}\n'


@pytest.mark.parametrize("fmt", [None, "jsonl", "text"])
def test_missing_path_is_an_input_error(tmp_path: Path, fmt: str | None) -> None:
    missing = tmp_path / "nope.jsonl"
    with pytest.raises(InputError) as caught:
        open_source(str(missing), fmt)  # type: ignore[arg-type]
    assert (caught.value.path, caught.value.line) == (str(missing), None)
    assert caught.value.reason == "no such file or directory"


def test_directory_without_text_files_is_an_input_error(tmp_path: Path) -> None:
    (tmp_path / "only.csv").write_text("a,b\n")
    with pytest.raises(InputError, match=r"holds no \*\.txt or \*\.md files"):
        open_source(str(tmp_path))


def test_directory_as_jsonl_is_an_input_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="is a directory"):
        open_source(str(tmp_path), "jsonl")


def test_unknown_format_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="'csv'"):
        open_source(str(tmp_path), "csv")  # type: ignore[arg-type]


MIXED_LINES = [
    '{"id": "a", "text": "plain"}',
    '{"id": "x" "text": "y"}',
    '{"text": "no id", "title": "t"}',
    '{"id": 3, "text": "caf\\u00e9 \\"quoted\\"", "text": "repeated key wins"}',
    "[1, 2]",
    '{"id": true, "text": "bad id"}',
    '{"id": "n", "text": 5}',
    '{"text": ' + "[" * 5_000 + "]" * 5_000 + "}",
    '  {"id": "w" ,  "text" :  "spaced" }  ',
    '{"a": 1}}',
    '{"id": "b", "text": "half \\ud800 pair"}',
]


def test_records_without_spans_are_the_same_records(tmp_path: Path) -> None:
    path = write_lines(tmp_path / "in.jsonl", *MIXED_LINES)
    with open_source(str(path)) as source:
        with_spans = list(source.records())
        without = list(source.records(spans=False))
    assert len(without) == len(with_spans) == len(MIXED_LINES)
    for fast, full in zip(without, with_spans, strict=True):
        if isinstance(full, Record):
            assert isinstance(fast, Record) and fast.text_span is None
            assert full.text_span is not None
            assert fast == dataclasses.replace(full, text_span=None)
            assert text_value_span(fast.raw or "", "text") == full.text_span
        else:
            assert fast == full


def test_unparsed_lines_parse_into_the_records_read_without_spans(tmp_path: Path) -> None:
    # A byte-order mark, CRLF ends, invalid UTF-8, blank lines and every kind of skip: each
    # line's position, raw text and notes, and what its parse gives, are the records'.
    lines: list[str | bytes] = [
        '\ufeff{"id": "bom", "text": "first"}',
        "",
        '{"id": "crlf", "text": "ends"}\r',
        b'{"id": "bad", "text": "caf\xe9"}',
        "   ",
        *MIXED_LINES,
    ]
    path = write_lines(tmp_path / "in.jsonl", *lines)
    with open_source(str(path)) as source:
        records = list(source.records(spans=False))
        unparsed = list(source.lines())
    assert all(isinstance(line, Line) for line in unparsed)
    assert len(unparsed) == len(records) == len(lines) - 2
    for line, record in zip(unparsed, records, strict=True):
        assert isinstance(line, Line)
        assert line.position == record.position and line.origin == record.origin
        assert line.parse() == record
        if isinstance(record, Record):
            assert line.raw == record.raw and line.notes == record.notes
    assert NOTE_BOM in as_record(records[0]).notes and NOTE_INVALID_UTF8 in records[2].notes
    assert any(isinstance(record, Skipped) for record in records)


def test_unparsed_lines_of_stdin_and_records_of_text_files(
    spool_dir: Path, text_tree: Path
) -> None:
    data = b'{"id": "a", "text": "one"}\n\n{"id": "b", "text": "two"}\n'
    with open_source("-", stdin=io.BytesIO(data)) as source:
        assert [line.parse() for line in source.lines()] == list(source.records(spans=False))
    with open_source(str(text_tree)) as source:  # text files have no lines to leave unparsed
        assert list(source.lines()) == list(source.records(spans=False))
