"""dedupe: find duplicate and near-duplicate documents and repeated paragraphs in text corpora."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from dedupe.api import FileScan, scan, scan_path
from dedupe.config import ScanConfig, ShingleSpec
from dedupe.errors import ConfigError, DedupeError, InputError, RecordExistsError
from dedupe.records import Origin, Record, Skipped
from dedupe.result import CleanedRecord, Cluster, Member, ScanResult, ScanStats, Verdict

__version__ = "0.1.0"

__all__ = [
    "CleanedRecord",
    "Cluster",
    "ConfigError",
    "DedupeError",
    "FileScan",
    "Index",
    "IndexStats",
    "IndexVerdict",
    "InputError",
    "Member",
    "Origin",
    "Record",
    "RecordExistsError",
    "ScanConfig",
    "ScanResult",
    "ScanStats",
    "ShingleSpec",
    "Skipped",
    "Verdict",
    "__version__",
    "scan",
    "scan_path",
]

if TYPE_CHECKING:
    from dedupe.index import Index, IndexStats, IndexVerdict

#: Imported when first asked for: a scan does not need the index (SQLite and its tables).
_LAZY = {"Index", "IndexStats", "IndexVerdict"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        from dedupe import index

        return getattr(index, name)
    raise AttributeError(f"module 'dedupe' has no attribute {name!r}")
