"""A small labelled corpus generated from a seed: no download, the same bytes on every machine.

Articles are 8-20 sentences of 8-24 pseudo-words drawn from a Zipf-like vocabulary (word rank r
has weight 1/r**1.07, the slope of English text), with one sentence in ten drawn instead from a
Zipf-weighted pool of stock sentences (the "did not respond to requests for comment" of real news),
so unrelated articles share a little text as real ones do. Each source article gets one copy at a
graded difficulty, as ``benchmarks/corpus.py`` makes them from real news:

    exact       the same text
    light       quotes and apostrophes re-typeset, whitespace re-flowed, a site header/footer
    moderate    light after 2-4 typos and one sentence added (from another article) or dropped
    truncated   moderate's edits, then cut after 55-70 % of the sentences

Word-5-gram Jaccard with the source (seed 0, 800 sources): light 0.85-1.0, moderate 0.54-0.92
(median 0.77; article length was chosen to put them around the default threshold, as on the
labelled news), truncated 0.24-0.69, siblings 0.02-0.29.

Hard negatives are "sibling" articles on the same story: a new article that reuses 20-45 % of a
source's sentences. Pairs ``(id_a, id_b, kind)`` label copies with their difficulty and siblings
with ``"sibling"`` (not duplicates).
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass

DIFFICULTIES = ("exact", "light", "moderate", "truncated")
SIBLING = "sibling"

_SYLLABLE_TEXT = (
    "ka ro mi ta le su ven dor pa li an ter os bel ni co ra ust ed mon har vi gel to "
    "pri sal den um fa ri lo nar es quin bo tel ma ga wen"
)
_SYLLABLES = tuple(_SYLLABLE_TEXT.split())
_SITES = ("Daily Ledger", "Metro Wire", "Global Herald", "Example News")


@dataclass(frozen=True)
class Corpus:
    """Records (``{"id", "text"}``) in scan order and the labelled pairs."""

    records: list[dict[str, str]]
    pairs: list[tuple[str, str, str]]

    def labels(self) -> list[tuple[str, str, bool]]:
        """The pairs as ``dedupe tune`` takes them: copies are duplicates, siblings are not."""
        return [(a, b, kind != SIBLING) for a, b, kind in self.pairs]


class _Writer:
    """Sentences and articles from one seeded random stream."""

    def __init__(self, rng: random.Random, vocabulary: int = 3000, stock: int = 200) -> None:
        self.rng = rng
        words: list[str] = []
        seen: set[str] = set()
        while len(words) < vocabulary:
            word = "".join(rng.choice(_SYLLABLES) for _ in range(rng.choice((1, 2, 2, 3, 3, 4))))
            if word not in seen:
                seen.add(word)
                words.append(word)
        self.words = words
        self.word_weights = [1.0 / (rank + 1) ** 1.07 for rank in range(vocabulary)]
        self.stock = [self.sentence() for _ in range(stock)]
        self.stock_weights = [1.0 / (rank + 1) for rank in range(stock)]

    def sentence(self) -> str:
        count = self.rng.randint(8, 24)
        words = self.rng.choices(self.words, self.word_weights, k=count)
        if self.rng.random() < 0.3:  # a quotation, so that quote styles have work to do
            at = self.rng.randrange(1, count - 2)
            words[at] = '"' + words[at]
            words[at + 2] = words[at + 2] + '"'
        if self.rng.random() < 0.3:
            at = self.rng.randrange(count)
            words[at] = words[at] + "'s"
        text = " ".join(words)
        return text[0].upper() + text[1:] + "."

    def article_sentences(self) -> list[str]:
        out = []
        for _ in range(self.rng.randint(8, 20)):
            if self.rng.random() < 0.1:
                out.append(self.rng.choices(self.stock, self.stock_weights)[0])
            else:
                out.append(self.sentence())
        return out


def _paragraphs(sentences: list[str], rng: random.Random) -> str:
    paragraphs, at = [], 0
    while at < len(sentences):
        size = rng.choice((1, 2, 3))
        paragraphs.append(" ".join(sentences[at : at + size]))
        at += size
    return "\n\n".join(paragraphs)


def _requote(text: str, rng: random.Random) -> str:
    style = rng.choice(("curly", "mojibake", "single"))
    if style == "curly":
        text = re.sub(r'"(\w)', "\u201c\\1", text).replace('"', "\u201d")
        return text.replace("'", "\u2019")
    if style == "mojibake":
        return text.replace("'s", '"s').replace('" ', '"?')
    return text.replace('"', "'")


def _reflow(text: str, rng: random.Random) -> str:
    layout = rng.choice(("collapse", "wrap", "crlf"))
    if layout == "collapse":
        return re.sub(r"\s+", " ", text)
    if layout == "wrap":
        width = rng.randint(60, 78)
        lines, line = [], ""
        for word in text.replace("\n\n", " \x00 ").split(" "):
            if word == "\x00":
                lines.extend([line, ""])
                line = ""
            elif len(line) + len(word) + 1 > width and line:
                lines.append(line)
                line = word
            else:
                line = f"{line} {word}" if line else word
        lines.append(line)
        return "\n".join(lines)
    return text.replace("\n", "\r\n").replace(". ", ".\xa0 ")


def _frame(text: str, rng: random.Random) -> str:
    site = rng.choice(_SITES)
    header = f"{site} | {rng.randint(1, 28):02d}-May-2022 | Total Views |"
    footer = f"Copyright {site}. All rights reserved. Share: Facebook Twitter Email"
    placement = rng.choice(("header", "footer", "both"))
    if placement in ("header", "both"):
        text = header + "\n" + text
    if placement in ("footer", "both"):
        text = text + "\n" + footer
    return text


def _typos(sentences: list[str], rng: random.Random, count: int) -> list[str]:
    out = list(sentences)
    for _ in range(count):
        index = rng.randrange(len(out))
        words = out[index].split(" ")
        long_words = [i for i, w in enumerate(words) if len(w) >= 5 and w.isalpha()]
        if not long_words:
            continue
        at = rng.choice(long_words)
        word = words[at]
        cut = rng.randrange(1, len(word) - 1)
        words[at] = word[:cut] + word[cut + 1] + word[cut] + word[cut + 2 :]
        out[index] = " ".join(words)
    return out


def make_copy(sentences: list[str], kind: str, donor: list[str], rng: random.Random) -> str:
    """One copy of the article ``sentences`` at difficulty ``kind`` (see the module docstring)."""
    if kind == "exact":
        return _paragraphs(sentences, random.Random(0))
    body = list(sentences)
    if kind in ("moderate", "truncated"):
        body = _typos(body, rng, rng.randint(2, 4))
        if rng.random() < 0.5:
            body.insert(rng.randrange(1, len(body)), rng.choice(donor))
        else:
            del body[rng.randrange(len(body))]
    if kind == "truncated":
        body = body[: max(1, round(len(body) * rng.uniform(0.55, 0.70)))]
    text = _paragraphs(body, random.Random(0))
    return _frame(_reflow(_requote(text, rng), rng), rng)


def make_corpus(
    sources: int = 400, siblings: int = 100, unrelated: int = 200, seed: int = 0
) -> Corpus:
    """``sources`` articles with one copy each (difficulties dealt in turn), ``siblings`` hard
    negatives of the first sources, and ``unrelated`` articles; copies and siblings are placed
    after their source, everything in a seeded shuffle."""
    rng = random.Random(seed)
    writer = _Writer(rng)
    originals = [writer.article_sentences() for _ in range(sources + unrelated)]
    placed: list[tuple[float, dict[str, str]]] = []
    pairs: list[tuple[str, str, str]] = []
    for index, sentences in enumerate(originals):
        # Originals keep the standard layout (2 sentences a paragraph on average), so the
        # exact copy is byte-identical to its source.
        placed.append(
            (float(index), {"id": f"a{index}", "text": _paragraphs(sentences, random.Random(0))})
        )
    for index in range(sources):
        kind = DIFFICULTIES[index % len(DIFFICULTIES)]
        donor = originals[(index + 1) % len(originals)]
        copy_id = f"a{index}~{kind}"
        text = make_copy(originals[index], kind, donor, rng)
        placed.append((rng.uniform(index, len(originals)), {"id": copy_id, "text": text}))
        pairs.append((f"a{index}", copy_id, kind))
    for index in range(siblings):
        source = originals[index]
        shared = rng.sample(source, max(1, round(len(source) * rng.uniform(0.2, 0.45))))
        fresh = [writer.sentence() for _ in range(len(source) - len(shared))]
        mixed = shared + fresh
        rng.shuffle(mixed)
        sibling_id = f"a{index}~sibling"
        text = _paragraphs(mixed, random.Random(0))
        placed.append((rng.uniform(index, len(originals)), {"id": sibling_id, "text": text}))
        pairs.append((f"a{index}", sibling_id, SIBLING))
    records = [record for _, record in sorted(placed, key=lambda p: p[0])]
    return Corpus(records, pairs)
