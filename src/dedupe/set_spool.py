"""Documents' shingle sets on disk for ``verify="exact"``: written batch by batch during pass
one, read back by memory map for the candidate pairs only.

A scan keeps 4 bytes per distinct shingle of every document in a temporary file (about 0.6 of
the corpus text's size for word 5-grams), not in memory; verification gathers the sets of the
pairs it checks, which the operating system pages in.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from typing import BinaryIO

import numpy as np
import numpy.typing as npt

from dedupe.core.exact import below_cut, pair_jaccard
from dedupe.core.lsh import Buckets, LocalSignatures
from dedupe.core.shingle import I64, U32
from dedupe.core.verify import screening_matches


class SetSpool:
    """Append-only sets of documents in scan order; :meth:`sets` maps them back."""

    def __init__(self, directory: str | None = None) -> None:
        self._dir = tempfile.TemporaryDirectory(prefix="dedupe-sets-", dir=directory)
        self._path = os.path.join(self._dir.name, "sets.u32")
        self._file: BinaryIO | None = open(self._path, "wb")  # noqa: SIM115 (closed in sets/close)
        self._sizes: list[I64] = []
        self._below: list[I64] = []

    def append(self, sizes: I64, values: U32) -> None:
        """The sets of the next ``len(sizes)`` documents."""
        assert self._file is not None, "the spool was read already"
        self._file.write(np.ascontiguousarray(values, dtype="<u4").tobytes())
        self._sizes.append(np.asarray(sizes, dtype=np.int64))
        self._below.append(below_cut(values, self._sizes[-1]))

    def sets(self) -> tuple[U32, I64, I64, I64]:
        """``(values, starts, sizes, below)`` of every document appended (values
        memory-mapped; ``below``: :func:`~dedupe.core.exact.below_cut`)."""
        if self._file is not None:
            self._file.close()
            self._file = None
        sizes = np.concatenate(self._sizes) if self._sizes else np.empty(0, dtype=np.int64)
        starts = np.cumsum(sizes) - sizes
        below = np.concatenate(self._below) if self._below else np.empty(0, dtype=np.int64)
        if int(sizes.sum()) == 0:
            return np.empty(0, dtype=np.uint32), starts, sizes, below
        # A plain array over the mapping: slices of an np.memmap are np.memmap objects, whose
        # bookkeeping took a third of the verification time (224,000 slices at x10).
        values: U32 = np.memmap(self._path, dtype="<u4", mode="r").view(np.ndarray)
        return values, starts, sizes, below

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None
        self._dir.cleanup()


class ExactlyVerified:
    """A :class:`~dedupe.core.lsh.SignatureSet` whose candidate pairs come from ``signatures``'
    bands and whose similarity is the exact Jaccard similarity of the rows' shingle sets.

    ``below`` (:func:`~dedupe.core.exact.below_cut` of the sets) lets :meth:`screened` bound
    the pairs that cannot reach its similarity after comparing half of their sets.
    ``lowest``: see :meth:`screened`."""

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
        *,
        lowest: float | None = None,
    ) -> None:
        self._signatures = signatures
        self._values, self._starts, self._sizes, self._below = values, starts, sizes, below
        self.lowest = lowest

    def screened(self, lowest: float) -> ExactlyVerified:
        """These sets for deciding pairs at a similarity of ``lowest`` or more: a pair whose
        signatures agree too seldom for that (:func:`~dedupe.core.verify.screening_matches`:
        a similar pair does so once in 10^12) gets its estimate, which lies below ``lowest``,
        without its sets being read: about 8% of the x10 benchmark's candidates at threshold
        0.8, whose copies mostly lie between 0.55 and 0.8. Of the others, one whose first half
        of its sets shows it cannot reach ``lowest`` gets a bound below ``lowest`` without the
        second half being compared (``pair_jaccard``'s ``bounded``; where ``below`` is known).
        Not for similarities that are reported: those stay exact."""
        return ExactlyVerified(
            self._signatures, self._values, self._starts, self._sizes, self._below, lowest=lowest
        )

    def band_pairs(self, band: int, rows: int, labels: I64, selected: I64 | None) -> I64:
        return self._signatures.band_pairs(band, rows, labels, selected)

    def band_pair_pieces(
        self, band: int, rows: int, labels: I64, selected: I64 | None
    ) -> Iterator[I64]:
        return self._signatures.band_pair_pieces(band, rows, labels, selected)

    def band_bucket_table(self, band: int, rows: int, selected: I64 | None) -> Buckets:
        return self._signatures.band_bucket_table(band, rows, selected)

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
        worth = np.rint(similarity * num_perm) >= screen
        if worth.any():
            similarity[worth] = pair_jaccard(
                self._values, self._starts, self._sizes, pairs[worth], threads, bounded=bounded
            )
        return similarity
