"""Verification by MinHash estimate against exact verification (``verify="exact"``) on the
labelled news of ``quality.py``: pair precision and recall by difficulty, false removals and
time, over corpus seeds, permutation seeds and thresholds around the default.

    python benchmarks/verify_exact.py --out benchmarks/results/verify_exact.json
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import corpus  # noqa: E402
from quality import (  # noqa: E402
    ROBUSTNESS_CORPORA,
    ROBUSTNESS_SEEDS,
    SOURCES,
    DocumentTruth,
    run_documents,
)

THRESHOLDS = (0.5, 0.55, 0.6, 0.7, 0.8)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=HERE / "results" / "verify_exact.json")
    parser.add_argument("--seeds", default=",".join(map(str, ROBUSTNESS_SEEDS)))
    args = parser.parse_args()
    seeds = [int(s) for s in args.seeds.split(",")]
    articles = corpus.load_news_articles()
    kept = [a for a in articles if len(corpus.words(a["text"])) >= corpus.MIN_WORDS]
    ambiguous = [
        (a, b)
        for a, b, j in corpus.natural_near_duplicates(kept, corpus.AMBIGUOUS_MIN_JACCARD)
        if j < corpus.NATURAL_MIN_JACCARD
    ]
    rows: list[dict[str, Any]] = []
    for corpus_seed in ROBUSTNESS_CORPORA:
        records, pairs = corpus.make_labelled_corpus(articles, n_sources=SOURCES, seed=corpus_seed)
        truth = DocumentTruth.build(pairs, ambiguous)
        for threshold in THRESHOLDS:
            for seed in seeds:
                for verify in ("estimate", "exact"):
                    row = run_documents(
                        records, truth, threshold=threshold, seed=seed, verify=verify
                    )
                    row.update(corpus_seed=corpus_seed, verify=verify)
                    rows.append(row)
                    print(
                        f"corpus {corpus_seed} t={threshold} seed {seed} {verify}: "
                        f"P {row['precision']} R {row['recall']} {row['seconds']} s",
                        file=sys.stderr,
                    )
    report = {
        "command": "python benchmarks/verify_exact.py" + (f" --seeds {args.seeds}"),
        "records": len(records),
        "rows": rows,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
