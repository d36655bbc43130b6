"""dedupe: find duplicate and near-duplicate documents and repeated paragraphs in text corpora."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

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
    from dedupe.api import FileScan, scan, scan_path
    from dedupe.config import ScanConfig, ShingleSpec
    from dedupe.errors import ConfigError, DedupeError, InputError, RecordExistsError
    from dedupe.index import Index, IndexStats, IndexVerdict
    from dedupe.records import Origin, Record, Skipped
    from dedupe.result import CleanedRecord, Cluster, Member, ScanResult, ScanStats, Verdict

#: Where each public name lives. Each is imported when first asked for: importing the package
#: imports neither numpy nor SQLite, so the command can choose numpy's CPU features before
#: numpy starts (:mod:`dedupe.simd`), and a scan never loads the index's modules.
_HOMES = {
    **dict.fromkeys(("FileScan", "scan", "scan_path"), "dedupe.api"),
    **dict.fromkeys(("ScanConfig", "ShingleSpec"), "dedupe.config"),
    **dict.fromkeys(
        ("ConfigError", "DedupeError", "InputError", "RecordExistsError"), "dedupe.errors"
    ),
    **dict.fromkeys(("Index", "IndexStats", "IndexVerdict"), "dedupe.index"),
    **dict.fromkeys(("Origin", "Record", "Skipped"), "dedupe.records"),
    **dict.fromkeys(
        ("CleanedRecord", "Cluster", "Member", "ScanResult", "ScanStats", "Verdict"),
        "dedupe.result",
    ),
}


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'dedupe' has no attribute {name!r}")
    value = getattr(importlib.import_module(home), name)
    globals()[name] = value  # asked once
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_HOMES})
