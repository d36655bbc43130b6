"""The shared backend: one Redis database, for crawlers on several machines.

Layout, every key under a prefix (``dedupe`` unless the URL says ``?prefix=NAME``):

- ``P:params``: the index parameters as JSON; ``P:seq``: the sequence counter (INCR);
  ``P:version``: bumped by every committed write;
- ``P:ids``: a hash, record id -> seq; ``P:doc:SEQ``: a hash with ``id``, ``keeper`` (empty for
  an original), ``size`` and ``sig`` (the signature bytes);
- ``P:band:KEY``: a set of the seqs with that band key; ``P:kept:ROOT``: a set of the seqs whose
  keeper is ROOT; ``P:originals``: a set of the seqs with no keeper.

Atomicity: optimistic WATCH/MULTI/EXEC on ``P:version``. A write transaction WATCHes the
version, reads what it decides on (its own pending writes are overlaid on what it reads, so the
records of one batch see each other), and queues its writes; at commit the writes and a version
bump go in one MULTI/EXEC, which Redis applies whole or not at all, and refuses if any other
client committed in between. The index then retries the transaction (:class:`Conflict`). Why not
a Lua script: the decision (signatures verified against candidates, scan's containment rule,
cluster merges) is the index's Python logic; a script would have to re-implement it, and a
script that runs long blocks the whole server. A read transaction checks the version at its end
in the same way, so a check never sees half of another client's add.

Durability is the server's: an add that returned is in the server's memory; with
``appendonly yes`` (``appendfsync everysec``) it survives a server restart too.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from dedupe.errors import ConfigError
from dedupe.storage.base import Conflict, StoredDocument

_FIELDS = ("id", "keeper", "size", "sig")


class RedisTransaction:
    """The operations of :class:`dedupe.storage.base.Transaction` on a Redis database; writes
    are queued and overlaid on later reads until :meth:`commit`."""

    def __init__(self, store: RedisStore, pipe: Any) -> None:
        self._store = store
        self._r = store.client
        self._p = store.prefix
        self._pipe = pipe  # WATCHing P:version
        self._queued: list[tuple[str, tuple[Any, ...]]] = []
        self._docs: dict[int, StoredDocument] = {}  # current view of records touched here
        self._deleted: set[int] = set()
        self._ids: dict[str, int | None] = {}  # id -> seq, None once removed here
        self._band_add: dict[int, set[int]] = {}
        self._kept_add: dict[int, set[int]] = {}
        self._records = 0
        self._originals = 0
        self._parameters: dict[str, Any] | None = None

    def _queue(self, command: str, *args: Any) -> None:
        self._queued.append((command, args))

    # -- reads -------------------------------------------------------------------------------
    def parameters(self) -> dict[str, Any] | None:
        if self._parameters is not None:
            return dict(self._parameters)
        raw = self._r.get(f"{self._p}:params")
        return None if raw is None else dict(json.loads(raw))

    def by_id(self, doc_id: str) -> StoredDocument | None:
        found = self.by_ids([doc_id])
        return found[0] if found else None

    def by_ids(self, doc_ids: Sequence[str]) -> list[StoredDocument]:
        if not doc_ids:
            return []
        unknown = [i for i in doc_ids if i not in self._ids]
        seqs = [self._ids[i] for i in doc_ids if i in self._ids]
        if unknown:
            seqs.extend(int(s) for s in self._r.hmget(f"{self._p}:ids", unknown) if s is not None)
        return self.by_seqs(s for s in seqs if s is not None)

    def by_seqs(self, seqs: Iterable[int]) -> list[StoredDocument]:
        wanted = sorted(set(seqs) - self._deleted)
        fetch = [s for s in wanted if s not in self._docs]
        fetched: dict[int, StoredDocument] = {}
        if fetch:
            pipe = self._r.pipeline(transaction=False)
            for seq in fetch:
                pipe.hmget(f"{self._p}:doc:{seq}", _FIELDS)
            for seq, row in zip(fetch, pipe.execute(), strict=True):
                if row[0] is None:
                    continue
                keeper = int(row[1]) if row[1] else None
                fetched[seq] = StoredDocument(seq, row[0].decode(), keeper, int(row[2]), row[3])
        out = []
        for seq in wanted:
            document = self._docs.get(seq) or fetched.get(seq)
            if document is not None:
                out.append(document)
        return out

    def sharing_keys(self, keys: Sequence[int]) -> list[StoredDocument]:
        if not keys:
            return []
        seqs = {int(s) for s in self._r.sunion([f"{self._p}:band:{k}" for k in keys])}
        for key in keys:
            seqs.update(self._band_add.get(key, ()))
        return self.by_seqs(seqs)

    def members(self, root: int) -> list[StoredDocument]:
        seqs = {int(s) for s in self._r.smembers(f"{self._p}:kept:{root}")}
        seqs.update(self._kept_add.get(root, ()))
        seqs.add(root)
        return [d for d in self.by_seqs(seqs) if d.seq == root or d.keeper == root]

    def counts(self) -> tuple[int, int]:
        pipe = self._r.pipeline(transaction=False)
        pipe.hlen(f"{self._p}:ids")
        pipe.scard(f"{self._p}:originals")
        records, originals = pipe.execute()
        return int(records) + self._records, int(originals) + self._originals

    # -- writes ------------------------------------------------------------------------------
    def set_parameters(self, parameters: dict[str, Any]) -> None:
        self._parameters = dict(parameters)
        self._queue("set", f"{self._p}:params", json.dumps(parameters, sort_keys=True))

    def _link(self, seq: int, keeper: int | None) -> None:
        """Put ``seq`` in the originals (no keeper) or in its keeper's set of kept copies."""
        if keeper is None:
            self._queue("sadd", f"{self._p}:originals", seq)
            self._originals += 1
        else:
            self._queue("sadd", f"{self._p}:kept:{keeper}", seq)
            self._kept_add.setdefault(keeper, set()).add(seq)

    def _unlink(self, seq: int, keeper: int | None) -> None:
        """Take ``seq`` out of the set :meth:`_link` put it in."""
        if keeper is None:
            self._queue("srem", f"{self._p}:originals", seq)
            self._originals -= 1
        else:
            self._queue("srem", f"{self._p}:kept:{keeper}", seq)
            self._kept_add.get(keeper, set()).discard(seq)

    def _set_keeper(self, document: StoredDocument, keeper: int | None) -> None:
        p, seq, old = self._p, document.seq, document.keeper
        if keeper == old:
            return
        self._unlink(seq, old)
        self._link(seq, keeper)
        self._queue("hset", f"{p}:doc:{seq}", "keeper", "" if keeper is None else keeper)
        self._docs[seq] = StoredDocument(
            seq, document.id, keeper, document.size, document.signature
        )

    def insert(
        self, doc_id: str, keeper: int | None, size: int, signature: bytes, keys: Sequence[int]
    ) -> int:
        p = self._p
        seq = int(self._r.incr(f"{p}:seq"))  # outside the transaction: a gap if it aborts
        mapping = {"id": doc_id, "keeper": "" if keeper is None else keeper, "size": size}
        self._queue("hset_mapping", f"{p}:doc:{seq}", {**mapping, "sig": signature})
        self._queue("hset", f"{p}:ids", doc_id, seq)
        for key in set(keys):
            self._queue("sadd", f"{p}:band:{key}", seq)
            self._band_add.setdefault(key, set()).add(seq)
        self._link(seq, keeper)
        self._docs[seq] = StoredDocument(seq, doc_id, keeper, size, signature)
        self._ids[doc_id] = seq
        self._records += 1
        return seq

    def delete(self, seq: int, keys: Sequence[int]) -> None:
        found = self.by_seqs([seq])
        if not found:
            return
        (document,) = found
        p = self._p
        for key in set(keys):
            self._queue("srem", f"{p}:band:{key}", seq)
            self._band_add.get(key, set()).discard(seq)
        self._unlink(seq, document.keeper)
        self._queue("delete", f"{p}:doc:{seq}")
        self._queue("hdel", f"{p}:ids", document.id)
        self._deleted.add(seq)
        self._docs.pop(seq, None)
        self._ids[document.id] = None
        self._records -= 1

    def merge(self, old_root: int, new_root: int) -> None:
        for document in self.members(old_root):
            self._set_keeper(document, new_root)

    def set_keepers(self, keepers: Iterable[tuple[int, int | None]]) -> None:
        wanted = dict(keepers)
        for document in self.by_seqs(wanted):
            self._set_keeper(document, wanted[document.seq])

    # -- the end -------------------------------------------------------------------------------
    def commit(self) -> None:
        """Apply the queued writes and bump the version in one MULTI/EXEC; :class:`Conflict`
        when another client committed since this transaction began."""
        import redis

        pipe = self._pipe
        try:
            pipe.multi()
            for command, args in self._queued:
                if command == "hset_mapping":
                    pipe.hset(args[0], mapping=args[1])
                else:
                    getattr(pipe, command)(*args)
            pipe.incr(f"{self._p}:version")
            pipe.execute()
        except redis.WatchError as error:
            raise Conflict(f"index {self._store.location}: another writer committed") from error

    def verify_unchanged(self) -> None:
        """For a read: :class:`Conflict` when a write committed while it read."""
        import redis

        try:
            self._pipe.multi()
            self._pipe.execute()
        except redis.WatchError as error:
            raise Conflict(f"index {self._store.location}: changed while reading") from error


def parse_url(url: str) -> tuple[str, str]:
    """(the URL for redis-py, the key prefix) from ``redis://host:port/db?prefix=NAME``."""
    parts = urlsplit(url)
    query = parse_qsl(parts.query)
    prefixes = [v for k, v in query if k == "prefix"]
    rest = urlencode([(k, v) for k, v in query if k != "prefix"])
    prefix = prefixes[-1] if prefixes else "dedupe"
    if not prefix or any(c in prefix for c in " :{}"):
        raise ConfigError(f"index location {url!r}: prefix {prefix!r} must be a plain name")
    return urlunsplit((parts.scheme, parts.netloc, parts.path, rest, parts.fragment)), prefix


class RedisStore:
    """An index in a Redis database, shared by every process and machine that reaches it."""

    def __init__(self, url: str) -> None:
        try:
            import redis
        except ImportError as error:  # pragma: no cover - the extra is not installed
            raise ConfigError(
                f"index location {url!r} needs the redis package: pip install 'dedupe[redis]'"
            ) from error
        client_url, self.prefix = parse_url(url)
        self.location = url
        self.client = redis.Redis.from_url(client_url)
        self._closed = False
        self._lock = threading.Lock()
        try:
            self.client.ping()
        except redis.RedisError as error:
            raise ConfigError(f"index location {url!r}: cannot reach Redis: {error}") from error

    @contextmanager
    def _transaction(self, writing: bool) -> Iterator[RedisTransaction]:
        if self._closed:
            raise ValueError(f"index {self.location} is closed")
        with self.client.pipeline(transaction=True) as pipe:
            pipe.watch(f"{self.prefix}:version")
            tx = RedisTransaction(self, pipe)
            yield tx  # an exception from the body resets the pipeline: nothing is written
            if writing:
                tx.commit()
            else:
                tx.verify_unchanged()

    def read(self) -> Any:
        return self._transaction(writing=False)

    def write(self) -> Any:
        return self._transaction(writing=True)

    def size_bytes(self) -> int:
        """The server's memory for its data set (all databases on it, not only this index)."""
        info = self.client.info("memory")
        return int(info.get("used_memory_dataset", info.get("used_memory", 0)))

    def close(self) -> None:
        with self._lock:
            if not self._closed:
                self._closed = True
                self.client.close()
