"""Shingles as 32-bit hashes in numpy arrays, built for many units (documents, paragraphs) at once.

Each distinct token is hashed once with xxhash; n-grams are combined from the token hashes with
array operations over the whole batch, so no Python code runs per shingle. A unit is a half-open
range of tokens in the batch's token array; units shorter than ``n`` tokens get one shingle of
all their tokens, so a three-word document still has a signature.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import xxhash

from dedupe.core.runs import first_of_runs, sort_within

U32 = npt.NDArray[np.uint32]
U64 = npt.NDArray[np.uint64]
I64 = npt.NDArray[np.int64]

_ROTATE = np.uint64(27)
_ROTATE_BACK = np.uint64(64 - 27)
_MULTIPLIER = np.uint64(0x9E3779B97F4A7C15)
_SHIFT = np.uint64(33)
_FMIX_1 = np.uint64(0xFF51AFD7ED558CCD)
_FMIX_2 = np.uint64(0xC4CEB9FE1A85EC53)


def fmix64(values: U64) -> U64:
    """MurmurHash3's 64-bit finaliser: an avalanching bijection (wrapping multiplies). A new
    array; its steps run in place on it and one scratch array (two allocations, not five: at
    a batch's two million shingles each is 16 MB of fresh pages)."""
    shifted = values >> _SHIFT
    mixed = values ^ shifted
    _fmix64_rest(mixed, shifted)
    return mixed


def _fmix64_in_place(values: U64, scratch: U64) -> None:
    """:func:`fmix64` of ``values``, written over them (``scratch``: an array of their size)."""
    np.right_shift(values, _SHIFT, out=scratch)
    values ^= scratch
    _fmix64_rest(values, scratch)


def _fmix64_rest(mixed: U64, scratch: U64) -> None:
    """fmix64's steps after the first xor-shift, in place."""
    mixed *= _FMIX_1
    np.right_shift(mixed, _SHIFT, out=scratch)
    mixed ^= scratch
    mixed *= _FMIX_2
    np.right_shift(mixed, _SHIFT, out=scratch)
    mixed ^= scratch


def hash_tokens(tokens: list[str]) -> U64:
    """xxh3-64 of each token, each distinct token hashed once.

    >>> h = hash_tokens(["a", "b", "a"])
    >>> bool(h[0] == h[2]), bool(h[0] != h[1])
    (True, True)
    """
    if not tokens:
        return np.empty(0, dtype=np.uint64)
    distinct = dict.fromkeys(tokens)
    hashes = map(xxhash.xxh3_64_intdigest, map(str.encode, distinct))
    table = dict(zip(distinct, hashes, strict=True))
    return np.fromiter(map(table.__getitem__, tokens), dtype=np.uint64, count=len(tokens))


def hash_codepoints(text: str) -> U64:
    """One hash per character (character shingles), without a Python loop."""
    points = np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32).astype(np.uint64)
    return fmix64(points + _MULTIPLIER)


def _combine(token_hashes: U64, n: int) -> U32:
    """Order-sensitive 32-bit hash of every window of ``n`` consecutive tokens (len - n + 1
    values): each window's token hashes folded by rotate, multiply and xor, then
    :func:`fmix64`, and the top 32 bits kept.

    Worked :data:`_COMBINE_CHUNK` windows at a time on one accumulator and one scratch array
    that stay in cache: the twenty-odd passes over whole-batch uint64 arrays were bound by
    memory traffic (x1 news 5-grams: 0.037 -> 0.012 s).
    """
    count = max(len(token_hashes) - n + 1, 0)
    out = np.empty(count, dtype=np.uint32)
    acc = np.empty(min(count, _COMBINE_CHUNK), dtype=np.uint64)
    scratch = np.empty_like(acc)
    for begin in range(0, count, _COMBINE_CHUNK):
        end = min(begin + _COMBINE_CHUNK, count)
        window, spare = acc[: end - begin], scratch[: end - begin]
        window[:] = token_hashes[begin:end]
        for k in range(1, n):
            np.left_shift(window, _ROTATE, out=spare)
            window >>= _ROTATE_BACK
            window |= spare
            window *= _MULTIPLIER
            window ^= token_hashes[begin + k : end + k]
        window += np.uint64(n)
        _fmix64_in_place(window, spare)
        np.right_shift(window, np.uint64(32), out=spare)
        out[begin:end] = spare
    return out


#: Windows :func:`_combine` hashes at a time: two 256 KB arrays.
_COMBINE_CHUNK = 1 << 15


def expand_ranges(starts: I64, counts: I64) -> tuple[I64, I64, I64]:
    """For ranges ``[starts[u], starts[u] + counts[u])``: the owner and position of every slot,
    and the first slot of each range."""
    total = int(counts.sum())
    owner = np.repeat(np.arange(len(starts), dtype=np.int64), counts)
    first_slot = np.cumsum(counts) - counts
    positions = np.repeat(starts, counts) + (np.arange(total, dtype=np.int64) - first_slot[owner])
    return owner, positions, first_slot


def _inside(starts: I64, ends: I64, n: int, windows: int) -> npt.NDArray[np.bool_]:
    """Which of the ``windows`` n-token windows of the token array lie inside one unit (units
    ascending, not overlapping, each at least ``n`` tokens): a mask, where the windows' indices
    cost five passes over int64 arrays (0.3 s at x10)."""
    edges = np.zeros(windows + 1, dtype=np.int8)
    edges[starts] = 1
    edges[ends - n + 1] -= 1  # where a unit ends at the next one's start, the two cancel
    return np.cumsum(edges[:-1], dtype=np.int8).view(np.bool_)


def ngram_hashes(token_hashes: U64, starts: I64, ends: I64, n: int) -> tuple[U32, I64]:
    """Shingle hashes of every unit and, beside each, the index of the unit that owns it.

    Units are token ranges ``[starts[u], ends[u])``, in ascending order and not overlapping; the
    result is grouped by unit in unit order (what :func:`dedupe.core.signature.minhash` needs).

    >>> t = hash_tokens("a b c d a b c".split())
    >>> h, owner = ngram_hashes(t, np.array([0, 4]), np.array([4, 7]), 3)
    >>> owner.tolist(), bool(h[0] == h[2])
    ([0, 0, 1], True)
    """
    starts = np.asarray(starts, dtype=np.int64)
    ends = np.asarray(ends, dtype=np.int64)
    lengths = ends - starts
    per_unit = np.where(lengths >= n, lengths - n + 1, np.minimum(lengths, 1))
    if len(starts) and int(lengths.min()) >= n:  # every unit has whole windows (the usual case)
        owner = np.repeat(np.arange(len(starts), dtype=np.int64), per_unit)
        windows = _combine(token_hashes, n)
        return windows[_inside(starts, ends, n, len(windows))], owner
    owner, positions, first_slot = expand_ranges(starts, per_unit)
    if len(owner) == 0:
        return np.empty(0, dtype=np.uint32), owner
    hashes = np.empty(len(owner), dtype=np.uint32)
    long_enough = lengths[owner] >= n
    if len(token_hashes) >= n and long_enough.any():
        windows = _combine(token_hashes, n)
        hashes[long_enough] = windows[positions[long_enough]]
    for unit in np.flatnonzero((lengths > 0) & (lengths < n)):
        start, end = int(starts[unit]), int(ends[unit])
        hashes[first_slot[unit]] = _combine(token_hashes[start:end], end - start)[0]
    return hashes, owner


#: Odd multipliers by position inside a unit (see :func:`unit_hashes`), grown on demand.
_position_table: U64 = np.empty(0, dtype=np.uint64)


def position_multipliers(length: int) -> U64:
    """At least ``length`` odd 64-bit multipliers, one per position inside a unit: fixed
    (``fmix64`` of the position), so a unit's hash does not depend on its batch."""
    global _position_table
    table = _position_table
    if len(table) < length:
        size = max(length, 2 * len(table), 4096)
        table = fmix64(np.arange(size, dtype=np.uint64) + _MULTIPLIER) | np.uint64(1)
        table.setflags(write=False)
        _position_table = table  # replaced whole: a reader holds the old one or the new
    return table


def unit_hashes(token_hashes: U64, starts: I64, ends: I64) -> U64:
    """A 64-bit hash of each unit's whole token sequence: equal for texts that are exact
    duplicates after normalisation, order-sensitive.

    Each token hash is multiplied by a fixed odd multiplier of its position in the unit and the
    products are summed (wrapping), then mixed with the unit's length: a gather and a multiply
    per token where mixing every (token, position) term cost nine passes (0.08 of a 0.58 s
    document scan's signing). Two sequences collide when their weighted sums agree modulo
    2^64, as likely as any two 64-bit hashes for sequences that are not built to do so.

    >>> t = hash_tokens("a b c a b c b a".split())
    >>> h = unit_hashes(t, np.array([0, 3, 6]), np.array([3, 6, 8]))
    >>> bool(h[0] == h[1]), bool(h[0] == h[2])
    (True, False)
    """
    starts = np.asarray(starts, dtype=np.int64)
    ends = np.asarray(ends, dtype=np.int64)
    lengths = ends - starts
    sums = np.zeros(len(starts), dtype=np.uint64)
    total = int(lengths.sum())
    if total:
        first_slot = np.cumsum(lengths) - lengths
        relative = np.arange(total, dtype=np.int64) - np.repeat(first_slot, lengths)
        if np.array_equal(starts[1:], ends[:-1]):  # units tile a range: no gather
            values = token_hashes[starts[0] : ends[-1]]
        else:
            values = token_hashes[np.repeat(starts, lengths) + relative]
        terms = values * position_multipliers(int(lengths.max()))[relative]
        nonempty = lengths > 0
        sums[nonempty] = np.add.reduceat(terms, first_slot[nonempty])
    return fmix64(sums ^ lengths.astype(np.uint64))


def distinct_sets(shingles: U32, owner: I64, num_units: int) -> tuple[I64, U32]:
    """Each unit's distinct shingles, sorted, concatenated in unit order, and how many each
    unit has (``owner`` as :func:`ngram_hashes` returns it).

    >>> sizes, values = distinct_sets(np.array([5, 5, 7, 5], np.uint32), np.array([0, 0, 0, 2]), 3)
    >>> sizes.tolist(), values.tolist()
    ([2, 0, 1], [5, 7, 5])
    """
    counts = np.bincount(np.asarray(owner, dtype=np.int64), minlength=num_units).astype(np.int64)
    ordered = sort_within(np.asarray(shingles, dtype=np.uint32), counts)
    # A value is new where it differs from the one before it or begins its unit's run.
    new = first_of_runs(ordered)
    filled = counts > 0
    firsts = (np.cumsum(counts) - counts)[filled]
    new[firsts] = True
    sizes = np.zeros(num_units, dtype=np.int64)
    if len(firsts):
        sizes[filled] = np.add.reduceat(new, firsts, dtype=np.int64)
    return sizes, ordered[new]
