"""The preview spool: texts put in any order come back as they went in, by member range."""

from __future__ import annotations

from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from dedupe import spool
from dedupe.spool import PreviewSpool

TEXTS = st.text(st.sampled_from([*'ab "\\\n\x00\u00e9\u65e5', "\ud800", "\udfff", "\U0001f600"]))


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.lists(TEXTS, max_size=40), min_size=1, max_size=3),
    st.randoms(use_true_random=False),
)
def test_texts_come_back_as_put(tables: list[list[str]], random: object) -> None:
    spool_ = PreviewSpool([len(texts) for texts in tables])
    with spool_:
        order = [(n, m) for n, texts in enumerate(tables) for m in range(len(texts))]
        random.shuffle(order)  # type: ignore[attr-defined]
        for number, member in order:
            spool_.put(number, [member], [tables[number][member]])
        for number, texts in enumerate(tables):
            view = spool_.texts(number)
            assert len(view) == len(texts)
            assert list(view) == texts
            assert view[:] == texts
            assert [view[i] for i in range(len(texts))] == texts
            if texts:
                assert view[-1] == texts[-1]
                assert view[1:-1] == texts[1:-1]


def test_many_buckets_read_in_one_sweep_and_one_by_one(tmp_path: Path, monkeypatch: object) -> None:
    # Small buckets and flushes, so reads cross buckets, hit loaded, written and pending data.
    monkeypatch.setattr(spool, "MIN_BUCKET_MEMBERS", 7)  # type: ignore[attr-defined]
    monkeypatch.setattr(spool, "FLUSH_BYTES", 50)  # type: ignore[attr-defined]
    texts = [f"text {i} " * (i % 5) for i in range(300)]
    with PreviewSpool([100, 200], tmp_path) as spool_:
        for member in reversed(range(100)):
            spool_.put(0, [member], [texts[member]])
        spool_.put(1, range(0, 200, 2), texts[100::2])
        assert spool_.read(1, 10, 12) == [texts[110], ""]  # member 11 not put yet
        spool_.put(1, range(1, 200, 2), texts[101::2])
        assert spool_.read(0, 0, 100) == texts[:100]
        assert spool_.read(1, 0, 200) == texts[100:]
        assert [spool_.read(1, i, i + 1)[0] for i in range(200)] == texts[100:]
        assert spool_.texts(1)[150:160] == texts[250:260]
    assert list(tmp_path.iterdir()) == []  # anonymous files: nothing left behind


def test_members_never_put_read_empty() -> None:
    with PreviewSpool([3, 0, 2]) as spool_:
        spool_.put(2, [1], ["x"])
        assert list(spool_.texts(0)) == ["", "", ""]
        assert list(spool_.texts(1)) == []
        assert list(spool_.texts(2)) == ["", "x"]
