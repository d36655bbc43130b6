"""dedupe.Index: verdicts, stored parameters, parity with scan, and a brute-force model."""

from __future__ import annotations

import random
import sqlite3

import numpy as np
import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    invariant,
    rule,
    run_state_machine_as_test,
)

import dedupe
from dedupe import ConfigError, Index, RecordExistsError
from dedupe.core.cluster import connected_components
from dedupe.core.normalise import NORMALISATION_VERSION
from dedupe.index import accepted
from tests.conftest import fresh_location
from tests.corpus_gen import article, corpus

LEAD = (
    "A senior official said Friday that while the minister believes the hour-long conversation "
    "was important, it didn't resolve any acute issues or lead to any change in policy."
)
BODY = (
    "The call marked the highest level of contact since the war began in late February, and "
    "officials described it as a positive step without giving details of its content."
)
OTHER = (
    "Direct communications between the two militaries are considered crucial to avoid any "
    "misunderstanding or unwarranted escalation in hostilities along the border."
)


@pytest.fixture
def index(location):
    with Index(location) as opened:
        yield opened


def test_new_then_duplicate_with_original_and_similarity(index):
    first = index.check_and_add("a", f"{LEAD}\n\n{BODY}")
    assert (first.status, first.duplicate_of, first.added) == ("new", None, True)
    copy = index.check("b", f"{LEAD}\n\n{BODY}!")
    assert (copy.status, copy.duplicate_of, copy.similarity) == ("duplicate", "a", 1.0)
    assert (copy.nearest, copy.added) == ("a", False)
    assert "b" not in index
    assert index.check("c", OTHER).status == "new"


def test_cleaned_text_and_removed_paragraphs_as_in_scan(index):
    text = f"Headline\n\n{LEAD}\n\nPhoto caption\n \n{LEAD}\n\n{BODY}\n"
    verdict = index.check_and_add("a", text)
    (record,) = dedupe.scan([("a", text)]).records
    assert verdict.text == record.text == f"Headline\n\n{LEAD}\n\nPhoto caption\n \n{BODY}\n"
    assert verdict.removed_paragraphs == record.removed_paragraphs == (3,)


def test_duplicate_of_a_duplicate_points_at_the_original(index):
    index.add("a", f"{LEAD}\n\n{BODY}")
    index.add("b", f"{LEAD}\n\n{BODY}.")
    assert index.check("c", f"{LEAD}\n\n{BODY}?").duplicate_of == "a"
    assert index.originals(["a", "b"]) == {"a": None, "b": "a"}


def test_existing_id_is_refused_and_nothing_changes(index):
    index.add("a", LEAD)
    with pytest.raises(RecordExistsError, match="'a' is already in index"):
        index.add("a", OTHER)
    assert len(index) == 1


def test_empty_text_is_an_input_error(index):
    with pytest.raises(dedupe.InputError, match="empty text"):
        index.check("a", " \n ")


def test_remove_regroups_the_cluster(index):
    index.add("a", f"{LEAD}\n\n{BODY}")
    index.add("b", f"{LEAD}\n\n{BODY}.")
    index.add("c", f"{LEAD}\n\n{BODY}!")
    assert index.remove("a") is True
    assert index.remove("a") is False
    assert index.originals(["b", "c"]) == {"b": None, "c": "b"}
    assert index.check("d", f"{LEAD}\n\n{BODY}").duplicate_of == "b"


def test_parameters_are_stored_and_a_mismatch_is_refused(location):
    path = location
    with Index(path, threshold=0.7, num_perm=64) as created:
        created.add("a", LEAD)
    with Index(path) as reopened:
        assert (reopened.config.threshold, reopened.config.num_perm) == (0.7, 64)
        assert reopened.stats().records == 1
    with pytest.raises(ConfigError) as refused:
        Index(path, threshold=0.8, num_perm=64)
    message = str(refused.value)
    assert "threshold=0.7" in message and "threshold=0.8" in message
    assert "lsh_bands" in message  # the bands follow the threshold


def test_an_index_of_another_normalisation_version_is_refused(location, monkeypatch):
    with Index(location) as created:
        created.add("a", LEAD)
    monkeypatch.setattr(dedupe.index, "NORMALISATION_VERSION", 99)
    for options in ({}, {"threshold": 0.55}):
        with pytest.raises(ConfigError) as refused:
            Index(location, **options)
        message = str(refused.value)
        assert f"normalisation_version={NORMALISATION_VERSION}" in message
        assert "normalisation_version=99" in message
        assert "build a new index" in message


def test_unsupported_rules_are_refused(tmp_path):
    with pytest.raises(ConfigError, match="earliest added"):
        Index(tmp_path / "i.sqlite", keep="longest")
    with pytest.raises(ConfigError, match="boilerplate"):
        Index(tmp_path / "i.sqlite", boilerplate_min_docs=3)


def test_stats(index):
    index.add_many([("a", LEAD), ("b", LEAD + "!"), ("c", OTHER)])
    stats = index.stats()
    assert (stats.records, stats.originals, stats.duplicates) == (3, 2, 1)
    assert stats.parameters["lsh_bands"] == 32 and stats.bytes_on_disk > 0


@pytest.mark.parametrize("seed", [1, 2])
@pytest.mark.parametrize("measure", ["jaccard", "containment"])
def test_one_at_a_time_gives_the_duplicates_of_scan(location, seed, measure):
    docs = corpus(seed)
    options = {"measure": measure, "keep": "first"}
    expected = dedupe.scan(docs, verify="estimate", **options)  # as an index verifies
    with Index(location, **options) as index:
        verdicts = [index.check_and_add(doc_id, text) for doc_id, text in docs]
        stored = index.originals([doc_id for doc_id, _ in docs])
    one_by_one = {v.id: v.duplicate_of for v in verdicts if v.status == "duplicate"}
    assert one_by_one == expected.duplicates
    assert {k: v for k, v in stored.items() if v} == expected.duplicates
    similarity = {v.id: v.similarity for v in expected.verdicts if v.status == "duplicate"}
    assert {v.id: v.similarity for v in verdicts if v.status == "duplicate"} == similarity
    cleaned = {r.id: r.text for r in expected.records}
    assert all(v.text == cleaned[v.id] for v in verdicts if v.id in cleaned)


def test_batch_add_equals_one_at_a_time(backend, tmp_path, request):
    docs = corpus(5)
    one_at = fresh_location(backend, tmp_path, request, "one")
    many_at = fresh_location(backend, tmp_path, request, "many")
    with Index(one_at) as one, Index(many_at) as many:
        single = [one.check_and_add(d, t) for d, t in docs]
        batched = many.add_many(docs)
        assert single == batched
        assert list(many.check_many(docs[:5])) == [one.check(d, t) for d, t in docs[:5]]


# -- a stateful test against a brute-force model ------------------------------------------------
def _chain_pool() -> list[str]:
    """Texts that exercise every path: a chain of edits where neighbours match (J 0.61-0.7) and
    texts two steps apart do not (J <= 0.41), so a middle link joins two clusters; an exact copy;
    a copy with a repeated paragraph; unrelated texts; a text with no words."""
    rng = random.Random(1)
    base = article(rng, 4)
    chain = [base]
    for step in range(3):
        words = chain[-1].split(" ")
        for i in range(5):
            words[(step * 7 + i * len(words) // 5) % len(words)] = f"zz{step}x{i}"
        chain.append(" ".join(words))
    first_paragraph = base.split("\n\n")[0]
    return [*chain, base, f"{base}\n\n{first_paragraph}", article(rng), article(rng), "!!! ???"]


POOL = _chain_pool()
IDS = [f"r{i}" for i in range(6)]


class Model:
    """Brute force: every pair of live records compared with scan's rule (shared band key, then
    verified), components over all of them, the earliest added member of each the original."""

    def __init__(self, index: Index) -> None:
        prepared = index._prepare([(str(i), text) for i, text in enumerate(POOL)])
        self.config = index.config
        self.signatures = np.stack([p.signature for p in prepared])
        self.keys = [set(p.keys) for p in prepared]
        self.sizes = [p.size for p in prepared]
        self.live: list[tuple[str, int]] = []  # (id, pool index) in added order

    def link(self, a: int, b: int) -> bool:
        if not self.keys[a] & self.keys[b]:
            return False
        similarity = np.array([(self.signatures[a] == self.signatures[b]).mean()])
        return bool(accepted(self.config, similarity, [self.sizes[a]], [self.sizes[b]])[0])

    def originals(self, live: list[tuple[str, int]]) -> dict[str, str | None]:
        pairs = [
            (i, j)
            for i in range(len(live))
            for j in range(i + 1, len(live))
            if self.link(live[i][1], live[j][1])
        ]
        edges = np.array(pairs, dtype=np.int64).reshape(-1, 2)
        labels = connected_components(len(live), edges)
        return {
            doc_id: None if labels[i] == i else live[int(labels[i])][0]
            for i, (doc_id, _) in enumerate(live)
        }


class IndexMachine(RuleBasedStateMachine):
    #: A Redis URL to index in (a fresh key prefix per run), else a temporary SQLite file.
    redis_url: str | None = None

    def __init__(self) -> None:
        super().__init__()
        import tempfile
        import uuid

        self.tmp = tempfile.TemporaryDirectory()
        if self.redis_url is None:
            self.index = Index(f"{self.tmp.name}/index.sqlite")
        else:
            self.index = Index(f"{self.redis_url}?prefix=m{uuid.uuid4().hex[:12]}")
        self.model = Model(self.index)

    def teardown(self) -> None:
        self.index.close()
        self.tmp.cleanup()

    def expected_verdict(self, text: int) -> str | None:
        trial = self.model.originals([*self.model.live, ("?", text)])
        return trial["?"]

    @rule(doc_id=st.sampled_from(IDS), text=st.integers(0, len(POOL) - 1))
    def add(self, doc_id: str, text: int) -> None:
        if any(doc_id == live_id for live_id, _ in self.model.live):
            with pytest.raises(RecordExistsError):
                self.index.check_and_add(doc_id, POOL[text])
            return
        expected = self.expected_verdict(text)
        verdict = self.index.check_and_add(doc_id, POOL[text])
        assert verdict.duplicate_of == expected
        assert verdict.status == ("new" if expected is None else "duplicate")
        self.model.live.append((doc_id, text))

    @rule(text=st.integers(0, len(POOL) - 1))
    def check(self, text: int) -> None:
        assert self.index.check("?", POOL[text]).duplicate_of == self.expected_verdict(text)

    @rule(doc_id=st.sampled_from(IDS))
    def remove(self, doc_id: str) -> None:
        was_live = any(doc_id == live_id for live_id, _ in self.model.live)
        assert self.index.remove(doc_id) is was_live
        self.model.live = [(i, t) for i, t in self.model.live if i != doc_id]

    @invariant()
    def same_clusters(self) -> None:
        ids = [doc_id for doc_id, _ in self.model.live]
        assert self.index.originals(ids) == self.model.originals(self.model.live)
        assert len(self.index) == len(ids)


MACHINE_SETTINGS = settings(max_examples=60, stateful_step_count=25, deadline=None, database=None)
IndexMachine.TestCase.settings = MACHINE_SETTINGS
test_index_against_brute_force_model = IndexMachine.TestCase


def test_redis_index_against_brute_force_model(redis_url, monkeypatch):
    monkeypatch.setattr(IndexMachine, "redis_url", redis_url)
    run_state_machine_as_test(IndexMachine, settings=MACHINE_SETTINGS)


def test_sqlite_file_is_consistent_after_use(tmp_path):
    path = tmp_path / "index.sqlite"
    with Index(path) as index:
        index.add_many(corpus(9, originals=20, copies=10))
        index.remove("o3")
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)


def test_a_record_matching_two_clusters_joins_them_under_the_earliest(index):
    start, middle, end = POOL[0], POOL[1], POOL[2]
    assert index.check_and_add("a", start).status == "new"
    assert index.check_and_add("c", end).status == "new"  # two steps from a: not a match
    joined = index.check_and_add("b", middle)
    assert (joined.duplicate_of, joined.nearest) == ("a", "a")
    assert index.originals(["a", "b", "c"]) == {"a": None, "b": "a", "c": "a"}
    expected = dedupe.scan([("a", start), ("c", end), ("b", middle)]).duplicates
    assert expected == {"b": "a", "c": "a"}


def _reopened_after(path, rewrite) -> None:
    """Fill an index at ``path``, rewrite its file to an earlier layout with ``rewrite(db)``,
    and check that it opens with the same answers and takes a new record into its cluster."""
    docs = corpus(9, originals=20, copies=10)
    with Index(path) as index:
        index.add_many(docs)
        expected = [index.check(f"?{d}", t) for d, t in docs[:8]]
        originals = index.originals([d for d, _ in docs])
    with sqlite3.connect(path) as db:
        rewrite(db)
    with Index(path) as index:
        assert [index.check(f"?{d}", t) for d, t in docs[:8]] == expected
        assert index.originals([d for d, _ in docs]) == originals
        index.add("late", docs[0][1] + "!")
        assert index.originals(["late"]) == {"late": originals[docs[0][0]] or docs[0][0]}


def test_signatures_are_stored_packed_and_an_older_raw_index_still_reads(tmp_path):
    from dedupe.storage.sqlite import unpack_signature

    def unpack(db: sqlite3.Connection) -> None:
        stored = db.execute("SELECT seq, signature FROM documents").fetchall()
        assert max(len(sig) for _, sig in stored) < 4 * 128  # news-like text: about 420 bytes
        # The layout before packing: raw signatures, no encoding row.
        db.execute("DELETE FROM parameters WHERE name = 'signature_encoding'")
        db.executemany(
            "UPDATE documents SET signature = ? WHERE seq = ?",
            [(unpack_signature(sig), seq) for seq, sig in stored],
        )

    path = tmp_path / "index.sqlite"
    _reopened_after(path, unpack)
    with sqlite3.connect(path) as db:  # the late record is still raw: the layout is kept
        (late,) = db.execute("SELECT signature FROM documents WHERE id = 'late'").fetchone()
        assert len(late) == 4 * 128


def test_an_index_of_the_band_key_table_layout_is_moved_to_this_one(tmp_path):
    def band_key_table(db: sqlite3.Connection) -> None:  # the layout before: (key, seq) rows
        db.execute(
            "CREATE TABLE band_keys (key INTEGER NOT NULL, seq INTEGER NOT NULL, "
            "PRIMARY KEY (key, seq)) WITHOUT ROWID"
        )
        for seq, blob in db.execute("SELECT seq, keys FROM documents").fetchall():
            keys = np.frombuffer(blob, "<i4").tolist()
            db.executemany("INSERT INTO band_keys VALUES (?, ?)", [(k, seq) for k in keys])
        db.execute("ALTER TABLE documents DROP COLUMN keys")

    path = tmp_path / "index.sqlite"
    _reopened_after(path, band_key_table)
    with sqlite3.connect(path) as db:
        assert db.execute("SELECT 1 FROM sqlite_master WHERE name = 'band_keys'").fetchone() is None
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
