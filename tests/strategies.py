"""Hypothesis strategies for corpora with planted duplicates and repeated paragraphs."""

from __future__ import annotations

from hypothesis import strategies as st

# A vocabulary large enough that unrelated generated paragraphs rarely share 3-word runs.
WORDS = [
    f"{a}{b}"
    for a in ("ka", "lo", "mi", "ne", "po", "ru", "sa", "ti", "vu", "ze")
    for b in (
        "bar",
        "cod",
        "dex",
        "fin",
        "gol",
        "hum",
        "jet",
        "kip",
        "lum",
        "mox",
        "nip",
        "pod",
        "qua",
        "rix",
        "sol",
        "tam",
        "urn",
        "vex",
        "wip",
        "yol",
    )
]


@st.composite
def paragraphs(draw, min_words: int = 3, max_words: int = 40) -> str:
    words = draw(st.lists(st.sampled_from(WORDS), min_size=min_words, max_size=max_words))
    text = " ".join(words).capitalize()
    return text + draw(st.sampled_from([".", "!", "?", ""]))


@st.composite
def documents(draw) -> str:
    paras = draw(st.lists(paragraphs(), min_size=1, max_size=6))
    if len(paras) > 1 and draw(st.booleans()):
        # A repeated paragraph later in the same document, sometimes with its quote style changed.
        repeat = draw(st.sampled_from(paras))
        paras.insert(draw(st.integers(1, len(paras))), repeat.replace("'", '"'))
    separators = draw(
        st.lists(
            st.sampled_from(["\n\n", "\n \n", "\r\n\r\n", "\n\u00a0\n\n"]),
            min_size=len(paras),
            max_size=len(paras),
        )
    )
    text = "".join(p + s for p, s in zip(paras, separators, strict=True))
    return text.rstrip() if draw(st.booleans()) else text


@st.composite
def corpora(draw) -> list[tuple[str, str]]:
    docs = draw(st.lists(documents(), min_size=1, max_size=8))
    for _ in range(draw(st.integers(0, 3))):
        source = draw(st.sampled_from(docs))
        variant = draw(st.sampled_from(["exact", "upper", "extra"]))
        if variant == "upper":
            source = source.upper()
        elif variant == "extra":
            source = source + "\n\nKazar lobar mifin.\n"
        docs.insert(draw(st.integers(0, len(docs))), source)
    if draw(st.booleans()):
        docs.insert(draw(st.integers(0, len(docs))), draw(st.sampled_from(["", "   ", "\n\n"])))
    return [(f"doc{i}", text) for i, text in enumerate(docs)]
