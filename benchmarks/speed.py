"""Speed, memory and pair quality of dedupe beside datasketch and rensa, on one shared corpus.

Every tool reads the same JSONL file in a fresh subprocess, so its wall time includes starting
Python, importing the library and parsing the input (what a user waits for), and its peak RSS is
its own: the parent reaps each child with ``os.wait4``, whose rusage belongs to that child and its
own children only (``RUSAGE_CHILDREN`` would report the largest child so far, not this one).

Corpora: the 3,824 NewsArticles of ``corpus.py`` (x1), and x10 / x100 built by adding perturbed
copies of every article: 2-5 % of the words substituted or deleted. One substitution breaks the
five 5-grams that cover it, so a copy keeps about (1 - rate)^5 of its source's 5-grams: 90 % at
2 %, 77 % at 5 %, i.e. Jaccard 0.83 down to 0.63 with its source, and lower with its siblings.
Most copies therefore sit just around or below the 0.8 threshold, where LSH has the most work
deciding and where band choices show in recall.

Quality is scored against an exact ground truth: every pair of documents whose word-5-gram sets
(lowercased ``\\w+`` tokens, a shorter document being one shingle of all its tokens, as in dedupe)
have Jaccard >= threshold, found by a prefix-filtered set-similarity join (AllPairs) and then
counted exactly.

    python benchmarks/speed.py --scales 1,10 --out benchmarks/results/speed.json
    python benchmarks/render_speed.py benchmarks/results/speed.json
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import os
import platform
import random
import re
import shlex
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

I64 = npt.NDArray[np.int64]
F64 = npt.NDArray[np.float64]
Stages = dict[str, float]

if TYPE_CHECKING:
    import argparse

# argparse and importlib.metadata are imported where the parent process uses them: a worker
# (each timed tool's fresh process) imports this module too, and they took 34 ms of its start
# (importlib.metadata alone 28 ms), charged to every tool, a tenth of dedupe's x1 time.

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
CACHE_DIR = HERE / ".cache"
DEFAULT_OUT = HERE / "results" / "speed.json"

TOOLS = (
    "dedupe-docs",
    "dedupe-estimate",
    "dedupe-full",
    "datasketch-loop",
    "datasketch-bulk",
    "rensa",
)
PEERS = ("datasketch-loop", "datasketch-bulk", "rensa")
#: Bumped whenever the scaled corpus changes for a given seed, so a stale cached file is not read.
CORPUS_VERSION = 1
#: Share of a copy's words that are perturbed, drawn per copy (see the module docstring).
PERTURB_RATE = (0.02, 0.05)
#: The per-shingle datasketch loop signs ~40,000 shingles a second (sha1 and a 128-wide numpy
#: update per shingle): about a minute at x1, ten at x10. Beyond this scale it is skipped.
LOOP_MAX_SCALE = 1
#: rensa's RMinHashLSH needs bands dividing num_perm. 16 x 8 gives P(candidate | J=0.8) = 0.947,
#: the divisor closest to dedupe's 18 x 7 (0.95); datasketch chooses 9 x 13 (0.40) by itself.
RENSA_BANDS = 16

#: MinHash with 128 permutations estimates J = 0.8 with a standard error of 0.035, so a true
#: pair within 0.05 of the threshold is missed by any verify-by-estimate step about a quarter of
#: the time or more (half exactly at it). Recall is also reported over pairs with
#: J >= threshold + CLEAR_MARGIN, where a miss is the method's fault, not the estimate's.
CLEAR_MARGIN = 0.05
#: Peers read, shingle and sign this many documents at a time (about 3 MB of news text).
BATCH_DOCS = 1000
#: Seed of rensa's permutations (datasketch and dedupe default to 1 as well).
MINHASH_SEED = 1

_WORD_RE = re.compile(r"\w+")


@dataclasses.dataclass(frozen=True, slots=True)
class Settings:
    """What every tool is asked to do; written into the results as ``config``."""

    threshold: float = 0.8
    num_perm: int = 128
    ngram_words: int = 5
    seed: int = 0
    jobs: int = len(os.sched_getaffinity(0))  # dedupe's default: every core it may use
    rensa_bands: int = RENSA_BANDS
    datasketch_bands: int = 0  # 0: MinHashLSH chooses from the threshold (9 x 13 at 0.8 / 128)
    memory: str | None = None  # dedupe-full's --memory (signatures beyond it in files)


DEFAULTS = Settings()


# --- the corpus ----------------------------------------------------------------------------


def _load_articles() -> list[dict[str, str]]:
    sys.path.insert(0, str(HERE))
    import corpus  # benchmarks/corpus.py: the NewsArticles loader shared by every benchmark

    return corpus.load_news_articles()


def _word_spans(text: str) -> list[tuple[int, int]]:
    return [match.span() for match in _WORD_RE.finditer(text)]


def perturb(
    text: str, spans: Sequence[tuple[int, int]], vocabulary: Sequence[str], rng: random.Random
) -> str:
    """``text`` with a share of PERTURB_RATE of its words substituted by a random vocabulary word
    or deleted (with the whitespace after it), half and half; everything else unchanged.

    >>> perturb("a b c d", [(0, 1), (2, 3), (4, 5), (6, 7)], ["z"], random.Random(3))
    'a z c d'
    """
    if not spans:
        return text
    rate = rng.uniform(*PERTURB_RATE)
    chosen = sorted(rng.sample(range(len(spans)), max(1, round(rate * len(spans)))))
    pieces, cursor = [], 0
    for index in chosen:
        start, end = spans[index]
        pieces.append(text[cursor:start])
        if rng.random() < 0.5:
            pieces.append(rng.choice(vocabulary))
            cursor = end
        else:
            cursor = end
            while cursor < len(text) and text[cursor].isspace():
                cursor += 1
    pieces.append(text[cursor:])
    return "".join(pieces)


def scaled_records(
    articles: Sequence[dict[str, str]], scale: int, seed: int
) -> Iterator[dict[str, str]]:
    """The articles, then ``scale - 1`` rounds of one perturbed copy of each (id ``ID~k``): the
    copies of one article lie a corpus apart, as re-crawls do, not next to their source."""
    yield from ({"id": a["id"], "title": a["title"], "text": a["text"]} for a in articles)
    if scale == 1:
        return
    spans = [_word_spans(a["text"]) for a in articles]
    vocabulary = sorted({w.lower() for a in articles for w in _WORD_RE.findall(a["text"])})
    for copy in range(1, scale):
        for article, article_spans in zip(articles, spans, strict=True):
            rng = random.Random(f"{seed}:{article['id']}:{copy}")
            text = perturb(article["text"], article_spans, vocabulary, rng)
            yield {"id": f"{article['id']}~{copy}", "title": article["title"], "text": text}


def corpus_file(scale: int, seed: int) -> Path:
    """The x``scale`` corpus as JSONL in the cache, written once (atomically) and then reused."""
    path = CACHE_DIR / f"news_x{scale}_seed{seed}_v{CORPUS_VERSION}.jsonl"
    if path.exists():
        return path
    CACHE_DIR.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".partial")
    with partial.open("w", encoding="utf-8") as stream:
        for record in scaled_records(_load_articles(), scale, seed):
            stream.write(json.dumps(record, ensure_ascii=False) + "\n")
    partial.replace(path)
    return path


def read_texts(path: Path) -> tuple[list[str], list[str]]:
    """Ids and texts of a corpus file, in line order (line i is position i everywhere here)."""
    ids, texts = [], []
    with path.open(encoding="utf-8") as stream:
        for line in stream:
            record = json.loads(line)
            ids.append(record["id"])
            texts.append(record["text"])
    return ids, texts


def shingle_set(text: str, ngram_words: int) -> set[str]:
    """Word n-grams of lowercased ``\\w+`` tokens; a shorter text is one shingle of all its
    tokens (as dedupe does, so a three-word text still has a signature); no tokens, no shingles.

    >>> sorted(shingle_set("A b, c!", 2)), shingle_set("Hi there", 5), shingle_set("--", 5)
    (['a b', 'b c'], {'hi there'}, set())
    """
    tokens = _WORD_RE.findall(text.lower())
    if len(tokens) < ngram_words:
        return {" ".join(tokens)} if tokens else set()
    return {" ".join(tokens[i : i + ngram_words]) for i in range(len(tokens) - ngram_words + 1)}


# --- exact ground truth --------------------------------------------------------------------


def _pairs_within_runs(members: I64, run_starts: I64, run_lengths: I64) -> I64:
    """Every pair (a, b) of ``members`` inside each run, as rows; one numpy pass per offset."""
    owner = np.repeat(np.arange(len(run_starts)), run_lengths)
    run_end = (run_starts + run_lengths)[owner]
    slots = np.arange(len(members))
    chunks = []
    for offset in range(1, int(run_lengths.max(initial=1))):
        other = slots + offset
        ok = other < run_end
        if not ok.any():
            break
        chunks.append(np.stack([members[slots[ok]], members[other[ok]]], axis=1))
    return np.concatenate(chunks) if chunks else np.empty((0, 2), dtype=np.int64)


def _prefix_candidates(token_ids: list[I64], threshold: float) -> I64:
    """Pairs (i < j) that share a token in their AllPairs prefixes. With tokens ordered rarest
    first, J(x, y) >= t implies |x & y| >= ceil(t |x|), so x's first |x| - ceil(t |x|) + 1 tokens
    meet y's (Bayardo et al. 2007): no pair at or above the threshold is missed."""
    sizes = np.array([len(t) for t in token_ids], dtype=np.int64)
    doc_of = np.repeat(np.arange(len(token_ids), dtype=np.int64), sizes)
    tokens = np.concatenate(token_ids) if token_ids else np.empty(0, dtype=np.int64)
    counts = np.bincount(tokens)
    rank = np.empty(len(counts), dtype=np.int64)
    rank[np.lexsort((np.arange(len(counts)), counts))] = np.arange(len(counts))
    ranks = rank[tokens]
    order = np.lexsort((ranks, doc_of))
    doc_of, ranks = doc_of[order], ranks[order]
    first = np.cumsum(sizes) - sizes
    position = np.arange(len(ranks)) - first[doc_of]
    # 1e-9 keeps t|x| = 8.0000000001 (0.8 * 10 in floating point) from rounding up to 9.
    prefix = sizes - np.ceil(threshold * sizes - 1e-9).astype(np.int64) + 1
    keep = position < prefix[doc_of]
    by_token = np.lexsort((doc_of[keep], ranks[keep]))
    kept_docs, kept_ranks = doc_of[keep][by_token], ranks[keep][by_token]
    starts = np.flatnonzero(np.r_[True, kept_ranks[1:] != kept_ranks[:-1]])
    lengths = np.diff(np.r_[starts, len(kept_ranks)])
    pairs = _pairs_within_runs(kept_docs, starts, lengths)
    codes = np.unique(pairs[:, 0] * len(token_ids) + pairs[:, 1])
    return np.stack([codes // len(token_ids), codes % len(token_ids)], axis=1)


def exact_pairs(shingle_sets: Sequence[set[str]], threshold: float) -> tuple[I64, F64]:
    """All pairs (i < j) of non-empty sets with exact Jaccard >= ``threshold``, sorted, and
    their Jaccard similarities."""
    vocabulary: dict[str, int] = {}
    token_ids = [
        np.fromiter((vocabulary.setdefault(s, len(vocabulary)) for s in shingles), np.int64)
        for shingles in shingle_sets
    ]
    candidates = _prefix_candidates(token_ids, threshold)
    sizes = np.array([len(t) for t in token_ids], dtype=np.int64)
    small, large = np.sort(sizes[candidates], axis=1).T
    candidates = candidates[small >= threshold * large - 1e-9]  # J <= |small| / |large|
    as_sets: dict[int, frozenset[int]] = {}
    found: list[tuple[int, int, float]] = []
    for a, b in candidates.tolist():
        set_a = as_sets.get(a) or as_sets.setdefault(a, frozenset(token_ids[a].tolist()))
        set_b = as_sets.get(b) or as_sets.setdefault(b, frozenset(token_ids[b].tolist()))
        shared = len(set_a & set_b)
        union = len(set_a) + len(set_b) - shared
        if shared >= threshold * union - 1e-9:
            found.append((a, b, shared / union))
    found.sort()
    pairs = np.array([(a, b) for a, b, _ in found], dtype=np.int64).reshape(-1, 2)
    return pairs, np.array([j for *_, j in found], dtype=np.float64)


@dataclasses.dataclass(frozen=True)
class Truth:
    """The exact answer for one corpus file."""

    pairs: I64  # (i, j), i < j, positions of documents with Jaccard >= threshold
    jaccard: F64  # of each pair
    has_shingles: npt.NDArray[np.bool_]  # per document; the others are not scored

    def summary(self, threshold: float) -> dict[str, Any]:
        """Pairs per Jaccard band: how many lie within MinHash's error of the threshold."""
        edges = [*np.arange(threshold, 1.0, CLEAR_MARGIN).round(4).tolist(), 1.0]
        bands = {
            f"[{lo:.2f}, {hi:.2f})": int(((self.jaccard >= lo) & (self.jaccard < hi)).sum())
            for lo, hi in itertools.pairwise(edges)
        }
        bands["1.0"] = int((self.jaccard >= 1.0).sum())
        return {
            "pairs": len(self.pairs),
            "documents_without_shingles": int((~self.has_shingles).sum()),
            "pairs_by_jaccard": bands,
        }


def truth_for(path: Path, settings: Settings) -> Truth:
    """The exact pairs of a corpus file, cached beside it."""
    cached = path.with_name(f"{path.stem}.truth_t{settings.threshold}_n{settings.ngram_words}.npz")
    if cached.exists():
        with np.load(cached) as saved:
            return Truth(saved["pairs"], saved["jaccard"], saved["has_shingles"])
    _, texts = read_texts(path)
    sets = [shingle_set(text, settings.ngram_words) for text in texts]
    pairs, jaccard = exact_pairs(sets, settings.threshold)
    has_shingles = np.array([bool(s) for s in sets])
    np.savez(cached, pairs=pairs, jaccard=jaccard, has_shingles=has_shingles)
    return Truth(pairs, jaccard, has_shingles)


# --- the tools, each run inside a worker process -------------------------------------------


class Clock:
    """Seconds spent in each named stage, summed over batches, in first-seen order."""

    def __init__(self) -> None:
        self.stages: Stages = {}
        self._last = time.perf_counter()

    def lap(self, stage: str) -> None:
        """Charge the time since the previous lap to ``stage``."""
        now = time.perf_counter()
        self.stages[stage] = round(self.stages.get(stage, 0.0) + now - self._last, 4)
        self._last = now


def _peer_batches(
    path: Path, settings: Settings, clock: Clock
) -> Iterator[tuple[list[int], list[list[str]]]]:
    """(positions, shingle lists) of the documents that have shingles, BATCH_DOCS lines at a
    time, so that a peer holds signatures and its index but never every shingle string at once
    (holding them all took 2.2-3.6 GB at x10). Empty texts are left out, as a user would; dedupe
    skips them as 'empty text'. The consumer must ``lap`` its own stage before the next batch."""
    with path.open(encoding="utf-8") as stream:
        lines = enumerate(stream)
        while chunk := list(itertools.islice(lines, BATCH_DOCS)):
            texts = [(i, json.loads(line)["text"]) for i, line in chunk]
            clock.lap("read")
            shingled = [(i, list(shingle_set(t, settings.ngram_words))) for i, t in texts]
            shingled = [(i, s) for i, s in shingled if s]
            clock.lap("shingle")
            yield [i for i, _ in shingled], [s for _, s in shingled]


def _ordered(pairs: Sequence[tuple[int, int]] | I64) -> I64:
    """Unique pairs as rows (i < j), sorted."""
    array = np.asarray(pairs, dtype=np.int64).reshape(-1, 2)
    return np.unique(np.sort(array, axis=1), axis=0)


def _query_and_verify(
    keys: Sequence[int],
    candidate_lists: Sequence[Sequence[int]],
    similarity: Callable[[int, int], float],
    threshold: float,
) -> tuple[I64, I64]:
    """Candidate pairs (positions, i < j) from each document's LSH query result (indices into
    ``keys``), and those whose MinHash estimate reaches the threshold."""
    candidates, verified = [], []
    for a, found in enumerate(candidate_lists):
        for b in found:
            if b > a:
                pair = (keys[a], keys[b])
                candidates.append(pair)
                if similarity(a, b) >= threshold:
                    verified.append(pair)
    return _ordered(candidates), _ordered(verified)


def run_datasketch(path: Path, settings: Settings, bulk: bool) -> tuple[dict[str, I64], Stages]:
    from datasketch import MinHash, MinHashLSH

    clock = Clock()
    keys: list[int] = []
    minhashes: list[MinHash] = []
    for positions, shingle_lists in _peer_batches(path, settings, clock):
        encoded = [[s.encode("utf-8") for s in shingles] for shingles in shingle_lists]
        clock.lap("encode")
        if bulk:
            minhashes.extend(MinHash.bulk(encoded, num_perm=settings.num_perm))
        else:
            for shingles in encoded:
                minhash = MinHash(num_perm=settings.num_perm)
                for shingle in shingles:
                    minhash.update(shingle)
                minhashes.append(minhash)
        keys.extend(positions)
        clock.lap("sign")
    if settings.datasketch_bands:
        bands = (settings.datasketch_bands, settings.num_perm // settings.datasketch_bands)
        lsh = MinHashLSH(num_perm=settings.num_perm, params=bands)
    else:
        lsh = MinHashLSH(threshold=settings.threshold, num_perm=settings.num_perm)
    if bulk:
        with lsh.insertion_session() as session:
            for key, minhash in enumerate(minhashes):
                session.insert(key, minhash, check_duplication=False)
    else:
        for key, minhash in enumerate(minhashes):
            lsh.insert(key, minhash)
    clock.lap("index")
    found = [lsh.query(minhash) for minhash in minhashes]
    clock.lap("query")
    candidates, verified = _query_and_verify(
        keys, found, lambda a, b: minhashes[a].jaccard(minhashes[b]), settings.threshold
    )
    clock.lap("verify")
    return {"candidates": candidates, "verified": verified}, clock.stages


def run_rensa(path: Path, settings: Settings) -> tuple[dict[str, I64], Stages]:
    from rensa import RMinHash, RMinHashLSH

    clock = Clock()
    keys: list[int] = []
    minhashes: list[RMinHash] = []
    for positions, shingle_lists in _peer_batches(path, settings, clock):
        batch = RMinHash.from_token_sets(
            shingle_lists, num_perm=settings.num_perm, seed=MINHASH_SEED
        )
        minhashes.extend(batch)
        keys.extend(positions)
        clock.lap("sign")
    lsh = RMinHashLSH(settings.threshold, settings.num_perm, settings.rensa_bands)
    lsh.insert_many(minhashes, 0)
    clock.lap("index")
    found = lsh.query_all(minhashes)
    clock.lap("query")
    candidates, verified = _query_and_verify(
        keys, found, lambda a, b: minhashes[a].jaccard(minhashes[b]), settings.threshold
    )
    clock.lap("verify")
    return {"candidates": candidates, "verified": verified}, clock.stages


def _cluster_arrays(
    clusters: Sequence[tuple[str, list[str]]], position: dict[str, int]
) -> dict[str, I64]:
    """Document clusters as arrays: ``members`` (positions), ``cluster`` (index of each member's
    cluster) and ``keeper`` (the position each member is kept as)."""
    members, cluster, keeper = [], [], []
    for index, (keep, ids) in enumerate(clusters):
        for doc_id in ids:
            members.append(position[doc_id])
            cluster.append(index)
            keeper.append(position[keep])
    return {
        "members": np.array(members, dtype=np.int64),
        "cluster": np.array(cluster, dtype=np.int64),
        "keeper": np.array(keeper, dtype=np.int64),
    }


def run_dedupe_docs(
    path: Path, settings: Settings, verify: str = "auto"
) -> tuple[dict[str, I64], Stages]:
    """Documents only, at dedupe's defaults (``verify="auto"``: candidates decided on exact
    shingle sets); ``verify="estimate"`` (the ``dedupe-estimate`` tool) decides them on the
    signatures, as the peers do."""
    import dedupe

    clock = Clock()
    ids: list[str] = []

    def records() -> Iterator[dict[str, Any]]:
        with path.open(encoding="utf-8") as stream:
            for line in stream:
                record = json.loads(line)
                ids.append(record["id"])
                yield record

    result = dedupe.scan(
        records(),
        threshold=settings.threshold,
        num_perm=settings.num_perm,
        shingle=f"word:{settings.ngram_words}",
        paragraphs=False,
        verify=verify,
        jobs=settings.jobs,
    )
    clock.lap("read+scan")
    position = {doc_id: i for i, doc_id in enumerate(ids)}
    clusters = [
        (c.keep.doc_id, [m.doc_id for m in c.members])
        for c in result.clusters
        if c.level == "document"
    ]
    return _cluster_arrays(clusters, position), clock.stages


def _worker(argv: Sequence[str]) -> int:
    """``speed.py worker TOOL CORPUS RESULT.npz SETTINGS_JSON``: run one tool, save its pairs."""
    tool, corpus_path, result_path, settings_json = argv
    settings = Settings(**json.loads(settings_json))
    started = time.perf_counter()
    if tool in ("dedupe-docs", "dedupe-estimate"):
        verify = "estimate" if tool == "dedupe-estimate" else "auto"
        arrays, stages = run_dedupe_docs(Path(corpus_path), settings, verify)
    elif tool in ("datasketch-loop", "datasketch-bulk"):
        arrays, stages = run_datasketch(Path(corpus_path), settings, bulk=tool == "datasketch-bulk")
    elif tool == "rensa":
        arrays, stages = run_rensa(Path(corpus_path), settings)
    else:
        raise SystemExit(f"unknown tool {tool!r}; choose from {', '.join(TOOLS)}")
    stages["total_in_worker"] = round(time.perf_counter() - started, 4)
    saved: dict[str, Any] = arrays
    np.savez(result_path, **saved)
    Path(result_path).with_suffix(".json").write_text(json.dumps(stages))
    return 0


# --- the harness ---------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True, slots=True)
class Measured:
    seconds: float
    cpu_seconds: float
    peak_rss_mb: float
    peak_anon_mb: float | None  # None where /proc cannot tell
    returncode: int | None  # None: killed at the timeout
    stderr_tail: str


#: Anonymous memory is sampled this often (the peak between two samples can be missed). Reading
#: smaps_rollup walks the process's page tables under its memory-map lock: every 0.2 s it slowed
#: the x10 full scan by 2-4 %, so timed runs are sampled only every LONG_SAMPLE_S (well under
#: 1 %), which is the peak reported for runs longer than LONG_RUN_S; a shorter one gets one more,
#: untimed run sampled every ANON_SAMPLE_S.
ANON_SAMPLE_S = 0.1
LONG_RUN_S = 60.0
LONG_SAMPLE_S = 2.0


def _tree(pid: int) -> list[int]:
    """``pid`` and every process under it, children of any of their threads (Linux /proc)."""
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        try:
            for task in os.listdir(f"/proc/{current}/task"):
                with open(f"/proc/{current}/task/{task}/children", encoding="ascii") as children:
                    todo += [int(child) for child in children.read().split()]
        except (OSError, ValueError):
            continue  # it ended between two reads
    return found


def _status_kib(pid: int, field: str) -> int | None:
    """A ``field:`` of ``/proc/PID/smaps_rollup`` or ``/proc/PID/status`` (by its name), KiB."""
    source = "smaps_rollup" if field.startswith("Pss") else "status"
    try:
        with open(f"/proc/{pid}/{source}", encoding="ascii") as status:
            for line in status:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except (OSError, ValueError):
        pass  # it ended meanwhile
    return None


def _anon_kib(pid: int) -> int | None:
    """Proportional anonymous memory (Pss_Anon: a page shared by forked workers counts once in
    all) of ``pid`` and all its descendants, in KiB (Linux /proc), or None."""
    found = [_status_kib(p, "Pss_Anon") for p in _tree(pid)]
    held = [kib for kib in found if kib is not None]
    return sum(held) if held else None


def _hwm_kib(pid: int) -> int | None:
    """The largest peak resident set (VmHWM) of ``pid`` and its descendants so far, in KiB, or
    None. What ``ru_maxrss`` was meant to give: a child's ``ru_maxrss`` starts at its parent's
    resident set when it was forked (Linux keeps it across exec), so every tool started by a
    harness of 615 MB reported 615 MB, /bin/true included."""
    found = [_status_kib(p, "VmHWM") for p in _tree(pid)]
    held = [kib for kib in found if kib is not None]
    return max(held) if held else None


#: The tool's peak resident sets are read this often (a high-water mark: only its growth in the
#: last interval before it ends can be missed).
HWM_SAMPLE_S = 0.05


def measure(
    command: Sequence[str],
    timeout_s: float,
    log: Path,
    env: dict[str, str],
    sample_s: float | None = None,
) -> Measured:
    """Run ``command`` and reap it with wait4: wall time, CPU time and peak RSS of that child
    (the largest peak resident set, VmHWM, of it or any of its own children, read every
    HWM_SAMPLE_S; ru_maxrss where /proc cannot tell, which counts this harness's own resident
    set at the fork), and the
    peak of its anonymous memory summed with its children's (proportional: what forked workers
    share counts once), sampled every ``sample_s`` (None: not sampled). RSS
    also counts the pages of files a tool maps (spilled signatures, spooled shingle sets),
    which the kernel keeps while memory is plentiful and drops under pressure; anonymous memory
    is what the tool holds itself."""
    with log.open("wb") as stream:
        started = time.perf_counter()
        # A session of its own, so a timeout also ends the workers a tool may have started.
        process = subprocess.Popen(
            command, stdout=stream, stderr=stream, env=env, start_new_session=True
        )
        pid, status, usage = os.wait4(process.pid, os.WNOHANG)
        peak_anon: int | None = None
        peak_hwm: int | None = None
        sampled = hwm_read = 0.0
        while pid == 0:
            now = time.perf_counter()
            if now - started > timeout_s:
                os.killpg(process.pid, signal.SIGKILL)
                pid, status, usage = os.wait4(process.pid, 0)
                break
            if sample_s is not None and now - sampled >= sample_s:
                anon = _anon_kib(process.pid)
                if anon is not None:
                    peak_anon = max(peak_anon or 0, anon)
                sampled = now
            if now - hwm_read >= HWM_SAMPLE_S:
                hwm = _hwm_kib(process.pid)
                if hwm is not None:
                    peak_hwm = max(peak_hwm or 0, hwm)
                hwm_read = now
            time.sleep(0.01)  # 10 ms polling: at most 1 % of a 1 s run
            pid, status, usage = os.wait4(process.pid, os.WNOHANG)
        seconds = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)  # reaped here, not by Popen
    timed_out = seconds > timeout_s
    return Measured(
        seconds=round(seconds, 3),
        cpu_seconds=round(usage.ru_utime + usage.ru_stime, 3),
        peak_rss_mb=round((usage.ru_maxrss if peak_hwm is None else peak_hwm) / 1024, 1),
        peak_anon_mb=None if peak_anon is None else round(peak_anon / 1024, 1),
        returncode=None if timed_out else process.returncode,
        stderr_tail=log.read_text(errors="replace")[-2000:],
    )


def measure_repeated(
    command: Sequence[str], options: argparse.Namespace, log: Path, env: dict[str, str]
) -> tuple[Measured, list[float]]:
    """The median of ``options.repeats`` runs (the first failure, if any) and every run's time.
    Peak RSS does not vary between runs of the same input by more than a few MB. Peak anonymous
    memory: see ANON_SAMPLE_S."""
    runs: list[Measured] = []
    for _ in range(options.repeats):
        runs.append(measure(command, options.timeout, log, env, LONG_SAMPLE_S))
        if runs[-1].returncode != 0:
            return runs[-1], [m.seconds for m in runs]
    ordered = sorted(runs, key=lambda m: m.seconds)
    median = ordered[(len(ordered) - 1) // 2]
    anon = max((m.peak_anon_mb for m in runs if m.peak_anon_mb is not None), default=None)
    if median.seconds <= LONG_RUN_S:
        anon = measure(command, options.timeout, log, env, ANON_SAMPLE_S).peak_anon_mb
    return dataclasses.replace(median, peak_anon_mb=anon), [m.seconds for m in runs]


def _dedupe_command() -> list[str]:
    script = Path(sys.executable).parent / "dedupe"
    return [str(script)] if script.exists() else [sys.executable, "-m", "dedupe"]


def tool_command(tool: str, corpus: Path, work: Path, settings: Settings) -> list[str]:
    if tool == "dedupe-full":
        return [
            *_dedupe_command(),
            "scan",
            str(corpus),
            "--out",
            str(work / "dedupe-full"),
            "--threshold",
            str(settings.threshold),
            "--num-perm",
            str(settings.num_perm),
            "--shingle",
            f"word:{settings.ngram_words}",
            "--jobs",
            str(settings.jobs),
            "--quiet",
            *(["--memory", settings.memory] if settings.memory else []),
        ]
    settings_json = json.dumps(dataclasses.asdict(settings))
    return [sys.executable, str(Path(__file__).resolve()), "worker", tool, str(corpus),
            str(work / f"{tool}.npz"), settings_json]  # fmt: skip


def installed(tool: str) -> str | None:
    """The reason a tool cannot run here, or None."""
    module = {"datasketch-loop": "datasketch", "datasketch-bulk": "datasketch", "rensa": "rensa"}
    name = module.get(tool, "dedupe")
    import importlib.metadata

    try:
        importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return f"not installed ({name}; pip install {name})"
    return None


def _dedupe_full_arrays(out_dir: Path, position: dict[str, int]) -> dict[str, I64]:
    clusters = []
    with (out_dir / "clusters.jsonl").open(encoding="utf-8") as stream:
        for line in stream:
            cluster = json.loads(line)
            if cluster["level"] == "document":
                ids = [m["doc_id"] for m in cluster["members"]]
                clusters.append((cluster["keep"]["doc_id"], ids))
    return _cluster_arrays(clusters, position)


# --- scoring -------------------------------------------------------------------------------


def cluster_pairs(arrays: dict[str, I64]) -> I64:
    """Every pair of documents inside one cluster (what 'these are duplicates' claims)."""
    members, cluster = arrays["members"], arrays["cluster"]
    if len(members) == 0:
        return np.empty((0, 2), dtype=np.int64)
    order = np.lexsort((members, cluster))
    members, cluster = members[order], cluster[order]
    starts = np.flatnonzero(np.r_[True, cluster[1:] != cluster[:-1]])
    lengths = np.diff(np.r_[starts, len(cluster)])
    return _ordered(_pairs_within_runs(members, starts, lengths))


def keeper_pairs(arrays: dict[str, I64]) -> I64:
    """Each removed member with the document it is removed in favour of."""
    others = arrays["members"] != arrays["keeper"]
    pairs = np.stack([arrays["members"][others], arrays["keeper"][others]], axis=1)
    return _ordered(pairs)


def _ratio(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def score(predicted: I64, truth: Truth, threshold: float) -> dict[str, Any]:
    """Pair recall and precision; pairs with a document without shingles are not scored.
    ``recall_clear``: recall over the true pairs at J >= threshold + CLEAR_MARGIN."""
    if len(predicted):
        predicted = predicted[truth.has_shingles[predicted].all(axis=1)]
    size = len(truth.has_shingles)
    found = np.isin(truth.pairs @ [size, 1], predicted @ [size, 1])
    clear = truth.jaccard >= threshold + CLEAR_MARGIN - 1e-9
    return {
        "pairs": len(predicted),
        "true_pairs": len(truth.pairs),
        "recall": _ratio(int(found.sum()), len(truth.pairs)),
        "precision": _ratio(int(found.sum()), len(predicted)),
        "recall_clear": _ratio(int(found[clear].sum()), int(clear.sum())),
    }


def quality(tool: str, arrays: dict[str, I64], truth: Truth, threshold: float) -> dict[str, Any]:
    """Headline recall/precision plus every variant, named for what it counts."""
    if tool.startswith("dedupe"):
        variants = {
            "cluster_pairs": score(cluster_pairs(arrays), truth, threshold),
            "keeper_pairs": score(keeper_pairs(arrays), truth, threshold),
        }
        headline = "cluster_pairs"
    else:
        variants = {
            "verified": score(arrays["verified"], truth, threshold),
            "lsh_candidates": score(arrays["candidates"], truth, threshold),
        }
        headline = "verified"
    return {**variants[headline], "scored_as": headline, "variants": variants}


# --- one scale, the machine, the command ---------------------------------------------------


def corpus_size(path: Path) -> tuple[int, float]:
    """Documents and MB (10^6 bytes) of UTF-8 text in the text field."""
    docs, text_bytes = 0, 0
    with path.open(encoding="utf-8") as stream:
        for line in stream:
            docs += 1
            text_bytes += len(json.loads(line)["text"].encode("utf-8"))
    return docs, text_bytes / 1e6


def skip_reason(tool: str, scale: int, run_all: bool) -> str | None:
    if tool == "datasketch-loop" and scale > LOOP_MAX_SCALE and not run_all:
        return (
            f"skipped above x{LOOP_MAX_SCALE} (about 10x the x1 time per 10x data; --all runs it)"
        )
    return installed(tool)


def tool_environment(settings: Settings) -> dict[str, str]:
    """The environment every tool runs in: rensa's threads set to ``jobs``, and Python's
    bytecode cache allowed, as on a user's machine. Where PYTHONDONTWRITEBYTECODE is set (this
    sandbox sets it), an editable install such as dedupe's here would compile its own modules
    from source at every start (~40 ms of the x1 document scan's ~0.5 s) while the peers,
    installed from wheels, load theirs compiled; the first run of each tool writes the cache."""
    env = {**os.environ, "RAYON_NUM_THREADS": str(settings.jobs)}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


def run_scale(
    scale: int, tools: Sequence[str], options: argparse.Namespace, settings: Settings
) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
    """One row per tool, and the exact truth's summary where this scale is scored."""
    path = corpus_file(scale, settings.seed)
    docs, mb = corpus_size(path)
    work = CACHE_DIR / "speed-work" / f"x{scale}"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    env = tool_environment(settings)
    rows, outputs = [], {}
    for tool in tools:
        row: dict[str, Any] = {"tool": tool, "scale": scale, "docs": docs, "mb": round(mb, 2)}
        reason = skip_reason(tool, scale, options.all)
        if reason is not None:
            rows.append({**row, "note": reason})
            print(f"x{scale} {tool}: {reason}", file=sys.stderr)
            continue
        command = tool_command(tool, path, work, settings)
        measured, runs = measure_repeated(command, options, work / f"{tool}.log", env)
        row.update(
            seconds=measured.seconds,
            runs_s=runs,
            docs_per_s=round(docs / measured.seconds),
            mb_per_s=round(mb / measured.seconds, 2),
            peak_rss_mb=measured.peak_rss_mb,
            peak_anon_mb=measured.peak_anon_mb,
            cpu_seconds=measured.cpu_seconds,
            command=shlex.join(command),
        )
        if measured.returncode != 0:
            what = "timed out" if measured.returncode is None else f"exit {measured.returncode}"
            row = {k: row[k] for k in ("tool", "scale", "docs", "mb", "command")}
            rows.append(
                {**row, "note": f"{what} after {measured.seconds} s: {measured.stderr_tail[-300:]}"}
            )
            print(f"x{scale} {tool}: {rows[-1]['note']}", file=sys.stderr)
            continue
        stages_file = work / f"{tool}.json"
        if stages_file.exists():
            row["stages_s"] = json.loads(stages_file.read_text())
        rows.append(row)
        outputs[tool] = work / (tool if tool == "dedupe-full" else f"{tool}.npz")
        print(
            f"x{scale} {tool}: {measured.seconds:.2f} s, {measured.peak_rss_mb:.0f} MB RSS, "
            f"{measured.peak_anon_mb or 0:.0f} MB anonymous",
            file=sys.stderr,
        )
    _add_ratios(rows)
    if scale not in options.recall_scales:
        return rows, None
    return rows, _add_quality(rows, outputs, path, settings)


def _add_ratios(rows: list[dict[str, Any]]) -> None:
    base = next((r.get("seconds") for r in rows if r["tool"] == "dedupe-docs"), None)
    for row in rows:
        if base and "seconds" in row:
            row["ratio_to_dedupe_docs"] = round(row["seconds"] / base, 2)


def _add_quality(
    rows: list[dict[str, Any]], outputs: dict[str, Path], path: Path, settings: Settings
) -> dict[str, Any]:
    started = time.perf_counter()
    truth = truth_for(path, settings)
    ids, _ = read_texts(path)
    position = {doc_id: i for i, doc_id in enumerate(ids)}
    print(
        f"  exact truth: {len(truth.pairs)} pairs in {time.perf_counter() - started:.1f} s",
        file=sys.stderr,
    )
    for row in rows:
        if row["tool"] not in outputs:
            continue
        if row["tool"] == "dedupe-full":
            arrays = _dedupe_full_arrays(outputs["dedupe-full"], position)
        else:
            with np.load(outputs[row["tool"]]) as saved:
                arrays = {key: saved[key] for key in saved.files}
        row.update(quality(row["tool"], arrays, truth, settings.threshold))
    return truth.summary(settings.threshold)


def machine() -> dict[str, Any]:
    cpu = platform.processor()
    memory_gb = None
    try:
        cpuinfo = Path("/proc/cpuinfo").read_text()
        cpu = next(
            line.split(":", 1)[1].strip()
            for line in cpuinfo.splitlines()
            if line.startswith("model name")
        )
        meminfo = Path("/proc/meminfo").read_text().split()
        memory_gb = round(int(meminfo[meminfo.index("MemTotal:") + 1]) / 1024**2, 1)
    except (OSError, StopIteration, ValueError):
        pass
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "cores_usable": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "memory_gb": memory_gb,
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
        "python": platform.python_version(),
        "platform": platform.platform(),
        "dedupe_command_numpy": _command_numpy(),
    }


def _command_numpy() -> str:
    """How the ``dedupe`` command (dedupe-full) starts numpy here: the CPU features it turns
    off (:mod:`dedupe.simd`) or the user's own setting. The library tools run in this process's
    numpy, imported before dedupe."""
    given = os.environ.get("NPY_DISABLE_CPU_FEATURES")
    if given is not None:
        return f"NPY_DISABLE_CPU_FEATURES={given!r} (set by the caller)"
    try:
        from dedupe.simd import prefer_fast_sort
    except ImportError:  # a dedupe from before it
        return "all of numpy's SIMD paths"
    # What the command sets, asked of a copy of this environment, before numpy (for the command
    # a fresh process) is imported.
    off = prefer_fast_sort(dict(os.environ), modules={})
    return (
        "all of numpy's SIMD paths"
        if off is None
        else f"AVX2 sort (NPY_DISABLE_CPU_FEATURES={off!r})"
    )


def versions() -> dict[str, str | None]:
    import importlib.metadata

    found: dict[str, str | None] = {}
    for name in ("dedupe", "datasketch", "rensa", "numpy", "xxhash"):
        try:
            found[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            found[name] = None
    try:
        commit = subprocess.run(
            ["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(REPO), "status", "--porcelain", "--", "src"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        found["dedupe_commit"] = commit + ("+uncommitted src changes" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        found["dedupe_commit"] = None
    return found


def _config(settings: Settings, options: argparse.Namespace) -> dict[str, Any]:
    return {
        **dataclasses.asdict(settings),
        "shingles": f"word {settings.ngram_words}-grams of lowercased \\w+ tokens (dedupe: its own "
        "NFKC + casefold tokens, the same on this corpus save for rare non-ASCII text)",
        "perturb_rate": list(PERTURB_RATE),
        "corpus_version": CORPUS_VERSION,
        "timeout_s": options.timeout,
        "repeats": options.repeats,
        "recall_scales": sorted(options.recall_scales),
        "datasketch_lsh": (
            f"MinHashLSH(num_perm, params=({settings.datasketch_bands}, "
            f"{settings.num_perm // max(settings.datasketch_bands, 1)}))"
            if settings.datasketch_bands
            else "MinHashLSH(threshold, num_perm) picks its own bands (9 x 13 at 0.8 / 128)"
        ),
        "rensa_lsh": f"RMinHashLSH(threshold, num_perm, num_bands={settings.rensa_bands})",
        "dedupe_lsh": "ScanConfig defaults: bands reaching P(candidate | J=threshold) >= 0.95",
        "dedupe_verify": "dedupe-docs and dedupe-full: the default (auto: exact Jaccard of the "
        "shingle sets); dedupe-estimate: --verify estimate",
        "parallelism": f"jobs={settings.jobs}: dedupe's --jobs and rensa's RAYON_NUM_THREADS; "
        "datasketch and the peers' Python shingling run on one core",
        "timing": "wall seconds of a fresh subprocess: interpreter start, imports, reading the "
        "JSONL, signing, LSH, verification; stages_s is the worker's own split",
        "memory": f"peak RSS (the largest VmHWM of the tool's processes, read every "
        f"{HWM_SAMPLE_S} s; mapped file pages included) of the timed runs; peak "
        f"anonymous memory (Pss_Anon of the tool and its workers) from one more, untimed run "
        f"sampled every {ANON_SAMPLE_S} s, or, where a run takes over {LONG_RUN_S:.0f} s, from "
        f"the timed runs sampled every {LONG_SAMPLE_S} s",
        "quality": "pairs vs exact Jaccard >= threshold; peers' headline = LSH candidates kept by "
        "MinHash estimate >= threshold ('verified'); dedupe's = every pair inside a document "
        "cluster (variants.keeper_pairs: each removed document with the one kept in its "
        "place); documents without shingles are not scored",
    }


def write_json(path: Path, data: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".json.tmp")
    partial.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    partial.replace(path)


def _int_list(text: str) -> list[int]:
    return [int(x) for x in text.split(",") if x]


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    import argparse

    parser = argparse.ArgumentParser(description="Time dedupe against datasketch and rensa.")
    parser.add_argument("--scales", type=_int_list, default=[1, 10, 100], help="e.g. 1,10,100")
    parser.add_argument("--tools", default=",".join(TOOLS), help=f"from {', '.join(TOOLS)}")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--threshold", type=float, default=DEFAULTS.threshold)
    parser.add_argument("--num-perm", type=int, default=DEFAULTS.num_perm)
    parser.add_argument("--ngram-words", type=int, default=DEFAULTS.ngram_words)
    parser.add_argument("--seed", type=int, default=DEFAULTS.seed, help="corpus perturbations")
    parser.add_argument(
        "--jobs", type=int, default=DEFAULTS.jobs, help="dedupe jobs, rayon threads"
    )
    parser.add_argument(
        "--memory", default=None, help="dedupe-full's --memory (e.g. 512M; default: none)"
    )
    parser.add_argument("--rensa-bands", type=int, default=RENSA_BANDS)
    parser.add_argument(
        "--datasketch-bands", type=int, default=0, help="0: MinHashLSH chooses from --threshold"
    )
    parser.add_argument("--recall-scales", type=_int_list, default=[1, 10], help="scales scored")
    parser.add_argument("--timeout", type=float, default=1800.0, help="seconds per tool run")
    parser.add_argument("--repeats", type=int, default=1, help="runs per tool; median kept")
    parser.add_argument("--all", action="store_true", help="run datasketch-loop at every scale")
    options = parser.parse_args(argv)
    options.tools = [t for t in options.tools.split(",") if t]
    unknown = sorted(set(options.tools) - set(TOOLS))
    if unknown:
        parser.error(f"unknown tools {unknown}; choose from {', '.join(TOOLS)}")
    return options


def main(argv: Sequence[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] == "worker":
        return _worker(argv[1:])
    options = parse_args(argv)
    settings = Settings(
        threshold=options.threshold,
        num_perm=options.num_perm,
        ngram_words=options.ngram_words,
        seed=options.seed,
        jobs=options.jobs,
        rensa_bands=options.rensa_bands,
        datasketch_bands=options.datasketch_bands,
        memory=options.memory,
    )
    started = time.perf_counter()
    report: dict[str, Any] = {
        "command": shlex.join(["python", *sys.argv]),
        "machine": machine(),
        "versions": versions(),
        "config": _config(settings, options),
        "truth": {},
        "results": [],
    }
    for scale in options.scales:
        rows, truth = run_scale(scale, options.tools, options, settings)
        report["results"].extend(rows)
        if truth is not None:
            report["truth"][f"x{scale}"] = truth
        report["total_seconds"] = round(time.perf_counter() - started, 1)
        write_json(options.out, report)  # after every scale, so a long run leaves what it has
    print(f"wrote {options.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
