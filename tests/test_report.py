"""report.html: self-contained, bounded, deterministic, and it opens in a real browser."""

from __future__ import annotations

import html
import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from dedupe import scan_path
from dedupe.cli import app
from dedupe.report import MAX_PAIRS, PAIR_CHARS, ReportData, render_report
from tests.test_api import BODY, LEAD, OTHER
from tests.test_determinism import _corpus
from tests.test_seed import LEAD as SEED_LEAD
from tests.test_seed import SEEDS

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def _jsonl(path: Path, docs: list[dict[str, str]]) -> Path:
    path.write_text("".join(json.dumps(doc) + "\n" for doc in docs), encoding="utf-8")
    return path


def test_report_is_written_with_totals_rules_and_side_by_side(tmp_path):
    run = scan_path(str(SEEDS), tmp_path / "out")
    page = (tmp_path / "out" / "report.html").read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>")
    assert "repeated-paragraph" in page
    assert f"{run.summary['bytes_removed']:,}" in page
    # The quote variants normalise alike: the recomputed exact Jaccard agrees with the scan's.
    assert "repeated-paragraph, similarity 1.000, exact Jaccard 1.000" in page
    (pair,) = re.findall(r'<div class="side-by-side">(.*?)\n</div>', page, re.S)
    kept, removed = pair.split('<div class="side removed">')
    # The changed quote is the only difference: struck on the kept side, marked on the other.
    assert SEED_LEAD in kept and SEED_LEAD in removed
    assert re.findall(r"<del>(.*?)</del>", kept) == ["didn&quot;t"]
    assert re.findall(r"<ins>(.*?)</ins>", removed) == ["didn&#x27;t"]


def test_report_has_no_script_and_no_external_resource(tmp_path):
    scan_path(str(_jsonl(tmp_path / "in.jsonl", _corpus(2))), tmp_path / "out")
    page = (tmp_path / "out" / "report.html").read_text(encoding="utf-8")
    assert "<script" not in page
    assert not re.search(r'(src|href)="', page)
    assert re.findall(r"https?://[^\"' ]+", page) == ["http://www.w3.org/2000/svg"] * page.count(
        "<svg"
    )


def test_text_is_escaped():
    hostile = '<script>alert("x")</script> & more'
    summary = {"input": hostile, "records_read": 1, "removed_by_rule": {"exact": 0}}
    page = render_report(summary, ReportData((), (), (), ()))
    assert "<script>" not in page and "&lt;script&gt;" in page


def test_sample_is_bounded_and_texts_are_cut(tmp_path):
    long_text = " ".join([LEAD, BODY, OTHER] * 20)
    docs = [{"id": f"d{i}", "text": f"copy {i} {long_text}"} for i in range(200)]
    scan_path(str(_jsonl(tmp_path / "in.jsonl", docs)), tmp_path / "out")
    page = (tmp_path / "out" / "report.html").read_text(encoding="utf-8")
    assert 0 < page.count('<div class="side-by-side">') <= MAX_PAIRS
    sides = re.findall(r'<div class="side (?:kept|removed)"><h4>.*?</h4>(.*?)</div>', page)
    visible = [html.unescape(re.sub(r"<[^>]+>", "", side)) for side in sides]
    assert visible and all(len(text) <= PAIR_CHARS for text in visible)
    assert len(page) < 200_000


def test_report_is_deterministic(tmp_path):
    source = _jsonl(tmp_path / "in.jsonl", _corpus(3))
    pages = []
    for name, jobs in (("a", 1), ("b", 2)):
        scan_path(str(source), tmp_path / name, jobs=jobs)
        pages.append((tmp_path / name / "report.html").read_bytes())
    assert pages[0] == pages[1]
    assert pages[0].count(b'class="side-by-side"') > 3


def test_no_report_option(tmp_path):
    source = _jsonl(tmp_path / "in.jsonl", _corpus(4))
    result = CliRunner().invoke(app, ["scan", str(source), "-o", str(tmp_path / "o"), "-q"])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "o" / "report.html").exists()
    args = ["scan", str(source), "-o", str(tmp_path / "n"), "-q", "--no-report"]
    assert CliRunner().invoke(app, args).exit_code == 0
    assert not (tmp_path / "n" / "report.html").exists()


@pytest.mark.skipif(
    CHROMIUM is None and not os.environ.get("CI"),
    reason="chromium is not installed (.ci/run installs it; CI=1 makes this a failure)",
)
def test_report_opens_in_headless_chromium_without_console_errors(tmp_path):
    assert CHROMIUM is not None, "CI is set but chromium is not installed"
    scan_path(str(SEEDS), tmp_path / "out")
    page = (tmp_path / "out" / "report.html").resolve()
    done = subprocess.run(
        [
            CHROMIUM,
            "--headless",
            "--disable-gpu",
            "--no-sandbox",
            f"--user-data-dir={tmp_path / 'profile'}",
            "--enable-logging=stderr",
            "--v=0",
            "--dump-dom",
            page.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    console = [line for line in done.stderr.splitlines() if ":CONSOLE" in line]
    assert console == []
    dom = done.stdout
    views = re.findall(r'<div class="side-by-side">(.*?)</div>\s*</div>', dom, re.S)
    assert any(SEED_LEAD in view for view in views), dom[-3000:]
    assert "<h2" in dom and "repeated-paragraph" in dom


def test_widespread_paragraphs_count_documents_not_copies(tmp_path):
    footer = "Follow us on Twitter and Facebook for the latest news from our newsroom every day."
    docs = [
        {"id": "a", "text": f"{LEAD}\n\n{footer}\n\n{OTHER}\n\n{footer}"},
        {"id": "b", "text": f"{BODY}\n\n{footer}"},
        {"id": "c", "text": f"{OTHER}\n\n{footer}"},
    ]
    scan_path(str(_jsonl(tmp_path / "in.jsonl", docs)), tmp_path / "out")
    page = (tmp_path / "out" / "report.html").read_text(encoding="utf-8")
    table = page.split('<table id="widespread-table">')[1].split("</table>")[0]
    (row,) = [r for r in table.split("<tr>") if "Follow us" in r]
    assert re.findall(r'<td class="n">(\d+)</td>', row) == ["4", "3"]


def test_side_by_side_marks_an_added_header_and_an_edited_word(tmp_path):
    base = f"{LEAD}\n\n{BODY}\n\n{OTHER}"
    header = "NewsSite 14-May-2022 | Total Views"
    docs = [
        {"id": "orig", "text": base},
        {"id": "header", "text": f"{header}\n\n{base}"},
        {"id": "edit", "text": base.replace("minister", "secretary")},
    ]
    scan_path(str(_jsonl(tmp_path / "in.jsonl", docs)), tmp_path / "out")
    page = (tmp_path / "out" / "report.html").read_text(encoding="utf-8")
    removed = {
        who: marks
        for who, marks in re.findall(
            r'<div class="side removed"><h4>removed: (\w+)</h4>(.*?)</div>', page
        )
    }
    assert re.findall(r"<ins>(.*?)</ins>", removed["header"]) == [html.escape(header)]
    assert re.findall(r"<ins>(.*?)</ins>", removed["edit"]) == ["secretary"]
    assert "<del>minister</del>" in page


def test_lone_surrogate_in_a_sampled_text_does_not_fail_the_report(tmp_path):
    text = f"{LEAD} \\ud800 {BODY}"  # a JSON escape of a lone surrogate: valid JSON, not UTF-8
    lines = [f'{{"id": "{name}", "text": "{text}"}}\n' for name in ("a", "b")]
    source = tmp_path / "in.jsonl"
    source.write_text("".join(lines), encoding="utf-8")
    run = scan_path(str(source), tmp_path / "out")
    assert run.summary["removed_by_rule"]["exact"] == 1
    page = (tmp_path / "out" / "report.html").read_text(encoding="utf-8")
    assert "\\ud800" in page


@settings(max_examples=100, deadline=None)
@given(
    st.lists(st.lists(st.integers(0, 9), min_size=2, max_size=7), max_size=12),
    st.sampled_from([1, 2, 5, 1 << 20]),
)
def test_documents_per_cluster_counts_distinct_positions(clusters, chunk):
    """Each paragraph cluster's distinct documents, whatever the chunk of members counted at
    once (a cluster larger than a chunk is counted whole)."""
    import numpy as np

    from dedupe import report
    from dedupe.result import ClusterTable

    bounds = [0]
    for members in clusters:
        bounds.append(bounds[-1] + len(members))
    positions = np.array([p for members in clusters for p in members], dtype=np.int32)
    table = ClusterTable(
        "paragraph", bounds, positions, [""] * len(positions), [1.0] * len(positions)
    )
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(report, "DOCUMENTS_CHUNK", chunk)
        counts = report._documents_per_cluster(table)
    assert counts.tolist() == [len(set(members)) for members in clusters]


@settings(max_examples=100, deadline=None)
@given(
    st.lists(st.lists(st.integers(0, 10_000), min_size=1, max_size=6), max_size=12),
    st.sampled_from([1, 2, 5, 1 << 20]),
)
def test_histogram_of_coded_similarities_counts_every_member_but_the_kept(clusters, chunk):
    """The same counts from similarity codes a chunk at a time as from all the similarities,
    as floats, at once; each cluster's first member left out."""
    import numpy as np

    from dedupe import report
    from dedupe.result import ClusterTable, similarity_column

    bounds = [0]
    for members in clusters:
        bounds.append(bounds[-1] + len(members))
    codes = np.array([c for members in clusters for c in members], dtype=np.uint16)
    floats = [c / 10_000 for c in codes.tolist()]
    table = ClusterTable(
        "paragraph", bounds, np.zeros(len(codes), np.int32), [""] * len(codes),
        similarity_column(codes),
    )  # fmt: skip
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(report, "DOCUMENTS_CHUNK", chunk)
        counts = report._histogram(table).counts
    others = [v for members in clusters for v in members[1:]]
    expected, _ = np.histogram(
        np.array(others, dtype=np.float64) / 10_000, bins=report.HISTOGRAM_BINS, range=(0, 1)
    )
    assert list(counts) == expected.tolist()
    assert sum(counts) == len(floats) - len(clusters)


def _pairs_by_the_rule(tables):
    """choose_pairs' rule, one removed member at a time: the first removed member of the
    largest clusters, then evenly spaced ranks of each level's removed members by similarity,
    the levels in turn, MAX_PAIRS in all."""
    import itertools

    import numpy as np

    from dedupe.report import LARGEST_PAIRS

    rows = []  # (table, member, keeper, size, similarity), in table and member order
    for number, table in enumerate(tables):
        for first, end in itertools.pairwise(table.bounds):
            rows += [
                (number, member, first, end - first, table.similarities[member])
                for member in range(first + 1, end)
                if table.rules[member] != "kept"
            ]
    if not rows:
        return []
    heads = [r for i, r in enumerate(rows) if i == 0 or r[:3:2] != rows[i - 1][:3:2]]
    largest = sorted(heads, key=lambda r: -r[3])[:LARGEST_PAIRS]
    levels = sorted({r[0] for r in rows})
    share = max(1, (MAX_PAIRS - len(largest)) // len(levels))
    spreads = []
    for number in levels:
        mine = sorted((r for r in rows if r[0] == number), key=lambda r: r[4])
        spaced = np.linspace(0, len(mine) - 1, min(len(mine), share)).round()
        spreads.append([mine[rank] for rank in sorted(set(spaced.astype(int).tolist()))])
    turns = [r for turn in itertools.zip_longest(*spreads) for r in turn if r is not None]
    chosen = {}
    for number, member, keeper, _, _ in largest + turns:
        chosen[(number, keeper, member)] = None
        if len(chosen) >= MAX_PAIRS:
            break
    return list(chosen)


@settings(max_examples=150, deadline=None)
@given(
    st.lists(
        st.lists(
            st.tuples(st.sampled_from(["kept", "boilerplate", "near-duplicate"]),
                      st.integers(0, 5)),
            min_size=1, max_size=30,
        ),
        max_size=40,
    ),
    st.integers(0, 40),
)  # fmt: skip
@example(  # few clusters, many removed members: the spread takes more than its usual share
    [[("kept", 0)] + [("boilerplate", code % 5) for code in range(29)]] * 3, 1
)
def test_sampled_pairs_follow_the_rule(clusters, split):
    """The report's pairs, from index arrays a table at a time, are the ones the rule picks
    member by member: ties of size and similarity by table and member order."""
    from dedupe.report import choose_pairs
    from dedupe.result import ClusterTable

    tables = []
    for level, part in (("document", clusters[:split]), ("paragraph", clusters[split:])):
        bounds = [0]
        for members in part:
            bounds.append(bounds[-1] + len(members))
        rules = [rule for members in part for rule, _ in members]
        similarity = [code / 5 for members in part for _, code in members]
        count = len(rules)
        tables.append(
            ClusterTable(level, bounds, [0] * count, [""] * count, similarity, rules=rules)
        )
    assert choose_pairs(tables) == _pairs_by_the_rule(tables)
