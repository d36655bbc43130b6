import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dedupe.core import lsh
from dedupe.core.cluster import clustered_rows, connected_components, keepers, merge_components
from dedupe.core.lsh import (
    MAX_BUCKET_PAIRS,
    band_key,
    band_keys,
    band_pair_pieces,
    band_pairs,
    candidate_probability,
    choose_bands,
    components_by_bands,
    pairs_sharing_keys,
)


@pytest.mark.parametrize("threshold", [0.5, 0.6, 0.7, 0.8, 0.9, 0.95])
@pytest.mark.parametrize("num_perm", [64, 128, 256])
def test_chosen_bands_reach_the_wanted_probability(threshold, num_perm):
    bands, rows = choose_bands(threshold, num_perm, 0.95)
    assert bands * rows <= num_perm
    assert candidate_probability(threshold, bands, rows) >= 0.95


def test_band_choice_trades_recall_for_candidates_not_blindly():
    # Fewer expected false candidates at 0.5 than a single-row band scheme would give.
    bands, rows = choose_bands(0.8, 128, 0.95)
    assert rows > 1
    assert candidate_probability(0.5, bands, rows) < 0.25


def test_pairs_sharing_keys_brute_force():
    rng = np.random.default_rng(0)
    keys = rng.integers(0, 6, size=(40, 3)).astype(np.uint64)
    expected = {(i, j) for i in range(40) for j in range(i + 1, 40) if (keys[i] == keys[j]).any()}
    found = {tuple(p) for p in pairs_sharing_keys(keys).tolist()}
    assert found == expected


def test_large_buckets_stay_connected_and_linear():
    n = MAX_BUCKET_PAIRS * 10
    keys = np.zeros((n, 2), dtype=np.uint64)
    pairs = pairs_sharing_keys(keys)
    assert len(pairs) < (lsh.LOOSE_NEIGHBOURS + 2) * n
    labels = connected_components(n, pairs)
    assert (labels == 0).all()


def test_mask_excludes_rows():
    keys = np.zeros((4, 1), dtype=np.uint64)
    pairs = pairs_sharing_keys(keys, np.array([True, False, True, True]))
    assert {tuple(p) for p in pairs.tolist()} == {(0, 2), (0, 3), (2, 3)}


def test_band_keys_equal_for_equal_bands():
    sigs = np.array([[1, 2, 3, 4], [1, 2, 9, 9], [7, 2, 3, 4]], dtype=np.uint32)
    keys = band_keys(sigs, 2, 2)
    assert keys[0, 0] == keys[1, 0] and keys[0, 1] != keys[1, 1]
    assert keys[0, 1] == keys[2, 1] and keys[0, 0] != keys[2, 0]


def test_components_of_a_long_chain():
    n = 5000
    pairs = np.stack([np.arange(n - 1), np.arange(1, n)], axis=1)[::-1].copy()
    assert (connected_components(n, pairs) == 0).all()


def test_keepers_first_and_longest():
    labels = np.array([0, 0, 2, 0, 2])
    lengths = np.array([5, 8, 3, 8, 3])
    assert keepers(labels, lengths, "first").tolist() == [0, 0, 2, 0, 2]
    assert keepers(labels, lengths, "longest").tolist() == [1, 1, 2, 1, 2]


@pytest.mark.parametrize("units", [0, 1, 5, 64, 65, 300])
@pytest.mark.parametrize(("bands", "rows"), [(32, 4), (18, 7), (9, 13), (1, 128), (128, 1)])
def test_band_keys_all_bands_at_once_equal_one_band_at_a_time(units, bands, rows):
    rng = np.random.default_rng(units)
    sigs = rng.integers(0, 2**32, (units, 128), dtype=np.uint64).astype(np.uint32)
    one_at_a_time = [band_key(sigs.T, band, rows) for band in range(bands)]
    expected = np.stack(one_at_a_time, axis=1) if units else np.zeros((0, bands), np.uint64)
    keys = band_keys(sigs, bands, rows)
    assert keys.dtype == np.uint64 and np.array_equal(keys, expected)


@pytest.mark.parametrize("max_pairs", [1, 2, 7, 100, 10_000])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_band_pair_pieces_are_the_band_pairs_cut_at_buckets(max_pairs, seed):
    rng = np.random.default_rng(seed)
    # Small buckets and a few larger than LOOSE_ALL_PAIRS (neighbours and star links).
    column = rng.integers(0, 40, size=600).astype(np.uint64)
    column[rng.random(600) < 0.4] = 7
    rows = np.sort(rng.choice(5000, size=600, replace=False))
    labels = np.arange(5000)
    labels[rows[:50]] = rows[0]  # one component already joined: its buckets may be skipped
    whole = band_pairs(column, rows, labels)
    pieces = list(band_pair_pieces(column, rows, labels, max_pairs=max_pairs))
    together = np.concatenate(pieces) if pieces else np.empty((0, 2), dtype=np.int64)
    assert sorted(map(tuple, together.tolist())) == sorted(map(tuple, whole.tolist()))
    if max_pairs >= len(whole):
        assert len(pieces) <= 1
    # No piece cuts a bucket: the keys of different pieces' pairs differ.
    keys = [set(column[np.searchsorted(rows, p[:, 0])].tolist()) for p in pieces]
    for a, b in itertools.combinations(keys, 2):
        assert not a & b


@pytest.mark.parametrize("lookahead", [False, True])
@pytest.mark.parametrize("overwrite", [False, True])
def test_components_by_bands_in_pieces_equal_all_pairs_at_once(monkeypatch, lookahead, overwrite):
    rng = np.random.default_rng(5)
    signatures = rng.integers(0, 3, size=(400, 8)).astype(np.uint32)

    def accept(pairs):
        return (pairs.sum(axis=1) % 3) != 0

    candidates = pairs_sharing_keys(band_keys(signatures, 4, 2))
    expected = connected_components(400, candidates[accept(candidates)])
    monkeypatch.setattr(lsh, "PIECE_PAIRS", 5)
    monkeypatch.setattr(lsh, "MERGE_PAIRS", 3)
    pieces = []
    original = lsh.bucket_pieces

    def counted(*args, **kwargs):
        made = list(original(*args, **kwargs))
        pieces.extend(made)
        return iter(made)

    monkeypatch.setattr(lsh, "bucket_pieces", counted)
    given = np.arange(400)
    found = components_by_bands(
        signatures, 4, 2, given, accept, lookahead=lookahead, overwrite=overwrite
    )
    assert found.tolist() == expected.tolist()
    assert len(pieces) > 2 * 4  # the 4 bands' pairs came in pieces (a bucket each, here)
    # The labels given are the result's array with overwrite, and untouched without.
    assert (found is given) if overwrite else given.tolist() == list(range(400))


def test_components_by_bands_hands_memory_back_between_merges(monkeypatch):
    rng = np.random.default_rng(7)
    signatures = rng.integers(0, 6, size=(300, 8)).astype(np.uint32)

    def accept(pairs):
        return (pairs.sum(axis=1) % 7) == 0

    expected = components_by_bands(signatures, 4, 2, np.arange(300), accept)
    monkeypatch.setattr(lsh, "PIECE_PAIRS", 5)
    monkeypatch.setattr(lsh, "MERGE_PAIRS", 10**9)  # one merge a band, at its end
    calls = []
    found = components_by_bands(
        signatures, 4, 2, np.arange(300), accept, merged=lambda: calls.append(1)
    )
    assert found.tolist() == expected.tolist()
    # A call at each band's merge, and more every RELEASE_PIECES pieces in between.
    assert len(calls) > 4 + 4


@pytest.mark.parametrize("seed", range(6))
def test_merge_components_equals_components_of_the_whole_graph(seed):
    rng = np.random.default_rng(seed)
    n = 200
    first = rng.integers(0, n, size=(rng.integers(0, 150), 2))
    more = rng.integers(0, n, size=(rng.integers(1, 150), 2))
    labels = connected_components(n, first)
    expected = connected_components(n, np.concatenate([first, more]))
    assert merge_components(labels, more).tolist() == expected.tolist()


def _union_find_labels(n: int, pairs: list[tuple[int, int]]) -> list[int]:
    parent = list(range(n))

    def root(x: int) -> int:
        while parent[x] != x:
            x = parent[x]
        return x

    for a, b in pairs:
        ra, rb = root(a), root(b)
        parent[max(ra, rb)] = min(ra, rb)
    return [root(x) for x in range(n)]


@settings(max_examples=300, deadline=None)
@given(
    n=st.integers(1, 60),
    edges=st.lists(st.tuples(st.integers(0, 59), st.integers(0, 59)), max_size=120),
)
def test_connected_components_are_union_finds(n, edges):
    """Each node's label is the smallest node of its component, whatever the edge order."""
    pairs = [(a % n, b % n) for a, b in edges]
    array = np.array(pairs, dtype=np.int64).reshape(-1, 2)
    assert connected_components(n, array).tolist() == _union_find_labels(n, pairs)


@settings(max_examples=300, deadline=None)
@given(
    n=st.integers(1, 60),
    edges=st.lists(st.tuples(st.integers(0, 59), st.integers(0, 59)), max_size=80),
    dtype=st.sampled_from([np.int32, np.int64]),
)
def test_clustered_rows_are_the_components_of_two_rows_or_more(n, edges, dtype):
    """Grouped by label, ascending inside, as counting each component's rows and a stable sort
    of the clustered rows by label give them."""
    pairs = np.array([(a % n, b % n) for a, b in edges], dtype=np.int64).reshape(-1, 2)
    labels = connected_components(n, pairs, dtype)
    members, keeper = clustered_rows(labels)
    sizes = np.bincount(labels, minlength=n)
    in_cluster = np.flatnonzero(sizes[labels] > 1)
    expected = in_cluster[np.argsort(labels[in_cluster], kind="stable")]
    assert members.tolist() == expected.tolist()
    assert keeper.tolist() == labels[expected].tolist()
    assert members.dtype == np.int64 and keeper.dtype == labels.dtype
    assert len(members) == int((sizes[sizes > 1]).sum())


@settings(max_examples=150, deadline=None)
@given(st.lists(st.integers(1, 9), max_size=25), st.integers(2, 6), st.integers(1, 3), st.randoms())
def test_pairs_in_runs_are_every_pair_of_a_small_run_and_links_of_a_large_one(
    lengths, largest_small, neighbours, random
):
    order = list(range(sum(lengths)))
    random.shuffle(order)
    run_lengths = np.array(lengths, dtype=np.int64)
    run_starts = np.cumsum(run_lengths) - run_lengths
    pairs = lsh.pairs_in_runs(
        np.array(order, dtype=np.int64), run_starts, run_lengths, largest_small, neighbours
    )
    small, near, star = [], {k: [] for k in range(1, neighbours + 1)}, []
    for start, length in zip(run_starts.tolist(), lengths, strict=True):
        slots = range(start, start + length)
        if length <= largest_small:
            small += [(order[a], order[b]) for a, b in itertools.combinations(slots, 2)]
        else:
            for k in near:
                near[k] += [(order[a], order[a + k]) for a in slots if a + k < start + length]
            star += [(order[start], order[a]) for a in slots[1:]]
    expected = small + [pair for k in near for pair in near[k]] + star
    assert pairs.dtype == np.int64 and pairs.shape == (len(expected), 2)
    assert [tuple(p) for p in pairs.tolist()] == expected


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.integers(2, 12), min_size=1, max_size=8),
    st.integers(1, 12),
    st.floats(0.0, 1.0),
    st.integers(2, 13),
    st.integers(1, 4),
    st.integers(0, 2**32 - 1),
)
def test_bucket_links_connect_what_their_candidate_pairs_connect(
    lengths, components, share, largest_small, neighbours, seed
):
    """Whatever the bucket sizes, existing components and accepted share, the links connect
    exactly what the accepted pairs of :func:`candidate_pairs_in_runs` connect (all pairs of a
    small bucket, neighbours and a star in a large one). Only accepted pairs are links, never
    more pairs are verified than all pairs of the buckets, and in a large bucket no more than
    the head's and 2 * LOOSE_NEIGHBOURS + 1 a row."""
    rng = np.random.default_rng(seed)
    n = sum(lengths) + 3
    run_lengths = np.array(lengths, dtype=np.int64)
    members = np.concatenate(
        [np.sort(rng.choice(n, size=k, replace=False)) for k in lengths]
    ).astype(np.int64)
    starts = np.cumsum(run_lengths) - run_lengths
    labels = connected_components(n, rng.integers(0, n, size=(max(n - components, 0), 2)))
    likes = rng.random((n, n)) < share
    likes = likes | likes.T  # one answer per pair, whichever row comes first
    verified = []

    def accept(pairs):
        assert (pairs[:, 0] < pairs[:, 1]).all()
        verified.append(len(pairs))
        return likes[pairs[:, 0], pairs[:, 1]]

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(lsh, "MAX_BUCKET_PAIRS", largest_small)
        patch.setattr(lsh, "LOOSE_ALL_PAIRS", largest_small)
        patch.setattr(lsh, "LOOSE_NEIGHBOURS", neighbours)
        links = lsh.bucket_links(lsh.Buckets(members, starts, run_lengths), labels, accept)
        reference = np.sort(lsh.candidate_pairs_in_runs(members, starts, run_lengths), axis=1)
    assert likes[links[:, 0], links[:, 1]].all()
    found = merge_components(labels, links)
    reference = reference[reference[:, 0] != reference[:, 1]]
    wanted = reference[likes[reference[:, 0], reference[:, 1]]]
    assert found.tolist() == merge_components(labels, wanted).tolist()
    all_pairs = sum(k * (k - 1) // 2 for k in lengths)
    bounded = sum(
        k * (k - 1) // 2 if k <= largest_small else k * (2 * neighbours + 2) for k in lengths
    )
    assert sum(verified) <= min(all_pairs, bounded)


def test_bucket_links_verify_one_pair_per_copy_where_copies_agree():
    members = np.arange(100, dtype=np.int64)
    buckets = lsh.Buckets(members, np.array([0]), np.array([100]))
    verified = []

    def accept(pairs):
        verified.append(len(pairs))
        return np.ones(len(pairs), dtype=np.bool_)

    links = lsh.bucket_links(buckets, np.arange(100), accept)
    assert sum(verified) == 99 and len(links) == 99
    assert (merge_components(np.arange(100), links) == 0).all()


def test_bucket_links_try_a_bounded_number_of_rows_in_a_large_bucket():
    """200 rows none of which is like another: the head tries each once, and each row left
    out its LOOSE_NEIGHBOURS later neighbours, not all 199 others (19,900 pairs)."""
    members = np.arange(200, dtype=np.int64)
    buckets = lsh.Buckets(members, np.array([0]), np.array([200]))
    asked = []

    def accept(pairs):
        asked.append(pairs)
        return np.zeros(len(pairs), dtype=np.bool_)

    assert len(lsh.bucket_links(buckets, np.arange(200), accept)) == 0
    pairs = np.concatenate(asked)
    w = lsh.LOOSE_NEIGHBOURS
    expected = {(0, b) for b in range(1, 200)}
    expected |= {(a, b) for a in range(1, 200) for b in range(a + 1, min(a + w + 1, 200))}
    assert sorted(map(tuple, pairs.tolist())) == sorted(expected)


def test_rejected_pairs_are_asked_once_across_bands():
    """Signatures that remember rejections: the same components, and no pair is asked twice
    though many share several bands."""
    rng = np.random.default_rng(9)
    signatures = rng.integers(0, 2, size=(60, 12)).astype(np.uint32)

    def accept(pairs):
        return (pairs.sum(axis=1) % 5) == 0

    class Remembering(lsh.LocalSignatures):
        remember_rejected = True

    asked: list[tuple[int, int]] = []

    def counted(pairs):
        asked.extend(map(tuple, np.sort(pairs, axis=1).tolist()))
        return accept(pairs)

    expected = components_by_bands(signatures, 6, 2, np.arange(60), accept)
    found = components_by_bands(Remembering(signatures), 6, 2, np.arange(60), counted)
    assert found.tolist() == expected.tolist()
    assert len(asked) == len(set(asked)) > 0


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 2**32 - 1), st.integers(1, 40), st.sampled_from([(8, 1), (4, 2), (3, 4)]))
def test_selected_band_key_is_the_band_key_of_the_selected_rows(seed, units, shape):
    from dedupe.core.lsh import band_key, selected_band_key

    bands, rows = shape
    rng = np.random.default_rng(seed)
    signatures = rng.integers(0, 2**32, size=(units, bands * rows + 1), dtype=np.uint32)
    selected = np.flatnonzero(rng.random(units) < 0.5)
    # Row-major (each band one gathered value), column-major (gathered as a block) and a view
    # that starts one column in.
    layouts = (signatures, np.asfortranarray(signatures), signatures[:, 1:])
    for band in range(bands):
        for layout in layouts:
            expected = band_key(layout.T, band, rows)[selected]
            assert np.array_equal(selected_band_key(layout, band, rows, selected), expected)
            with pytest.MonkeyPatch.context() as patch:  # parts on threads, whatever the size
                patch.setattr(lsh.runs, "PARALLEL_MIN", 0)
                patch.setattr(lsh, "KEY_CHUNK", 3)
                for threads in (1, 2, 3):
                    found = selected_band_key(layout, band, rows, selected, threads)
                    assert np.array_equal(found, expected)


@settings(max_examples=150, deadline=None)
@given(
    st.lists(st.integers(0, 12), max_size=80),
    st.sampled_from([1, 2, 3, 1 << 20]),
    st.booleans(),
)
def test_band_buckets_group_rows_by_key(keys, chunk, wide):
    """Every key held by two rows or more is one bucket of its rows (ascending), buckets in
    key order, whatever the chunk the packed sort checks its neighbours in (``wide``:
    hashed-like keys)."""
    column = np.array(keys, dtype=np.uint64)
    if wide:
        column = column * np.uint64(0x9E3779B97F4A7C15)
    rows = np.arange(len(keys), dtype=np.int64) * 3 + 1
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(lsh.runs, "_PACKED_CHUNK", chunk)
        patch.setattr(lsh.runs, "PARALLEL_MIN", 0)
        patch.setattr(lsh.runs, "_PACKED_MIN", 1)  # the packed sort, on threads
        buckets = lsh.band_buckets(column, rows, threads=chunk % 3 + 1)
    expected = []
    for key in sorted(set(column.tolist())):
        held = [int(rows[i]) for i in range(len(keys)) if int(column[i]) == key]
        if len(held) > 1:
            expected.append(held)
    got = [
        buckets.members[start : start + length].tolist()
        for start, length in zip(buckets.starts.tolist(), buckets.lengths.tolist(), strict=True)
    ]
    assert got == expected
    assert int(buckets.lengths.sum()) == len(buckets.members)


@settings(max_examples=100, deadline=None)
@given(
    st.integers(1, 40).flatmap(
        lambda n: st.tuples(
            st.just(n),
            st.lists(st.tuples(st.integers(0, n - 1), st.integers(0, n - 1)), max_size=60),
            st.lists(st.integers(0, 5), min_size=n, max_size=n),
        )
    )
)
def test_int32_components_and_equal_pairs_are_the_int64_ones(graph):
    """The paragraph stage's int32 labels and pairs hold the same numbers as int64 ones."""
    from dedupe.core.cluster import equal_key_pairs

    n, edges, keys = graph
    pairs = np.array(edges, dtype=np.int64).reshape(-1, 2)
    narrow = connected_components(n, pairs.astype(np.int32), np.int32)
    assert narrow.dtype == np.int32
    assert narrow.tolist() == connected_components(n, pairs).tolist()
    key_array, mask = np.array(keys, dtype=np.uint64), np.array(keys) > 0
    equal = equal_key_pairs(key_array, mask, np.int32)
    assert equal.dtype == np.int32 and equal.shape[1] == 2
    assert equal.tolist() == equal_key_pairs(key_array, mask).tolist()
    merged = merge_components(narrow.copy(), equal, overwrite=True)
    assert merged.dtype == np.int32
    assert merged.tolist() == merge_components(connected_components(n, pairs), equal).tolist()


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 2**32 - 1), st.integers(2, 120), st.booleans())
def test_bands_made_on_threads_link_the_same(seed, units, selected_only):
    """Without the look-ahead each band is made on all the table's threads: the same labels
    as on one."""
    rng = np.random.default_rng(seed)
    signatures = rng.integers(0, 6, size=(units, 12), dtype=np.uint32)
    mask = rng.random(units) < 0.7 if selected_only else None
    accept = lambda pairs: (pairs[:, 0] + pairs[:, 1]) % 3 != 0  # noqa: E731
    expected = components_by_bands(signatures, 6, 2, np.arange(units), accept, mask)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(lsh.runs, "PARALLEL_MIN", 0)
        patch.setattr(lsh.runs, "_PACKED_MIN", 1)
        table = lsh.LocalSignatures(signatures, threads=2)
        found = components_by_bands(table, 6, 2, np.arange(units), accept, mask)
    assert found.tolist() == expected.tolist()
