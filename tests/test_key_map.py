"""The SQLite index's in-memory band-key map against a plain model, and the store around it:
catching up with other writers, forgetting a rolled-back transaction, the earlier layout."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

import dedupe
import dedupe.storage.key_map as key_map
from dedupe import Index
from dedupe.storage.key_map import KeyMap
from tests.corpus_gen import corpus

DEFAULTS = (key_map.MERGE_MIN_KEYS, key_map._DIRECTORY_MIN_CODES)
KEYS = st.lists(st.integers(-(2**31), 2**31 - 1) | st.integers(-3, 3), max_size=6)


class KeyMapMachine(RuleBasedStateMachine):
    """Records are added one by one (in transactions that commit or roll back) or loaded in
    bulk; a lookup must give exactly the committed records that have any of the keys."""

    def __init__(self) -> None:
        super().__init__()
        key_map.MERGE_MIN_KEYS = 4  # merge runs often
        key_map._DIRECTORY_MIN_CODES = 8  # and give the larger ones a directory
        self.map = KeyMap()
        self.committed: dict[int, set[int]] = {}
        self.open: dict[int, set[int]] | None = None
        self.mark = 0
        self.next_seq = 1

    def teardown(self) -> None:
        key_map.MERGE_MIN_KEYS, key_map._DIRECTORY_MIN_CODES = DEFAULTS

    @precondition(lambda self: self.open is None)
    @rule()
    def begin(self) -> None:
        self.open, self.mark = {}, self.map.seen

    @precondition(lambda self: self.open is not None)
    @rule(keys=KEYS)
    def add(self, keys: list[int]) -> None:
        assert self.open is not None
        self.map.add(self.next_seq, keys)
        self.open[self.next_seq] = set(keys)
        self.next_seq += 1

    @precondition(lambda self: self.open is not None)
    @rule()
    def commit(self) -> None:
        assert self.open is not None
        self.committed.update(self.open)
        self.open = None
        self.map.settle()

    @precondition(lambda self: self.open is not None)
    @rule()
    def roll_back(self) -> None:
        assert self.open is not None
        self.map.forget_after(self.mark)
        self.next_seq = self.mark + 1  # SQLite may hand the same seqs out again
        self.open = None
        self.map.settle()

    @precondition(lambda self: self.open is None)
    @rule(records=st.lists(KEYS, min_size=1, max_size=8))
    def load(self, records: list[list[int]]) -> None:
        seqs = [self.next_seq + i for i in range(len(records))]
        self.map.load(
            np.repeat(np.array(seqs, np.int64), [len(k) for k in records]),
            np.array([k for keys in records for k in keys], np.int64),
            last=seqs[-1],
        )
        self.committed.update({s: set(k) for s, k in zip(seqs, records, strict=True)})
        self.next_seq = seqs[-1] + 1

    @rule(keys=KEYS)
    def lookup(self, keys: list[int]) -> None:
        live = {**self.committed, **(self.open or {})}
        expected = sorted(s for s, have in live.items() if have & set(keys))
        assert self.map.lookup(keys) == expected

    @invariant()
    def seen_is_the_last_seq(self) -> None:
        assert self.map.seen == self.next_seq - 1


TestKeyMap = KeyMapMachine.TestCase
TestKeyMap.settings = settings(max_examples=80, stateful_step_count=40, deadline=None)


def _verdicts(index: Index, docs: list[tuple[str, str]]) -> list[tuple[str, str | None]]:
    return [
        (v.status, v.duplicate_of) for v in (index.check(f"probe-{d}", text) for d, text in docs)
    ]


def test_a_second_handle_sees_the_adds_of_the_first(tmp_path):
    docs = corpus(21, originals=20, copies=10)
    path = tmp_path / "i.sqlite"
    with Index(path) as first, Index(path) as second:
        for doc_id, text in docs[:15]:
            first.add(doc_id, text)
        for doc_id, text in docs[15:]:
            second.add(doc_id, text)  # second catches up with first's adds before deciding
        seen_by_first = _verdicts(first, docs)
        seen_by_second = _verdicts(second, docs)
        originals = first.originals([d for d, _ in docs])
    with Index(path) as alone:
        assert _verdicts(alone, docs) == seen_by_first == seen_by_second
        assert alone.originals([d for d, _ in docs]) == originals
    assert sum(status == "duplicate" for status, _ in seen_by_first) == len(docs)


def test_a_rolled_back_batch_leaves_no_keys_behind(tmp_path):
    docs = corpus(22, originals=20, copies=10)
    path = tmp_path / "i.sqlite"
    with Index(path) as index:
        index.add_many(docs[:10])
        try:
            index.add_many([*docs[10:20], docs[0]])  # the last id exists: the batch rolls back
        except dedupe.RecordExistsError:
            pass
        else:
            raise AssertionError("expected RecordExistsError")
        assert len(index) == 10
        index.add_many(docs[20:])  # takes the rolled-back seqs again
        verdicts = _verdicts(index, docs)
        originals = index.originals([d for d, _ in docs])
    with Index(path) as fresh:  # a key map read from the database alone
        assert _verdicts(fresh, docs) == verdicts
        assert fresh.originals([d for d, _ in docs]) == originals


def test_opening_reads_the_keys_in_chunks_into_one_run(tmp_path, monkeypatch):
    import dedupe.storage.sqlite as sqlite_store

    docs = corpus(23, originals=30, copies=15)
    path = tmp_path / "i.sqlite"
    with Index(path) as index:
        index.add_many(docs)
        verdicts = _verdicts(index, docs)
    monkeypatch.setattr(sqlite_store, "_ADD_ONE_BY_ONE", 2)
    monkeypatch.setattr(sqlite_store, "_CATCH_UP_ROWS", 7)
    with Index(path) as reopened:
        runs = reopened._store._keys._runs  # type: ignore[attr-defined]
        assert len(runs) == 1 and len(runs[0]) == 32 * len(docs)
        assert _verdicts(reopened, docs) == verdicts


@pytest.mark.parametrize("directory", [False, True])
def test_a_large_map_is_left_on_disk_and_opened_from_there(tmp_path, monkeypatch, directory):
    import dedupe.storage.sqlite as sqlite_store

    monkeypatch.setattr(sqlite_store, "SNAPSHOT_MIN_KEYS", 64)
    if directory:  # the run, and so the snapshot, has a directory
        monkeypatch.setattr(key_map, "_DIRECTORY_MIN_CODES", 16)
    docs = corpus(24, originals=30, copies=15)
    path = tmp_path / "i.sqlite"
    snapshot = tmp_path / "i.sqlite.keys"
    with Index(path) as index:
        index.add_many(docs[:30])
    assert snapshot.exists()
    with Index(path) as index:
        assert index._store._snapshot_keys == 32 * 30  # type: ignore[attr-defined]
        index.add_many(docs[30:])  # beyond the snapshot: read from the database
        verdicts = _verdicts(index, docs)
        assert index.stats().bytes_on_disk >= snapshot.stat().st_size
    with Index(path) as index:  # the snapshot written on close covers every record
        assert index._store._snapshot_keys == 32 * len(docs)  # type: ignore[attr-defined]
        (run,) = index._store._keys._runs  # type: ignore[attr-defined]
        assert (run.directory is not None) == directory
        assert _verdicts(index, docs) == verdicts


def test_a_snapshot_that_does_not_match_the_database_is_not_used(tmp_path, monkeypatch):
    import dedupe.storage.sqlite as sqlite_store

    monkeypatch.setattr(sqlite_store, "SNAPSHOT_MIN_KEYS", 64)
    docs = corpus(25, originals=30, copies=15)
    path = tmp_path / "i.sqlite"
    snapshot = tmp_path / "i.sqlite.keys"
    with Index(path) as index:
        index.add_many(docs)
        verdicts = _verdicts(index, docs)
    kept = snapshot.read_bytes()

    def opened_from_snapshot() -> bool:
        with Index(path) as index:
            assert _verdicts(index, docs) == verdicts
            return bool(index._store._snapshot_keys)  # type: ignore[attr-defined]

    assert opened_from_snapshot()
    snapshot.write_bytes(kept[:-8])  # cut short
    assert not opened_from_snapshot()
    snapshot.write_bytes(kept)
    with Index(path) as index:  # the record the snapshot ends at goes
        index.remove(docs[-1][0])
        verdicts = _verdicts(index, docs)
    snapshot.write_bytes(kept)
    assert not opened_from_snapshot()
    for suffix in ("", "-wal", "-shm"):  # another database at the same path
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    with Index(path) as index:
        index.add_many(docs[:5])
        verdicts = _verdicts(index, docs)
    snapshot.write_bytes(kept)
    assert not opened_from_snapshot()
