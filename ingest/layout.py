"""Headings of a PDF page, told by their type size.

Consumer manuals put a heading every few lines ("Pairing a second device", "Cleaning",
"强制重启") and rarely carry an outline, so a chunk knew neither where its section started nor
what it was called: chunks ran across three or four short sections and their vectors blurred
them. The words of a line cannot tell a heading from a short line of body text in a narrow
column ("time", "pocket", "years."), but the type can: headings are set larger than the body.

A line is a heading when its first character's font size is at least HEADING_RATIO times the
document's body size (the size most of its characters are set in), it holds a letter, and it
is short. Consecutive heading lines of one size are one heading wrapped over lines ("Pairing
with a phone for the first" / "time"). Bold text at body size ("Note:", table headers) is not a
heading; neither is anything smaller than the body (captions, footers).

Measured on the product-manual set (tests/bench/product_manuals.py): every h1/h2/h3 of the
three manuals is found, with no body line taken for one; on R-admin the section titles
("2.4 Installation", 14.3 pt over a 10.9 pt body) and not the running heads (10.9 pt).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence

HEADING_RATIO = 1.05  # a heading's size over the body size
MAX_HEADING_CHARS = 120  # longer is text set large (a cover blurb), not a heading
MAX_HEADING_LINES = 3


def size_weights(lines: Sequence[tuple[str, float]]) -> Counter[float]:
    """Characters set in each size (to 0.1 pt), for `body_size`; add up a document's pages."""
    weight: Counter[float] = Counter()
    for text, size in lines:
        weight[round(size, 1)] += len(text.strip())
    return weight


def body_size(weights: Counter[float]) -> float:
    """The size most characters are set in (0.0 without text). Taken over the whole document:
    on a page of tables and figure legends the small type outweighs the body text, which would
    then read as headings."""
    return weights.most_common(1)[0][0] if weights else 0.0


def headings(lines: Sequence[tuple[str, float]], body: float) -> list[str]:
    """The page's headings in reading order, from its lines and their font sizes.

    `lines`: (line text, font size of its first visible character), in the order the text
    layer gives them; `body`: the document's body size (`body_size`). A heading wrapped over
    up to MAX_HEADING_LINES consecutive lines of one size is returned as one string, its lines
    joined by a space; every heading's whitespace is collapsed. A run of large lines longer
    than that, or longer than MAX_HEADING_CHARS, is large text (a cover, a banner), not a
    heading.
    """
    if body <= 0:
        return []
    runs: list[list[str]] = []
    previous: float | None = None  # the size of the large line just before, if any
    for text, size in lines:
        words = " ".join(text.split())
        if (
            size < HEADING_RATIO * body
            or sum(ch.isalnum() for ch in words) < 2
            or not any(ch.isalpha() for ch in words)
        ):  # an index's group letter ("R") or a callout number is no heading
            previous = None
            continue
        if previous is not None and abs(size - previous) < 0.05:
            runs[-1].append(words)
        else:
            runs.append([words])
        previous = size
    out = []
    for run in runs:
        head = " ".join(run)
        if len(run) <= MAX_HEADING_LINES and len(head) <= MAX_HEADING_CHARS and not label(head):
            out.append(head)
    return out


# Words that number a part of a book without naming it ("Chapter 8", "Appendix B", "第 8 章").
_LABEL_WORDS = frozenset("chapter part section appendix annex 第 章 节 部分 附录".split())
_LABEL_TOKEN = re.compile(r"[A-Za-z]+|\d+|[\u4e00-\u9fff]+|\S")
_ROMAN_OR_LETTER = re.compile(r"^(?:[ivxlcdm]+|[a-z])$")


def label(heading: str) -> bool:
    """A heading that only numbers a chapter ("Chapter 8" above "Updating the package"): it
    names no topic, so it neither starts a chunk nor names a section. On the Chinese dev
    manual it put "Chapter 8" into the sections of every chunk of a chapter's first page."""
    tokens = [t.casefold() for t in _LABEL_TOKEN.findall(heading)]
    return (
        bool(tokens)
        and all(
            t in _LABEL_WORDS or t.isdigit() or _ROMAN_OR_LETTER.match(t) or not t.isalnum()
            for t in tokens
        )
        and any(t in _LABEL_WORDS for t in tokens)
    )


# A heading's number ("2.4", "C.3.1", "4.1)", "Appendix C", "第3章"), which outlines often leave
# out, and the punctuation and quotes that differ between the two ("on ‘arm64’", "on arm64").
_NUMBERING = re.compile(
    r"^\s*(?:(?:(?:chapter|appendix|part|section|annex|附录)\s*)?"
    r"(?:\d+|[A-Z]|[IVXL]+)(?:\.\d+)*[.)]?|第\s*\d+\s*[章节])\s+",
    re.I,
)
_PUNCTUATION = re.compile(r"[^\w\s]+")


def bare(title: str) -> str:
    """A heading or outline title as compared: without its number, case or extra spaces
    ("2.4  Installation" and "Installation" are the same section)."""
    return " ".join(_PUNCTUATION.sub(" ", _NUMBERING.sub("", title)).split()).casefold()
