"""Where a full scan holds its memory: a trace of anonymous memory over the run, by stage.

    python benchmarks/memory_trace.py CORPUS.jsonl [--threshold 0.8] [--memory 64M]
        [--jobs 2] [--shingle word:5] [--boilerplate-min-docs 0] [--interval 0.2]
        [--out benchmarks/results/memory_trace_x100.json]

runs ``dedupe.scan_path`` on CORPUS (a child process, output into a temporary directory) and
samples, every ``--interval`` seconds, the proportional anonymous memory (``Pss_Anon`` in
``/proc/PID/smaps_rollup``) of it and of every process it forks (signing workers, the preview
child, the clusters.jsonl writers): the sum is what the scan holds of the machine's memory, a
page shared by forked processes counted once. Mapped files (the signatures beyond
``--memory``, the exact shingle sets) are not in it: the system keeps them in its page cache
and may evict them. It prints the peak of each stage (reading, linking, writing), with the
share of each process at that moment, and writes every sample as JSON. Linux only.

``speed.py`` reports one peak per tool; this says which stage holds it, to aim a change at.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent


def _descendants(pid: int) -> list[int]:
    """``pid`` and every process under it (children listed by each of its threads)."""
    found = [pid]
    try:
        for task in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{task}/children") as stream:
                for child in stream.read().split():
                    found += _descendants(int(child))
    except OSError:  # gone meanwhile
        pass
    return found


def _anon_kib(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/smaps_rollup") as stream:
            for line in stream:
                if line.startswith("Pss_Anon:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def _worker(corpus: str, options_json: str) -> int:
    """The traced scan: stage names with their times on stdout, one per line."""
    try:
        from dedupe.simd import prefer_fast_sort
    except ImportError:  # a checkout from before it (a baseline on PYTHONPATH)
        pass
    else:
        prefer_fast_sort()  # before numpy is imported, as ``dedupe`` does
    from dedupe import ScanConfig, scan_path

    try:
        from dedupe.memory import limit_arenas
    except ImportError:  # a checkout from before it (a baseline on PYTHONPATH)
        pass
    else:
        limit_arenas()  # as ``dedupe scan`` does

    options = json.loads(options_json)
    started = time.perf_counter()

    def stage(name: str) -> None:
        print(f"{time.perf_counter() - started:.3f}\t{name}", flush=True)

    stage("reading")
    config = ScanConfig(
        threshold=options["threshold"],
        shingle=options.get("shingle", "word:5"),
        boilerplate_min_docs=options.get("boilerplate_min_docs", 0),
    )
    with tempfile.TemporaryDirectory(prefix="dedupe-trace-") as out:
        scan_path(
            corpus, out, config, jobs=options["jobs"], memory=options["memory"], on_stage=stage
        )
    stage("done")
    return 0


def trace(
    corpus: Path,
    threshold: float,
    memory: str | None,
    jobs: int,
    interval: float,
    boilerplate_min_docs: int = 0,
    shingle: str = "word:5",
) -> dict:
    options = json.dumps(
        {
            "threshold": threshold,
            "memory": memory,
            "jobs": jobs,
            "boilerplate_min_docs": boilerplate_min_docs,
            "shingle": shingle,
        }
    )
    command = [sys.executable, str(Path(__file__).resolve()), "worker", str(corpus), options]
    started = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    stages: list[tuple[float, str]] = []

    def listen() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            at, name = line.rstrip("\n").split("\t")
            stages.append((float(at), name))

    listener = threading.Thread(target=listen, daemon=True)
    listener.start()
    samples: list[dict[str, Any]] = []
    while process.poll() is None:
        shares = {pid: _anon_kib(pid) for pid in _descendants(process.pid)}
        root = shares.pop(process.pid, 0)
        samples.append(
            {
                "t": round(time.perf_counter() - started, 2),
                "total_mb": round((root + sum(shares.values())) / 1024, 1),
                "scan_mb": round(root / 1024, 1),
                "children_mb": sorted(
                    (round(v / 1024, 1) for v in shares.values() if v), reverse=True
                ),
            }
        )
        time.sleep(interval)
    listener.join()
    if process.returncode:
        raise SystemExit(f"the scan failed ({process.returncode})")
    return {"corpus": str(corpus), "threshold": threshold, "memory": memory, "jobs": jobs,
            "boilerplate_min_docs": boilerplate_min_docs, "shingle": shingle,
            "seconds": round(time.perf_counter() - started, 2), "stages": stages,
            "samples": samples}  # fmt: skip


def stage_peaks(result: dict) -> list[dict[str, Any]]:
    """The highest sample of each stage (from its start to the next one's)."""
    marks = [(at, name) for at, name in result["stages"] if name != "done"]
    end = next((at for at, name in result["stages"] if name == "done"), float("inf"))
    peaks = []
    for number, (begin, name) in enumerate(marks):
        finish = marks[number + 1][0] if number + 1 < len(marks) else end
        inside = [s for s in result["samples"] if begin <= s["t"] < finish]
        if inside:
            top = max(inside, key=lambda s: s["total_mb"])
            peaks.append({"stage": name, "seconds": round(finish - begin, 1), **top})
    return peaks


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] == "worker":
        return _worker(*argv[1:])
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("corpus", type=Path)
    parser.add_argument("--threshold", type=float, default=0.8)
    parser.add_argument("--memory", default=None, help="scan --memory (default: dedupe's)")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--shingle", default="word:5", help="scan --shingle")
    parser.add_argument(
        "--boilerplate-min-docs", type=int, default=0, help="scan --boilerplate-min-docs"
    )
    parser.add_argument("--interval", type=float, default=0.2, help="seconds between samples")
    parser.add_argument("--out", type=Path, help="write every sample here as JSON")
    parser.add_argument(
        "--summarise", action="store_true", help="CORPUS is a trace's JSON: print its stages"
    )
    options = parser.parse_args(argv)
    if options.summarise:
        result = json.loads(options.corpus.read_text())
        options.corpus = Path(result["corpus"])
    else:
        result = trace(options.corpus, options.threshold, options.memory, options.jobs,
                       options.interval, options.boilerplate_min_docs,
                       options.shingle)  # fmt: skip
    result["peaks"] = stage_peaks(result)
    text_mb = options.corpus.stat().st_size / 1e6
    peak = max(result["samples"], key=lambda s: s["total_mb"])
    print(f"{options.corpus.name}: {result['seconds']:.1f} s, peak {peak['total_mb']:.0f} MB "
          f"anonymous at {peak['t']:.0f} s ({text_mb:.0f} MB of input)")  # fmt: skip
    for row in result["peaks"]:
        children = " + ".join(f"{mb:.0f}" for mb in row["children_mb"]) or "none"
        print(f"  {row['stage']:<24} {row['seconds']:6.1f} s  peak {row['total_mb']:6.0f} MB "
              f"(scan {row['scan_mb']:.0f}, children {children})")  # fmt: skip
    if options.out:
        options.out.parent.mkdir(parents=True, exist_ok=True)
        options.out.write_text(json.dumps(result, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
