"""report.html: what a scan removed and why, in one self-contained file.

Two parts. :class:`ReportSampler` plans, from pass one's cluster tables alone, a bounded and
deterministic sample of (kept, removed) pairs, collects their texts while pass two re-reads the
input (it never holds the corpus), and summarises the tables with numpy (largest clusters,
paragraphs spread over most documents, similarity histograms). :func:`render_report` is a pure
function from the summary dict and that :class:`ReportData` to the HTML string: inline CSS and
SVG, no script, no network, every text escaped.
"""

from __future__ import annotations

import bisect
import html
import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from dedupe.config import ScanConfig, ShingleSpec
from dedupe.core.runs import first_of_runs
from dedupe.explain import shingle_strings, word_diff
from dedupe.result import (
    RULES,
    ClusterTable,
    column_floats,
    column_is,
    column_value,
    column_values,
)
from dedupe.writers import cluster_chunks

#: Side-by-side pairs shown at most: the largest clusters first, then a spread of similarities.
MAX_PAIRS = 50
LARGEST_PAIRS = 10
#: Each side of a pair is cut at this many characters, so the file stays small at any corpus size.
PAIR_CHARS = 1_500
#: The exact Jaccard similarity of a sampled pair is computed on texts up to this long (the
#: sample holds at most 2 * MAX_PAIRS of them).
EXACT_CHARS = 200_000
#: Rows in the tables of largest clusters (per level) and of the most widespread paragraphs.
TOP_CLUSTERS = 10
TOP_PARAGRAPHS = 15
HISTOGRAM_BINS = 20


@dataclass(frozen=True, slots=True)
class ClusterLine:
    """One row of a cluster table: id, level, members, distinct documents, the kept member."""

    cluster_id: str
    level: str
    members: int
    documents: int
    keep_id: str
    text: str
    rule: str


@dataclass(frozen=True, slots=True)
class Pair:
    """A removed member beside the member it duplicates (texts cut at :data:`PAIR_CHARS`).
    ``similarity`` is clusters.jsonl's (what the scan compared with its threshold);
    ``exact_jaccard`` is recomputed here from the two texts' shingle sets, the check on it."""

    cluster_id: str
    level: str
    rule: str
    similarity: float
    kept_id: str
    kept_paragraph: int | None
    kept_text: str
    removed_id: str
    removed_paragraph: int | None
    removed_text: str
    exact_jaccard: float | None = None
    repeats: int | None = None


@dataclass(frozen=True, slots=True)
class Histogram:
    """Counts of removed members' similarities with their kept member, in equal bins."""

    level: str
    low: float
    high: float
    counts: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class ReportData:
    largest: tuple[ClusterLine, ...]
    widespread: tuple[ClusterLine, ...]
    histograms: tuple[Histogram, ...]
    pairs: tuple[Pair, ...]


#: Members :func:`_documents_per_cluster` (whole clusters) and :func:`_histogram` count at a
#: time.
DOCUMENTS_CHUNK = 1 << 20


def _documents_per_cluster(table: ClusterTable) -> np.ndarray:
    """Distinct documents in each cluster (records are numbered by input position), whole
    clusters of at least :data:`DOCUMENTS_CHUNK` members at a time (as clusters.jsonl is
    written, :func:`~dedupe.writers.cluster_chunks`): codes, their sort and the
    cluster numbers of every member at once held ~200 MB at x100 (6 million paragraph
    members), the scan's peak as it ended.

    >>> table = ClusterTable("paragraph", [0, 3, 5], np.array([4, 4, 7, 2, 2]), [""] * 5, [1.0] * 5)
    >>> _documents_per_cluster(table).tolist()
    [2, 1]
    """
    if len(table) == 0:
        return np.zeros(0, dtype=np.int64)
    bounds = table.bounds
    if table.level == "document":  # a document belongs to one cluster at most
        return np.asarray(np.diff(bounds), dtype=np.int64)
    counts = np.empty(len(table), dtype=np.int64)
    for first, last in cluster_chunks(bounds, DOCUMENTS_CHUNK):
        begin, end = bounds[first], bounds[last]
        positions = np.asarray(table.positions[begin:end], dtype=np.int64)
        sizes: np.ndarray = np.diff(np.asarray(bounds[first : last + 1], dtype=np.int64))
        cluster = np.repeat(np.arange(last - first, dtype=np.int64), sizes)
        width = int(positions.max()) + 1 if len(positions) else 1
        # Sorted (cluster, document) codes; a code unlike its predecessor is a new document.
        codes = np.sort(cluster * width + positions)
        counts[first:last] = np.bincount(
            codes[first_of_runs(codes)] // width, minlength=last - first
        )
    return counts


def _removed(table: ClusterTable) -> np.ndarray:
    """Indexes of the members that were removed and are not their cluster's first member."""
    if table.rules is None or len(table.rules) == 0:
        return np.zeros(0, dtype=np.int64)
    removed = ~column_is(table.rules, "kept")
    removed[np.asarray(table.bounds[:-1], dtype=np.int64)] = False
    return np.flatnonzero(removed)


def choose_pairs(tables: list[ClusterTable]) -> list[tuple[int, int, int]]:
    """A deterministic sample of (table, kept member, removed member) index triples: the first
    removed member of each of the :data:`LARGEST_PAIRS` largest clusters, then removed members
    evenly spread over the sorted similarities, :data:`MAX_PAIRS` in all. Each table's removed
    members are looked at in turn, as index arrays: with ``--boilerplate-min-docs`` most
    paragraph members are removed (x100: 6 million), and a table of five numbers for each of
    them held ~900 MB."""
    levels = [(number, _removed(table)) for number, table in enumerate(tables)]
    levels = [(number, removed) for number, removed in levels if len(removed)]
    if not levels:
        return []
    bounds_of = {at: np.asarray(tables[at].bounds, dtype=np.int64) for at, _ in levels}
    # Largest clusters: their first removed member (the one nearest the kept member).
    heads: list[tuple[np.ndarray, ...]] = []  # (table, removed member, keeper, cluster size)
    for at, removed in levels:
        bounds = bounds_of[at]
        cluster = np.searchsorted(bounds, removed, side="right") - 1
        first = first_of_runs(cluster)
        cluster = cluster[first]
        keeper = bounds[cluster]
        heads.append(
            (np.full(len(cluster), at), removed[first], keeper, bounds[cluster + 1] - keeper)
        )
    table_of, member, kept, size = (np.concatenate(column) for column in zip(*heads, strict=True))
    by_size = np.argsort(-size, kind="stable")[:LARGEST_PAIRS]
    largest = zip(
        table_of[by_size].tolist(), kept[by_size].tolist(), member[by_size].tolist(), strict=True
    )
    # A spread of similarities: evenly spaced ranks among each level's removed members, the
    # pairs left shared between the levels (a level's many duplicate documents would crowd out
    # its few repeated paragraphs), taken in turn.
    spreads: list[list[tuple[int, int, int]]] = []
    share = max(1, (MAX_PAIRS - len(by_size)) // len(levels))
    for number, removed in levels:
        table = tables[number]
        by_similarity = np.argsort(column_floats(table.similarities, removed), kind="stable")
        count = min(len(by_similarity), share)
        ranks = np.unique(np.linspace(0, len(by_similarity) - 1, count).round().astype(np.int64))
        picked = removed[by_similarity[ranks]]
        del by_similarity
        bounds = bounds_of[number]
        keepers = bounds[np.searchsorted(bounds, picked, side="right") - 1]
        pairs = zip(keepers.tolist(), picked.tolist(), strict=True)
        spreads.append([(number, k, m) for k, m in pairs])
    interleaved = [
        row for turn in itertools.zip_longest(*spreads) for row in turn if row is not None
    ]
    chosen: dict[tuple[int, int, int], None] = {}
    for row in itertools.chain(largest, interleaved):
        chosen[row] = None
        if len(chosen) >= MAX_PAIRS:
            break
    return list(chosen)


class ReportSampler:
    """Plans the report's sample from pass one's tables; pass two hands each record's text to
    :meth:`take`; :meth:`data` then builds the :class:`ReportData`."""

    def __init__(self, tables: list[ClusterTable], config: ScanConfig | None = None) -> None:
        self.tables = tables
        self.config = config if config is not None else ScanConfig()
        self.triples = choose_pairs(tables)
        self.texts: dict[tuple[int, int], str] = {}
        # position -> [(table, member)] whose text the record at that position holds.
        self._wanted: dict[int, list[tuple[int, int]]] = {}
        for number, kept, removed in self.triples:
            for member in (kept, removed):
                position = column_value(tables[number].positions, member)
                self._wanted.setdefault(position, []).append((number, member))

    def requests(self) -> list[tuple[Any, int, int, int | None, int]]:
        """The cuts :meth:`take` would make, as ``(key, position, start, end, limit)`` (see
        :meth:`dedupe.api.Previews.requests`); hand each text back to :meth:`put`."""
        wanted: list[tuple[Any, int, int, int | None, int]] = []
        for position, members in self._wanted.items():
            for number, member in members:
                table = self.tables[number]
                start = 0 if table.starts is None else column_value(table.starts, member)
                end = None if table.ends is None else column_value(table.ends, member)
                wanted.append(((number, member), position, start, end, EXACT_CHARS))
        return wanted

    def put(self, key: tuple[int, int], text: str) -> None:
        """The text of sampled member ``key = (table, member)``, cut as requested."""
        self.texts[key] = text

    def wants(self, position: int) -> bool:
        """Whether the record at ``position`` has a sampled member (:meth:`take` keeps none
        of another's)."""
        return position in self._wanted

    def take(self, text: str, position: int) -> None:
        """Keep the sampled members' texts of the record at ``position``, cut short."""
        for number, member in self._wanted.get(position, ()):
            table = self.tables[number]
            start = 0 if table.starts is None else column_value(table.starts, member)
            end = len(text) if table.ends is None else column_value(table.ends, member)
            self.texts[(number, member)] = text[start : min(end, start + EXACT_CHARS)]

    def data(self, previews: Sequence[Sequence[str]]) -> ReportData:
        """The report's content; ``previews`` are the tables' member texts (clusters.jsonl's)."""
        pairs = []
        for number, kept, removed in self.triples:
            table = self.tables[number]
            paragraphs = table.paragraphs
            kept_text = self.texts.get((number, kept), "")
            removed_text = self.texts.get((number, removed), "")
            pairs.append(
                Pair(
                    f"{table.prefix}{bisect.bisect_right(table.bounds, kept):06d}",
                    table.level,
                    "kept" if table.rules is None else column_value(table.rules, removed),
                    column_value(table.similarities, removed),
                    column_value(table.doc_ids, kept),
                    None if paragraphs is None else column_value(paragraphs, kept),
                    kept_text[:PAIR_CHARS],
                    column_value(table.doc_ids, removed),
                    None if paragraphs is None else column_value(paragraphs, removed),
                    removed_text[:PAIR_CHARS],
                    self._exact_jaccard(table, kept_text, removed_text),
                    None if table.repeats is None else column_value(table.repeats, removed),
                )
            )
        largest: list[ClusterLine] = []
        widespread: list[ClusterLine] = []
        histograms = []
        for table, texts in zip(self.tables, previews, strict=True):
            documents = _documents_per_cluster(table)
            sizes = np.diff(np.asarray(table.bounds, dtype=np.int64))
            largest += _lines(table, texts, documents, np.argsort(-sizes, kind="stable"))
            if table.level == "paragraph":
                spread = np.argsort(-documents, kind="stable")
                spread = spread[documents[spread] > 1]
                widespread += _lines(table, texts, documents, spread, TOP_PARAGRAPHS)
            histograms.append(_histogram(table))
        return ReportData(tuple(largest), tuple(widespread), tuple(histograms), tuple(pairs))

    def _exact_jaccard(self, table: ClusterTable, a: str, b: str) -> float | None:
        """Jaccard similarity of the shingle sets of ``a`` and ``b`` as the scan builds them:
        the scan's shingles for documents, word ``paragraph_ngram``-grams for paragraphs."""
        if max(len(a), len(b)) >= EXACT_CHARS:
            return None  # cut: the sets would not be the whole texts'
        config = self.config
        if table.level == "paragraph":
            config = ScanConfig(shingle=ShingleSpec("word", config.paragraph_ngram))
        set_a, set_b = set(shingle_strings(a, config)), set(shingle_strings(b, config))
        union = set_a | set_b
        return round(len(set_a & set_b) / len(union), 4) if union else 1.0


def _lines(
    table: ClusterTable,
    texts: Sequence[str],
    documents: np.ndarray,
    order: np.ndarray,
    limit: int = TOP_CLUSTERS,
) -> list[ClusterLine]:
    lines = []
    for cluster in order[:limit].tolist():
        first, last = table.bounds[cluster], table.bounds[cluster + 1]
        rules = column_values(table.rules, first + 1, last) if table.rules is not None else []
        removed = sorted({r for r in rules if r != "kept"}, key=RULES.index)
        lines.append(
            ClusterLine(
                f"{table.prefix}{cluster + 1:06d}",
                table.level,
                last - first,
                int(documents[cluster]),
                column_value(table.doc_ids, first),
                texts[first],
                ", ".join(removed) or "kept (reported)",
            )
        )
    return lines


def _histogram(table: ClusterTable) -> Histogram:
    """The histogram of every member's similarity but each cluster's first (its kept member),
    counted a chunk of :data:`DOCUMENTS_CHUNK` members at a time."""
    counts = np.zeros(HISTOGRAM_BINS, dtype=np.int64)
    firsts = np.asarray(table.bounds[:-1], dtype=np.int64)
    for begin in range(0, table.members, DOCUMENTS_CHUNK):
        end = min(begin + DOCUMENTS_CHUNK, table.members)
        similarity = column_floats(table.similarities, slice(begin, end))
        heads = firsts[np.searchsorted(firsts, begin) : np.searchsorted(firsts, end)]
        others = np.ones(end - begin, dtype=bool)
        others[heads - begin] = False
        counts += np.histogram(similarity[others], bins=HISTOGRAM_BINS, range=(0.0, 1.0))[0]
    return Histogram(table.level, 0.0, 1.0, tuple(counts.tolist()))


# -- rendering -----------------------------------------------------------------------------------

_CSS = """
body{font:14px/1.45 system-ui,sans-serif;margin:2em auto;max-width:78em;padding:0 1em;color:#222}
h1{font-size:1.6em}h2{margin-top:2em;border-bottom:1px solid #ccc}
table{border-collapse:collapse;margin:.5em 0}
td,th{border:1px solid #ddd;padding:.25em .6em;text-align:left;vertical-align:top}
td.n,th.n{text-align:right;font-variant-numeric:tabular-nums}
.side-by-side{display:grid;grid-template-columns:1fr 1fr;gap:1em;margin:.5em 0 2em}
.side{border:1px solid #ddd;padding:.6em;white-space:pre-wrap;overflow-wrap:anywhere}
.side h4{margin:0 0 .4em;font-size:.95em;white-space:normal}
del{background:#fcc;text-decoration:line-through}ins{background:#cfc;text-decoration:none}
.meta{color:#555}svg text{font-size:10px;fill:#333}
"""


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


def _number(value: object) -> str:
    return f"{value:,}" if isinstance(value, int) else _e(value)


def render_report(summary: dict[str, Any], data: ReportData) -> str:
    """The report as one HTML document (no script, no external resource).

    >>> page = render_report({"records_read": 2}, ReportData((), (), (), ()))
    >>> page.startswith("<!DOCTYPE html>") and "records_read" not in page
    True
    """
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        "<title>dedupe report</title>",
        f"<style>{_CSS}</style></head><body>",
        "<h1>dedupe report</h1>",
    ]
    if "input" in summary:
        parts.append(f'<p class="meta">Input: <code>{_e(summary["input"])}</code></p>')
    parts += _totals(summary)
    parts += _histograms(data.histograms)
    parts += _cluster_table("Largest clusters", data.largest, "members")
    parts += _cluster_table("Paragraphs found in the most documents", data.widespread, "documents")
    parts += _pairs(data.pairs)
    parts.append("</body></html>\n")
    return "\n".join(parts)


def _totals(summary: dict[str, Any]) -> list[str]:
    rows = [
        ("Records read", summary.get("records_read")),
        ("Records kept", summary.get("records_kept")),
        ("Documents removed", summary.get("documents_removed")),
        ("Paragraphs removed", summary.get("paragraphs_removed")),
        ("Bytes removed", summary.get("bytes_removed")),
        ("Records skipped", summary.get("records_skipped")),
        ("Document clusters", summary.get("document_clusters")),
        ("Paragraph clusters", summary.get("paragraph_clusters")),
    ]
    out = ['<h2 id="totals">Totals</h2>', "<table>"]
    out += [
        f'<tr><th>{_e(name)}</th><td class="n">{_number(value)}</td></tr>'
        for name, value in rows
        if value is not None
    ]
    out.append("</table>")
    by_rule = summary.get("removed_by_rule") or {}
    if by_rule:
        out += ["<h3>Removed, by rule</h3>", '<table id="by-rule">']
        out.append('<tr><th>rule</th><th class="n">removed</th></tr>')
        out += [
            f'<tr><td>{_e(rule)}</td><td class="n">{_number(count)}</td></tr>'
            for rule, count in by_rule.items()
        ]
        out.append("</table>")
    return out


def _histograms(histograms: tuple[Histogram, ...]) -> list[str]:
    out = ['<h2 id="similarity">Similarity of each member with its kept member</h2>']
    for histogram in histograms:
        total = sum(histogram.counts)
        out.append(f"<h3>{_e(histogram.level.capitalize())} clusters: {total:,} members</h3>")
        if total:
            out.append(_svg_histogram(histogram))
    return out


def _svg_histogram(histogram: Histogram) -> str:
    width, height, left, bottom = 600, 160, 40, 20
    bins = len(histogram.counts)
    bar = (width - left) / bins
    peak = max(histogram.counts)
    step = (histogram.high - histogram.low) / bins
    shapes = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width + 20}" height="{height + bottom}" '
        f'role="img" aria-label="{_e(histogram.level)} similarity histogram">',
        f'<text x="0" y="10">{peak:,}</text><text x="0" y="{height}">0</text>',
    ]
    for i, count in enumerate(histogram.counts):
        h = 0.0 if peak == 0 else (height - 12) * count / peak
        x = left + i * bar
        low = histogram.low + i * step
        shapes.append(
            f'<rect x="{x:.1f}" y="{height - h:.1f}" width="{bar - 2:.1f}" height="{h:.1f}" '
            f'fill="#4a7ab5"><title>{low:.2f}–{low + step:.2f}: {count:,}</title></rect>'
        )
        if i % 4 == 0:
            shapes.append(f'<text x="{x:.1f}" y="{height + 14}">{low:.1f}</text>')
    shapes.append(f'<text x="{width}" y="{height + 14}">{histogram.high:.1f}</text></svg>')
    return "".join(shapes)


def _cluster_table(title: str, lines: tuple[ClusterLine, ...], key: str) -> list[str]:
    anchor = "largest" if key == "members" else "widespread"
    out = [f'<h2 id="{anchor}">{_e(title)}</h2>']
    if not lines:
        return [*out, "<p>None.</p>"]
    out += [
        f'<table id="{anchor}-table">',
        '<tr><th>cluster</th><th>level</th><th class="n">members</th>'
        '<th class="n">documents</th><th>kept</th><th>removed by</th><th>text</th></tr>',
    ]
    out += [
        f"<tr><td>{_e(line.cluster_id)}</td><td>{_e(line.level)}</td>"
        f'<td class="n">{line.members:,}</td><td class="n">{line.documents:,}</td>'
        f"<td>{_e(line.keep_id)}</td><td>{_e(line.rule)}</td><td>{_e(line.text)}</td></tr>"
        for line in lines
    ]
    out.append("</table>")
    return out


def _side(op_shown: str, diff: tuple[tuple[str, str], ...]) -> str:
    """One side of a pair: its words, those only on this side highlighted."""
    tag = "del" if op_shown == "delete" else "ins"
    words = []
    for op, text in diff:
        if op == "equal":
            words.append(_e(text))
        elif op == op_shown:
            words.append(f"<{tag}>{_e(text)}</{tag}>")
    return " ".join(words)


def _where(doc_id: str, paragraph: int | None) -> str:
    return _e(doc_id) + ("" if paragraph is None else f", paragraph {paragraph}")


def _repeats(paragraph: int | None) -> str:
    return "" if paragraph is None else f"; repeats paragraph {paragraph} of its own document"


def _exact(value: float | None) -> str:
    return "" if value is None else f", exact Jaccard {value:.3f}"


def _pairs(pairs: tuple[Pair, ...]) -> list[str]:
    out = [
        '<h2 id="pairs">Sampled removals, side by side</h2>',
        f'<p class="meta">Up to {MAX_PAIRS} pairs: the largest clusters, then a spread of '
        f"similarities; each side cut at {PAIR_CHARS:,} characters. The similarity is the one in "
        "clusters.jsonl (what the scan compared with its threshold: estimated from MinHash "
        "signatures, exact within a document); the exact Jaccard is recomputed from the whole "
        "texts' shingle sets as a check. Words only in the kept text "
        "are <del>struck out</del>, words only in the removed text are <ins>highlighted</ins>."
        "</p>",
    ]
    if not pairs:
        return [*out, "<p>Nothing was removed.</p>"]
    for pair in pairs:
        diff = word_diff(pair.kept_text, pair.removed_text)
        out += [
            f"<h3>{_e(pair.cluster_id)} ({_e(pair.level)}): {_e(pair.rule)}, "
            f"similarity {pair.similarity:.3f}{_exact(pair.exact_jaccard)}"
            f"{_repeats(pair.repeats)}</h3>",
            '<div class="side-by-side">',
            f'<div class="side kept"><h4>kept: {_where(pair.kept_id, pair.kept_paragraph)}</h4>'
            f"{_side('delete', diff)}</div>",
            '<div class="side removed"><h4>removed: '
            f"{_where(pair.removed_id, pair.removed_paragraph)}</h4>"
            f"{_side('insert', diff)}</div>",
            "</div>",
        ]
    return out
