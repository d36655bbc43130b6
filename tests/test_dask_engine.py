"""The Dask engine against the local one, on a real two-worker local cluster: byte-identical
clusters, cleaned copies and summary counts, and the partitioned signature set agreeing with
the in-memory one on any layout."""

from __future__ import annotations

import itertools
import json
import logging
import os
from collections.abc import Iterator

import numpy as np
import pytest

from dedupe import ConfigError, InputError, scan_path
from dedupe.core.lsh import LocalSignatures
from tests.dataset_gen import output_files, write_dataset

if os.environ.get("CI"):  # CI installs the test extras: a missing Dask is a failure there
    import distributed
else:
    distributed = pytest.importorskip("distributed")
    pytest.importorskip("pyarrow")


@pytest.fixture(scope="module")
def cluster() -> Iterator[str]:
    """The address of a local cluster of two worker processes, as a user would start one."""
    with distributed.LocalCluster(
        n_workers=2,
        threads_per_worker=1,
        processes=True,
        dashboard_address=None,
        # No dashboard, and the scheduler's HTTP endpoint on a free loopback port: its default,
        # 8787, is taken by any other cluster running here.
        scheduler_kwargs={"dashboard_address": "127.0.0.1:0"},
        silence_logs=logging.ERROR,
    ) as local:
        yield local.scheduler_address


@pytest.fixture(scope="module")
def client(cluster: str) -> Iterator[object]:
    with distributed.Client(cluster) as connected:
        yield connected


def _both(tmp_path, cluster, **options):
    """Both engines' outputs. The Dask engine verifies by estimate (what ``verify="auto"``
    gives it); the local engine is asked for the same."""
    local = tmp_path / "local"
    dask = tmp_path / "dask"
    options.setdefault("verify", "estimate")
    scan_path(str(tmp_path / "in"), local, jobs=1, **options)
    scan_path(str(tmp_path / "in"), dask, engine="dask", scheduler=cluster, **options)
    return output_files(local), output_files(dask)


@pytest.mark.parametrize("seed", [11, 12, 13])
def test_dask_output_is_byte_identical_to_local(tmp_path, cluster, seed):
    write_dataset(tmp_path / "in", seed=seed)
    local, dask = _both(tmp_path, cluster)
    assert local.keys() == dask.keys()
    assert {"clusters.jsonl", "cleaned/d.parquet", "cleaned/b/c.jsonl.gz"} <= local.keys()
    for name in local:
        assert local[name] == dask[name], name
    summary = json.loads(local["summary.json"])
    assert summary["documents_removed"] > 10 and summary["paragraphs_removed"] > 0
    assert summary["records_skipped"] == 3


@pytest.mark.parametrize(
    "options",
    [
        {"measure": "containment", "boilerplate_min_docs": 5},
        {"paragraphs": False, "threshold": 0.8},
        {"shingle": "char:9", "num_perm": 64, "keep": "longest"},
    ],
    ids=["containment-boilerplate", "documents-only", "char-shingles"],
)
def test_dask_output_is_identical_under_other_settings(tmp_path, cluster, options):
    from dedupe.config import ShingleSpec

    if "shingle" in options:
        options = {**options, "shingle": ShingleSpec.parse(options["shingle"])}
    write_dataset(tmp_path / "in", seed=21)
    local, dask = _both(tmp_path, cluster, **options)
    assert local == dask


def test_strict_mode_stops_at_the_same_record(tmp_path, cluster):
    write_dataset(tmp_path / "in", seed=31)
    errors = []
    for engine in ("local", "dask"):
        scheduler = cluster if engine == "dask" else None
        with pytest.raises(InputError) as caught:
            scan_path(
                str(tmp_path / "in"),
                tmp_path / engine,
                strict=True,
                engine=engine,
                scheduler=scheduler,
            )
        errors.append(str(caught.value))
        assert not (tmp_path / engine / "clusters.jsonl").exists()
    assert errors[0] == errors[1]
    assert "a.jsonl" in errors[0] and "malformed JSON" in errors[0]


def test_the_cli_starts_a_local_cluster_when_given_no_scheduler(tmp_path):
    from typer.testing import CliRunner

    from dedupe.cli import app

    write_dataset(tmp_path / "in", seed=41)
    runner = CliRunner()
    for engine in ("local", "dask"):
        args = ["scan", str(tmp_path / "in"), "--out", str(tmp_path / engine), "-q"]
        args += ["--verify", "estimate"] if engine == "local" else []  # dask's auto
        result = runner.invoke(app, [*args, "--engine", engine, "--jobs", "2"])
        assert result.exit_code == 0, result.output
    assert output_files(tmp_path / "local") == output_files(tmp_path / "dask")


def test_an_unreachable_scheduler_is_a_clear_error(tmp_path):
    from typer.testing import CliRunner

    from dedupe.cli import app

    write_dataset(tmp_path / "in", seed=51)
    args = ["scan", str(tmp_path / "in"), "--out", str(tmp_path / "o"), "--engine", "dask"]
    import dask

    with dask.config.set({"distributed.comm.timeouts.connect": "2s"}):
        result = CliRunner().invoke(app, [*args, "--scheduler", "tcp://127.0.0.1:9"])
    assert result.exit_code == 2
    assert "cannot reach the Dask scheduler at tcp://127.0.0.1:9" in result.stderr


def _layout(seed: int, most_rows: int) -> tuple[np.random.Generator, int, list[int], int]:
    """A random generator, a row count, partition cuts and a bucket count for one case.

    Seeded cases, not hypothesis: hypothesis fails a draw when the global ``random`` state
    moves meanwhile, and the Dask client's threads move it."""
    rng = np.random.default_rng(seed)
    rows = int(rng.integers(0, most_rows + 1)) if seed % 4 else 0
    cuts = rng.integers(0, most_rows + 1, size=int(rng.integers(0, 5))).tolist()
    return rng, rows, cuts, int(rng.integers(1, 6))


@pytest.mark.parametrize("seed", range(12))
def test_partitioned_signatures_answer_as_the_in_memory_ones(client, seed):
    """Candidate pairs and similarities do not depend on how rows are split into partitions
    or band keys into buckets."""
    from dedupe import dask_linking

    rng, rows, cuts, buckets = _layout(seed, 60)
    # Few distinct values, so that band keys collide and pairs exist.
    signatures = rng.integers(0, 3, size=(rows, 8), dtype=np.uint32)
    bounds = sorted({0, rows, *[min(c, rows) for c in cuts]})
    counts = np.diff(bounds).tolist()
    parts = [client.scatter(signatures[a:b], hash=False) for a, b in itertools.pairwise(bounds)]
    here = LocalSignatures(signatures)
    labels = np.arange(rows, dtype=np.int64)
    selected = np.flatnonzero(rng.random(rows) < 0.7)
    pairs = rng.integers(0, max(rows, 1), size=(25 if rows else 0, 2)).astype(np.int64)
    # Both layouts of the shuffle and of verification: small data read whole, large in shares.
    for whole_bytes in (0, dask_linking.WHOLE_SPLITS_BYTES):
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(dask_linking, "WHOLE_SPLITS_BYTES", whole_bytes)
            patch.setattr(dask_linking, "_PAIRS_PER_TASK", 4)
            remote = dask_linking.PartitionedSignatures(client, parts, counts, buckets, 8)
            for chosen in (None, selected):
                for band in range(4):
                    expected = {tuple(p) for p in here.band_pairs(band, 2, labels, chosen).tolist()}
                    found = remote.band_pairs(band, 2, labels, chosen).tolist()
                    assert len(found) == len(expected) and set(map(tuple, found)) == expected
            assert np.array_equal(remote.jaccard(pairs), here.jaccard(pairs))


def test_the_large_data_layout_gives_the_same_output(tmp_path, cluster, monkeypatch):
    """Shares per bucket and two-stage verification, as on data too large to read whole."""
    from dedupe import dask_linking

    monkeypatch.setattr(dask_linking, "WHOLE_SPLITS_BYTES", 0)
    write_dataset(tmp_path / "in", seed=61)
    local, dask = _both(tmp_path, cluster, boilerplate_min_docs=4)
    assert local == dask


def test_workers_with_another_dedupe_are_refused_before_any_work(tmp_path, cluster, monkeypatch):
    import dedupe

    write_dataset(tmp_path / "in", seed=71)
    monkeypatch.setattr(dedupe, "__version__", "0.0.0-driver")
    with pytest.raises(ConfigError, match=r"has dedupe 0\.1\.0, this process 0\.0\.0-driver"):
        scan_path(str(tmp_path / "in"), tmp_path / "o", engine="dask", scheduler=cluster)
    assert not (tmp_path / "o" / "cleaned").exists()


def test_an_id_repeated_inside_a_later_file_names_the_first_file(tmp_path, cluster):
    """The second file's own duplicate-id skip is renamed after the first file's record, as
    one reader going through both files would have named it."""
    (tmp_path / "in").mkdir()
    words = "the quick brown fox jumps over the lazy dog again and again"
    rows = [{"id": "x", "text": f"{words} one"}]
    (tmp_path / "in" / "a.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    rows = [{"id": "x", "text": f"{words} two"}, {"id": "x", "text": f"{words} three"}]
    (tmp_path / "in" / "b.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    local, dask = _both(tmp_path, cluster)
    assert local == dask
    reasons = [s["reason"] for s in json.loads(local["summary.json"])["skipped"]]
    first = str(tmp_path / "in" / "a.jsonl") + ":1"
    assert reasons == [f"duplicate id 'x' (first at {first})"] * 2


@pytest.mark.parametrize("seed", range(16))
def test_components_on_the_cluster_equal_the_drivers(client, seed):
    """Linking with the pairs kept on the workers (star contraction) gives the labels the
    driver's band-by-band merge gives, for any partitioning, buckets and starting components."""
    from dedupe.config import ScanConfig
    from dedupe.core.cluster import connected_components
    from dedupe.dask_linking import PartitionedSignatures
    from dedupe.pipeline import Acceptance, Scanner

    rng, rows, cuts, buckets = _layout(seed, 50)
    level = "paragraph" if seed % 2 else "document"
    signatures = rng.integers(0, 3, size=(rows, 8), dtype=np.uint32)
    # Sizes (documents) or document numbers (paragraphs: same-document pairs never link).
    attrs = np.sort(rng.integers(1, 12, size=rows)).astype(np.int64)
    bounds = sorted({0, rows, *[min(c, rows) for c in cuts]})
    counts = np.diff(bounds).tolist()
    parts = [client.scatter(signatures[a:b], hash=False) for a, b in itertools.pairwise(bounds)]
    attr_parts = [client.scatter(attrs[a:b], hash=False) for a, b in itertools.pairwise(bounds)]
    config = ScanConfig(threshold=0.5, paragraph_threshold=0.5)
    acceptance = Acceptance(config, level)
    start = connected_components(rows, rng.integers(0, max(rows, 1), size=(rows // 5, 2)))
    mask = rng.random(rows) < 0.8
    driver = Scanner(config)
    expected, _, _ = driver.link(
        LocalSignatures(signatures), (4, 2), start, acceptance, attrs, mask
    )
    remote = PartitionedSignatures(client, parts, counts, buckets, 8, attr_parts)
    found, considered, accepted = remote.components((4, 2), start, acceptance, np.flatnonzero(mask))
    assert found.tolist() == expected.tolist()
    assert considered >= accepted >= 0


@pytest.mark.parametrize(
    "options",
    [{"boilerplate_min_docs": 4}, {"measure": "containment", "keep": "longest"}],
    ids=["boilerplate", "containment-longest"],
)
def test_components_on_the_workers_give_the_same_output(tmp_path, cluster, monkeypatch, options):
    """Above the driver's limit the pairs never reach it; clusters, cleaned copies and the
    report are the same. Only summary.json's pair counts differ: they count per band there."""
    from dedupe import dask_engine

    monkeypatch.setattr(dask_engine, "DRIVER_COMPONENT_ROWS", 0)
    write_dataset(tmp_path / "in", seed=81)
    # Copies cut at 53% of their words: below the Jaccard threshold, linked by containment.
    with open(tmp_path / "in" / "a.jsonl", encoding="utf-8") as stream:
        texts = [json.loads(line)["text"] for line in itertools.islice(stream, 8)]
    with open(tmp_path / "in" / "z.jsonl", "w", encoding="utf-8") as stream:
        for number, text in enumerate(texts):
            words = text.split(" ")
            cut = " ".join(words[: int(len(words) * 0.53)])
            stream.write(json.dumps({"id": f"cut-{number}", "text": cut}) + "\n")
    local, dask = _both(tmp_path, cluster, **options)
    assert local.keys() == dask.keys()
    for name in local.keys() - {"summary.json"}:
        assert local[name] == dask[name], name
    here, there = json.loads(local["summary.json"]), json.loads(dask["summary.json"])
    for summary in (here, there):
        summary.pop("candidate_pairs"), summary.pop("verified_pairs")
    assert here == there
    assert here["documents_removed"] > 10 and here["paragraphs_removed"] > 0
    if options.get("measure") == "containment":
        assert here["removed_by_rule"]["containment"] > 0
