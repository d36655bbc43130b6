"""Index under threads, processes and SIGKILL: no lost, doubled or half-written adds."""

from __future__ import annotations

import multiprocessing
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import dedupe
from dedupe import Index
from tests.conftest import fresh_location
from tests.corpus_gen import corpus

ROOT = Path(__file__).resolve().parent.parent


def _components(docs: list[tuple[str, str]]) -> int:
    """Clusters do not depend on the order records arrive in, only their originals do."""
    return len(dedupe.scan(docs).records)


def _shares(docs: list[tuple[str, str]], workers: int) -> list[list[tuple[str, str]]]:
    return [docs[w::workers] for w in range(workers)]


def test_threads_adding_at_once(location):
    docs = corpus(11, originals=40, copies=40)
    with Index(location) as index:

        def work(share: list[tuple[str, str]]) -> None:
            for doc_id, text in share:
                index.check_and_add(doc_id, text)

        threads = [threading.Thread(target=work, args=(s,)) for s in _shares(docs, 4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        stored = index.originals([doc_id for doc_id, _ in docs])
        assert len(index) == len(docs) == len(stored)
        assert sum(v is None for v in stored.values()) == _components(docs)
        assert all(stored[v] is None for v in stored.values() if v is not None)


def _add_share(path: str, share: list[tuple[str, str]]) -> int:
    with Index(path) as index:
        return sum(index.check_and_add(d, t).status == "new" for d, t in share)


def test_processes_adding_at_once(location):
    docs = corpus(12, originals=40, copies=40)
    path = location
    Index(path).close()
    context = multiprocessing.get_context("spawn")
    with context.Pool(3) as pool:
        new = pool.starmap(_add_share, [(path, s) for s in _shares(docs, 3)])
    with Index(path) as index:
        stored = index.originals([doc_id for doc_id, _ in docs])
        assert len(index) == len(docs)
    # Each add saw every add before it: as many "new" answers as clusters, no more.
    assert sum(new) == sum(v is None for v in stored.values()) == _components(docs)


_CHILD = textwrap.dedent(
    """
    import sys
    from dedupe import Index
    from tests.corpus_gen import corpus

    path, prefix = sys.argv[1], sys.argv[2]
    with Index(path) as index:
        for doc_id, text in corpus(13, originals=3000, copies=0):
            index.check_and_add(prefix + doc_id, text)
            print(prefix + doc_id, flush=True)
            # Lock-step with the parent: the next add starts only once this one was read, so
            # the kill lands while at most one add the parent has not seen is under way.
            if not sys.stdin.buffer.read(1):
                break
    """
)


def test_sigkill_in_the_middle_of_adds_keeps_every_returned_add(backend, tmp_path, request):
    path = fresh_location(backend, tmp_path, request, "index")
    returned: set[str] = set()
    for run in range(2):  # the second run adds to what the first, killed, left
        child = subprocess.Popen(
            [sys.executable, "-c", _CHILD, str(path), f"run{run}-"],
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
        )
        assert child.stdin is not None and child.stdout is not None
        for count, line in enumerate(child.stdout, start=1):
            returned.add(line.decode().strip())
            child.stdin.write(b"\n")
            child.stdin.flush()
            if count == 300:
                os.kill(child.pid, signal.SIGKILL)
                break
        child.wait()
        child.stdin.close()
        child.stdout.close()
        assert child.returncode == -signal.SIGKILL
        if backend == "sqlite":
            with sqlite3.connect(path) as db:
                assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        with Index(path) as index:
            # Every add that returned is there; the one under way at each kill may have committed.
            assert set(index.originals(sorted(returned))) == returned
            assert len(returned) <= len(index) <= len(returned) + run + 1


def test_checkpoints_run_on_a_thread_of_their_own(tmp_path, monkeypatch):
    import dedupe.storage.sqlite as sqlite_store

    monkeypatch.setattr(sqlite_store, "CHECKPOINT_ROWS", 10)
    path = tmp_path / "index.sqlite"
    docs = corpus(14, originals=30, copies=10)
    with Index(path) as index:
        for doc_id, text in docs:
            index.check_and_add(doc_id, text)
        thread = index._store._checkpointer  # type: ignore[attr-defined]
        assert thread is not None and thread.is_alive()
    assert not thread.is_alive()  # close() stops it
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    with Index(path) as index:
        assert len(index) == len(docs)
