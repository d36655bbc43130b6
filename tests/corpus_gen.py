"""A seeded generator of article-like corpora with planted near-duplicates, for index tests."""

from __future__ import annotations

import random

from tests.strategies import WORDS


def article(rng: random.Random, paragraphs: int = 4) -> str:
    paras = []
    for _ in range(paragraphs):
        words = [rng.choice(WORDS) for _ in range(rng.randint(15, 40))]
        paras.append(" ".join(words).capitalize() + ".")
    return "\n\n".join(paras)


def edited(rng: random.Random, text: str, edits: int) -> str:
    """``text`` with ``edits`` words replaced (a light edit: Jaccard stays high)."""
    words = text.split(" ")
    for _ in range(edits):
        words[rng.randrange(len(words))] = rng.choice(WORDS)
    return " ".join(words)


def corpus(seed: int, originals: int = 60, copies: int = 40) -> list[tuple[str, str]]:
    """``originals`` distinct articles and ``copies`` planted copies (exact, lightly edited,
    with a repeated paragraph, heavily edited), shuffled so copies come after or before."""
    rng = random.Random(seed)
    docs = [(f"o{i}", article(rng)) for i in range(originals)]
    for j in range(copies):
        _, source = rng.choice(docs[:originals])
        kind = j % 4
        if kind == 0:
            text = source
        elif kind == 1:
            text = edited(rng, source, 2)
        elif kind == 2:
            first = source.split("\n\n")[0]
            text = source + "\n\n" + first  # a repeated paragraph, removed before signing
        else:
            text = edited(rng, source, 25)  # far edited: usually below the threshold
        docs.append((f"c{j}", text))
    rng.shuffle(docs)
    return docs
