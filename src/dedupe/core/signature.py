"""MinHash signatures for many units at once, bit-compatible with datasketch's "affine32" scheme.

datasketch (2.x) pre-mixes each 32-bit shingle hash with MurmurHash3's fmix32 and applies the
permutation ``a * h + b`` in wrapping uint32 arithmetic, keeping the minimum per permutation.
We do the same on a (permutations x shingles) uint32 matrix, a chunk of shingles at a time, and take
each unit's minimum with one ``minimum.reduceat``: no Python code runs per shingle or per unit.
Permutation parameters are drawn as datasketch draws them (:func:`permutations`), so a signature
made here equals ``datasketch.MinHash(num_perm, seed, hashfunc=..., scheme="affine32")`` fed the
same shingle hashes; ``tests/core/test_signature.py`` holds that to the pinned major version.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from dedupe.core.runs import run_starts
from dedupe.core.shingle import I64, U32

#: The signature value of a unit with no shingles (datasketch's empty value for affine32).
EMPTY = np.uint32(0xFFFFFFFF)

# Shingles processed at once, and as many permutations applied at once to them as make a work
# matrix of _WORK_CELLS uint32 (1 MiB: 16 permutations of a full chunk, all of them for a unit
# of up to 2,048 shingles), which stays in a core's L2 cache through its three passes
# (multiply, add, minimum). All 128 permutations of 8,192 shingles (4 MiB) went out to L3 and
# back: on 2M random shingles in units of 550, 0.12 s instead of 0.07 on an Intel Xeon (2 MiB
# of L2 a core); 128 x 32,768 had taken 0.17 s and 128 x 131,072 0.44 s on an AMD EPYC.
_CHUNK_COLUMNS = 16_384
_WORK_CELLS = 262_144


@dataclass(frozen=True, slots=True)
class Permutations:
    """The ``a`` (odd) and ``b`` parameters of ``num_perm`` affine permutations."""

    a: U32
    b: U32
    seed: int

    @property
    def num_perm(self) -> int:
        return len(self.a)

    def head(self, count: int) -> Permutations:
        """The first ``count`` permutations (paragraph signatures use fewer than documents)."""
        return Permutations(self.a[:count], self.b[:count], self.seed)


def permutations(num_perm: int, seed: int) -> Permutations:
    """datasketch's affine32 permutation parameters for ``num_perm`` and ``seed``, drawn the way
    ``MinHash._init_permutations`` draws them (a legacy ``RandomState``, odd ``a`` first, then
    ``b``). Importing datasketch for this took 0.4 s of every run (it pulls in scipy); the test
    suite checks the parameters against datasketch's own.

    >>> p = permutations(4, 1)
    >>> p.num_perm, bool((p.a % 2 == 1).all())
    (4, True)
    """
    generator = np.random.RandomState(seed)
    a = generator.randint(0, 1 << 31, num_perm, dtype=np.uint32) * np.uint32(2) + np.uint32(1)
    b = generator.randint(0, 1 << 32, num_perm, dtype=np.uint32)
    return Permutations(a, b, seed)


def fmix32(values: U32) -> U32:
    """MurmurHash3's 32-bit finaliser (wrapping uint32 multiplies), as datasketch applies it."""
    values = values ^ (values >> np.uint32(16))
    values = values * np.uint32(0x85EBCA6B)
    values = values ^ (values >> np.uint32(13))
    values = values * np.uint32(0xC2B2AE35)
    return values ^ (values >> np.uint32(16))


def minhash(shingles: U32, owner: I64, num_units: int, perms: Permutations) -> U32:
    """Signatures, shape ``(num_units, num_perm)``, of units whose shingle hashes are
    ``shingles`` with ``owner[i]`` the unit of ``shingles[i]`` (non-decreasing). Units without
    shingles get :data:`EMPTY` everywhere.

    The work matrix is laid out (permutations x shingles) so that each unit's minimum is a
    reduction along contiguous memory: 9x faster than (shingles x permutations) on 2M shingles.
    """
    signatures = np.full((perms.num_perm, num_units), EMPTY, dtype=np.uint32)
    if len(shingles) == 0:
        return np.ascontiguousarray(signatures.T)
    mixed = fmix32(np.asarray(shingles, dtype=np.uint32))
    a = perms.a[:, np.newaxis]
    b = perms.b[:, np.newaxis]
    width = min(len(mixed), _CHUNK_COLUMNS)
    height = max(1, min(perms.num_perm, _WORK_CELLS // width))
    blocks = [
        (rows, a[rows], b[rows])
        for rows in (slice(first, first + height) for first in range(0, perms.num_perm, height))
    ]
    # One work matrix for every chunk: a fresh array per chunk is an mmap, page faults and an
    # munmap each time (2,500 chunks at x10).
    work = np.empty((height, width), dtype=np.uint32)
    for begin in range(0, len(mixed), _CHUNK_COLUMNS):
        columns = mixed[np.newaxis, begin : begin + _CHUNK_COLUMNS]
        chunk_owner = owner[begin : begin + _CHUNK_COLUMNS]
        one_unit = chunk_owner[0] == chunk_owner[-1]  # an article looked up alone
        if one_unit:
            unit = int(chunk_owner[0])
        else:
            starts = run_starts(chunk_owner)
            units = chunk_owner[starts]
        for rows, a_rows, b_rows in blocks:
            permuted = work[: len(a_rows), : columns.shape[1]]
            np.multiply(columns, a_rows, out=permuted)
            permuted += b_rows
            if one_unit:
                kept = signatures[rows, unit]
                np.minimum(kept, permuted.min(axis=1), out=kept)
            else:
                minima = np.minimum.reduceat(permuted, starts, axis=1)
                signatures[rows, units] = np.minimum(signatures[rows, units], minima)
    return np.ascontiguousarray(signatures.T)
