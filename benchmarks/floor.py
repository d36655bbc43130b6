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

It times, in the same run and the same way, dedupe's document scan and datasketch's loop (as
``speed.py`` runs them: ratios are read within one run), and reports each median and the
largest ratio to datasketch's loop that a tool doing no more than ``shingle`` could show: as
measured on one core, and at best on every core (the tokenising split evenly among them at no
cost, the start and the reading not). A scan then signs, finds candidates and verifies them
on top of this.

    python benchmarks/floor.py --out benchmarks/results/floor_xeon.json
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
STAGES = ("start", "read", "shingle")
BATCH = 500  # texts a batch, as dedupe.pipeline.BATCH_DOCUMENTS
# A child imports nothing it does not time (the parent's statistics, subprocess, argparse and
# speed.py's helpers are imported where it uses them): the floor is a lower bound.


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


def _time(
    stage: str, corpus: Path, ngram: int, env: dict[str, str]
) -> tuple[float, dict[str, Any]]:
    """Wall seconds of one fresh process running ``stage``, and what it printed."""
    import subprocess

    command = [sys.executable, str(Path(__file__).resolve()), "child", stage, str(corpus)]
    started = time.perf_counter()
    done = subprocess.run(
        [*command, str(ngram)], check=True, capture_output=True, text=True, env=env
    )
    seconds = time.perf_counter() - started
    return seconds, json.loads(done.stdout) if done.stdout.strip() else {}


def measure(
    corpus: Path, repeats: int, ngram: int, cores: int, env: dict[str, str]
) -> dict[str, Any]:
    """Median seconds of each stage (the stages alternate, so drift hits each alike) and the
    shingling's own seconds inside its process."""
    import statistics

    runs: dict[str, list[float]] = {stage: [] for stage in STAGES}
    inner: list[float] = []
    shingles = 0
    for _ in range(repeats):
        for stage in STAGES:
            seconds, printed = _time(stage, corpus, ngram, env)
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


def time_tool(tool: str, corpus: Path, repeats: int, env: dict[str, str]) -> float:
    """Median wall seconds of ``speed.py``'s ``tool`` on ``corpus``, run as it runs it."""
    import statistics
    import tempfile

    import speed

    with tempfile.TemporaryDirectory() as work:
        command = speed.tool_command(tool, corpus, Path(work), speed.DEFAULTS)
        runs = []
        for _ in range(repeats):
            measured = speed.measure(command, 3600.0, Path(work) / "log", env)
            if measured.returncode != 0:
                raise SystemExit(f"{tool} failed: {measured.stderr_tail}")
            runs.append(measured.seconds)
    return round(statistics.median(runs), 3)


def main(argv: list[str] | None = None) -> int:
    import argparse

    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] == "child":
        _child(argv[1], argv[2], int(argv[3]))
        return 0
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", type=Path, help="JSONL (default: speed.py's x1 corpus)")
    parser.add_argument("--repeats", type=int, default=5, help="runs of each stage and dedupe")
    parser.add_argument("--ngram", type=int, default=5, help="words a shingle (speed.py: 5)")
    parser.add_argument(
        "--loop-repeats", type=int, default=1, help="runs of datasketch's loop (~15 s each)"
    )
    parser.add_argument("--loop-seconds", type=float, help="datasketch's loop, not timed here")
    parser.add_argument("--out", type=Path, help="write the result here as JSON")
    options = parser.parse_args(argv)
    sys.path.insert(0, str(HERE))
    import speed  # the parent's only: its corpus, tools, environment and JSON writer

    corpus = options.corpus or speed.corpus_file(1, speed.DEFAULTS.seed)
    # The environment speed.py gives its tools (Python's bytecode cache allowed).
    env = speed.tool_environment(speed.DEFAULTS)
    result = measure(corpus, options.repeats, options.ngram, speed.DEFAULTS.jobs, env)
    result["corpus"] = str(corpus)
    result["command"] = "python benchmarks/floor.py " + " ".join(argv)
    seconds = result["seconds"]
    for stage in STAGES:
        print(f"{stage:8s} {seconds[stage]:.3f} s")
    print(f"shingling inside its process {result['shingle_in_process_s']:.3f} s "
          f"({result['shingles']:,} shingles); on {result['cores']} cores at best "
          f"{result['shingle_all_cores_s']:.3f} s end to end")  # fmt: skip
    docs = result["dedupe_docs_s"] = time_tool("dedupe-docs", corpus, options.repeats, env)
    print(f"dedupe-docs {docs:.3f} s")
    loop = options.loop_seconds
    if loop is None and options.loop_repeats > 0:
        loop = time_tool("datasketch-loop", corpus, options.loop_repeats, env)
    if loop is not None:
        result["datasketch_loop_s"] = loop
        result["datasketch_loop_timed_here"] = options.loop_seconds is None
        result["ratio_dedupe_docs"] = round(loop / docs, 1)
        result["ratio_ceiling_one_core"] = round(loop / seconds["shingle"], 1)
        result["ratio_ceiling_all_cores"] = round(loop / result["shingle_all_cores_s"], 1)
        result["target_60x_s"] = round(loop / 60, 3)
        print(f"datasketch's loop {loop:.2f} s: 60x is {loop / 60:.3f} s; dedupe-docs "
              f"{result['ratio_dedupe_docs']}x; a tool that only shingles could reach "
              f"{result['ratio_ceiling_one_core']}x on one core, "
              f"{result['ratio_ceiling_all_cores']}x on {result['cores']} at best")  # fmt: skip
    if options.out is not None:
        speed.write_json(options.out, result)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
