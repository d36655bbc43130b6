"""Datasets for the engine tests: a generated corpus with planted duplicates, written as several
JSONL, gzipped JSONL and Parquet files, with the bad records a real crawl holds."""

from __future__ import annotations

import gzip
import json
import random
from pathlib import Path

from tests.corpus_gen import corpus

BOILERPLATE = "Subscribe to our newsletter for the latest news and updates, every single day."


def write_dataset(root: Path, seed: int, originals: int = 80, copies: int = 60) -> list[str]:
    """Write the dataset under ``root`` and return the ids of its records (in file order).

    Files: ``a.jsonl`` (with a malformed line), ``b/c.jsonl.gz`` (with a boilerplate paragraph,
    an id that ``a.jsonl`` holds already and an empty text), ``d.parquet`` (boilerplate too, and
    another column passed through) and ``b/e.ndjson``. Records are dealt to the files at random,
    so copies and their originals land in different files.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    rng = random.Random(seed)
    docs = corpus(seed, originals, copies)
    shares: list[list[tuple[str, str]]] = [[], [], [], []]
    for doc in docs:
        shares[rng.randrange(4)].append(doc)
    (root / "b").mkdir(parents=True, exist_ok=True)
    with open(root / "a.jsonl", "w", encoding="utf-8") as stream:
        for doc_id, text in shares[0]:
            stream.write(json.dumps({"id": doc_id, "text": text, "site": "a"}) + "\n")
        stream.write('{"id": "broken", "text": \n')
    with gzip.open(root / "b" / "c.jsonl.gz", "wt", encoding="utf-8") as stream:
        for doc_id, text in shares[1]:
            record = {"id": doc_id, "text": f"{text}\n\n{BOILERPLATE}"}
            stream.write(json.dumps(record, ensure_ascii=False) + "\n")
        if shares[0]:
            stream.write(json.dumps({"id": shares[0][0][0], "text": "another text"}) + "\n")
        stream.write(json.dumps({"id": "blank", "text": "   "}) + "\n")
    table = pa.table(
        {
            "id": [doc_id for doc_id, _ in shares[2]],
            "text": [f"{text}\n\n{BOILERPLATE}" for _, text in shares[2]],
            "rank": list(range(len(shares[2]))),
        }
    )
    pq.write_table(table, root / "d.parquet")
    with open(root / "b" / "e.ndjson", "w", encoding="utf-8") as stream:
        for doc_id, text in shares[3]:
            stream.write(json.dumps({"id": doc_id, "text": text}) + "\n")
    return [doc_id for share in shares for doc_id, _ in share]


def output_files(out: Path) -> dict[str, bytes]:
    """Every file a scan wrote, by relative path, with summary.json's run-specific fields
    (elapsed time, output directory) removed."""
    found = {}
    for path in sorted(out.rglob("*")):
        if path.is_file():
            data = path.read_bytes()
            if path.name == "summary.json":
                summary = json.loads(data)
                summary.pop("elapsed_seconds")
                summary.pop("output")
                data = json.dumps(summary).encode()
            found[path.relative_to(out).as_posix()] = data
    return found
