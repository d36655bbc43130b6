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
)
def test_verdicts_behave_as_a_dict_in_position_order(kept, ops, early):
    verdicts, expected = Verdicts(), {}
    for position in sorted(early):  # set before the plain kept ones are given: they win
        verdicts[position] = expected[position] = Verdict(position, f"e{position}", "duplicate")
    positions = sorted(kept)
    verdicts.keep(np.array(positions, dtype=np.int64), [f"k{p}" for p in positions])
    for position in positions:
        expected.setdefault(position, Verdict(position, f"k{position}", "kept"))
    for op, position, duplicate in ops:
        if op == "set":
            status = "duplicate" if duplicate else "kept"
            verdicts[position] = expected[position] = Verdict(position, f"s{position}", status)
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


def test_kept_records_are_given_once_in_ascending_order():
    verdicts = Verdicts()
    with pytest.raises(ValueError, match="ascend"):
        verdicts.keep(np.array([3, 1]), ["a", "b"])
    with pytest.raises(ValueError, match="2 positions for 1 ids"):
        verdicts.keep(np.array([1, 3]), ["a"])
    verdicts.keep(np.array([1, 3]), ["a", "b"])
    with pytest.raises(ValueError, match="once"):
        verdicts.keep(np.array([5]), ["c"])
