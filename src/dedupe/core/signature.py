"""MinHash signatures for many units at once, bit-compatible with datasketch's "affine32" scheme.

datasketch (2.x) pre-mixes each 32-bit shingle hash with MurmurHash3's fmix32 and applies the
permutation ``a * h + b`` in wrapping uint32 arithmetic, keeping the minimum per permutation.
We do the same on a (shingles x permutations) uint32 matrix, a chunk of rows at a time, and take
each unit's minimum with one ``minimum.reduceat``: no Python code runs per shingle or per unit.
Permutation parameters come from datasketch itself (:func:`permutations`), so a signature made
here equals ``datasketch.MinHash(num_perm, seed, hashfunc=..., scheme="affine32")`` fed the
same shingle hashes; ``tests/core/test_signature.py`` holds that to the pinned major version.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from dedupe.core.shingle import I64, U32

#: The signature value of a unit with no shingles (datasketch's empty value for affine32).
EMPTY = np.uint32(0xFFFFFFFF)

# Rows of the (shingles x permutations) matrix processed at once: 16,384 x 128 x 4 bytes = 8 MiB,
# small enough for the caches that matter and large enough to amortise numpy's call overhead.
_CHUNK_ROWS = 16_384


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
    """datasketch's permutation parameters for ``num_perm`` and ``seed``."""
    from datasketch import MinHash

    a, b = MinHash(num_perm=num_perm, seed=seed, scheme="affine32").permutations
    return Permutations(np.asarray(a, dtype=np.uint32), np.asarray(b, dtype=np.uint32), seed)


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
    shingles get :data:`EMPTY` everywhere."""
    signatures = np.full((num_units, perms.num_perm), EMPTY, dtype=np.uint32)
    if len(shingles) == 0:
        return signatures
    mixed = fmix32(np.asarray(shingles, dtype=np.uint32))
    a = perms.a[np.newaxis, :]
    b = perms.b[np.newaxis, :]
    for begin in range(0, len(mixed), _CHUNK_ROWS):
        rows = mixed[begin : begin + _CHUNK_ROWS, np.newaxis]
        chunk_owner = owner[begin : begin + _CHUNK_ROWS]
        permuted = rows * a
        permuted += b
        starts = np.flatnonzero(np.r_[True, chunk_owner[1:] != chunk_owner[:-1]])
        units = chunk_owner[starts]
        minima = np.minimum.reduceat(permuted, starts, axis=0)
        signatures[units] = np.minimum(signatures[units], minima)
    return signatures
