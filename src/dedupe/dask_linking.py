"""The graph stage on a Dask cluster: LSH candidates, their verification and the components
they make, with the signatures left in the partitions that signed them.

:class:`PartitionedSignatures` is the :class:`~dedupe.core.lsh.SignatureSet` of the Dask
engine. Below :data:`dedupe.dask_engine.DRIVER_COMPONENT_ROWS` rows the driver links band by
band as the local engine does (:func:`~dedupe.core.lsh.components_by_bands`): it holds one
label per row and each band's candidate pairs, and sends the pairs out to be verified. Above
it, :meth:`PartitionedSignatures.components` keeps the pairs on the workers: per band, the
candidate pairs of each bucket, the signature rows they need (fetched from their partitions)
and their verification stay on the cluster; the verified edges of every band are then joined
into components by star contraction (:mod:`dedupe.core.stars`), shuffled by node between
rounds; the driver receives only the finished stars, one edge per row that is not its
component's first. Same labels either way, so the same output.
"""

from __future__ import annotations

import itertools
import operator
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np

from dedupe.core.lsh import I64, Buckets, band_buckets, band_key, band_pairs
from dedupe.core.runs import sorted_unique
from dedupe.core.stars import (
    fingerprint,
    large_star,
    large_star_input,
    node_shard,
    small_star,
    star_labels,
)
from dedupe.core.verify import row_similarity
from dedupe.pipeline import Acceptance

#: Bands whose shuffle is submitted ahead of the one being verified.
BANDS_AHEAD = 2
#: Below this many bytes of band keys times buckets, every bucket task reads every partition's
#: split whole (data moved: keys x buckets) instead of one share task per split and bucket
#: (tasks: splits x buckets). 64 MB: the x10 news paragraphs, 4 buckets, stay under it.
WHOLE_SPLITS_BYTES = 64 << 20
_SPLIT_BYTES_PER_ROW = 24  # key, row, label
_PAIRS_PER_TASK = 20_000
#: Star contraction converges in a handful of rounds (O(log^2 n) at worst); more than this
#: means something is wrong.
MAX_STAR_ROUNDS = 200


# --- tasks (run on the workers; plain functions of their arguments) ------------------------


def _band_split(
    signatures: np.ndarray,
    band: int,
    rows: int,
    first_row: int,
    selected: I64 | None,
    labels: I64 | None,
    buckets: int,
) -> list[tuple[np.ndarray, I64, I64 | None]]:
    """One partition's band keys, split by key into ``buckets``: (keys, global rows, labels;
    None without ``labels``, which the buckets' reducer then does not read)."""
    keys = band_key(signatures.T, band, rows)
    local = np.arange(len(keys), dtype=np.int64) if selected is None else selected
    keys = keys[local]
    bucket = (keys % np.uint64(buckets)).astype(np.int64)
    out = []
    for number in range(buckets):
        mine = bucket == number
        out.append((keys[mine], local[mine] + first_row, None if labels is None else labels[mine]))
    return out


def _bucket_pairs(*parts: Any, bucket: int | None = None) -> I64:
    """Candidate pairs of one bucket of one band, from every partition's share of it (in
    partition order, so rows ascend as they do in the local engine). With ``bucket``, the
    parts are whole splits and this bucket's share is taken from each."""
    if bucket is not None:
        parts = tuple(split[bucket] for split in parts)
    keys = np.concatenate([p[0] for p in parts])
    rows = np.concatenate([p[1] for p in parts])
    labels = np.concatenate([p[2] for p in parts])
    local = band_pairs(keys, np.arange(len(keys), dtype=np.int64), labels)
    return rows[local]


def _bucket_members(*parts: Any, bucket: int | None = None) -> tuple[I64, I64]:
    """The LSH buckets with more than one row in one hash bucket of one band, from every
    partition's share of it (as :func:`_bucket_pairs` reads them): their rows (global, grouped
    by key, ascending inside a bucket) and sizes."""
    if bucket is not None:
        parts = tuple(split[bucket] for split in parts)
    keys = np.concatenate([p[0] for p in parts])
    rows = np.concatenate([p[1] for p in parts])
    found = band_buckets(keys, rows)
    return found.members, found.lengths


def _take_rows(signatures: np.ndarray, rows: I64) -> np.ndarray:
    return signatures[rows]


def _pair_similarity(
    signatures: np.ndarray, local_a: I64, others: list[np.ndarray], at: I64
) -> np.ndarray:
    """Estimated Jaccard of rows ``local_a`` of this partition with rows ``at`` of the
    fetched ``others`` (concatenated)."""
    right = np.concatenate(others) if others else np.empty((0, signatures.shape[1]), np.uint32)
    return row_similarity(signatures[local_a], right[at])


def _pairs_similarity(
    parts: list[np.ndarray], owner_a: I64, local_a: I64, owner_b: I64, local_b: I64
) -> np.ndarray:
    """Estimated Jaccard of rows given as (partition, row) pairs of ``parts``."""
    width = parts[0].shape[1] if parts else 0
    left = np.empty((len(local_a), width), dtype=np.uint32)
    right = np.empty((len(local_b), width), dtype=np.uint32)
    for number in np.union1d(owner_a, owner_b).tolist():
        mine = owner_a == number
        left[mine] = parts[number][local_a[mine]]
        mine = owner_b == number
        right[mine] = parts[number][local_b[mine]]
    return row_similarity(left, right)


def _shard_band_split(
    signatures: np.ndarray,
    band: int,
    rows: int,
    first_row: int,
    selected: I64 | None,
    shard_labels: I64,
    buckets: int,
) -> list[tuple[np.ndarray, I64, I64 | None]]:
    """:func:`_band_split` with the labels of the whole partition (held on the cluster)."""
    labels = shard_labels if selected is None else shard_labels[selected]
    return _band_split(signatures, band, rows, first_row, selected, labels, buckets)


def _route_rows(pairs: I64, starts: I64) -> list[I64]:
    """The rows a bucket's pairs need, split by the partition that holds them (global rows,
    sorted, distinct)."""
    needed = sorted_unique(pairs)
    bounds = np.searchsorted(needed, starts)
    return [needed[lo:hi] for lo, hi in itertools.pairwise(bounds.tolist())]


def _serve_rows(
    signatures: np.ndarray,
    attrs: I64,
    shard_labels: I64,
    first_row: int,
    number: int,
    *routes: list[I64],
) -> list[tuple[I64, np.ndarray, I64, I64]]:
    """For each bucket's route, the rows it needs from this partition: (global rows, their
    signatures, attributes and labels)."""
    out = []
    for route in routes:
        rows = route[number]
        local = rows - first_row
        out.append((rows, signatures[local], attrs[local], shard_labels[local]))
    return out


def _verify_pairs(
    pairs: I64, acceptance: Acceptance, *served: tuple[I64, np.ndarray, I64, I64]
) -> tuple[I64, int, int]:
    """The accepted pairs of one bucket, from the rows its partitions served (in partition
    order, so the rows ascend), and how many were considered and accepted. Pairs whose rows
    share a label are dropped first, as the driver drops them."""
    if len(pairs) == 0 or not served:
        return np.empty((0, 2), dtype=np.int64), 0, 0
    rows = np.concatenate([s[0] for s in served])
    signatures = np.concatenate([s[1] for s in served])
    attrs = np.concatenate([s[2] for s in served])
    labels = np.concatenate([s[3] for s in served])
    at_a, at_b = np.searchsorted(rows, pairs[:, 0]), np.searchsorted(rows, pairs[:, 1])
    apart = labels[at_a] != labels[at_b]
    pairs, at_a, at_b = pairs[apart], at_a[apart], at_b[apart]
    accept = acceptance.considered(attrs[at_a], attrs[at_b])
    similarity = row_similarity(signatures[at_a[accept]], signatures[at_b[accept]])
    accept[accept] = acceptance(similarity, attrs[at_a[accept]], attrs[at_b[accept]])
    return pairs[accept], len(pairs), int(accept.sum())


def _shard_edges(edges: I64, shards: int, both_directions: bool) -> list[I64]:
    """Edges split by the shard of their first node; with ``both_directions``, every edge
    twice, once from each end (what a large-star step groups)."""
    if both_directions:
        edges = large_star_input(edges)
    shard = node_shard(edges[:, 0], shards)
    return [edges[shard == number] for number in range(shards)]


def _large_star_shard(*pieces: I64) -> I64:
    return large_star(np.concatenate(pieces))


def _small_star_shard(*pieces: I64) -> I64:
    return small_star(np.concatenate(pieces))


# --- signatures held in the partitions -------------------------------------------------------


class PartitionedSignatures:
    """A :class:`~dedupe.core.lsh.SignatureSet` whose rows live in the partitions of a Dask
    cluster: partition ``p`` holds rows ``starts[p]`` to ``starts[p + 1] - 1``."""

    def __init__(
        self,
        client: Any,
        parts: list[Any],
        counts: Sequence[int],
        buckets: int,
        width: int,
        attrs: list[Any] | None = None,
    ):
        self.client = client
        #: Per partition, one number per row that verification needs beside the signatures
        #: (see :class:`~dedupe.pipeline.Acceptance`); only :meth:`components` uses them.
        self.attrs = attrs
        self.parts = parts
        self.starts = np.cumsum([0, *counts]).astype(np.int64)
        self.buckets = max(1, buckets)
        self.width = width
        # Bands submitted ahead of their turn, for one (rows, selected) sweep.
        self._ahead: dict[int, list[Any]] = {}
        self._sweep: tuple[Any, int, int] | None = None
        self.small = len(self) * width * 4 <= WHOLE_SPLITS_BYTES
        if self.small and parts:
            # Every worker gets every partition once, instead of each verification fetching
            # the ones it lacks again.
            client.replicate(parts)

    def __len__(self) -> int:
        return int(self.starts[-1])

    def _owner(self, rows: I64) -> I64:
        return np.searchsorted(self.starts, rows, side="right") - 1

    #: Bands are submitted ahead by this set itself (:data:`BANDS_AHEAD`), not by a thread of
    #: :func:`~dedupe.core.lsh.components_by_bands`.
    prepares_ahead = True

    def band_pairs(self, band: int, rows: int, labels: I64, selected: I64 | None) -> I64:
        """As :meth:`LocalSignatures.band_pairs`. Each call also submits the next
        :data:`BANDS_AHEAD` bands, so that their shuffles run while the driver verifies this
        band's pairs. Those bands prune buckets with labels a band or two old: components only
        grow, so a bucket they skip would be skipped now too; the pairs they keep that are
        linked since are dropped by the caller, as every linked pair is."""
        futures = self._band_futures(_bucket_pairs, band, rows, labels, selected)
        found = [pairs for pairs in self.client.gather(futures) if len(pairs)]
        return np.concatenate(found) if found else np.empty((0, 2), dtype=np.int64)

    def band_bucket_table(
        self, band: int, rows: int, selected: I64 | None, threads: int = 1
    ) -> Buckets:
        """As :meth:`LocalSignatures.band_bucket_table` (``threads``: the workers' own): the
        band's buckets of more than one row, gathered from its hash buckets (the next
        :data:`BANDS_AHEAD` bands submitted meanwhile). The buckets come in another order than
        the local engine's, which :func:`~dedupe.core.lsh.bucket_links` does not depend on."""
        futures = self._band_futures(_bucket_members, band, rows, None, selected)
        found = [part for part in self.client.gather(futures) if len(part[0])]
        if not found:
            empty = np.empty(0, dtype=np.int64)
            return Buckets(empty, empty, empty)
        members = np.concatenate([m for m, _ in found])
        lengths = np.concatenate([n for _, n in found])
        return Buckets(members, np.cumsum(lengths) - lengths, lengths)

    def _band_futures(
        self, reducer: Any, band: int, rows: int, labels: I64 | None, selected: I64 | None
    ) -> list[Any]:
        """The futures of band ``band``'s bucket tasks (``reducer`` over every partition's
        share), submitting the next :data:`BANDS_AHEAD` bands of the same sweep."""
        sweep = (reducer, rows, id(selected))
        if sweep != self._sweep:
            self._ahead.clear()
            self._sweep = sweep
        futures = self._ahead.pop(band, None)
        if futures is None:
            futures = self._submit_band(reducer, band, rows, labels, selected)
        for ahead in range(band + 1, min(band + 1 + BANDS_AHEAD, self.width // rows)):
            if ahead not in self._ahead:
                self._ahead[ahead] = self._submit_band(reducer, ahead, rows, labels, selected)
        return futures

    def _submit_band(
        self, reducer: Any, band: int, rows: int, labels: I64 | None, selected: I64 | None
    ) -> list[Any]:
        splits = []
        for number, part in enumerate(self.parts):
            first, last = int(self.starts[number]), int(self.starts[number + 1])
            if selected is None:
                local = None
                part_labels = None if labels is None else labels[first:last]
            else:
                lo, hi = np.searchsorted(selected, [first, last])
                local = selected[lo:hi] - first
                part_labels = None if labels is None else labels[selected[lo:hi]]
            if last == first or (local is not None and len(local) == 0):
                continue
            splits.append(
                self.client.submit(
                    _band_split, part, band, rows, first, local, part_labels, self.buckets,
                    pure=False,
                )
            )  # fmt: skip
        return self._bucket_tasks(splits, len(self) if selected is None else len(selected), reducer)

    def _bucket_tasks(
        self, splits: list[Any], count: int, reducer: Any = _bucket_pairs
    ) -> list[Any]:
        """One task per bucket reducing its share of every partition's ``splits`` (of
        ``count`` rows in all) with ``reducer`` (to candidate pairs, or buckets)."""
        submit = self.client.submit
        if not splits:
            return []
        if count * self.buckets * _SPLIT_BYTES_PER_ROW <= WHOLE_SPLITS_BYTES:
            # Small: each bucket reads every split whole and takes its share, one task less
            # per split and bucket (task overhead, ~1 ms each, is what costs here).
            return [
                submit(reducer, *splits, bucket=number, pure=False)
                for number in range(self.buckets)
            ]
        return [
            submit(
                reducer,
                *[submit(operator.getitem, split, number, pure=False) for split in splits],
                pure=False,
            )
            for number in range(self.buckets)
        ]

    def band_pair_pieces(
        self, band: int, rows: int, labels: I64, selected: I64 | None
    ) -> Iterator[I64]:
        """:meth:`band_pairs` as one piece: the partitions already hold one band at a time."""
        yield self.band_pairs(band, rows, labels, selected)

    def jaccard(self, pairs: I64) -> np.ndarray:
        out = np.empty(len(pairs), dtype=np.float64)
        if len(pairs) == 0:
            return out
        submit = self.client.submit
        owner_a, owner_b = self._owner(pairs[:, 0]), self._owner(pairs[:, 1])
        if self.small:
            return self._jaccard_whole(pairs, owner_a, owner_b, out)
        # Stage 1: each partition hands out the rows that pairs elsewhere need from it.
        taken: dict[int, tuple[Any, I64]] = {}
        for number in np.unique(owner_b).tolist():
            rows = np.unique(pairs[owner_b == number, 1]) - self.starts[number]
            taken[number] = (submit(_take_rows, self.parts[number], rows, pure=False), rows)
        # Stage 2: each pair is verified where its first row lives, against the fetched rows.
        jobs = []
        for number in np.unique(owner_a).tolist():
            which = np.flatnonzero(owner_a == number)
            local_a = pairs[which, 0] - self.starts[number]
            b_owner = owner_b[which]
            needed = np.unique(b_owner).tolist()
            offsets = np.cumsum([0] + [len(taken[q][1]) for q in needed])
            at = np.empty(len(which), dtype=np.int64)
            for index, q in enumerate(needed):
                mine = b_owner == q
                local_b = pairs[which[mine], 1] - self.starts[q]
                at[mine] = offsets[index] + np.searchsorted(taken[q][1], local_b)
            fetched = [taken[q][0] for q in needed]
            future = submit(_pair_similarity, self.parts[number], local_a, fetched, at, pure=False)
            jobs.append((which, future))
        results = self.client.gather([future for _, future in jobs])
        for (which, _), values in zip(jobs, results, strict=True):
            out[which] = values
        return out

    def _jaccard_whole(self, pairs: I64, owner_a: I64, owner_b: I64, out: np.ndarray) -> np.ndarray:
        """Small signature sets, replicated to every worker: the pairs in a few chunks, each
        verified in one task on whichever worker runs it (a task per partition and two stages
        cost 40-100 ms a call in latency, and the linking stages make one call per band)."""
        local_a = pairs[:, 0] - self.starts[owner_a]
        local_b = pairs[:, 1] - self.starts[owner_b]
        chunks = max(1, min(self.buckets, len(pairs) // _PAIRS_PER_TASK))
        bounds = np.linspace(0, len(pairs), chunks + 1).astype(np.int64)
        futures = [
            self.client.submit(
                _pairs_similarity,
                self.parts,
                owner_a[lo:hi],
                local_a[lo:hi],
                owner_b[lo:hi],
                local_b[lo:hi],
                pure=False,
            )
            for lo, hi in itertools.pairwise(bounds.tolist())
        ]
        for (lo, hi), values in zip(
            itertools.pairwise(bounds.tolist()), self.client.gather(futures), strict=True
        ):
            out[lo:hi] = values
        return out

    # -- components on the cluster ------------------------------------------------------
    def components(
        self,
        bands: tuple[int, int],
        labels: I64,
        acceptance: Acceptance,
        selected: I64 | None,
    ) -> tuple[I64, int, int]:
        """As :meth:`dedupe.pipeline.Scanner.link`, with neither the candidate pairs nor the
        verified ones on the driver: each band's pairs are verified where they were found,
        against rows their partitions serve, and the verified edges of all bands (with the
        edges of ``labels``' components) are contracted into stars on the cluster. Needs
        :attr:`attrs`. The counts are per band: a pair found in two bands counts twice (the
        driver, linking as it goes, drops it in the second)."""
        if self.attrs is None:
            raise ValueError("components on the cluster need the partitions' attributes")
        client, shards = self.client, self.buckets
        inputs = []
        for number in range(len(self.parts)):
            first, last = int(self.starts[number]), int(self.starts[number + 1])
            local = None
            if selected is not None:
                lo, hi = np.searchsorted(selected, [first, last])
                local = selected[lo:hi] - first
            if last > first and (local is None or len(local)):
                inputs.append((number, first, local, labels[first:last]))
        scattered = (
            client.scatter([(local, shard) for _, _, local, shard in inputs]) if inputs else []
        )
        served_by = [
            (number, first, client.submit(operator.getitem, pair, 0, pure=False),
             client.submit(operator.getitem, pair, 1, pure=False))
            for (number, first, _, _), pair in zip(inputs, scattered, strict=True)
        ]  # fmt: skip
        count = len(self) if selected is None else len(selected)
        edges: list[Any] = []
        tallies: list[Any] = []
        for band in range(bands[0]):
            splits = [
                (client.submit(
                    _shard_band_split, self.parts[number], band, bands[1], first, local,
                    shard, self.buckets, pure=False,
                ))
                for number, first, local, shard in served_by
            ]  # fmt: skip
            pairs = self._bucket_tasks(splits, count)
            routes = [client.submit(_route_rows, p, self.starts, pure=False) for p in pairs]
            served = [
                client.submit(
                    _serve_rows, self.parts[number], self.attrs[number], shard, first, number,
                    *routes, pure=False,
                )
                for number, first, _, shard in served_by
            ]  # fmt: skip
            for bucket, bucket_pairs in enumerate(pairs):
                picked = [client.submit(operator.getitem, s, bucket, pure=False) for s in served]
                checked = client.submit(
                    _verify_pairs, bucket_pairs, acceptance, *picked, pure=False
                )
                edges.append(client.submit(operator.getitem, checked, 0, pure=False))
                tallies.append(client.submit(operator.itemgetter(1, 2), checked, pure=False))
        joined = labels != np.arange(len(labels))
        start = np.stack([np.flatnonzero(joined), labels[joined]], axis=1)
        stars = self._contract([*edges, *client.scatter([start])], shards)
        counted = client.gather(tallies)
        final = star_labels(len(labels), np.concatenate([np.empty((0, 2), np.int64), *stars]))
        return final, sum(c for c, _ in counted), sum(v for _, v in counted)

    def _shuffle(self, chunks: list[Any], shards: int, both_directions: bool) -> list[list[Any]]:
        """For each shard, the futures of its piece of every chunk."""
        submit = self.client.submit
        split = [submit(_shard_edges, c, shards, both_directions, pure=False) for c in chunks]
        return [
            [submit(operator.getitem, s, number, pure=False) for s in split]
            for number in range(shards)
        ]

    def _contract(self, chunks: list[Any], shards: int) -> list[I64]:
        """Star contraction of the edges in ``chunks`` on the cluster, until a round changes
        nothing; returns the stars' edges (high node, centre)."""
        submit = self.client.submit
        previous = None
        for _ in range(MAX_STAR_ROUNDS):
            large = [
                submit(_large_star_shard, *pieces, pure=False)
                for pieces in self._shuffle(chunks, shards, both_directions=True)
            ]
            chunks = [
                submit(_small_star_shard, *pieces, pure=False)
                for pieces in self._shuffle(large, shards, both_directions=False)
            ]
            digests = self.client.gather([submit(fingerprint, c, pure=False) for c in chunks])
            digest = tuple(sum(d[i] for d in digests) % (1 << 64) for i in range(3))
            if digest == previous:
                stars: list[I64] = self.client.gather(chunks)
                return stars
            previous = digest
        raise RuntimeError(f"star contraction did not converge in {MAX_STAR_ROUNDS} rounds")
