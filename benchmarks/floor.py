"""The floor under a MinHash scan's time: what any scan of the corpus does before it signs.

Issue 3 asks for a document scan 60x faster than datasketch's per-shingle loop, each tool timed
as a fresh process (``speed.py``). This measures, the same way, three programs that each do a
prefix of what every such scan must do, and nothing more:

``start``    start Python and import numpy and dedupe's tokeniser;
``read``     that, then read the JSONL into texts (``json.loads`` a line, as ``speed.py``'s
             worker reads it for every tool);
``shingle``  that, then tokenise every text and hash its word n-grams (dedupe's tokeniser and
             n-gram hashes, 500 texts at a time as a scan's batches; no MinHash, no LSH, no
             verification).

It reports each one's median wall seconds and the largest ratio to datasketch's loop that a
tool doing no more than ``shingle`` could show: as measured on one core, and at best on every
core (the tokenising split evenly among them at no cost, the start and the reading not).
A scan then signs, finds candidates and verifies them on top of this.

    python benchmarks/floor.py --speed-json benchmarks/results/speed_xeon.json \\
        --out benchmarks/results/floor_xeon.json
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
STAGES = ("start", "read", "shingle")
BATCH = 500  # texts a batch, as dedupe.pipeline.BATCH_DOCUMENTS
# A child imports nothing it does not time (the parent's statistics, subprocess and argparse
# are imported where it uses them): the floor is a lower bound.


def _child(stage: str, corpus: str, ngram: int) -> None:
    """One timed program: the imports, then as much of the work as ``stage`` names."""
    import numpy as np

    from dedupe.core.shingle import ngram_hashes
    from dedupe.core.tokenise import token_hashes_of_units

    if stage == "start":
        return
    with open(corpus, encoding="utf-8") as stream:
        texts = [json.loads(line)["text"] for line in stream]
    if stage == "read":
        return
    started = time.perf_counter()
    shingles = 0
    for first in range(0, len(texts), BATCH):
        hashes, counts = token_hashes_of_units(texts[first : first + BATCH])
        ends = np.cumsum(counts)
        found, _ = ngram_hashes(hashes, ends - counts, ends, ngram)
        shingles += len(found)
    print(json.dumps({"shingles": shingles, "shingle_s": time.perf_counter() - started}))


def _time(stage: str, corpus: Path, ngram: int) -> tuple[float, dict[str, Any]]:
    """Wall seconds of one fresh process running ``stage``, and what it printed."""
    import subprocess

    command = [sys.executable, str(Path(__file__).resolve()), "child", stage, str(corpus)]
    started = time.perf_counter()
    done = subprocess.run([*command, str(ngram)], check=True, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    return seconds, json.loads(done.stdout) if done.stdout.strip() else {}


def _loop_seconds(speed_json: Path) -> float | None:
    """datasketch's per-shingle loop on the x1 corpus, from a ``speed.py`` result."""
    report = json.loads(speed_json.read_text())
    for row in report["results"]:
        if row["tool"] == "datasketch-loop" and row["scale"] == 1 and "seconds" in row:
            return float(row["seconds"])
    return None


def measure(corpus: Path, repeats: int, ngram: int, cores: int) -> dict[str, Any]:
    """Median seconds of each stage (the stages alternate, so drift hits each alike) and the
    shingling's own seconds inside its process."""
    import statistics

    runs: dict[str, list[float]] = {stage: [] for stage in STAGES}
    inner: list[float] = []
    shingles = 0
    for _ in range(repeats):
        for stage in STAGES:
            seconds, printed = _time(stage, corpus, ngram)
            runs[stage].append(seconds)
            if printed:
                inner.append(printed["shingle_s"])
                shingles = printed["shingles"]
    median = {stage: round(statistics.median(values), 3) for stage, values in runs.items()}
    shingling = statistics.median(inner)
    return {
        "seconds": median,
        "runs_s": {stage: [round(v, 3) for v in values] for stage, values in runs.items()},
        "shingle_in_process_s": round(shingling, 3),
        "shingles": shingles,
        "cores": cores,
        # The tokenising shared evenly by every core, at no cost: a bound, not a measurement.
        "shingle_all_cores_s": round(median["shingle"] - shingling + shingling / cores, 3),
    }


def main(argv: list[str] | None = None) -> int:
    import argparse

    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] == "child":
        _child(argv[1], argv[2], int(argv[3]))
        return 0
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", type=Path, default=HERE / ".cache/news_x1_seed0_v1.jsonl")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--ngram", type=int, default=5, help="words a shingle (speed.py: 5)")
    parser.add_argument("--speed-json", type=Path, help="a speed.py result with datasketch-loop")
    parser.add_argument("--loop-seconds", type=float, help="datasketch's loop, if no JSON")
    parser.add_argument("--out", type=Path, help="write the result here as JSON")
    options = parser.parse_args(argv)
    if not options.corpus.exists():
        parser.error(f"{options.corpus} not found: run benchmarks/speed.py --scales 1 first")
    loop = options.loop_seconds
    if loop is None and options.speed_json is not None:
        loop = _loop_seconds(options.speed_json)
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    result = measure(options.corpus, options.repeats, options.ngram, cores or 1)
    result["corpus"] = str(options.corpus)
    result["command"] = "python benchmarks/floor.py " + " ".join(argv)
    seconds = result["seconds"]
    for stage in STAGES:
        print(f"{stage:8s} {seconds[stage]:.3f} s")
    print(f"shingling inside its process {result['shingle_in_process_s']:.3f} s "
          f"({result['shingles']:,} shingles); on {result['cores']} cores at best "
          f"{result['shingle_all_cores_s']:.3f} s end to end")  # fmt: skip
    if loop is not None:
        result["datasketch_loop_s"] = loop
        result["ratio_ceiling_one_core"] = round(loop / seconds["shingle"], 1)
        result["ratio_ceiling_all_cores"] = round(loop / result["shingle_all_cores_s"], 1)
        result["target_60x_s"] = round(loop / 60, 3)
        print(f"datasketch's loop {loop:.2f} s: 60x is {loop / 60:.3f} s; a tool that only "
              f"shingles could reach {result['ratio_ceiling_one_core']}x on one core, "
              f"{result['ratio_ceiling_all_cores']}x on {result['cores']} at best")  # fmt: skip
    if options.out is not None:
        options.out.parent.mkdir(parents=True, exist_ok=True)
        temporary = options.out.with_suffix(".tmp")
        temporary.write_text(json.dumps(result, indent=1) + "\n")
        os.replace(temporary, options.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
