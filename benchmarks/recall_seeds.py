"""Recall against exact Jaccard over several MinHash seeds: dedupe's document scan and rensa.

``speed.py`` scores each tool with one MinHash seed. On the x10 corpus almost all true pairs
(4,988 of 5,268 at threshold 0.8) lie in [0.80, 0.85), where an estimate from 128 permutations
misses a pair about a third of the time, and which pairs it misses depends on the permutations:
one seed's recall is one draw. This runs both tools on the same corpus and truth with each seed
in ``--seeds`` (dedupe's ``seed`` option, rensa's ``seed``), in this process, and reports each
seed's recall and the mean, so a difference can be told from the spread of one draw.

    python benchmarks/recall_seeds.py --scale 10 --seeds 1,2,3,4,5,6 \
        --out benchmarks/results/recall_seeds.json
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import speed
from speed import (
    Settings,
    _cluster_arrays,
    _int_list,
    corpus_file,
    machine,
    quality,
    run_rensa,
    truth_for,
    versions,
    write_json,
)

HERE = Path(__file__).resolve().parent
DEFAULT_OUT = HERE / "results" / "recall_seeds.json"


def dedupe_arrays(path: Path, settings: Settings, seed: int) -> dict[str, Any]:
    """Document clusters of dedupe's scan (documents only) with MinHash seed ``seed``."""
    import dedupe

    ids: list[str] = []

    def records() -> Iterator[dict[str, Any]]:
        with path.open(encoding="utf-8") as stream:
            for line in stream:
                record = json.loads(line)
                ids.append(record["id"])
                yield record

    result = dedupe.scan(
        records(),
        threshold=settings.threshold,
        num_perm=settings.num_perm,
        shingle=f"word:{settings.ngram_words}",
        paragraphs=False,
        seed=seed,
    )
    position = {doc_id: i for i, doc_id in enumerate(ids)}
    clusters = [
        (c.keep.doc_id, [m.doc_id for m in c.members])
        for c in result.clusters
        if c.level == "document"
    ]
    return _cluster_arrays(clusters, position)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=int, default=10)
    parser.add_argument("--seeds", type=_int_list, default=[1, 2, 3, 4, 5, 6])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    options = parser.parse_args(argv)
    settings = Settings()
    path = corpus_file(options.scale, settings.seed)
    truth = truth_for(path, settings)
    rows = []
    for seed in options.seeds:
        clusters = dedupe_arrays(path, settings, seed)
        ours = quality("dedupe-docs", clusters, truth, settings.threshold)
        speed.MINHASH_SEED = seed
        arrays, _ = run_rensa(path, settings)
        theirs = quality("rensa", arrays, truth, settings.threshold)
        rows.append(
            {
                "seed": seed,
                "dedupe_recall": ours["recall"],
                "dedupe_precision": ours["precision"],
                "rensa_recall": theirs["recall"],
                "rensa_precision": theirs["precision"],
            }
        )
        print(json.dumps(rows[-1]), flush=True)
    mean = {
        key: round(statistics.fmean(row[key] for row in rows), 4)
        for key in ("dedupe_recall", "rensa_recall", "dedupe_precision", "rensa_precision")
    }
    result = {
        "scale": options.scale,
        "threshold": settings.threshold,
        "num_perm": settings.num_perm,
        "true_pairs": len(truth.pairs),
        "scored_as": "dedupe: pairs inside a document cluster; rensa: verified LSH candidates",
        "rows": rows,
        "mean": mean,
        "seeds_where_dedupe_recall_is_lower": sum(
            row["dedupe_recall"] < row["rensa_recall"] for row in rows
        ),
        "machine": machine(),
        "versions": versions(),
        "command": "python benchmarks/recall_seeds.py " + " ".join(argv or sys.argv[1:]),
    }
    write_json(options.out, result)
    print(json.dumps(mean))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
