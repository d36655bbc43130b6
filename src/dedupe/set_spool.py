"""Documents' shingle sets on disk for ``verify="exact"``: written batch by batch during pass
one, read back by memory map for the candidate pairs only.

A scan keeps 4 bytes per distinct shingle of every document in a temporary file (about 0.6 of
the corpus text's size for word 5-grams), not in memory, and beside it each document's
:func:`~dedupe.core.exact.histograms` (512 bytes); verification bounds the pairs it checks by
their histograms and gathers the sets of those the bound leaves open, which the operating
system pages in.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from typing import BinaryIO

import numpy as np
import numpy.typing as npt

from dedupe.core.exact import HISTOGRAM_BINS, below_cut, jaccard_bound, pair_jaccard
from dedupe.core.lsh import Buckets, LocalSignatures
from dedupe.core.shingle import I64, U32
from dedupe.core.verify import screening_matches


class SetSpool:
    """Append-only sets of documents in scan order; :meth:`sets` maps them back."""

    def __init__(self, directory: str | None = None) -> None:
        self._dir = tempfile.TemporaryDirectory(prefix="dedupe-sets-", dir=directory)
        self._path = os.path.join(self._dir.name, "sets.u32")
        self._file: BinaryIO | None = open(self._path, "wb")  # noqa: SIM115 (closed in sets/close)
        self._rows_path = os.path.join(self._dir.name, "histograms.u8")
        self._rows: BinaryIO | None = open(self._rows_path, "wb")  # noqa: SIM115 (as above)
        self._sizes: list[I64] = []
        self._below: list[I64] = []

    def append(self, sizes: I64, values: U32, rows: npt.NDArray[np.uint8]) -> None:
        """The sets of the next ``len(sizes)`` documents, with their
        :func:`~dedupe.core.exact.histograms` ``rows`` (made where the sets are)."""
        assert self._file is not None and self._rows is not None, "the spool was read already"
        sizes = np.asarray(sizes, dtype=np.int64)
        self._file.write(np.ascontiguousarray(values, dtype="<u4").data)
        self._rows.write(np.ascontiguousarray(rows, dtype=np.uint8).data)
        self._sizes.append(sizes)
        self._below.append(below_cut(values, sizes, rows))

    def sets(self) -> tuple[U32, I64, I64, I64, npt.NDArray[np.uint8]]:
        """``(values, starts, sizes, below, histograms)`` of every document appended (values
        and histograms memory-mapped; ``below``: :func:`~dedupe.core.exact.below_cut`)."""
        self._close_files()
        sizes = np.concatenate(self._sizes) if self._sizes else np.empty(0, dtype=np.int64)
        starts = np.cumsum(sizes) - sizes
        below = np.concatenate(self._below) if self._below else np.empty(0, dtype=np.int64)
        if len(sizes):
            rows = _mapped(self._rows_path, np.uint8).reshape(len(sizes), HISTOGRAM_BINS)
        else:  # an empty file cannot be mapped
            rows = np.empty((0, HISTOGRAM_BINS), dtype=np.uint8)
        if int(sizes.sum()) == 0:
            return np.empty(0, dtype=np.uint32), starts, sizes, below, rows
        return _mapped(self._path, np.dtype("<u4")), starts, sizes, below, rows

    def _close_files(self) -> None:
        for file in (self._file, self._rows):
            if file is not None:
                file.close()
        self._file = self._rows = None

    def close(self) -> None:
        self._close_files()
        self._dir.cleanup()


def _mapped(path: str, dtype: npt.DTypeLike) -> np.ndarray:
    """A file's contents as a plain array over a read-only memory map: slices of an np.memmap
    are np.memmap objects, whose bookkeeping took a third of the verification time (224,000
    slices at x10)."""
    return np.memmap(path, dtype=dtype, mode="r").view(np.ndarray)


class ExactlyVerified:
    """A :class:`~dedupe.core.lsh.SignatureSet` whose candidate pairs come from ``signatures``'
    bands and whose similarity is the exact Jaccard similarity of the rows' shingle sets.

    ``below`` (:func:`~dedupe.core.exact.below_cut` of the sets) and ``histograms``
    (:func:`~dedupe.core.exact.histograms`) let :meth:`screened` bound the pairs that cannot
    reach its similarity without comparing their sets whole. ``lowest``: see :meth:`screened`."""

    #: A pair's exact similarity costs more than looking it up among those turned down before
    #: (see :class:`~dedupe.core.lsh.RejectedPairs`).
    remember_rejected = True

    def __init__(
        self,
        signatures: LocalSignatures,
        values: U32,
        starts: I64,
        sizes: I64,
        below: I64 | None = None,
        histograms: npt.NDArray[np.uint8] | None = None,
        *,
        lowest: float | None = None,
    ) -> None:
        self._signatures = signatures
        self._values, self._starts, self._sizes, self._below = values, starts, sizes, below
        self._histograms = histograms
        self.lowest = lowest

    def screened(self, lowest: float) -> ExactlyVerified:
        """These sets for deciding pairs at a similarity of ``lowest`` or more: a pair whose
        signatures agree too seldom for that (:func:`~dedupe.core.verify.screening_matches`:
        a similar pair does so once in 10^12) gets its estimate, which lies below ``lowest``,
        without its sets being read: about 8% of the x10 benchmark's candidates at threshold
        0.8, whose copies mostly lie between 0.55 and 0.8. Of the others, one whose histograms
        bound it below ``lowest`` gets that bound (where ``histograms`` are known: 78% of the
        x10 candidates left), and one whose first half of its sets shows it cannot reach
        ``lowest`` gets a bound below ``lowest`` without the second half being compared
        (``pair_jaccard``'s ``bounded``; where ``below`` is known). Not for similarities that
        are reported: those stay exact."""
        return ExactlyVerified(
            self._signatures,
            self._values,
            self._starts,
            self._sizes,
            self._below,
            self._histograms,
            lowest=lowest,
        )

    def band_pairs(self, band: int, rows: int, labels: I64, selected: I64 | None) -> I64:
        return self._signatures.band_pairs(band, rows, labels, selected)

    def band_pair_pieces(
        self, band: int, rows: int, labels: I64, selected: I64 | None
    ) -> Iterator[I64]:
        return self._signatures.band_pair_pieces(band, rows, labels, selected)

    def band_bucket_table(
        self, band: int, rows: int, selected: I64 | None, threads: int = 1
    ) -> Buckets:
        return self._signatures.band_bucket_table(band, rows, selected, threads)

    def jaccard(self, pairs: I64) -> npt.NDArray[np.float64]:
        threads = self._signatures.threads
        if self.lowest is None:
            return pair_jaccard(self._values, self._starts, self._sizes, pairs, threads)
        bounded = None if self._below is None else (self._below, self.lowest)
        num_perm = self._signatures.signatures.shape[1]
        screen = screening_matches(num_perm, self.lowest)
        if not screen:
            return pair_jaccard(
                self._values, self._starts, self._sizes, pairs, threads, bounded=bounded
            )
        similarity = self._signatures.jaccard(pairs)
        worth = np.flatnonzero(np.rint(similarity * num_perm) >= screen)
        if self._histograms is not None and len(worth):
            bound = jaccard_bound(self._histograms, self._sizes, pairs[worth], threads)
            similarity[worth] = bound  # exact or above, and where it stays, below lowest
            worth = worth[bound >= self.lowest]
        if len(worth):
            similarity[worth] = pair_jaccard(
                self._values, self._starts, self._sizes, pairs[worth], threads, bounded=bounded
            )
        return similarity
