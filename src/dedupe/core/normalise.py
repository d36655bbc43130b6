"""Comparison keys: what two texts look like to dedupe once the noise of scraping is gone.

Normalisation is for comparison only; cleaned copies are always sliced from the original text.
Word tokens are runs of word characters of the NFKC-normalised, case-folded text: punctuation,
quotes, dashes and whitespace never form a token, so curly vs straight quotes, ``didn"t`` vs
``didn't`` and re-flowed lines cannot change them. Character
shingles need the full :func:`normalise_text`, which also maps quote, apostrophe and dash
variants, repairs the mojibake scraped text carries and collapses whitespace.
"""

from __future__ import annotations

import re
import unicodedata

#: Bumped whenever a change to normalising, tokenising or hashing can change a comparison key;
#: a persistent index stores it and is refused by a version with another. 2: token hashes read
#: a token's characters eight bytes at a time (dedupe.core.tokenise).
NORMALISATION_VERSION = 2

# Scripts written without spaces: every character is a token of its own, so Chinese and
# Japanese text gets shingles instead of one giant "word". Hangul is written with spaces.
CJK_RANGES = (
    (0x3040, 0x30FF),  # hiragana, katakana
    (0x3400, 0x4DBF),  # CJK extension A
    (0x4E00, 0x9FFF),  # CJK unified ideographs
    (0xF900, 0xFAFF),  # compatibility ideographs
    (0xFF66, 0xFF9F),  # half-width katakana
)
_CJK = "".join(f"\\u{a:04x}-\\u{b:04x}" for a, b in CJK_RANGES)
WORD_RE = re.compile(rf"[{_CJK}]|[^\W{_CJK}]+")


_QUOTES = (
    "\"'`\u00b4\u2018\u2019\u201a\u201b\u201c\u201d\u201e\u201f"
    "\u2032\u2033\u00ab\u00bb\u2039\u203a\uff02\uff07"
)
_DASHES = "\u2010\u2011\u2012\u2013\u2014\u2015\u2212\ufe58\ufe63\uff0d"
_SPACES = (
    "\u00a0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a"
    "\u202f\u205f\u3000"
)
_TRANSLATION = str.maketrans(
    {
        **{c: "'" for c in _QUOTES},
        **{c: " " for c in _SPACES},
        "\u200b": None,  # zero-width space
        "\ufeff": None,  # stray BOM
        "\x00": None,
        "\u00ad": None,  # soft hyphen
    }
)
# A dash, however spaced, becomes " - "; so does the mojibake a dash turns into when decoded
# through the wrong code page: `"?` (as in the seed article), `â€"` or `â€“`.
_DASH_RE = re.compile(rf"\s*(?:\"\?|â€[\"“”\x93\x94]|[{_DASHES}])\s*")
_WHITESPACE_RE = re.compile(r"\s+")


def fold(text: str) -> str:
    """NFKC and case folding, with a fast path for ASCII (most news text)."""
    if text.isascii():
        return text.lower()
    if unicodedata.is_normalized("NFKC", text):  # a quick check, true for most text
        return text.casefold()
    return unicodedata.normalize("NFKC", text).casefold()


def word_tokens(text: str, start: int = 0, end: int | None = None) -> list[str]:
    """Normalised word tokens of ``text[start:end]``.

    >>> word_tokens("It didn\u2019t resolve \u201cACUTE issues\u201d")
    ['it', 'didn', 't', 'resolve', 'acute', 'issues']
    >>> word_tokens('It didn"t resolve "acute issues"')
    ['it', 'didn', 't', 'resolve', 'acute', 'issues']
    >>> word_tokens("日本語")
    ['日', '本', '語']
    """
    return WORD_RE.findall(fold(text[start:end]))


def normalise_text(text: str) -> str:
    """The full comparison form: NFKC, case folding, one apostrophe, one dash, repaired mojibake,
    single spaces.

    >>> normalise_text("The call \u2014initiated by Austin\u00a0\u2014 didn\u2019t")
    "the call - initiated by austin - didn't"
    >>> normalise_text('The call "? initiated by Austin didn"t')
    "the call - initiated by austin didn't"
    """
    text = _DASH_RE.sub(" - ", text)
    text = unicodedata.normalize("NFKC", text).casefold().translate(_TRANSLATION)
    return _WHITESPACE_RE.sub(" ", text).strip()
