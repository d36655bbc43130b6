"""Our vectorised signatures against datasketch and against exact Jaccard."""

import itertools

import numpy as np
import pytest
from datasketch import MinHash
from hypothesis import given, settings
from hypothesis import strategies as st

from dedupe.core import shingle, signature
from dedupe.core.shingle import hash_tokens, ngram_hashes, unit_hashes
from dedupe.core.signature import EMPTY, minhash, permutations
from dedupe.core.verify import equal_positions, estimated_jaccard, exact_jaccard, row_similarity


def _datasketch_signature(hashes: np.ndarray, num_perm: int, seed: int) -> np.ndarray:
    reference = MinHash(num_perm=num_perm, seed=seed, hashfunc=lambda value: value)
    reference.update_batch([int(h) for h in hashes])
    return reference.hashvalues


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.lists(st.integers(0, 2**32 - 1), min_size=1, max_size=60), min_size=1, max_size=6),
    st.sampled_from([16, 64, 100, 128]),
    st.integers(0, 2**31),
    # Shingles and work cells at once: the defaults, and small ones whose chunks cut units apart
    # and whose permutations are applied 3 or 48 at a time (the last block short).
    st.sampled_from([(signature._CHUNK_COLUMNS, signature._WORK_CELLS), (7, 21), (50, 2_400)]),
)
def test_signatures_equal_datasketch_affine32(units, num_perm, seed, work):
    shingles = np.array([h for unit in units for h in unit], dtype=np.uint32)
    owner = np.repeat(np.arange(len(units)), [len(u) for u in units])
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(signature, "_CHUNK_COLUMNS", work[0])
        patch.setattr(signature, "_WORK_CELLS", work[1])
        ours = minhash(shingles, owner, len(units), permutations(num_perm, seed))
    for index, unit in enumerate(units):
        expected = _datasketch_signature(np.array(unit, dtype=np.uint32), num_perm, seed)
        assert np.array_equal(ours[index], expected)


def test_unit_without_shingles_is_empty():
    sigs = minhash(np.array([5], dtype=np.uint32), np.array([1]), 3, permutations(8, 1))
    assert (sigs[0] == EMPTY).all() and (sigs[2] == EMPTY).all()
    assert not (sigs[1] == EMPTY).all()


def test_signature_does_not_depend_on_batching():
    perms = permutations(128, 7)
    tokens = hash_tokens([f"w{i % 1013}" for i in range(50_000)])
    starts, ends = np.array([0, 20_000]), np.array([20_000, 50_000])
    sh, owner = ngram_hashes(tokens, starts, ends, 5)
    together = minhash(sh, owner, 2, perms)
    alone = minhash(sh[owner == 1], np.zeros(int((owner == 1).sum()), dtype=np.int64), 1, perms)
    assert np.array_equal(together[1], alone[0])


# The estimate's standard error is sqrt(J(1-J)/num_perm) <= 0.0442 at 128 permutations; a bound
# of 0.2 is 4.5 standard errors, so an honest estimator fails it about once in 150,000 pairs.
ESTIMATE_BOUND = 0.2


@settings(max_examples=150, deadline=None, derandomize=True)
@given(st.integers(20, 400), st.integers(20, 400), st.integers(0, 400), st.integers(0, 2**31))
def test_estimate_within_bound_of_exact_jaccard(only_a, only_b, shared, seed):
    rng = np.random.default_rng(seed)
    universe = rng.choice(2**32 - 1, size=only_a + only_b + shared, replace=False).astype(np.uint32)
    a = universe[: only_a + shared]
    b = universe[only_a:]
    sh = np.concatenate([a, b])
    owner = np.repeat([0, 1], [len(a), len(b)])
    sigs = minhash(sh, owner, 2, permutations(128, 1))
    estimate = estimated_jaccard(sigs, np.array([[0, 1]]))[0]
    assert abs(estimate - exact_jaccard(a, b)) <= ESTIMATE_BOUND


def test_estimate_is_unbiased_on_average():
    rng = np.random.default_rng(3)
    errors = []
    perms = permutations(128, 1)
    for _ in range(200):
        shared, only = rng.integers(10, 300), rng.integers(10, 300)
        universe = rng.choice(2**32 - 1, size=shared + 2 * only, replace=False).astype(np.uint32)
        a, b = universe[: shared + only], universe[only:]
        sigs = minhash(np.concatenate([a, b]), np.repeat([0, 1], [len(a), len(b)]), 2, perms)
        errors.append(estimated_jaccard(sigs, np.array([[0, 1]]))[0] - exact_jaccard(a, b))
    assert abs(np.mean(errors)) < 0.01
    assert np.mean(np.abs(errors)) < 0.04


@settings(max_examples=30, deadline=None)
@given(st.sampled_from([2, 16, 32, 128, 256]), st.integers(0, 2**32 - 1))
def test_permutations_are_datasketchs(num_perm, seed):
    a, b = MinHash(num_perm=num_perm, seed=seed, scheme="affine32").permutations
    ours = permutations(num_perm, seed)
    assert ours.a.dtype == np.uint32 and ours.b.dtype == np.uint32
    assert np.array_equal(ours.a, a) and np.array_equal(ours.b, b)


@st.composite
def _units(draw):
    """Token hashes and ascending, non-overlapping unit ranges with gaps, some shorter than n."""
    n = draw(st.integers(1, 6))
    lengths = draw(st.lists(st.integers(0, 12), min_size=1, max_size=12))
    gaps = draw(st.lists(st.integers(0, 3), min_size=len(lengths), max_size=len(lengths)))
    starts, position = [], 0
    for length, gap in zip(lengths, gaps, strict=True):
        position += gap
        starts.append(position)
        position += length
    tokens = draw(st.lists(st.integers(0, 2**64 - 1), min_size=position, max_size=position + 3))
    starts_ = np.array(starts, dtype=np.int64)
    return np.array(tokens, dtype=np.uint64), starts_, starts_ + np.array(lengths), n


@settings(max_examples=200, deadline=None)
@given(case=_units())
def test_ngram_hashes_are_each_units_own_windows(case):
    tokens, starts, ends, n = case
    hashes, owner = ngram_hashes(tokens, starts, ends, n)
    expected_hashes, expected_owner = [], []
    for unit, (start, end) in enumerate(zip(starts.tolist(), ends.tolist(), strict=True)):
        alone, _ = ngram_hashes(tokens[start:end], np.array([0]), np.array([end - start]), n)
        expected_hashes += alone.tolist()
        expected_owner += [unit] * len(alone)
    assert hashes.tolist() == expected_hashes and owner.tolist() == expected_owner


@settings(max_examples=200, deadline=None)
@given(case=_units(), tiled=st.booleans())
def test_unit_hashes_depend_on_the_units_own_tokens_only(case, tiled):
    tokens, starts, ends, _ = case
    if tiled:  # units end to end (the documents' case: no gather)
        lengths = ends - starts
        ends = np.cumsum(lengths)
        starts = ends - lengths
    hashes = unit_hashes(tokens, starts, ends).tolist()
    spans = zip(starts.tolist(), ends.tolist(), strict=True)
    sequences = [tuple(tokens[s:e].tolist()) for s, e in spans]
    alone = [
        unit_hashes(np.array(seq, np.uint64), np.array([0]), np.array([len(seq)]))[0]
        for seq in sequences
    ]
    assert hashes == [int(h) for h in alone]
    for i, j in itertools.combinations(range(len(sequences)), 2):
        assert (hashes[i] == hashes[j]) == (sequences[i] == sequences[j])


@given(st.lists(st.integers(0, 2**64 - 1), min_size=2, max_size=30, unique=True), st.data())
def test_unit_hashes_see_the_order_of_tokens(values, data):
    i = data.draw(st.integers(0, len(values) - 2))
    j = data.draw(st.integers(i + 1, len(values) - 1))
    swapped = list(values)
    swapped[i], swapped[j] = swapped[j], swapped[i]
    tokens = np.array(values + swapped, dtype=np.uint64)
    n = len(values)
    first, second = unit_hashes(tokens, np.array([0, n]), np.array([n, 2 * n]))
    assert first != second


@settings(max_examples=150, deadline=None)
@given(
    width=st.sampled_from([1, 7, 8, 16, 32, 100, 128, 248, 256, 264]),
    rows=st.integers(0, 40),
    equal_share=st.floats(0.0, 1.0),
    seed=st.integers(0, 2**32 - 1),
)
def test_equal_positions_counts_what_count_nonzero_counts(width, rows, equal_share, seed):
    # Widths that take the word-wise count (multiples of 8 up to 255) and the plain one, rows
    # from all equal to none: the counts, and so every estimate made of them, are the same.
    rng = np.random.default_rng(seed)
    left = rng.integers(0, 2**32, (rows, width), dtype=np.uint32)
    right = np.where(rng.random((rows, width)) < equal_share, left, left ^ np.uint32(1))
    counts = equal_positions(left, right)
    assert counts.tolist() == np.count_nonzero(left == right, axis=1).tolist()
    assert row_similarity(left, right).tolist() == (counts / width).tolist()


def _window_hash(window: list[int]) -> int:
    """One n-gram's shingle hash, with Python integers: the definition _combine vectorises."""
    mask = 2**64 - 1
    acc = window[0]
    for token in window[1:]:
        acc = ((((acc << 27) | (acc >> 37)) & mask) * 0x9E3779B97F4A7C15 & mask) ^ token
    acc = (acc + len(window)) & mask
    acc ^= acc >> 33
    acc = acc * 0xFF51AFD7ED558CCD & mask
    acc ^= acc >> 33
    acc = acc * 0xC4CEB9FE1A85EC53 & mask
    acc ^= acc >> 33
    return acc >> 32


@settings(max_examples=100, deadline=None)
@given(
    tokens=st.lists(st.integers(0, 2**64 - 1), max_size=40),
    n=st.integers(1, 6),
    chunk=st.sampled_from([1, 3, 1 << 15]),
)
def test_shingle_hashes_are_the_defined_window_hash_in_any_chunking(tokens, n, chunk):
    """Signatures stored in an index depend on these values: they must not drift."""
    array = np.array(tokens, dtype=np.uint64)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(shingle, "_COMBINE_CHUNK", chunk)
        hashes = shingle._combine(array, n)
    assert hashes.dtype == np.uint32
    assert hashes.tolist() == [_window_hash(tokens[i : i + n]) for i in range(len(tokens) - n + 1)]
