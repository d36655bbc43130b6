"""Markdown for BENCHMARKS.md from the JSON that ``speed.py`` writes; nothing here is measured.

python benchmarks/render_speed.py benchmarks/results/speed.json > /tmp/speed.md
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
DEFAULT_IN = REPO / "benchmarks" / "results" / "speed.json"
DASH = "—"

COLUMNS = (
    "tool",
    "seconds",
    "docs/s",
    "MB/s",
    "peak RSS MB",
    "peak anon MB",
    "time ÷ dedupe-docs",
    "pairs",
    "recall",
    "precision",
    "recall, J ≥ {clear}",
    "LSH candidates: recall / precision",
    "note",
)


def _number(value: float | None, digits: int = 0) -> str:
    if value is None:
        return DASH
    return f"{value:,.{digits}f}"


def _share(value: float | None) -> str:
    return DASH if value is None else f"{value:.3f}"


def _candidates(row: dict[str, Any]) -> str:
    found = row.get("variants", {}).get("lsh_candidates")
    if not found:
        return DASH
    return f"{_share(found['recall'])} / {_share(found['precision'])} ({found['pairs']:,} pairs)"


def _row(row: dict[str, Any]) -> list[str]:
    return [
        f"`{row['tool']}`",
        _number(row.get("seconds"), 2),
        _number(row.get("docs_per_s")),
        _number(row.get("mb_per_s"), 2),
        _number(row.get("peak_rss_mb")),
        _number(row.get("peak_anon_mb")),
        _number(row.get("ratio_to_dedupe_docs"), 2),
        _number(row.get("pairs")),
        _share(row.get("recall")),
        _share(row.get("precision")),
        _share(row.get("recall_clear")),
        _candidates(row),
        row.get("note", "").replace("|", "\\|").replace("\n", " "),
    ]


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |"]
    lines.append("|" + "|".join("---" if i == 0 else "---:" for i in range(len(header))) + "|")
    lines.extend("| " + " | ".join(cells) + " |" for cells in rows)
    return lines


def _stages(rows: Sequence[dict[str, Any]]) -> list[str]:
    """Where each tool's time goes, by the worker's own clock (no interpreter start)."""
    lines = []
    for row in rows:
        stages = row.get("stages_s")
        if not stages:
            continue
        split = ", ".join(f"{name} {seconds:.2f}" for name, seconds in stages.items())
        lines.append(f"- `{row['tool']}`: {split}")
    return lines


def _truth(summary: dict[str, Any] | None, threshold: float) -> list[str]:
    if summary is None:
        return ["Not scored at this scale (no exact truth computed)."]
    bands = ", ".join(f"{band}: {count:,}" for band, count in summary["pairs_by_jaccard"].items())
    return [
        f"Exact truth: {summary['pairs']:,} pairs at word-5-gram Jaccard ≥ {threshold} "
        f"(by Jaccard {bands}); {summary['documents_without_shingles']} documents without "
        "shingles are not scored."
    ]


def _scale_section(scale: int, rows: Sequence[dict[str, Any]], report: dict[str, Any]) -> list[str]:
    config = report["config"]
    first = rows[0]
    header = [c.format(clear=round(config["threshold"] + 0.05, 2)) for c in COLUMNS]
    lines = [f"### ×{scale}: {first['docs']:,} documents, {first['mb']:,.1f} MB of text", ""]
    lines += _table(header, [_row(r) for r in rows])
    lines += ["", *_truth(report.get("truth", {}).get(f"x{scale}"), config["threshold"])]
    stages = _stages(rows)
    if stages:
        lines += ["", "Seconds per stage, by each worker's own clock:", "", *stages]
    return [*lines, ""]


def _setup(report: dict[str, Any]) -> list[str]:
    machine, versions, config = report["machine"], report["versions"], report["config"]
    found = ", ".join(f"{name} {version or 'not installed'}" for name, version in versions.items())
    return [
        f"- Command: `{report['command']}` (total {report.get('total_seconds', '?')} s)",
        f"- Machine: {machine['cpu']}, {machine['cores']} cores "
        f"({machine['cores_usable']} usable), {machine['memory_gb']} GB, Python "
        f"{machine['python']}, {machine['platform']}; load average at start "
        f"{' / '.join(str(x) for x in machine['load_average_at_start'])}"
        + (
            f"; the dedupe command's numpy: {machine['dedupe_command_numpy']}"
            if "dedupe_command_numpy" in machine
            else ""
        ),
        f"- Versions: {found}",
        f"- Settings: threshold {config['threshold']}, {config['num_perm']} permutations, "
        f"word {config['ngram_words']}-grams, median of {config['repeats']} run(s); copies "
        f"perturb {config['perturb_rate'][0]:.0%}–{config['perturb_rate'][1]:.0%} of words",
        f"- Parallelism: {config.get('parallelism', str(config['jobs']) + ' process/thread')}",
        f"- LSH: datasketch {config['datasketch_lsh']}; rensa {config['rensa_lsh']}; dedupe "
        f"{config['dedupe_lsh']}",
        f"- Verification: {config.get('dedupe_verify', 'dedupe-exact: --verify exact')}",
        f"- Timing: {config['timing']}",
        f"- Memory: {config.get('memory', 'peak RSS (ru_maxrss)')}",
        f"- Quality: {config['quality']}",
    ]


def render(report: dict[str, Any], source: str = "benchmarks/results/speed.json") -> str:
    lines = [
        "## Speed: dedupe beside datasketch and rensa",
        "",
        f"Generated by `benchmarks/render_speed.py` from `{source}`; "
        "rerun `benchmarks/speed.py` to change it.",
        "",
        *_setup(report),
        "",
    ]
    scales = sorted({row["scale"] for row in report["results"]})
    for scale in scales:
        rows = [row for row in report["results"] if row["scale"] == scale]
        lines += _scale_section(scale, rows, report)
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Render speed.json as Markdown on stdout.")
    parser.add_argument("path", nargs="?", type=Path, default=DEFAULT_IN)
    args = parser.parse_args(argv)
    source = args.path.resolve()
    shown = source.relative_to(REPO) if source.is_relative_to(REPO) else source
    print(render(json.loads(source.read_text(encoding="utf-8")), str(shown)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
