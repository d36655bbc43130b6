"""What report.html costs: its size and the time of each of its steps, on a real corpus (the x10
news corpus by default) and on synthetic cluster tables the size of a million-record scan.

python benchmarks/report_cost.py [CORPUS.jsonl]

The steps are timed alone, not as the difference of two whole scans: on a shared 2-core
machine two runs of the same scan differ by more than the report costs.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

from dedupe.api import Previews
from dedupe.config import ScanConfig
from dedupe.pipeline import analyse
from dedupe.readers import open_source
from dedupe.records import Record
from dedupe.report import ReportSampler, render_report
from dedupe.result import ClusterTable

DEFAULT = Path(__file__).resolve().parent / ".cache" / "news_x10_seed0_v1.jsonl"


def _steps(tables: list[ClusterTable], texts: list[tuple[int, str]], cfg: ScanConfig) -> None:
    previews = Previews(tables)
    for position, text in texts:
        previews.take(text, position)
    started = time.perf_counter()
    sampler = ReportSampler(tables, cfg)
    planned = time.perf_counter()
    for position, text in texts:
        sampler.take(text, position)
    taken = time.perf_counter()
    data = sampler.data(previews.texts)
    built = time.perf_counter()
    page = render_report({"records_read": len(texts)}, data).encode("utf-8")
    done = time.perf_counter()
    print(
        f"  plan {planned - started:.3f} s, pass-two take {taken - planned:.3f} s, "
        f"data {built - taken:.3f} s, render {done - built:.3f} s: "
        f"{done - started:.2f} s in all; {len(data.pairs)} pairs, {len(page):,} bytes"
    )


def real(path: Path) -> None:
    cfg = ScanConfig()
    with open_source(str(path), None) as source:
        started = time.perf_counter()
        pass_one = analyse(source.records(spans=False), cfg, None, 2)
        print(f"{path.name}: pass one {time.perf_counter() - started:.1f} s (2 jobs)")
        texts = [(r.position, r.text) for r in source.records(spans=False) if isinstance(r, Record)]
    _steps(pass_one.tables, texts, cfg)


def synthetic(records: int = 1_000_000) -> None:
    """A document table of clusters of 5 and a paragraph table of clusters of 4, each with one
    member per record: 2,000,000 members, more than a scan of a million news articles holds."""
    rng = np.random.default_rng(0)
    tables = []
    for level, size, rule in (("document", 5, "near-duplicate"), ("paragraph", 4, "boilerplate")):
        positions = rng.permutation(records).tolist()
        rules = np.where(np.arange(records) % size == 0, "kept", rule).tolist()
        similarities = np.round(rng.uniform(0.5, 1.0, records), 4).tolist()
        spans = None if level == "document" else [0] * records
        tables.append(
            ClusterTable(
                level,  # type: ignore[arg-type]
                list(range(0, records + 1, size)),
                positions,
                [str(p) for p in positions],
                similarities,
                None if spans is None else list(range(records)),
                spans,
                None if spans is None else [80] * records,
                rules,
            )
        )
    print(f"synthetic: {records:,} records, {2 * records:,} cluster members")
    _steps(tables, [(p, "word " * 16) for p in range(records)], ScanConfig())


if __name__ == "__main__":
    corpus = Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT
    if corpus.exists():
        real(corpus)
    else:
        print(f"{corpus} is missing (benchmarks/corpus.py builds it); synthetic tables only")
    synthetic()
