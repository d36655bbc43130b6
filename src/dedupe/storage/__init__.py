"""Where an :class:`dedupe.Index` keeps its records: a narrow protocol and its backends.

The index's logic (features, candidates, verification, keepers) lives in ``dedupe.index`` and
talks to storage only through :class:`~dedupe.storage.base.Store`, so a shared backend for
crawlers on several machines needs nothing but the same handful of operations.
"""

from __future__ import annotations

from pathlib import Path

from dedupe.errors import ConfigError
from dedupe.storage.base import Store, StoredDocument, Transaction

__all__ = ["Store", "StoredDocument", "Transaction", "open_store"]


def open_store(location: str | Path) -> Store:
    """The backend for ``location``: a file path (or ``sqlite:///PATH``) opens an embedded SQLite
    database, created if absent."""
    text = str(location)
    if "://" in text and not text.startswith("sqlite:///"):
        scheme = text.split("://", 1)[0]
        raise ConfigError(
            f"index location {text!r}: unknown scheme {scheme!r}; "
            "give a file path (an SQLite database) or sqlite:///PATH"
        )
    from dedupe.storage.sqlite import SQLiteStore

    return SQLiteStore(Path(text.removeprefix("sqlite:///")) if "://" in text else Path(text))
