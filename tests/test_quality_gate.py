"""The quality gate: precision and recall may not fall below tests/quality/floors.json.

Two data sets, both built here and the same bytes on every machine:

* synthetic: ``tests/synthetic.py`` at the parameters pinned in the floors file; sources with one
  copy each (exact, light, moderate, truncated) plus sibling articles that share 20-45 % of a
  source's sentences and must stay apart. Pairs are scored as ``benchmarks/quality.py`` scores
  them: a predicted pair is two records in one document cluster; precision is over every
  predicted pair, recall over the labelled copies of one difficulty. The default scan
  (``ScanConfig()``) is scored on exact, light and moderate copies; copies cut to 55-70 % are
  scored on the scan that exists for them, ``measure="containment"``.
* seeds: every ``seeds/*.txt`` with its truth in the floors file: the lead paragraph the page
  repeats must be left exactly once, and every other line of the original must survive, in order.

A floor that is lower than its measurement by more than ``max_slack`` fails too, so floors rise
with quality; a floor whose latest history entry does not state it fails, so lowering one is an
explicit, explained change to the JSON file.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterable
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from dedupe import ScanConfig, scan
from tests.synthetic import SIBLING, Corpus, make_corpus

ROOT = Path(__file__).resolve().parent.parent
FLOORS_NAME = "tests/quality/floors.json"
FLOORS_PATH = ROOT / FLOORS_NAME
SEEDS = ROOT / "seeds"


def _floors_file() -> dict[str, Any]:
    return json.loads(FLOORS_PATH.read_text(encoding="utf-8"))


def _floors() -> dict[str, dict[str, Any]]:
    return _floors_file()["floors"]


# --- measuring -----------------------------------------------------------------------------


def _predicted_pairs(result: Any) -> set[frozenset[str]]:
    pairs: set[frozenset[str]] = set()
    for cluster in result.clusters:
        if cluster.level == "document":
            ids = [member.doc_id for member in cluster.members]
            pairs.update(frozenset(p) for p in itertools.combinations(ids, 2))
    return pairs


def _pair_scores(corpus: Corpus, config: ScanConfig, kinds: Iterable[str]) -> dict[str, float]:
    """Precision over every predicted pair and recall per difficulty of the labelled copies."""
    predicted = _predicted_pairs(scan(corpus.records, config))
    group = {b: a for a, b, kind in corpus.pairs if kind != SIBLING}

    def same_group(pair: frozenset[str]) -> bool:
        return len({group.get(doc_id, doc_id) for doc_id in pair}) == 1

    true_pairs = sum(1 for pair in predicted if same_group(pair))
    scores = {"precision": true_pairs / len(predicted) if predicted else 1.0}
    for kind in kinds:
        labelled = [frozenset((a, b)) for a, b, k in corpus.pairs if k == kind]
        scores[f"recall_{kind}"] = sum(p in predicted for p in labelled) / len(labelled)
    return scores


def _lost_in_order(cleaned: str, lines: list[str]) -> int:
    lost, at = 0, 0
    for line in lines:
        found = cleaned.find(line, at)
        if found < 0:
            lost += 1
        else:
            at = found + len(line)
    return lost


def _seed_scores(truth: dict[str, dict[str, str]]) -> dict[str, float]:
    """Share of seeds whose repeated lead is left exactly once, and share of the other lines
    (the original's non-blank lines, stripped, so independent of dedupe's segmentation) kept."""
    files = sorted(SEEDS.glob("*.txt"))
    assert sorted(f.name for f in files) == sorted(truth), "every seed needs its truth, and back"
    removed = kept = originals = 0
    for path in files:
        text = path.read_text(encoding="utf-8")
        lead = truth[path.name]["repeated_once"]
        (record,) = scan([(path.name, text)], ScanConfig()).records
        assert text.count(lead) > 1, f"{path.name}: the truth's repeat is not repeated"
        removed += record.text.count(lead) == 1
        lines = [line.strip() for line in text.splitlines() if line.strip()]
        first = next(i for i, line in enumerate(lines) if lead in line)
        others = [line for i, line in enumerate(lines) if i <= first or lead not in line]
        originals += len(others)
        kept += len(others) - _lost_in_order(record.text, others)
    return {"repeats_removed": removed / len(files), "lines_kept": kept / originals}


@cache
def measured() -> dict[str, float]:
    """Every gated metric by the name it has in the floors file."""
    settings = _floors_file()
    corpus = make_corpus(**settings["synthetic_data"])
    out: dict[str, float] = {}
    # Copies cut short are what containment mode is for; the default scan is held to the rest.
    jaccard = _pair_scores(corpus, ScanConfig(), ["exact", "light", "moderate"])
    containment = _pair_scores(corpus, ScanConfig(measure="containment"), ["moderate", "truncated"])
    out.update({f"synthetic.jaccard.{name}": value for name, value in jaccard.items()})
    out.update({f"synthetic.containment.{name}": value for name, value in containment.items()})
    seeds = _seed_scores(settings["seed_truth"])
    out.update({f"seeds.{name}": value for name, value in seeds.items()})
    return out


# --- the gate ------------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(_floors()))
def test_quality_does_not_fall_below_its_floor(name):
    entry, value = _floors()[name], measured()[name]
    assert value >= entry["floor"], (
        f"quality regression: {name} = {value:.4f}, below its floor {entry['floor']} "
        f"({entry['reason']}). Fix the regression, or lower the floor in {FLOORS_NAME} "
        "with a history entry that says why."
    )


@pytest.mark.parametrize("name", sorted(_floors()))
def test_floor_tracks_the_measurement(name):
    entry, value = _floors()[name], measured()[name]
    slack = _floors_file()["max_slack"]
    assert value - entry["floor"] <= slack, (
        f"{name} = {value:.4f} is more than {slack} above its floor {entry['floor']}: "
        f"raise the floor in {FLOORS_NAME} (with a history entry) so the gate keeps the gain."
    )


def test_every_metric_has_a_floor_and_every_floor_its_reason_and_history():
    floors = _floors()
    assert sorted(floors) == sorted(measured()), "a metric without a floor, or a floor without one"
    for name, entry in floors.items():
        assert 0.0 < entry["floor"] <= 1.0, name
        assert entry.get("reason", "").strip(), f"{name}: say why the floor is where it is"
        history = entry.get("history")
        assert history, f"{name}: a floor needs a history"
        for step in history:
            assert {"date", "floor", "measured", "note"} <= set(step), (name, step)
        assert history[-1]["floor"] == entry["floor"], (
            f"{name}: the floor is {entry['floor']} but its latest history entry says "
            f"{history[-1]['floor']}; changing a floor needs a history entry saying why"
        )
