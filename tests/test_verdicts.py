"""result.Verdicts holds plain kept records as arrays; it must behave as the dict it replaced."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from dedupe.result import Verdict, Verdicts


@given(
    kept=st.sets(st.integers(0, 60), max_size=30),
    ops=st.lists(
        st.tuples(st.sampled_from(["set", "del"]), st.integers(0, 70), st.booleans()), max_size=30
    ),
    early=st.sets(st.integers(0, 70), max_size=5),
    trimmed=st.sets(st.integers(0, 60), max_size=10),
)
def test_verdicts_behave_as_a_dict_in_position_order(kept, ops, early, trimmed):
    verdicts, expected = Verdicts(), {}
    for position in sorted(early):  # set before the plain kept ones are given: they win
        verdicts[position] = expected[position] = Verdict(position, f"e{position}", "duplicate")
    positions = sorted(kept)
    verdicts.keep(np.array(positions, dtype=np.int64), [f"k{p}" for p in positions])
    for position in positions:
        expected.setdefault(position, Verdict(position, f"k{position}", "kept"))
    # Kept whole records that lose paragraphs: a cut and paragraph or two each.
    trim = sorted(p for p in trimmed & kept if p not in early)
    cuts = [[(p, p + 2), (p + 5, p + 6)][: 1 + p % 2] for p in trim]
    dropped = [list(range(p % 3 + 1)) for p in trim]
    verdicts.trim(
        np.array(trim, dtype=np.int64),
        np.cumsum([0] + [len(c) for c in cuts]),
        np.array([a for c in cuts for a, _ in c], dtype=np.int64),
        np.array([b for c in cuts for _, b in c], dtype=np.int64),
        np.cumsum([0] + [len(d) for d in dropped]),
        np.array([i for d in dropped for i in d], dtype=np.int64),
    )
    for position, cut, gone in zip(trim, cuts, dropped, strict=True):
        expected[position] = Verdict(
            position, f"k{position}", "kept", drop_spans=tuple(cut), dropped_paragraphs=tuple(gone)
        )
    for op, position, duplicate in ops:
        if op == "set":
            status = "duplicate" if duplicate else "kept"
            cut = ((0, position),) if status == "kept" and position % 2 else ()
            verdicts[position] = expected[position] = Verdict(
                position, f"s{position}", status, drop_spans=cut
            )
        elif position in expected:
            del verdicts[position], expected[position]
        else:
            with pytest.raises(KeyError):
                del verdicts[position]
    assert list(verdicts) == sorted(expected)
    assert len(verdicts) == len(expected)
    assert [verdicts[p] for p in verdicts] == [expected[p] for p in sorted(expected)]
    assert all((p in verdicts) == (p in expected) for p in range(-1, 72))
    assert [verdicts.get(p, "-") for p in range(-1, 72)] == [
        expected.get(p, "-") for p in range(-1, 72)
    ]
    assert verdicts.count("kept") == sum(v.status == "kept" for v in expected.values())
    assert verdicts.count("duplicate") == sum(v.status == "duplicate" for v in expected.values())
    for status in ("kept", "duplicate"):
        assert verdicts.positions(status).tolist() == sorted(
            p for p, v in expected.items() if v.status == status
        )
    assert verdicts.cuts() == [
        (p, v.drop_spans) for p, v in sorted(expected.items()) if v.drop_spans
    ]
    assert [verdicts.kept_whole(p) for p in range(-1, 72)] == [
        p in expected and expected[p].status == "kept" and not expected[p].drop_spans
        for p in range(-1, 72)
    ]


def test_kept_records_are_given_once_in_ascending_order():
    verdicts = Verdicts()
    with pytest.raises(ValueError, match="ascend"):
        verdicts.keep(np.array([3, 1]), ["a", "b"])
    with pytest.raises(ValueError, match="2 positions for 1 ids"):
        verdicts.keep(np.array([1, 3]), ["a"])
    verdicts.keep(np.array([1, 3]), ["a", "b"])
    with pytest.raises(ValueError, match="once"):
        verdicts.keep(np.array([5]), ["c"])


def test_only_plain_kept_records_are_trimmed_once():
    verdicts = Verdicts()
    verdicts[2] = Verdict(2, "b", "duplicate", "a")
    verdicts.keep(np.array([0, 3, 4]), ["a", "c", "d"])
    one = (np.array([0, 1]), np.array([5]), np.array([9]), np.array([0, 1]), np.array([2]))
    for position in (1, 2, 7, -1):  # not given, set explicitly, beyond, negative
        with pytest.raises(ValueError, match="kept whole"):
            verdicts.trim(np.array([position]), *one)
    with pytest.raises(ValueError, match="ascend"):
        verdicts.trim(np.array([4, 3]), *one)
    with pytest.raises(ValueError, match="one more"):
        verdicts.trim(np.array([3, 4]), *one)
    verdicts.trim(np.array([3]), *one)
    with pytest.raises(ValueError, match="once"):
        verdicts.trim(np.array([4]), *one)
    assert verdicts[3] == Verdict(3, "c", "kept", drop_spans=((5, 9),), dropped_paragraphs=(2,))
    assert verdicts[4] == Verdict(4, "d", "kept")
    verdicts[3] = Verdict(3, "c", "kept")  # a verdict set afterwards replaces the trimmed one
    assert verdicts[3].drop_spans == ()
