"""The embedded backend: one SQLite database file in WAL mode, no server to run.

Durability: WAL with ``synchronous=NORMAL``. A commit appends its pages to the WAL file with
write(2) before it returns, so once ``add`` has returned the record is in the operating
system's cache and survives the process being killed (SIGKILL, OOM); only a power loss or a
kernel crash can lose the last commits, never corrupt the database. ``FULL`` would add an
fsync per commit (milliseconds on most disks) to survive power loss too; ``durable=True``
selects it.

Size: a MinHash value is the minimum of a few hundred random 32-bit hashes, so it is small (a
news article's are below 2**27); signatures are stored bit-packed at the width of their
largest value (about 420 of 512 bytes for an article), beside the record's 32 band keys (128
bytes), in 8 KiB pages: about 615 bytes an article on disk. An index made before packing keeps
raw signatures and is read as it is.

Checkpoints: SQLite copies the WAL back into the database (and fsyncs both) every 1,000 pages,
in the commit that crosses the mark: one add in ~30 paid 10-20 ms for it, 0.4 ms per add on
average. A store that writes runs the checkpoint on a thread of its own instead (PASSIVE: it
never blocks a writer or reader), woken once :data:`CHECKPOINT_ROWS` rows were written;
SQLite's own, at :data:`FALLBACK_CHECKPOINT_PAGES`, bounds the WAL if the thread falls behind.
With writes going on, a PASSIVE checkpoint never reaches the WAL's end, and the WAL only starts
over from its beginning after a checkpoint of all of it; so the thread follows its PASSIVE pass
(the bulk of the copying, concurrent) with a RESTART once the WAL holds
:data:`RESTART_FRAMES` frames; it holds writers back for the frames added meanwhile and lets
the next write start the WAL over.
A checkpoint moves committed pages; it decides nothing about what survives a kill.

Concurrency: each thread gets its own connection; writers take the database lock with
``BEGIN IMMEDIATE`` before reading what they will decide on, so a check-then-add in one
process cannot interleave with another process's add. Readers never block writers (WAL).
"""

from __future__ import annotations

import contextlib
import itertools
import json
import sqlite3
import struct
import threading
import uuid
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import xxhash

from dedupe.storage.base import StoredDocument
from dedupe.storage.key_map import (
    KeyMap,
    codes_of,
    decode_keys,
    encode_keys,
    read_snapshot,
    write_snapshot,
)

# Seconds a writer waits for another process's transaction before giving up.
BUSY_TIMEOUT_SECONDS = 60.0

_SCHEMA = """
CREATE TABLE IF NOT EXISTS parameters (
    name TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS documents (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,  -- insertion order, never reused
    id TEXT NOT NULL UNIQUE,
    keeper INTEGER,                         -- seq of the cluster's original, NULL for an original
    size INTEGER NOT NULL,
    signature BLOB NOT NULL,
    keys BLOB NOT NULL DEFAULT x''          -- band keys, little-endian int32 (key_map.py)
);
-- Only duplicates carry a keeper: a partial index stays small when most records are originals.
CREATE INDEX IF NOT EXISTS documents_by_keeper ON documents (keeper) WHERE keeper IS NOT NULL;
"""

_COLUMNS = "seq, id, keeper, size, signature"
#: The key map's snapshot beside the database (key_map.py), written on close once the map
#: holds this many keys (32,768 records of 32 bands): below it reading the keys is instant.
SNAPSHOT_SUFFIX = ".keys"
SNAPSHOT_MIN_KEYS = 1 << 20
_STORE_ID = "store_id"  # a random id per database, in the parameters table


def _id_hash(doc_id: str) -> int:
    return xxhash.xxh64_intdigest(doc_id.encode("utf-8", "surrogatepass"))


#: Up to this many new rows, catching up adds them to the key map one by one.
_ADD_ONE_BY_ONE = 256
#: Rows read at a time when catching up (at open: all of them).
_CATCH_UP_ROWS = 65_536

#: Bytes of the database file read through a memory map (SQLite caps it at about 2 GB): pages
#: are shared between connections and processes in the OS cache instead of copied into each
#: connection's cache.
MMAP_BYTES = 1 << 31

#: Page size of a new database.
PAGE_SIZE = 8192

#: Rows written (SQLite's total_changes, summed over this store's connections) after which a
#: commit wakes the checkpoint thread: an add writes one row, on 2-4 pages.
CHECKPOINT_ROWS = 500
#: The checkpoint thread makes the WAL start over (RESTART, which holds writers back a moment)
#: only once it holds this many frames (measured with the earlier band_keys layout, where a
#: RESTART every 2,000 rows cost 0.5 ms per add).
RESTART_FRAMES = 4096
#: SQLite's own checkpoint (in the committing call) when the WAL holds this many pages.
FALLBACK_CHECKPOINT_PAGES = 8192

# How a database stores signatures, in its parameters table; absent in an older database: raw.
_ENCODING = "signature_encoding"
_PACKED = "bitpacked-v1"
_HEADER = struct.Struct("<HB")  # value count, bit width


def pack_signature(raw: bytes) -> bytes:
    """uint32 values (little-endian) as a count, a bit width and each value in that many bits.

    >>> raw = bytes.fromhex("05000000 00000000 ffffffff")
    >>> len(pack_signature(raw)), unpack_signature(pack_signature(raw)) == raw
    (15, True)
    """
    values = np.frombuffer(raw, dtype="<u4")
    width = int(values.max()).bit_length() if values.size else 0
    # Each value's 32 bits, lowest first, of which the first ``width`` are kept.
    bits = np.unpackbits(values.view(np.uint8), bitorder="little").reshape(values.size, 32)
    return (
        _HEADER.pack(values.size, width) + np.packbits(bits[:, :width], bitorder="little").tobytes()
    )


def unpack_signature(packed: bytes) -> bytes:
    count, width = _HEADER.unpack_from(packed)
    bits = np.zeros((count, 32), dtype=np.uint8)
    bits[:, :width] = np.unpackbits(
        np.frombuffer(packed, np.uint8, offset=_HEADER.size), count=count * width, bitorder="little"
    ).reshape(count, width)
    return np.packbits(bits, axis=1, bitorder="little").tobytes()


def _move_band_keys_into_documents(db: sqlite3.Connection) -> None:
    """Bring an index of the earlier layout (a ``band_keys`` table, one row per key and
    record) to this one (the keys in their record's row), in the open's write transaction."""
    columns = {row[1] for row in db.execute("PRAGMA table_info(documents)")}
    if "keys" not in columns:
        db.execute("ALTER TABLE documents ADD COLUMN keys BLOB NOT NULL DEFAULT x''")
    found = db.execute("SELECT 1 FROM sqlite_master WHERE name = 'band_keys'").fetchone()
    if found is None:
        return
    rows = db.execute("SELECT seq, key FROM band_keys ORDER BY seq, key")
    db.executemany(
        "UPDATE documents SET keys = ? WHERE seq = ?",
        (
            (encode_keys([key for _, key in group]), seq)
            for seq, group in itertools.groupby(rows.fetchall(), key=lambda row: row[0])
        ),
    )
    db.execute("DROP TABLE band_keys")


def _raw(row: tuple[Any, ...]) -> StoredDocument:
    return StoredDocument(row[0], row[1], row[2], row[3], row[4])


def _unpacked(row: tuple[Any, ...]) -> StoredDocument:
    return StoredDocument(row[0], row[1], row[2], row[3], unpack_signature(row[4]))


class SQLiteTransaction:
    """The operations of :class:`dedupe.storage.base.Transaction` on one connection."""

    def __init__(self, connection: sqlite3.Connection, packed: bool, keys: KeyMap) -> None:
        self._db = connection
        self._packed = packed
        self._keys = keys
        self._document = _unpacked if packed else _raw

    def parameters(self) -> dict[str, Any] | None:
        row = self._db.execute("SELECT value FROM parameters WHERE name = 'index'").fetchone()
        return None if row is None else dict(json.loads(row[0]))

    def set_parameters(self, parameters: dict[str, Any]) -> None:
        self._db.execute(
            "INSERT OR REPLACE INTO parameters (name, value) VALUES ('index', ?)",
            (json.dumps(parameters, sort_keys=True),),
        )

    def by_id(self, doc_id: str) -> StoredDocument | None:
        row = self._db.execute(f"SELECT {_COLUMNS} FROM documents WHERE id = ?", (doc_id,))
        found = row.fetchone()
        return None if found is None else self._document(found)

    def by_ids(self, doc_ids: Sequence[str]) -> list[StoredDocument]:
        out: list[StoredDocument] = []
        for begin in range(0, len(doc_ids), 500):
            chunk = list(doc_ids[begin : begin + 500])
            marks = ",".join("?" * len(chunk))
            rows = self._db.execute(
                f"SELECT {_COLUMNS} FROM documents WHERE id IN ({marks})", chunk
            )
            out.extend(map(self._document, rows))
        return out

    def by_seqs(self, seqs: Iterable[int]) -> list[StoredDocument]:
        wanted = sorted(set(seqs))
        out: list[StoredDocument] = []
        for begin in range(0, len(wanted), 500):
            chunk = wanted[begin : begin + 500]
            marks = ",".join("?" * len(chunk))
            rows = self._db.execute(
                f"SELECT {_COLUMNS} FROM documents WHERE seq IN ({marks}) ORDER BY seq", chunk
            )
            out.extend(map(self._document, rows))
        return out

    def sharing_keys(self, keys: Sequence[int]) -> list[StoredDocument]:
        # The map may name removed records (and, rarely, a rolled-back seq given again to
        # another record, which verification then rejects); the database has the last word.
        return self.by_seqs(self._keys.lookup(keys))

    def members(self, root: int) -> list[StoredDocument]:
        rows = self._db.execute(
            f"SELECT {_COLUMNS} FROM documents WHERE seq = ? "
            f"UNION ALL SELECT {_COLUMNS} FROM documents WHERE keeper = ? ORDER BY seq",
            (root, root),
        )
        return list(map(self._document, rows))

    def insert(
        self, doc_id: str, keeper: int | None, size: int, signature: bytes, keys: Sequence[int]
    ) -> int:
        cursor = self._db.execute(
            "INSERT INTO documents (id, keeper, size, signature, keys) VALUES (?, ?, ?, ?, ?)",
            (
                doc_id,
                keeper,
                size,
                pack_signature(signature) if self._packed else signature,
                encode_keys(keys),
            ),
        )
        seq = cursor.lastrowid
        assert seq is not None
        self._keys.add(seq, keys)  # forgotten again if the transaction rolls back
        return seq

    def delete(self, seq: int, keys: Sequence[int]) -> None:
        # The key map keeps the keys until it is rebuilt; lookups no longer find the record.
        self._db.execute("DELETE FROM documents WHERE seq = ?", (seq,))

    def merge(self, old_root: int, new_root: int) -> None:
        self._db.execute(
            "UPDATE documents SET keeper = ? WHERE keeper = ? OR seq = ?",
            (new_root, old_root, old_root),
        )

    def set_keepers(self, keepers: Iterable[tuple[int, int | None]]) -> None:
        self._db.executemany(
            "UPDATE documents SET keeper = ? WHERE seq = ?",
            [(keeper, seq) for seq, keeper in keepers],
        )

    def counts(self) -> tuple[int, int]:
        total = self._db.execute("SELECT count(*) FROM documents").fetchone()[0]
        originals = self._db.execute(
            "SELECT count(*) FROM documents WHERE keeper IS NULL"
        ).fetchone()[0]
        return int(total), int(originals)


class SQLiteStore:
    """An index database file; safe to share between threads (a connection each) and between
    processes (SQLite's file locks)."""

    def __init__(self, path: Path, durable: bool = False) -> None:
        self.path = path
        self.location = str(path)
        self._synchronous = "FULL" if durable else "NORMAL"
        self._local = threading.local()
        self._connections: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        self._closed = False
        self._packed = False
        self._written = 0  # rows written since the checkpoint thread was last woken
        self._wake = threading.Event()
        self._checkpointer: threading.Thread | None = None
        self._keys = KeyMap()
        self._catching_up = threading.Lock()
        path.parent.mkdir(parents=True, exist_ok=True)
        db = self._connection()
        with self._transaction(db, "BEGIN IMMEDIATE", catch_up=False):
            for statement in _SCHEMA.split(";"):
                if statement.strip():
                    db.execute(statement)
            _move_band_keys_into_documents(db)
            encoding = db.execute("SELECT value FROM parameters WHERE name = ?", (_ENCODING,))
            found = encoding.fetchone()
            if found is None and db.execute("SELECT 1 FROM documents LIMIT 1").fetchone() is None:
                # A new index (or an empty older one): its signatures will be packed.
                db.execute("INSERT INTO parameters VALUES (?, ?)", (_ENCODING, _PACKED))
                found = (_PACKED,)
            self._packed = found is not None and found[0] == _PACKED
            stored_id = db.execute("SELECT value FROM parameters WHERE name = ?", (_STORE_ID,))
            found = stored_id.fetchone()
            if found is None:
                found = (uuid.uuid4().hex,)
                db.execute("INSERT INTO parameters VALUES (?, ?)", (_STORE_ID, found[0]))
            self._store_id = bytes.fromhex(found[0])
        self._snapshot_path = Path(f"{path}{SNAPSHOT_SUFFIX}")
        self._snapshot_keys = 0  # keys the map took from a snapshot
        # The key map: from the snapshot when it is this store's and still matches the
        # database, then every record added since; without the write lock.
        with self._transaction(db, "BEGIN DEFERRED", catch_up=False):
            self._start_from_snapshot(db)
            self._catch_up(db)

    def _connection(self) -> sqlite3.Connection:
        if self._closed:
            raise ValueError(f"index {self.location} is closed")
        db: sqlite3.Connection | None = getattr(self._local, "db", None)
        if db is not None:
            return db
        db = sqlite3.connect(
            self.path,
            timeout=BUSY_TIMEOUT_SECONDS,
            isolation_level=None,  # transactions are begun explicitly below
            check_same_thread=False,  # closed by whichever thread calls close()
        )
        db.execute(f"PRAGMA page_size = {PAGE_SIZE}")  # a new database only
        db.execute("PRAGMA journal_mode = WAL")
        db.execute(f"PRAGMA synchronous = {self._synchronous}")
        db.execute("PRAGMA cache_size = -16384")  # 16 MiB of pages per connection, and
        # reads of the database file through a shared memory map (no read(2) per page missed)
        db.execute(f"PRAGMA mmap_size = {MMAP_BYTES}")
        db.execute(f"PRAGMA wal_autocheckpoint = {FALLBACK_CHECKPOINT_PAGES}")
        self._local.db = db
        with self._lock:
            self._connections.append(db)
        return db

    @contextmanager
    def _transaction(
        self, db: sqlite3.Connection, begin: str, catch_up: bool = True
    ) -> Iterator[SQLiteTransaction]:
        db.execute(begin)
        before = db.total_changes
        mark: int | None = None  # the last seq seen before this transaction's own adds
        try:
            if catch_up:
                self._catch_up(db)  # the first read: it fixes the snapshot of a reader
                mark = self._keys.seen
            yield SQLiteTransaction(db, self._packed, self._keys)
        except BaseException:
            db.execute("ROLLBACK")
            if mark is not None:
                self._keys.forget_after(mark)
            raise
        db.execute("COMMIT")
        self._keys.settle()
        if begin == "BEGIN IMMEDIATE":
            self._committed(db.total_changes - before)

    def _start_from_snapshot(self, db: sqlite3.Connection) -> None:
        found = read_snapshot(self._snapshot_path, self._store_id)
        if found is None:
            return
        seen, seen_hash, codes, directory = found
        if seen:
            # The record the snapshot ends at must be the one it saw: a database restored
            # from an older copy, or rebuilt, gives its seqs to other records.
            row = db.execute("SELECT id FROM documents WHERE seq = ?", (seen,)).fetchone()
            if row is None or _id_hash(row[0]) != seen_hash:
                return
        self._keys.start_from(codes, directory, seen)
        self._snapshot_keys = len(codes)

    def _write_snapshot(self, db: sqlite3.Connection) -> None:
        """Leave the map on disk for the next open, when it is large and has grown by an
        eighth since the snapshot it began with (a cache: a failure to write costs nothing)."""
        size = len(self._keys)
        if size < SNAPSHOT_MIN_KEYS or size - self._snapshot_keys < self._snapshot_keys // 8:
            return
        seen, codes, directory = self._keys.snapshot()
        row = db.execute("SELECT id FROM documents WHERE seq = ?", (seen,)).fetchone()
        if row is None:  # the last record was removed: nothing to check a snapshot against
            return
        with contextlib.suppress(OSError):
            write_snapshot(
                self._snapshot_path, self._store_id, seen, _id_hash(row[0]), codes, directory
            )

    def _catch_up(self, db: sqlite3.Connection) -> None:
        """Read the band keys of the records added since the key map last looked (by this
        process's other threads or by other processes): one index seek when there are none,
        and at open every record's, :data:`_CATCH_UP_ROWS` rows at a time."""
        with self._catching_up:
            rows = db.execute(
                "SELECT seq, keys FROM documents WHERE seq > ? ORDER BY seq", (self._keys.seen,)
            )
            parts: list[np.ndarray] = []
            last = 0
            while chunk := rows.fetchmany(_CATCH_UP_ROWS):
                if not parts and len(chunk) <= _ADD_ONE_BY_ONE:
                    for seq, blob in chunk:  # the usual case: a few adds by other writers
                        self._keys.add(seq, decode_keys(blob).tolist())
                    continue
                seqs = np.fromiter((seq for seq, _ in chunk), np.int64, len(chunk))
                counts = np.fromiter((len(blob) // 4 for _, blob in chunk), np.int64, len(chunk))
                keys = decode_keys(b"".join(blob for _, blob in chunk))
                parts.append(codes_of(np.repeat(seqs, counts), keys))
                last = int(seqs[-1])
            if parts:
                self._keys.load_codes(np.concatenate(parts), last)

    def _checkpoint_when_woken(self) -> None:
        db = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_SECONDS, isolation_level=None)
        try:
            db.execute(f"PRAGMA synchronous = {self._synchronous}")
            while True:
                self._wake.wait()
                self._wake.clear()
                if self._closed:
                    return
                _, frames, _ = db.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
                if frames >= RESTART_FRAMES:
                    db.execute("PRAGMA wal_checkpoint(RESTART)")
        finally:
            db.close()

    def _committed(self, rows: int) -> None:
        """After a write of ``rows`` rows: wake the checkpoint thread (started when first
        needed) once CHECKPOINT_ROWS rows were written."""
        self._written += rows  # a lost update between threads only delays a checkpoint
        if self._written >= CHECKPOINT_ROWS:
            self._written = 0
            if self._checkpointer is None:
                with self._lock:
                    if self._checkpointer is None and not self._closed:
                        self._checkpointer = threading.Thread(
                            target=self._checkpoint_when_woken,
                            name=f"dedupe checkpoint {self.location}",
                            daemon=True,
                        )
                        self._checkpointer.start()
            self._wake.set()

    def read(self) -> Any:
        return self._transaction(self._connection(), "BEGIN DEFERRED")

    def write(self) -> Any:
        return self._transaction(self._connection(), "BEGIN IMMEDIATE")

    def size_bytes(self) -> int:
        """The database, its write-ahead log and the key map's snapshot on disk."""
        total = 0
        for suffix in ("", "-wal", SNAPSHOT_SUFFIX):
            part = Path(f"{self.path}{suffix}")
            if part.exists():
                total += part.stat().st_size
        return total

    def close(self) -> None:
        if not self._closed and self._connections:
            self._write_snapshot(self._connections[0])
        with self._lock:
            self._closed = True
            connections, self._connections = self._connections, []
            checkpointer, self._checkpointer = self._checkpointer, None
        if checkpointer is not None:
            self._wake.set()
            checkpointer.join()
        for db in connections:
            db.close()
