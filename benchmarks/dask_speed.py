"""The Dask engine beside the local one: the same dataset, the same command, both engines.

The x10 NewsArticles corpus of ``speed.py`` (38,240 articles, 123 MB) is cut into shards of
JSONL (a dataset, as users hold one) and scanned by ``dedupe scan SHARDS --engine local`` and by
``--engine dask`` on a local cluster of ``--jobs`` worker processes that the command starts and
stops itself. Each run is a fresh subprocess timed with ``speed.measure`` (wall, CPU, peak RSS
of the largest process: the driver or one worker). The outputs are compared file by file: the
engines must write the same bytes.

With ``--driver-rows N`` a third run passes ``--driver-rows N`` to the Dask engine, so that
levels above N rows are linked on the workers (star contraction) instead of on the driver; its
output must be the same too, but for summary.json's candidate and verified pair counts, which
count per band there.

    python benchmarks/dask_speed.py --scale 10 --shards 16 --out benchmarks/results/dask_speed.json
    python benchmarks/dask_speed.py --scale 10 --driver-rows 0 \
        --out benchmarks/results/dask_speed_workers_link.json
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from speed import CACHE_DIR, _dedupe_command, corpus_file, machine, measure, versions, write_json

HERE = Path(__file__).resolve().parent
DEFAULT_OUT = HERE / "results" / "dask_speed.json"


def shards(scale: int, count: int) -> Path:
    """The x``scale`` corpus cut into ``count`` JSONL shards of consecutive lines (cached)."""
    source = corpus_file(scale, 0)
    folder = CACHE_DIR / f"{source.stem}_shards{count}"
    if folder.exists():
        return folder
    partial = folder.with_name(folder.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    lines = source.read_bytes().splitlines(keepends=True)
    per = -(-len(lines) // count)
    for number in range(count):
        (partial / f"part-{number:04d}.jsonl").write_bytes(
            b"".join(lines[number * per : (number + 1) * per])
        )
    partial.replace(folder)
    return folder


PER_BAND_COUNTS = ("candidate_pairs", "verified_pairs")


def outputs(folder: Path, without: tuple[str, ...] = ()) -> dict[str, bytes]:
    found = {}
    for path in sorted(folder.rglob("*")):
        if path.is_file():
            data = path.read_bytes()
            if path.name == "summary.json":
                summary = json.loads(data)
                for key in ("elapsed_seconds", "output", *without):
                    summary.pop(key)
                data = json.dumps(summary).encode()
            found[path.relative_to(folder).as_posix()] = data
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=int, default=10)
    parser.add_argument("--shards", type=int, default=16)
    parser.add_argument("--jobs", type=int, default=len(os.sched_getaffinity(0)))
    parser.add_argument("--timeout", type=float, default=1800)
    parser.add_argument(
        "--driver-rows", type=int, help="also run dask with the pairs linked on the workers"
    )
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    options = parser.parse_args(argv)
    data = shards(options.scale, options.shards)
    work = CACHE_DIR / "dask-work"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    env = {**os.environ, "PYTHONHASHSEED": "0"}
    rows: list[dict[str, Any]] = []
    runs = [("local", "local", []), ("dask", "dask", [])]
    if options.driver_rows is not None:
        runs.append(("dask-workers-link", "dask", ["--driver-rows", str(options.driver_rows)]))
    for name, engine, extra in runs:
        out = work / name
        command = [
            *_dedupe_command(),
            "scan",
            str(data),
            "--out",
            str(out),
            "--engine",
            engine,
            "--jobs",
            str(options.jobs),
            "--quiet",
            *extra,
        ]
        measured = measure(command, options.timeout, work / f"{name}.log", env)
        summary = json.loads((out / "summary.json").read_text()) if out.exists() else {}
        rows.append(
            {
                "engine": name,
                "seconds": measured.seconds,
                "cpu_seconds": measured.cpu_seconds,
                "peak_rss_mb": measured.peak_rss_mb,
                "returncode": measured.returncode,
                "records": summary.get("records_read"),
                "documents_removed": summary.get("documents_removed"),
                "paragraphs_removed": summary.get("paragraphs_removed"),
                "command": " ".join(command),
            }
        )
        print(json.dumps(rows[-1]), flush=True)
    local, dask = outputs(work / "local"), outputs(work / "dask")
    different = sorted(k for k in local.keys() | dask.keys() if local.get(k) != dask.get(k))
    if options.driver_rows is not None:
        here = outputs(work / "local", PER_BAND_COUNTS)
        there = outputs(work / "dask-workers-link", PER_BAND_COUNTS)
        different += sorted(
            f"dask-workers-link/{k}"
            for k in here.keys() | there.keys()
            if here.get(k) != there.get(k)
        )
    result = {
        "scale": options.scale,
        "shards": options.shards,
        "jobs": options.jobs,
        "dataset_mb": round(sum(p.stat().st_size for p in data.iterdir()) / 1e6, 1),
        "rows": rows,
        "dask_to_local": round(rows[1]["seconds"] / rows[0]["seconds"], 2),
        **(
            {"workers_link_to_local": round(rows[2]["seconds"] / rows[0]["seconds"], 2)}
            if len(rows) > 2
            else {}
        ),
        "identical_output": not different,
        "files_compared": len(local),
        "different_files": different,
        "machine": machine(),
        "versions": {
            **versions(),
            "dask": _version("dask"),
            "distributed": _version("distributed"),
        },
        "command": "python benchmarks/dask_speed.py " + " ".join(argv or sys.argv[1:]),
    }
    write_json(options.out, result)
    print(json.dumps({k: result[k] for k in ("dask_to_local", "identical_output")}))
    return 0 if not different else 1


def _version(name: str) -> str | None:
    import importlib.metadata

    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return None


if __name__ == "__main__":
    raise SystemExit(main())
