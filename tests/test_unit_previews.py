"""Paragraph previews cut ahead (by a forked child during linking) and read back by key."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dedupe import unit_previews
from dedupe.forks import can_fork
from dedupe.records import Origin, Record, Skipped
from dedupe.result import ClusterTable
from dedupe.unit_previews import Blank, TableTexts, UnitPreviews, _IndexStretch, unit_keys


def _record(position: int, text: str) -> Record:
    return Record(position, str(position), text, Origin("in.jsonl", position + 1))


@settings(max_examples=100, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.text(st.sampled_from([*"ab .\n", "é", "\ud800", "日"]), max_size=30),
            st.lists(st.tuples(st.integers(0, 30), st.integers(0, 30)), max_size=4),
        ),
        max_size=6,
    ),
    st.integers(1, 8),
    st.sampled_from([1, 2, 3, 1 << 16]),
    st.integers(1, 4),
)
def test_previews_are_the_cut_paragraphs(tmp_path_factory, documents, limit, stretch, chunk):
    """Stored and cut in-process (a child runs the same code), every paragraph reads back as
    its text cut at ``limit`` characters; lone surrogates survive; other keys read as "". The
    spans come ``chunk`` paragraphs at a time, the child reads the keys ``chunk`` at a time
    and writes the index a ``stretch`` of paragraphs at a time (at least one record's)."""
    records: list[Record | Skipped] = []
    positions, starts, ends, expected = [], [], [], []
    for position, (text, spans) in enumerate(documents):
        records.append(_record(position, text))
        taken = sorted({min(a, b) for a, b in spans if min(a, b) < len(text)})
        for start in taken:
            end = min(len(text), start + 5)
            positions.append(position)
            starts.append(start)
            ends.append(end)
            expected.append(text[start : min(end, start + limit)])
    records.insert(0, Skipped(-1, Origin("in.jsonl", 0), "empty text"))
    arrays = [np.array(values, dtype=np.int64) for values in (positions, starts, ends)]
    folder = tmp_path_factory.mktemp("units")
    with pytest.MonkeyPatch.context() as patch, UnitPreviews(limit, folder) as previews:
        patch.setattr(_IndexStretch, "STRETCH", stretch)
        patch.setattr(unit_previews, "KEY_CHUNK", chunk)
        chunks = [tuple(a[i : i + chunk] for a in arrays) for i in range(0, len(expected), chunk)]
        total = previews.store(iter(chunks))
        assert total == len(expected)
        previews._cut(total, iter(records))
        previews.load()
        keys = unit_keys(arrays[0], arrays[1])
        assert previews.read(keys) == expected
        assert previews.read(unit_keys([len(documents) + 5], [0])) == [""]


def test_members_read_through_their_table(tmp_path):
    text = "First paragraph here.\n\nSecond one."
    positions, starts, ends = np.array([0, 0]), np.array([0, 23]), np.array([21, 34])
    table = ClusterTable(
        "paragraph",
        [0, 2],
        np.array([0, 0]),
        np.array(["a", "a"], dtype=object),
        np.array([1.0, 0.5]),
        np.array([1, 0]),
        np.array([23, 0]),
        np.array([34, 21]),
    )
    with UnitPreviews(6, tmp_path) as previews:
        previews._cut(previews.store([(positions, starts, ends)]), iter([_record(0, text)]))
        previews.load()
        texts = previews.texts(table)
        assert isinstance(texts, TableTexts)
        assert list(texts) == ["Second", "First "]
        assert texts[1] == texts[-1] == "First " and texts[::-1] == ["First ", "Second"]
        with pytest.raises(IndexError):
            texts[2]


def test_records_that_end_too_soon_fail_the_child(tmp_path):
    with UnitPreviews(5, tmp_path) as previews, pytest.raises(ValueError, match="ended"):
        spans = (np.array([3]), np.array([0]), np.array([4]))
        previews._cut(previews.store([spans]), iter([_record(0, "abc")]))


def test_keys_that_cannot_hold_a_span_tell_no_child(tmp_path):
    """A position from 2**31 or a start from 2**32 does not fit a key: the parked child is
    stopped, not told, and the previews are cut in pass two instead."""
    for spans in (
        (np.array([1 << 31]), np.array([0]), np.array([4])),
        (np.array([0]), np.array([1 << 32]), np.array([(1 << 32) + 4])),
    ):
        with UnitPreviews(5, tmp_path) as previews:
            if can_fork():
                assert previews.park(lambda: iter([]))
            assert not previews.start([spans])
            assert not previews.wait()


@pytest.mark.skipif(not can_fork(), reason="forks only on Linux, with no other thread")
def test_a_parked_child_cuts_the_previews_it_is_told_of(tmp_path):
    text = "First paragraph here.\n\nSecond one."
    records = [_record(0, "skipped"), _record(1, text)]
    with UnitPreviews(6, tmp_path) as previews:
        assert previews.park(lambda: iter(records))
        spans = (np.array([1, 1]), np.array([0, 23]), np.array([21, 34]))
        assert previews.start(iter([spans]))
        assert previews.wait()
        assert previews.read(unit_keys([1, 1, 0], [23, 0, 0])) == ["Second", "First ", ""]


def test_blank_texts_are_empty_strings():
    blank = Blank(3)
    assert len(blank) == 3 and blank[0] == blank[-1] == "" and blank[1:] == ["", ""]
    with pytest.raises(IndexError):
        blank[3]


def test_a_call_never_started_is_not_ready(tmp_path):
    with UnitPreviews(5, tmp_path) as previews:
        assert not previews.wait()
