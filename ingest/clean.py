"""Pure text clean-up shared by the parsers: characters, hyphenation, whitespace, running lines.

Extracted text carries print artefacts that hurt retrieval: ligature glyphs ("ﬁ") that do not
match the query "fi", words split across lines ("configu-" / "ration"), and running headers and
footers ("Acme Manual — Page 7") repeated on every page, which would otherwise dominate BM25 and
pollute every chunk.

Running lines need a whole-document view but pages are cleaned one at a time (a 2,400-page PDF
must not sit in memory twice), so the work is split: `edge_lines` keeps the few candidate lines of
each page, `running_lines` decides from those, and `clean_page` cleans one page with the verdict.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Sequence

EDGE_DEPTH = 3  # lines looked at on each side of a page
MIN_PAGES = 4  # fewer pages than this give no evidence of repetition
MIN_SHARE = 0.5  # share of pages (or of odd / even pages) a running line appears on
NUMBERED_PAGES = 3  # pages a line carrying the page number must repeat on

_CHAR_MAP = {
    **{ord(k): v for k, v in {"ﬀ": "ff", "ﬁ": "fi", "ﬂ": "fl", "ﬃ": "ffi", "ﬄ": "ffl"}.items()},
    **{ord(k): "st" for k in "ﬅﬆ"},
    **{c: None for c in (0x00AD, 0x200B, 0x200C, 0x200D, 0x2060, 0xFEFF)},  # invisible
    **{c: " " for c in (0x00A0, 0x202F, 0x205F, 0x3000, *range(0x2000, 0x200B))},  # spaces
    **{c: "\n" for c in (0x0B, 0x0C, 0x2028, 0x2029)},  # line and page separators
    **{c: None for c in (*range(0x00, 0x09), *range(0x0E, 0x20), 0x7F)},  # other controls
}

# A hyphen ending a line between two lowercase letters is almost always typesetting.
_HYPHEN_BREAK = re.compile(r"(?<=([^\W\d_]))-[ \t]*\n[ \t]*(?=([^\W\d_]))")
_SPACES = re.compile(r"[ \t]+")
_BLANK_LINES = re.compile(r"\n{3,}")
_DIGITS = re.compile(r"\d+")
_ROMAN = re.compile(r"^m{0,4}(cm|cd|d?c{0,3})(xc|xl|l?x{0,3})(ix|iv|v?i{0,3})$")
_ROMAN_VALUES = {"i": 1, "v": 5, "x": 10, "l": 50, "c": 100, "d": 500, "m": 1000}


def fix_characters(text: str) -> str:
    """Unify line ends, expand ligatures, drop soft hyphens and zero-width marks, plain spaces."""
    return text.replace("\r\n", "\n").replace("\r", "\n").translate(_CHAR_MAP)


def dehyphenate(text: str) -> str:
    """Join words hyphenated at a line end: "configu-\\nration" -> "configuration".

    Only lowercase-hyphen-newline-lowercase is joined, so "UPS-\\nBased" and "x-\\n2" keep their
    line break. A real compound broken at its hyphen ("make-\\nfile") is joined too; telling the
    two apart needs a dictionary, and a rare "makefile" hurts retrieval less than many "configu-".
    """

    def join(match: re.Match[str]) -> str:
        before, after = match.group(1), match.group(2)
        return "" if before.islower() and after.islower() else match.group(0)

    return _HYPHEN_BREAK.sub(join, text)


def normalise_whitespace(text: str) -> str:
    """Collapse runs of spaces, strip lines, keep single line breaks and one blank line at most."""
    lines = (_SPACES.sub(" ", line).strip() for line in text.split("\n"))
    return _BLANK_LINES.sub("\n\n", "\n".join(lines)).strip()


def clean_text(text: str) -> str:
    """Full clean-up for text without running lines (DOCX, HTML, plain text)."""
    return normalise_whitespace(dehyphenate(fix_characters(text)))


def line_key(line: str) -> str:
    """The form in which header/footer lines are compared: "Page 7" and "Page 8" -> "page #".

    Digits become "#", and so does a roman numeral at either end of the line ("Manual vii").
    """
    words = _DIGITS.sub("#", _SPACES.sub(" ", line.strip().lower())).split(" ")
    for i in {0, len(words) - 1}:
        if words[i] and _ROMAN.match(words[i]):
            words[i] = "#"
    return " ".join(words)


def edge_lines(text: str) -> list[str]:
    """The candidate running lines of a page: its first and last three non-empty lines."""
    lines = [line.strip() for line in fix_characters(text).split("\n") if line.strip()]
    if len(lines) <= 2 * EDGE_DEPTH:
        return lines
    return lines[:EDGE_DEPTH] + lines[-EDGE_DEPTH:]


def running_lines(edges_per_page: Sequence[Iterable[str]]) -> set[str]:
    """Keys (see `line_key`) of the header and footer lines repeated at the edges of pages.

    `edges_per_page` has one entry per physical page, in order, empty for pages without text.
    Nothing is running in documents with fewer than 4 pages of text. Otherwise a key is running
    when it is on at least two pages and
    - on at least half of the pages with text, or
    - on at least half of the odd or of the even pages (books alternate left and right heads;
      counted only when that half has 4 pages with text), or
    - it starts or ends with a number that follows the page index on at least 3 pages: the
      running heads of one chapter ("Chapter 2: Installing R 16", "... 17") are too few for the
      other rules but carry the page number.
    """
    counts: dict[str, list[int]] = {}  # key -> [even-index pages, odd-index pages]
    numbered: Counter[tuple[str, int]] = Counter()  # (key, printed number - page index)
    totals = [0, 0]
    for index, edges in enumerate(edges_per_page):
        keyed = {line_key(line): line for line in edges}
        if not keyed:
            continue
        totals[index % 2] += 1
        for key, line in keyed.items():
            counts.setdefault(key, [0, 0])[index % 2] += 1
            for number in _edge_numbers(line):
                numbered[key, number - index] += 1
    pages = totals[0] + totals[1]
    if pages < MIN_PAGES:
        return set()
    running = {key for (key, _), seen in numbered.items() if seen >= NUMBERED_PAGES}
    for key, by_parity in counts.items():
        seen = by_parity[0] + by_parity[1]
        if seen >= 2 and (
            seen >= MIN_SHARE * pages
            or any(
                totals[p] >= MIN_PAGES and by_parity[p] >= max(2, MIN_SHARE * totals[p])
                for p in (0, 1)
            )
        ):
            running.add(key)
    return running


def _edge_numbers(line: str) -> set[int]:
    """The numbers (arabic or roman) a line starts or ends with: where page numbers sit."""
    words = line.strip().lower().split()
    numbers = set()
    for word in {words[0], words[-1]} if words else ():
        if word.isdigit() and len(word) <= 5:
            numbers.add(int(word))
        elif _ROMAN.match(word) and word:
            numbers.add(_roman_value(word))
    return numbers


def _roman_value(word: str) -> int:
    values = [_ROMAN_VALUES[ch] for ch in word]
    return sum(-v if i + 1 < len(values) and v < values[i + 1] else v for i, v in enumerate(values))


def clean_page(text: str, running: set[str]) -> str:
    """Clean one page: drop running lines found at its edges, join hyphenation, tidy whitespace."""
    lines = fix_characters(text).split("\n")
    if running:
        filled = [i for i, line in enumerate(lines) if line.strip()]
        edges = filled[:EDGE_DEPTH] + filled[-EDGE_DEPTH:]
        drop = {i for i in edges if line_key(lines[i]) in running}
        lines = [line for i, line in enumerate(lines) if i not in drop]
    return normalise_whitespace(dehyphenate("\n".join(lines)))


def strip_running_lines(pages: Sequence[str]) -> list[str]:
    """Clean a whole document held in memory (small inputs, tests); see the module docstring."""
    running = running_lines([edge_lines(page) for page in pages])
    return [clean_page(page, running) for page in pages]
