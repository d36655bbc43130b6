"""PNG plots of a :class:`~dedupe.tune.TuneResult`, drawn only when matplotlib is installed.

matplotlib is an optional extra (``pip install 'dedupe[plots]'``): everything else works without
it. Figures are drawn on matplotlib's Agg canvas directly, never through pyplot, so no GUI
backend is chosen and no global figure state is left behind; each file is written whole or not
at all (:func:`dedupe.writers.atomic_write_bytes`).
"""

from __future__ import annotations

import importlib.util
import io
from pathlib import Path
from typing import Any

import numpy as np

from dedupe.core.lsh import candidate_probability
from dedupe.tune import COMMON_THRESHOLDS, TuneResult, TuneRow
from dedupe.writers import atomic_write_bytes

__all__ = ["INSTALL_HINT", "available", "write_tune_plots"]

INSTALL_HINT = "pip install 'dedupe[plots]'"

PRECISION_RECALL_PNG = "precision_recall.png"
S_CURVE_PNG = "s_curve.png"
SIMILARITIES_PNG = "similarities.png"

# Fine enough to show the gap between copies and near-misses that 0.05 threshold steps probe.
_BIN_WIDTH = 0.025


def available() -> bool:
    """Whether matplotlib can be imported (without importing it)."""
    return importlib.util.find_spec("matplotlib") is not None


def write_tune_plots(result: TuneResult, out_dir: Path) -> list[Path]:
    """Write the plots that fit ``result`` into ``out_dir`` and return their paths: with
    labels, precision and recall against threshold and the S-curve of the recommended bands;
    without, the distribution of candidate similarities."""
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    if result.labelled:
        written.append(_save(_precision_recall(result), out_dir / PRECISION_RECALL_PNG))
        if result.recommendation is not None:
            written.append(_save(_s_curve(result, result.recommendation), out_dir / S_CURVE_PNG))
    if result.distributions:
        written.append(_save(_similarities(result), out_dir / SIMILARITIES_PNG))
    return written


def _figure(width: float, height: float) -> Any:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(width, height), dpi=100, layout="constrained")
    FigureCanvasAgg(figure)
    return figure


def _save(figure: Any, path: Path) -> Path:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    atomic_write_bytes(path, buffer.getvalue())
    return path


def _setting_name(shingle: str, num_perm: int, several_perms: bool) -> str:
    return f"{shingle}, {num_perm} perms" if several_perms else shingle


def _precision_recall(result: TuneResult) -> Any:
    figure = _figure(11, 4.5)
    ax_precision, ax_recall = figure.subplots(1, 2, sharex=True)
    several_perms = len({row.num_perm for row in result.rows}) > 1
    lines: dict[tuple[str, int], list[TuneRow]] = {}
    for row in result.rows:
        lines.setdefault((row.shingle, row.num_perm), []).append(row)
    for (shingle, num_perm), rows in lines.items():
        name = _setting_name(shingle, num_perm, several_perms)
        thresholds = [row.threshold for row in rows]
        precision = [np.nan if row.precision is None else row.precision for row in rows]
        ax_precision.plot(thresholds, precision, marker=".", label=name)
        ax_recall.plot(thresholds, [row.recall for row in rows], marker=".", label=name)
    ax_precision.axhline(
        result.min_precision, color="grey", linestyle="--", linewidth=1, label="precision floor"
    )
    chosen = result.recommendation
    if chosen is not None:
        for ax, value in ((ax_precision, chosen.precision), (ax_recall, chosen.recall)):
            ax.plot([chosen.threshold], [value], marker="*", markersize=14, color="black")
    ax_precision.set_title("Precision over the labelled pairs")
    ax_recall.set_title("Recall of the labelled duplicates")
    for ax in (ax_precision, ax_recall):
        ax.set_xlabel("threshold (--threshold)")
        ax.grid(alpha=0.3)
    ax_recall.set_ylim(-0.02, 1.02)
    ax_precision.legend(fontsize="small")
    figure.suptitle(f"dedupe tune, measure {result.config.measure} (star: the recommendation)")
    return figure


def _s_curve(result: TuneResult, row: TuneRow) -> Any:
    figure = _figure(8, 4.5)
    ax = figure.subplots()
    bins = np.arange(0.0, 1.0 + _BIN_WIDTH, _BIN_WIDTH)
    similarities = result.similarities_of(row)
    if similarities is not None:
        ax.hist(similarities.duplicates, bins=bins, alpha=0.7, label="labelled duplicates")
        if len(similarities.non_duplicates):
            ax.hist(
                similarities.non_duplicates, bins=bins, alpha=0.5, label="labelled non-duplicates"
            )
    ax.set_xlabel(f"estimated Jaccard similarity ({row.shingle}, {row.num_perm} permutations)")
    ax.set_ylabel("labelled pairs")
    ax.set_xlim(0, 1)
    curve = ax.twinx()
    grid = np.linspace(0.0, 1.0, 401)
    curve.plot(
        grid,
        candidate_probability(grid, row.bands, row.rows),
        color="black",
        label=f"P(candidate), {row.bands} bands x {row.rows} rows",
    )
    curve.set_ylim(0, 1.02)
    curve.set_ylabel("probability of becoming an LSH candidate")
    ax.axvline(row.threshold, color="red", linestyle="--", label=f"threshold {row.threshold}")
    handles, names = ax.get_legend_handles_labels()
    more_handles, more_names = curve.get_legend_handles_labels()
    ax.legend(handles + more_handles, names + more_names, loc="upper left", fontsize="small")
    ax.set_title("Chosen bands over the similarity of the labelled pairs")
    return figure


def _similarities(result: TuneResult) -> Any:
    figure = _figure(8, 4.5)
    ax = figure.subplots()
    floor = min(d.floor for d in result.distributions)
    bins = np.arange(floor, 1.0 + _BIN_WIDTH, _BIN_WIDTH)
    several_perms = len({d.num_perm for d in result.distributions}) > 1
    for found in result.distributions:
        name = _setting_name(found.shingle, found.num_perm, several_perms)
        ax.hist(found.jaccard, bins=bins, histtype="step", linewidth=1.5, label=f"{name} Jaccard")
        if found.containment is not None:
            ax.hist(
                found.containment,
                bins=bins,
                histtype="step",
                linestyle="--",
                label=f"{name} containment",
            )
    for threshold in COMMON_THRESHOLDS:
        ax.axvline(threshold, color="grey", linestyle=":", linewidth=1)
    ax.set_xlabel("estimated similarity of candidate pairs")
    ax.set_ylabel("pairs")
    ax.set_title("Where the corpus splits: candidate pairs by similarity (exact copies left out)")
    ax.legend(fontsize="small")
    return figure
