"""The storage protocol an index needs: documents by insertion order, band keys, keepers.

Every operation runs inside a :class:`Transaction`; a write transaction is atomic and
serialised against every other writer, in this process or another, so a check followed by an
add cannot interleave with a concurrent add.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any, Protocol


@dataclass(frozen=True, slots=True)
class StoredDocument:
    """One indexed record. ``seq`` grows with every add and is never reused, so it orders the
    records as they arrived. ``keeper`` is the ``seq`` of the original of the record's cluster,
    None when the record is that original. ``signature`` holds the uint32 MinHash values
    (little-endian bytes); ``size`` the distinct shingle count (containment mode, else 0)."""

    seq: int
    id: str
    keeper: int | None
    size: int
    signature: bytes

    @property
    def root(self) -> int:
        """The seq of this record's original (itself when it is one)."""
        return self.seq if self.keeper is None else self.keeper


class Conflict(Exception):
    """Raised on leaving a transaction of an optimistic backend (Redis) when another client
    committed in between: nothing of it was written, and the caller runs it again."""


class Transaction(Protocol):
    def parameters(self) -> dict[str, Any] | None: ...

    def set_parameters(self, parameters: dict[str, Any]) -> None: ...

    def by_id(self, doc_id: str) -> StoredDocument | None: ...

    def by_ids(self, doc_ids: Sequence[str]) -> list[StoredDocument]: ...

    def by_seqs(self, seqs: Iterable[int]) -> list[StoredDocument]: ...

    def sharing_keys(self, keys: Sequence[int]) -> list[StoredDocument]:
        """Every record with at least one of ``keys`` among its band keys."""
        ...

    def members(self, root: int) -> list[StoredDocument]:
        """The record ``root`` and every record whose keeper it is, by seq."""
        ...

    def insert(
        self, doc_id: str, keeper: int | None, size: int, signature: bytes, keys: Sequence[int]
    ) -> int:
        """Store a record and its band keys; returns its seq."""
        ...

    def delete(self, seq: int, keys: Sequence[int]) -> None: ...

    def merge(self, old_root: int, new_root: int) -> None:
        """Make ``new_root`` the keeper of ``old_root`` and of every record it kept."""
        ...

    def set_keepers(self, keepers: Iterable[tuple[int, int | None]]) -> None: ...

    def counts(self) -> tuple[int, int]:
        """(records, originals)."""
        ...


class Store(Protocol):
    location: str

    def read(self) -> AbstractContextManager[Transaction]:
        """A consistent snapshot for reading."""
        ...

    def write(self) -> AbstractContextManager[Transaction]:
        """An exclusive, atomic write transaction: all of it or nothing survives."""
        ...

    def size_bytes(self) -> int: ...

    def close(self) -> None: ...
