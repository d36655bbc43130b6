"""dedupe: find duplicate and near-duplicate documents and repeated paragraphs in text corpora."""

from __future__ import annotations

import logging

from dedupe.api import FileScan, scan, scan_path
from dedupe.config import ScanConfig, ShingleSpec
from dedupe.errors import ConfigError, DedupeError, InputError, RecordExistsError
from dedupe.index import Index, IndexStats, IndexVerdict
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

logging.getLogger(__name__).addHandler(logging.NullHandler())
