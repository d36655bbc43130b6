"""Speed and size of dedupe.Index (SQLite) as it grows: check latency, check_and_add throughput,
bytes on disk per article, at 10k, 100k and (with --sizes) 1M articles.

Articles are generated from the sentences of the 3,824 NewsArticles of ``corpus.py``: each one
is 12-24 sentences drawn at random, in 3-6 paragraphs (about 2,000 characters, like the news);
5 % are lightly edited copies of an earlier one, so the index holds real clusters. At each size:

* ``check``: 1,000 unseen articles (a fifth of them copies of indexed ones), one call each,
  latency percentiles;
* ``check_and_add``: 1,000 unseen articles added one call each (one transaction each), the
  same from two threads sharing the index, and ``check_and_add_many`` (500 per transaction),
  in articles per second;
* bytes on disk per article after a WAL checkpoint;
* opening the index in a second ``Index`` (what a new process pays: the SQLite store reads
  every record's band keys into its in-memory key map), in seconds, and again once that
  handle's close left the key map's snapshot on disk.

The index is filled to each size with ``add_many``, whose rate is recorded too.

    python benchmarks/index_speed.py --sizes 10000,100000,1000000
    python benchmarks/index_speed.py --index redis://127.0.0.1:6379/0 \
        --out benchmarks/results/index_speed_redis.json

With ``--index redis://...`` the size is the server's ``used_memory_dataset`` (start from an
empty server).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import resource
import shlex
import sqlite3
import sys
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

import dedupe
from dedupe import Index

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from corpus import load_news_articles, sentence_spans  # noqa: E402

DEFAULT_OUT = HERE / "results" / "index_speed.json"
PROBES = 1_000
COPY_SHARE = 0.05


def news_sentences() -> list[str]:
    out = []
    for article in load_news_articles():
        text = article["text"]
        out += [text[a:b] for a, b in sentence_spans(text) if len(text[a:b].split()) >= 6]
    return out


class Articles:
    """A seeded stream of generated articles; copies refer to articles drawn before them."""

    def __init__(self, sentences: list[str], seed: int) -> None:
        self.sentences = sentences
        self.rng = random.Random(seed)
        self.recent: list[str] = []

    def fresh(self) -> str:
        rng = self.rng
        chosen = rng.choices(self.sentences, k=rng.randint(12, 24))
        cuts = sorted(rng.sample(range(1, len(chosen)), rng.randint(2, 5)))
        paragraphs = [
            " ".join(chosen[a:b]) for a, b in zip([0, *cuts], [*cuts, len(chosen)], strict=True)
        ]
        return "\n\n".join(paragraphs)

    def copy(self) -> str:
        words = self.rng.choice(self.recent).split(" ")
        for _ in range(2):
            words[self.rng.randrange(len(words))] = "edited"
        return " ".join(words)

    def next(self, copy_share: float = COPY_SHARE) -> str:
        text = self.copy() if self.recent and self.rng.random() < copy_share else self.fresh()
        self.recent.append(text)
        if len(self.recent) > 5_000:
            self.recent = self.recent[-2_500:]
        return text

    def stream(self, prefix: str, count: int) -> Iterator[tuple[str, str]]:
        for i in range(count):
            yield f"{prefix}{i:08d}", self.next()


def checkpointed_size(path: Path) -> int:
    """Database, WAL (after a checkpoint that emptied it; retried while the index's own
    checkpoint thread is busy) and the key map's snapshot, when one was written."""
    with sqlite3.connect(path) as db:
        for _ in range(100):
            busy = db.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()[0]
            if not busy:
                break
            time.sleep(0.1)
    return sum(
        Path(f"{path}{suffix}").stat().st_size
        for suffix in ("", "-wal", ".keys")
        if Path(f"{path}{suffix}").exists()
    )


def measure(index: Index, articles: Articles, size: int, step: int) -> dict[str, Any]:
    probes = [(f"probe{step}-{i}", articles.next(copy_share=0.2)) for i in range(PROBES)]
    latencies, duplicates = [], 0
    for doc_id, text in probes:
        started = time.perf_counter()
        verdict = index.check(doc_id, text)
        latencies.append(time.perf_counter() - started)
        duplicates += verdict.status == "duplicate"
    ms = np.array(latencies) * 1e3

    adds = list(articles.stream(f"add{step}-", PROBES))
    started, cpu = time.perf_counter(), time.process_time()
    for doc_id, text in adds:
        index.check_and_add(doc_id, text)
    one_by_one = len(adds) / (time.perf_counter() - started)
    # Its CPU time too (this process, all threads): on a machine shared with other jobs the
    # wall clock counts the time other processes held the cores.
    one_by_one_cpu = len(adds) / (time.process_time() - cpu)

    # The same from two threads of this process (a crawler's fetchers share one Index): the
    # threads featurise in turn (the GIL) while SQLite's commit releases it.
    threaded = list(articles.stream(f"threads{step}-", PROBES))
    started = time.perf_counter()
    with ThreadPoolExecutor(2) as pool:
        list(pool.map(lambda record: index.check_and_add(*record), threaded))
    two_threads = len(threaded) / (time.perf_counter() - started)

    batch = list(articles.stream(f"batch{step}-", PROBES))
    started = time.perf_counter()
    for _ in index.check_and_add_many(batch):
        pass
    batched = len(batch) / (time.perf_counter() - started)

    records = len(index)
    started = time.perf_counter()
    with Index(index.location):  # a second handle: reads every record's band keys
        open_seconds = time.perf_counter() - started
    # Closing it left the key map on disk (SQLite, from 32,768 records): a third handle maps
    # it and reads only what was added after it.
    started = time.perf_counter()
    with Index(index.location):
        reopen_seconds = time.perf_counter() - started
    if "://" in index.location:
        size_bytes = index.stats().bytes_on_disk
    else:
        size_bytes = checkpointed_size(Path(index.location))
    return {
        "articles_indexed": size,
        "records_after": records,
        "check_ms": {
            "p50": round(float(np.percentile(ms, 50)), 3),
            "p90": round(float(np.percentile(ms, 90)), 3),
            "p99": round(float(np.percentile(ms, 99)), 3),
            "max": round(float(ms.max()), 3),
        },
        "check_duplicates_found": duplicates,
        "check_and_add_per_s": round(one_by_one, 1),
        "check_and_add_per_cpu_s": round(one_by_one_cpu, 1),
        "check_and_add_two_threads_per_s": round(two_threads, 1),
        "check_and_add_many_per_s": round(batched, 1),
        "open_s": round(open_seconds, 3),
        "open_from_snapshot_s": round(reopen_seconds, 3),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "bytes_on_disk": size_bytes,
        "bytes_per_article": round(size_bytes / records, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="10000,100000")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--dir", help="where the index is built (default: a temporary folder)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--index", help="an index URL (redis://...) instead of an SQLite file")
    args = parser.parse_args()
    sizes = sorted(int(s) for s in args.sizes.split(","))

    sentences = news_sentences()
    articles = Articles(sentences, args.seed)
    workdir = tempfile.TemporaryDirectory(dir=args.dir)
    path = args.index or Path(workdir.name) / "index.sqlite"
    steps: list[dict[str, Any]] = []
    filled = 0
    fill_seconds = 0.0
    with Index(path) as index:
        for step, size in enumerate(sizes):
            started = time.perf_counter()
            for _ in index.check_and_add_many(articles.stream(f"fill{step}-", size - filled)):
                pass
            fill_seconds += time.perf_counter() - started
            filled = size
            result = measure(index, articles, size, step)
            result["fill_add_many_per_s"] = round(size / fill_seconds, 1)
            steps.append(result)
            print(json.dumps(result), flush=True)
            filled = len(index)
    report = {
        "benchmark": "index_speed",
        "command": shlex.join([Path(sys.executable).name, *sys.argv]),
        "dedupe": dedupe.__version__,
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
        "index": "redis" if args.index else "sqlite",
        "machine": {
            "platform": platform.platform(),
            "processor": platform.processor() or platform.machine(),
            "cpus": os.cpu_count(),
        },
        "config": index.parameters,
        "probes": PROBES,
        "steps": steps,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    tmp = args.out.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    tmp.replace(args.out)
    workdir.cleanup()


if __name__ == "__main__":
    main()
