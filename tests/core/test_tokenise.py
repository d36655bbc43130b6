"""The array tokeniser agrees with the regex definition of a token."""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from dedupe.core.normalise import WORD_RE, fold
from dedupe.core.tokenise import token_hashes_of_units

# The last three are above the BMP: a letter, an ideograph, an emoji.
ALPHABET = st.sampled_from(
    [
        *"abcXYZ019_ -.,'\"\n\t\u00a0\u2019\u201c",
        *"éßﬁ日本カ。한Ω١\u0301İ½ö\U0001d400\U00020000\U0001f600",
    ]
)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.text(ALPHABET, max_size=40), min_size=1, max_size=6))
def test_same_tokens_as_the_regex(pieces):
    hashes, counts = token_hashes_of_units(pieces)
    expected = [WORD_RE.findall(fold(piece)) for piece in pieces]
    assert counts.tolist() == [len(tokens) for tokens in expected]
    flat = [token for tokens in expected for token in tokens]
    assert len(hashes) == len(flat)
    for i in range(len(flat)):
        for j in range(i + 1, len(flat)):
            assert (hashes[i] == hashes[j]) == (flat[i] == flat[j]), (flat[i], flat[j])


def test_every_code_point_class_matches_the_regex():
    # Characters the tokeniser must classify like the regex: word, ideograph, or neither.
    sample = "".join(chr(c) for c in range(0x20, 0x3100) if not 0xD800 <= c <= 0xDFFF)
    pieces = list(sample)
    _, counts = token_hashes_of_units(pieces)
    expected = np.array([len(WORD_RE.findall(fold(p))) for p in pieces])
    assert np.array_equal(counts, expected)


def test_alnum_is_str_isalnum_for_every_code_point():
    from dedupe.core.tokenise import _alnum

    table = _alnum(np.arange(0x110000, dtype=np.uint32))
    expected = np.array(
        [not 0xD800 <= c <= 0xDFFF and chr(c).isalnum() for c in range(0x110000)], dtype=bool
    )
    assert np.array_equal(table, expected)


_MASK = 2**64 - 1


def _fmix64(value: int) -> int:
    value ^= value >> 33
    value = (value * 0xFF51AFD7ED558CCD) & _MASK
    value ^= value >> 33
    value = (value * 0xC4CEB9FE1A85EC53) & _MASK
    return value ^ (value >> 33)


def _reference_hash(token: str) -> int:
    """The token hash by its definition, in Python integers: the characters (capped at 255)
    read as little-endian 8-byte words, each times its position's multiplier, plus a mixed term
    for each character above 255."""
    capped = bytes(min(ord(c), 255) for c in token)
    total = 0
    for group in range(0, len(token), 8):
        word = int.from_bytes(capped[group : group + 8], "little")
        multiplier = _fmix64((group // 8 + 0x9E3779B97F4A7C15) & _MASK) | 1
        total += word * multiplier
    for k, c in enumerate(token):
        if ord(c) > 255:
            total += _fmix64((ord(c) * 0x9E3779B97F4A7C15 + k) & _MASK)
    return _fmix64((total & _MASK) ^ len(token))


LONG_TOKENS = st.builds(
    lambda ch, n: ch * n, st.sampled_from(["a", "é", "Ω", "\u2019x", "1"]), st.integers(1, 700)
)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.one_of(st.text(ALPHABET, max_size=40), LONG_TOKENS), min_size=1, max_size=5))
def test_hash_values_follow_the_definition(pieces):
    hashes, _ = token_hashes_of_units(pieces)
    expected = [_reference_hash(t) for piece in pieces for t in WORD_RE.findall(fold(piece))]
    assert hashes.tolist() == expected


@settings(max_examples=400, deadline=None)
@given(
    st.lists(
        st.lists(
            st.tuples(st.text(ALPHABET, max_size=12), st.text(ALPHABET, min_size=1)), max_size=5
        ),
        min_size=1,
        max_size=5,
    ),
    st.sampled_from([8, 64, 262_144]),
)
def test_spans_read_in_place_give_the_tokens_of_the_cut_pieces(documents, chunk):
    """Texts made of spans and what lies between them (blank or not, or nothing): the tokens of
    each span are those of the span cut out and tokenised alone, whatever the chunking."""
    from dedupe.core import tokenise

    texts, bounds, per_doc, pieces = [], [], [], []
    for parts in documents:
        text = ""
        for gap, piece in parts:
            text += gap
            bounds.append((len(text), len(text) + len(piece)))
            pieces.append(piece)
            text += piece
        texts.append(text + "tail")
        per_doc.append(len(parts))
    original = tokenise._CHUNK_CHARACTERS
    tokenise._CHUNK_CHARACTERS = chunk
    try:
        hashes, counts = tokenise.token_hashes_of_spans(
            texts, np.array(bounds, dtype=np.int64).reshape(-1, 2), np.array(per_doc)
        )
    finally:
        tokenise._CHUNK_CHARACTERS = original
    if not pieces:
        assert len(counts) == 0 and len(hashes) == 0
        return
    expected_hashes, expected_counts = token_hashes_of_units(pieces)
    assert counts.tolist() == expected_counts.tolist()
    assert hashes.tolist() == expected_hashes.tolist()
