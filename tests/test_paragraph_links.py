"""Paragraph linking on one paragraph per group of equal ones gives the clusters of linking them
all (``pipeline.paragraph_representatives``)."""

from __future__ import annotations

import random

import numpy as np
import pytest

import dedupe.pipeline as pipeline
from dedupe import scan
from dedupe.core import lsh


def _pool(rng: random.Random, size: int) -> list[str]:
    vocabulary = [f"w{i}" for i in range(400)]
    lengths = [rng.randint(12, 30) for _ in range(size)]
    return [" ".join(rng.choice(vocabulary) for _ in range(n)) for n in lengths]


def _edited(rng: random.Random, paragraph: str) -> str:
    """A few words changed: some variants lie near the threshold, where the exact sets that
    decide repeats inside a document and the signatures that decide them across documents
    can disagree."""
    words = paragraph.split()
    for _ in range(rng.randint(1, 4)):
        words[rng.randrange(len(words))] = f"x{rng.randrange(1000)}"
    return " ".join(words)


def _corpus(seed: int) -> list[tuple[str, str]]:
    """Documents made of a few shared paragraphs, many of them word for word (also twice in one
    document), some with a word changed."""
    rng = random.Random(seed)
    pool = _pool(rng, 8)
    docs = []
    for i in range(24):
        paragraphs = []
        for _ in range(rng.randint(2, 6)):
            paragraph = rng.choice(pool)
            paragraphs.append(paragraph)
            if rng.random() < 0.4:
                paragraphs.append(_edited(rng, paragraph))
        docs.append((f"d{i}", "\n\n".join(paragraphs)))
    return docs


def _every_paragraph(
    equal: np.ndarray, labels: np.ndarray, e_doc: np.ndarray, alive: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    return np.asarray(alive, dtype=np.bool_), np.asarray(e_doc, dtype=np.int64)


def _paragraph_clusters(docs: list[tuple[str, str]]) -> list[tuple]:
    result = scan(docs, paragraph_threshold=0.6)
    clusters = [c for c in result.clusters if c.level == "paragraph"]
    return [
        (c.keep.doc_id, [(m.doc_id, m.paragraph, m.similarity) for m in c.members])
        for c in clusters
    ]


@pytest.mark.parametrize("seed", range(40))
def test_representatives_link_what_every_paragraph_links(seed, monkeypatch):
    # Every paragraph linked makes buckets of 20 and more rows here, where a row left out by
    # the head is tried against its neighbours only (lsh.LOOSE_ALL_PAIRS): the equality holds
    # where buckets are linked whole.
    monkeypatch.setattr(lsh, "LOOSE_ALL_PAIRS", lsh.MAX_BUCKET_PAIRS)
    docs = _corpus(seed)
    grouped = _paragraph_clusters(docs)
    assert grouped, "the corpus repeats paragraphs across documents"
    monkeypatch.setattr(pipeline, "paragraph_representatives", _every_paragraph)
    assert _paragraph_clusters(docs) == grouped
