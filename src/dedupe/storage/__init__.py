"""Where an :class:`dedupe.Index` keeps its records: a narrow protocol and its backends.

The index's logic (features, candidates, verification, keepers) lives in ``dedupe.index`` and
talks to storage only through :class:`~dedupe.storage.base.Store`, so a shared backend for
crawlers on several machines needs nothing but the same handful of operations.
"""

from __future__ import annotations

from pathlib import Path

from dedupe.errors import ConfigError
from dedupe.storage.base import Conflict, Store, StoredDocument, Transaction

__all__ = ["Conflict", "Store", "StoredDocument", "Transaction", "open_store"]


def open_store(location: str | Path) -> Store:
    """The backend for ``location``: a file path (or ``sqlite:///PATH``) opens an embedded SQLite
    database, created if absent; ``redis://HOST:PORT/DB`` (``rediss://`` for TLS, optionally
    ``?prefix=NAME`` to keep several indexes in one database) a shared Redis index."""
    text = str(location)
    if text.startswith(("redis://", "rediss://", "unix://")):
        from dedupe.storage.redis_store import RedisStore

        return RedisStore(text)
    if "://" in text and not text.startswith("sqlite:///"):
        scheme = text.split("://", 1)[0]
        raise ConfigError(
            f"index location {text!r}: unknown scheme {scheme!r}; "
            "give a file path (an SQLite database), sqlite:///PATH or redis://HOST:PORT/DB"
        )
    from dedupe.storage.sqlite import SQLiteStore

    return SQLiteStore(Path(text.removeprefix("sqlite:///")) if "://" in text else Path(text))
