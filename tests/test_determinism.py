"""Same input and seed, same bytes out: across runs, batch sizes and worker counts."""

from __future__ import annotations

import json
import random

import pytest

from dedupe import pipeline, scan, scan_path

WORDS = [f"w{i}" for i in range(400)]


def _corpus(seed: int = 0, n: int = 60) -> list[dict[str, str]]:
    rng = random.Random(seed)
    docs = []
    for i in range(n):
        paras = [
            " ".join(rng.choices(WORDS, k=rng.randint(10, 30))) for _ in range(rng.randint(1, 5))
        ]
        if rng.random() < 0.3:
            paras.append(paras[0])
        docs.append({"id": f"d{i}", "text": "\n\n".join(paras)})
    for i in range(15):  # near-duplicates of earlier documents
        source = rng.choice(docs)["text"].split(" ")
        source[rng.randrange(len(source))] = "edited"
        docs.insert(rng.randrange(len(docs)), {"id": f"copy{i}", "text": " ".join(source)})
    return docs


def _outputs(result):
    return (
        [c.as_dict() for c in result.clusters],
        [(r.id, r.text) for r in result.records],
        result.duplicates,
    )


@pytest.fixture
def small_batches(monkeypatch):
    monkeypatch.setattr(pipeline, "BATCH_DOCUMENTS", 7)


def test_batch_size_does_not_change_the_result(monkeypatch):
    corpus = _corpus()
    whole = _outputs(scan(corpus))
    monkeypatch.setattr(pipeline, "BATCH_DOCUMENTS", 7)
    assert _outputs(scan(corpus)) == whole
    assert whole[2], "the corpus must hold duplicates for this test to mean anything"


def test_paragraph_table_chunks_do_not_change_the_result(monkeypatch):
    corpus = _corpus(3)
    whole = _outputs(scan(corpus))
    monkeypatch.setattr(pipeline, "SIMILARITY_CHUNK", 3)
    assert _outputs(scan(corpus)) == whole
    paragraphs = [c for c in whole[0] if c["level"] == "paragraph"]
    assert len(paragraphs) > 1, "the corpus must hold repeated paragraphs for this to mean much"


def test_boilerplate_chunks_do_not_change_the_result(monkeypatch):
    """Boilerplate spread and dropped paragraphs worked out a few at a time (a chunk ends
    inside a component or a document, and is stretched to its end) give the same outputs."""
    corpus = _corpus(5)
    for number, doc in enumerate(corpus):
        if number % 3 == 0:
            doc["text"] += "\n\nSubscribe to our newsletter for the latest news every morning."
        if number % 4 == 0:
            doc["text"] = "Share this article with friends and family today.\n\n" + doc["text"]
    whole = scan(corpus, boilerplate_min_docs=3)
    monkeypatch.setattr(pipeline, "PAIR_CHUNK", 2)
    monkeypatch.setattr(pipeline, "DROP_CHUNK", 1)
    assert _outputs(scan(corpus, boilerplate_min_docs=3)) == _outputs(whole)
    trimmed = [r for r in whole.records if r.removed_paragraphs]
    assert whole.stats.boilerplate_paragraphs_removed > 20 and len(trimmed) > 20
    assert all("Subscribe to our" not in r.text for r in whole.records)


def test_worker_processes_do_not_change_the_result(small_batches):
    corpus = _corpus(1)
    assert _outputs(scan(corpus, jobs=2)) == _outputs(scan(corpus, jobs=1))


def test_output_files_byte_identical(tmp_path, small_batches):
    source = tmp_path / "in.jsonl"
    source.write_text("".join(json.dumps(doc) + "\n" for doc in _corpus(2)))
    runs = []
    for name, jobs in (("a", 1), ("b", 1), ("c", 2)):
        out = tmp_path / name
        scan_path(str(source), out, jobs=jobs)
        summary = json.loads((out / "summary.json").read_text())
        summary.pop("elapsed_seconds")
        summary.pop("output")
        files = ("clusters.jsonl", "cleaned.jsonl", "report.html")
        runs.append((*((out / name).read_bytes() for name in files), summary))
    assert runs[0] == runs[1] == runs[2]
    assert runs[0][0].count(b"\n") > 3


def test_lines_written_unparsed_are_the_lines_read(tmp_path, small_batches):
    # With two jobs pass two writes a record kept whole from its unparsed line; with one it
    # parses every line. Both give the same bytes: a byte-order mark and invalid UTF-8 go as
    # reading repaired them, CRLF ends become LF, a record with a repeated paragraph is cut.
    docs = _corpus(4)
    lines = [json.dumps(doc).encode() for doc in docs]
    lines[0] = b"\xef\xbb\xbf" + lines[0]
    lines[1] += b"\r"
    lines[2] = lines[2].replace(b'"text": "', b'"text": "caf\xe9 ', 1)
    lines.insert(3, b"{malformed")
    source = tmp_path / "in.jsonl"
    source.write_bytes(b"\n".join(lines) + b"\n\n")
    outputs = []
    for name, jobs, paragraphs in (("a", 1, True), ("b", 2, True), ("c", 2, False)):
        out = tmp_path / name
        scan_path(str(source), out, jobs=jobs, paragraphs=paragraphs)
        summary = json.loads((out / "summary.json").read_text())
        outputs.append(((out / "cleaned.jsonl").read_bytes(), summary["bytes_removed"]))
    assert outputs[0] == outputs[1]
    cleaned = outputs[0][0].decode().splitlines()
    read = [line.decode("utf-8", errors="replace").lstrip("\ufeff").rstrip("\r") for line in lines]
    whole = [line for line in cleaned if line in read]
    assert read[0] in whole and read[1] in whole and read[2] in whole
    assert len(whole) < len(cleaned), "some kept record must have lost a repeated paragraph"
    assert outputs[1][1] > 0
    kept_whole_c = outputs[2][0].decode().splitlines()
    assert set(kept_whole_c) <= set(read)
