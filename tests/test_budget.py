"""Pass one's arrays under a memory budget: in memory while they fit, in files beyond."""

from __future__ import annotations

import sys

import numpy as np
import pytest

from dedupe.budget import DEFAULT_MEMORY, ArrayBudget, RowStore, memory_bytes, parse_size
from dedupe.errors import ConfigError


def test_arrays_go_to_files_once_the_budget_is_spent(tmp_path):
    budget = ArrayBudget(limit=1000, directory=str(tmp_path))
    small = budget.empty((10, 8), np.uint32)  # 320 bytes: in memory
    large = budget.empty((100, 8), np.uint32)  # 3,200 bytes: beyond the budget
    assert not isinstance(small, np.memmap) and isinstance(large, np.memmap)
    assert (budget.held, budget.spilled) == (320, 3200)
    large[:] = np.arange(800, dtype=np.uint32).reshape(100, 8)
    assert int(large[:, 3].sum()) == sum(range(3, 800, 8))
    assert list(tmp_path.iterdir())  # the file is there until close
    del large
    budget.close()
    assert not list(tmp_path.iterdir())


def test_a_full_disk_is_an_error_naming_the_file_not_a_crash(tmp_path, monkeypatch):
    # A sparse mapped file on a full disk would kill the scan at its first write (SIGBUS): its
    # blocks are allocated up front, and a refusal is an OSError with the file and a remedy.
    import errno
    import os

    budget = ArrayBudget(limit=0, directory=str(tmp_path))
    allocated = []
    real = os.posix_fallocate
    monkeypatch.setattr(os, "posix_fallocate", lambda *a: allocated.append(a[1:]) or real(*a))
    budget.empty((100, 8), np.uint32)
    assert allocated and allocated[0][1] >= 3200  # header and data, allocated at once

    def refusing(code: int, message: str):
        def allocate(fd: int, offset: int, length: int) -> None:
            raise OSError(code, message)

        return allocate

    full = refusing(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "posix_fallocate", full)
    with pytest.raises(OSError, match="No space left on device: no room for") as raised:
        budget.empty((100, 8), np.uint32)
    assert raised.value.errno == errno.ENOSPC
    assert raised.value.filename.startswith(str(tmp_path))
    monkeypatch.setattr(os, "posix_fallocate", refusing(errno.EOPNOTSUPP, "Not supported"))
    assert budget.empty((10, 8), np.uint32).shape == (10, 8)  # a filesystem that cannot: as before
    budget.close()


def test_no_limit_keeps_everything_in_memory():
    budget = ArrayBudget()
    assert not isinstance(budget.empty((1000, 128), np.uint32), np.memmap)
    budget.close()


def test_sizes_and_bad_ones():
    assert parse_size("0") == 0 and parse_size("64k") == 65536
    with pytest.raises(ConfigError, match="not a size"):
        parse_size("lots")
    with pytest.raises(ConfigError):
        ArrayBudget(limit=-1)


def test_a_scan_over_its_budget_gives_the_same_result(tmp_path, monkeypatch):
    import tempfile

    from dedupe import pipeline
    from dedupe.api import as_record
    from dedupe.config import ScanConfig
    from tests.corpus_gen import corpus

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))  # where the budget's files go
    monkeypatch.setattr(pipeline, "BATCH_DOCUMENTS", 9)
    records = corpus(31, originals=40, copies=30)

    def analysed(memory):
        items = [as_record(r, i, "text", "id") for i, r in enumerate(records)]
        result = pipeline.analyse(items, ScanConfig(), memory=memory)
        return result.analysis.verdicts, [
            (t.level, list(t.bounds), list(t.doc_ids), list(t.similarities)) for t in result.tables
        ]

    spilled = analysed(0)  # every signature array in a file
    assert spilled == analysed(None)
    assert any(v.status == "duplicate" for v in spilled[0].values())
    assert not list(tmp_path.iterdir())  # the files are gone


def test_the_next_band_is_sorted_ahead_only_where_it_fits_the_budget(monkeypatch):
    """With two jobs, linking sorts the next band while one is linked where the rows' share
    (BAND_AHEAD_BYTES a row) fits the memory budget; the clusters are the same either way."""
    from dedupe import pipeline
    from dedupe.api import as_record
    from dedupe.config import ScanConfig
    from tests.corpus_gen import corpus

    records = corpus(33, originals=30, copies=20)
    asked: list[tuple[int, bool]] = []
    real = pipeline.components_by_bands

    def spy(signatures, bands, rows, labels, accept, mask=None, lookahead=False, *a, **k):
        taking_part = len(labels) if mask is None else int(np.count_nonzero(mask))
        asked.append((taking_part, lookahead))
        return real(signatures, bands, rows, labels, accept, mask, lookahead, *a, **k)

    monkeypatch.setattr(pipeline, "components_by_bands", spy)
    results = {}
    for memory in (None, 1 << 30, 100):
        asked.clear()
        items = [as_record(r, i, "text", "id") for i, r in enumerate(records)]
        result = pipeline.analyse(items, ScanConfig(), jobs=2, memory=memory)
        assert len(asked) == 2  # the documents, then the paragraphs
        limit = DEFAULT_MEMORY if memory is None else memory  # analyse applies the default
        for taking_part, lookahead in asked:
            assert lookahead == (taking_part * pipeline.BAND_AHEAD_BYTES <= limit)
        assert any(lookahead for _, lookahead in asked) == (memory != 100)
        results[memory] = [(list(t.bounds), list(t.doc_ids)) for t in result.tables]
    assert results[None] == results[1 << 30] == results[100]
    assert results[None][0][0], "the corpus must hold duplicates for this to mean much"


def test_memory_from_the_command_line(tmp_path):
    from typer.testing import CliRunner

    from dedupe.cli import app
    from tests.corpus_gen import corpus

    source = tmp_path / "in.jsonl"
    import json

    source.write_text("".join(json.dumps({"id": i, "text": t}) + "\n" for i, t in corpus(32)))
    runner = CliRunner()
    outputs = []
    for name, extra in (("a", []), ("b", ["--memory", "0"]), ("c", ["--memory", "1K"])):
        done = runner.invoke(
            app, ["scan", str(source), "--out", str(tmp_path / name), "-q", *extra]
        )
        assert done.exit_code == 0, done.output
        outputs.append((tmp_path / name / "clusters.jsonl").read_bytes())
    assert outputs[0] == outputs[1] == outputs[2] and outputs[0]
    bad = runner.invoke(
        app, ["scan", str(source), "--out", str(tmp_path / "d"), "--memory", "lots"]
    )
    assert bad.exit_code == 2 and "not a size" in bad.output


def test_a_scan_that_runs_out_of_disk_says_so(tmp_path, monkeypatch):
    import errno
    import json
    import os

    from typer.testing import CliRunner

    from dedupe.cli import app
    from tests.corpus_gen import corpus

    def full(fd: int, offset: int, length: int) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "posix_fallocate", full)
    source = tmp_path / "in.jsonl"
    source.write_text("".join(json.dumps({"id": i, "text": t}) + "\n" for i, t in corpus(32)))
    done = CliRunner().invoke(
        app, ["scan", str(source), "--out", str(tmp_path / "o"), "--memory", "0", "--jobs", "1"]
    )
    assert done.exit_code == 1
    assert "dedupe: error: No space left on device: no room for" in done.output
    assert "Traceback" not in done.output


@pytest.mark.parametrize("limit", [None, 0, 700, 10_000])
def test_a_row_store_gives_back_its_rows_in_order(tmp_path, limit):
    """In memory, on disk from the first batch, from a later one (700 bytes: two batches of
    10 x 8 uint32 fit, the third does not), or with no limit: the same array."""
    budget = ArrayBudget(limit=limit, directory=str(tmp_path))
    store = RowStore(budget)
    batches = [np.full((10, 8), i, dtype=np.uint32) for i in range(5)]
    for batch in batches:
        store.append(batch)
    rows = store.array(8)
    assert rows.shape == (50, 8) and rows[:, 0].tolist() == [i for i in range(5) for _ in range(10)]
    on_disk = limit is not None and limit < 1600
    assert isinstance(rows, np.memmap) == on_disk
    assert budget.held + budget.spilled == (1600 if limit is not None else budget.held)
    assert budget.held <= (limit if limit is not None else 1600)
    del rows
    budget.close()


def test_a_row_store_of_no_rows_or_no_columns(tmp_path):
    budget = ArrayBudget(limit=0, directory=str(tmp_path))
    assert RowStore(budget).array(32).shape == (0, 32)  # nothing appended: the width asked
    store = RowStore(budget)
    store.append(np.empty((4, 0), dtype=np.uint32))  # a Dask driver's batches: no columns
    assert store.array(32).shape == (4, 0)
    mixed = RowStore(budget)
    mixed.append(np.zeros((1, 2), dtype=np.uint32))
    with pytest.raises(ValueError, match="width"):
        mixed.append(np.zeros((1, 3), dtype=np.uint32))
    mixed.close()
    budget.close()


def test_unlimited_and_the_default():
    assert memory_bytes("unlimited") == memory_bytes("none") == sys.maxsize
    assert memory_bytes(None) is None  # the local engine applies DEFAULT_MEMORY
    assert DEFAULT_MEMORY == 16 << 20


@pytest.mark.parametrize("limit", [0, None])
def test_unit_stores_hold_what_the_batches_gather_to(tmp_path, limit):
    import copy

    from dedupe import pipeline
    from dedupe.config import ScanConfig
    from dedupe.core.features import featurise
    from dedupe.core.signature import permutations
    from tests.corpus_gen import corpus

    config = ScanConfig()
    perms = permutations(config.num_perm, config.seed)
    texts = [text for _, text in corpus(5, originals=12, copies=10)]
    batches = [featurise(texts[i : i + 7], config, perms) for i in range(0, len(texts), 7)]
    budget = ArrayBudget(limit, str(tmp_path))
    try:
        stores = pipeline._UnitStores(budget)
        for batch in batches:
            stores.append(batch)
        signatures = np.concatenate([b.eligible_signatures for b in batches])
        arrays = stores.arrays()
        # Under a spent budget the arrays are the files, mapped; without one, in memory.
        assert all(isinstance(a.base, np.memmap) == (limit == 0) for a in arrays.values())
        stored = stores.units(arrays, signatures)
        gathered = pipeline._gather_units(copy.deepcopy(batches), config.paragraph_num_perm)
        names = ("u_doc", "u_start", "u_end", "doc_first_unit", "elig", "e_doc", "e_exact")
        for name in (*names, "within_a", "within_b", "within_j", "e_sigs"):
            assert np.array_equal(getattr(stored, name), getattr(gathered, name)), name
        assert len(stored.elig) > 0 and len(stored.within_a) > 0
        del arrays, stored
    finally:
        budget.close()
