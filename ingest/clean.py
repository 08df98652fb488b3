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
from collections.abc import Iterable, Sequence, Set

EDGE_DEPTH = 3  # lines looked at on each side of a page
MIN_PAGES = 4  # fewer pages than this give no evidence of repetition
MIN_SHARE = 0.5  # share of pages (or of odd / even pages) a running line appears on
PARITY_SHARE = 0.75  # share of odd or of even pages for a left- or right-page-only line
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
_HYPHEN_BREAK = re.compile(r"([^\W\d_]+)-[ \t]*\n[ \t]*(?=([^\W\d_]+))")
# A hyphen inside a line joins a real compound ("Debian-based"); the parts either side of it.
_INLINE_HYPHEN = re.compile(r"([^\W\d_]+)-(?=([^\W\d_]+))")
_SPACES = re.compile(r"[ \t]+")
_BLANK_LINES = re.compile(r"\n{3,}")
_DIGITS = re.compile(r"\d+")
_ROMAN = re.compile(r"^m{0,4}(cm|cd|d?c{0,3})(xc|xl|l?x{0,3})(ix|iv|v?i{0,3})$")
_ROMAN_VALUES = {"i": 1, "v": 5, "x": 10, "l": 50, "c": 100, "d": 500, "m": 1000}


def fix_characters(text: str) -> str:
    """Unify line ends, expand ligatures, drop soft hyphens and zero-width marks, plain spaces."""
    return text.replace("\r\n", "\n").replace("\r", "\n").translate(_CHAR_MAP)


def dehyphenate(text: str, compounds: Set[str] | None = None) -> str:
    """Join words hyphenated at a line end: "configu-\\nration" -> "configuration".

    Only lowercase-hyphen-newline-lowercase is joined, so "UPS-\\nBased" and "x-\\n2" keep their
    line break. A real compound broken at its hyphen ("Debian-\\nbased") looks the same; when the
    document writes it with a hyphen inside a line elsewhere (see `compounds`), the hyphen stays
    and only the line break goes. `compounds` defaults to those of `text` itself.
    """
    if compounds is None:
        compounds = hyphen_compounds(text)

    def join(match: re.Match[str]) -> str:
        before, after = match.group(1), match.group(2)
        if not (before[-1].islower() and after[0].islower()):
            return match.group(0)
        if f"{before}-{after}".lower() in compounds or _is_compound(before, after):
            return f"{before}-"
        return before

    return _HYPHEN_BREAK.sub(join, text)


# Second halves that make compounds of whole words ("Debian-based", "network-mounted"); a word
# split for layout rarely ends in one of these after a whole first word of four letters or more.
_COMPOUND_TAILS = frozenset(
    """based mounted specific related dependent independent defined enabled disabled aware
    compatible oriented driven wide level side only like style safe free friendly controlled
    supplied generated provided owned""".split()
)


def _is_compound(before: str, after: str) -> bool:
    word = re.sub(r"\W+$", "", after).lower()
    head = re.search(r"(\w+)$", before)
    return word in _COMPOUND_TAILS and head is not None and len(head.group(1)) >= 4


def hyphen_compounds(text: str) -> set[str]:
    """Hyphenated pairs written inside lines ("debian-based"), lowercased, for `dehyphenate`.

    "end-to-end" gives "end-to" and "to-end": a line can break at either hyphen.
    """
    return {f"{m.group(1)}-{m.group(2)}".lower() for m in _INLINE_HYPHEN.finditer(text)}


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
    return _split_numbers(line)[0]


def _split_numbers(line: str) -> tuple[str, tuple[int, ...]]:
    """(key, the numbers its "#" marks stand for, in order)."""
    text = _SPACES.sub(" ", line.strip().lower())
    numbers = [int(n) for n in _DIGITS.findall(text)]
    words = _DIGITS.sub("#", text).split(" ")
    if words[0] and _ROMAN.match(words[0]):
        numbers.insert(0, _roman_value(words[0]))
        words[0] = "#"
    if len(words) > 1 and words[-1] and _ROMAN.match(words[-1]):
        numbers.append(_roman_value(words[-1]))
        words[-1] = "#"
    return " ".join(words), tuple(numbers)


def _roman_value(word: str) -> int:
    values = [_ROMAN_VALUES[ch] for ch in word]
    return sum(-v if i + 1 < len(values) and v < values[i + 1] else v for i, v in enumerate(values))


def edge_lines(text: str) -> list[str]:
    """The candidate running lines of a page: its first and last three non-empty lines."""
    lines = [line.strip() for line in fix_characters(text).split("\n") if line.strip()]
    if len(lines) <= 2 * EDGE_DEPTH:
        return lines
    return lines[:EDGE_DEPTH] + lines[-EDGE_DEPTH:]


def running_lines(edges_per_page: Sequence[Iterable[str]]) -> set[str]:
    """Keys (see `line_key`) of the header and footer lines repeated at the edges of pages.

    `edges_per_page` has one entry per physical page, in order, empty for pages without text.
    Lines with the same key count as repeats only where each of their numbers is either the same
    everywhere ("Manual 5.2") or follows the page index ("Page 7", "Page 8"); templated content
    ("valve 11" on page 1, "valve 22" on page 2) is not a running line.

    Nothing is running in documents with fewer than 4 pages of text. Otherwise a key is running
    when its repeats are on at least two pages and
    - on at least half of the pages with text, or
    - on at least three quarters (and 3) of the odd or of the even pages: books alternate left
      and right heads (counted when that half has 4 pages with text), or
    - on at least 3 pages and carry the page number: the running heads of one chapter
      ("Chapter 2: Installing R 16") are too few for the other rules.
    """
    # keyed by the count of numbers too: a literal "#" in the text also reads as "#"
    occurrences: dict[tuple[str, int], list[tuple[int, tuple[int, ...]]]] = {}
    totals = [0, 0]
    for index, edges in enumerate(edges_per_page):
        seen = False
        for line in edges:
            key, numbers = _split_numbers(line)
            occurrences.setdefault((key, len(numbers)), []).append((index, numbers))
            seen = True
        totals[index % 2] += seen
    pages = totals[0] + totals[1]
    if pages < MIN_PAGES:
        return set()
    running = set()
    for (key, _), found in occurrences.items():
        if len(found) < 2:
            continue
        repeats, numbered = _consistent(found)
        by_parity = [0, 0]
        for index in repeats:
            by_parity[index % 2] += 1
        count = len(repeats)
        if count < 2:
            continue
        if (
            count >= MIN_SHARE * pages
            or (numbered and count >= NUMBERED_PAGES)
            or any(
                totals[p] >= MIN_PAGES and by_parity[p] >= max(3, PARITY_SHARE * totals[p])
                for p in (0, 1)
            )
        ):
            running.add(key)
    return running


def _consistent(found: list[tuple[int, tuple[int, ...]]]) -> tuple[set[int], bool]:
    """Pages where the numbers of one key are constant or follow the page; and if any follows.

    Each number position keeps the occurrences agreeing with its most common pattern, either a
    fixed value or a fixed offset from the page index (ties go to the fixed value).
    """
    numbered = False
    for position in range(len(found[0][1])):
        fixed = Counter(numbers[position] for _, numbers in found).most_common(1)[0]
        offset = Counter(numbers[position] - i for i, numbers in found).most_common(1)[0]
        if offset[1] > fixed[1]:
            numbered = True
            found = [(i, nums) for i, nums in found if nums[position] - i == offset[0]]
        else:
            found = [(i, nums) for i, nums in found if nums[position] == fixed[0]]
    return {index for index, _ in found}, numbered


def clean_page(text: str, running: Set[str], compounds: Set[str] | None = None) -> str:
    """Clean one page: drop running lines found at its edges, join hyphenation, tidy whitespace.

    `running` comes from `running_lines`; `compounds` (see `dehyphenate`) from `hyphen_compounds`
    over the whole document, or None to use this page's own.
    """
    lines = fix_characters(text).split("\n")
    if running:
        filled = [i for i, line in enumerate(lines) if line.strip()]
        edges = filled[:EDGE_DEPTH] + filled[-EDGE_DEPTH:]
        drop = {i for i in edges if line_key(lines[i]) in running}
        lines = [line for i, line in enumerate(lines) if i not in drop]
    return normalise_whitespace(dehyphenate("\n".join(lines), compounds))


def strip_running_lines(pages: Sequence[str]) -> list[str]:
    """Clean a whole document held in memory (small inputs, tests); see the module docstring."""
    running = running_lines([edge_lines(page) for page in pages])
    compounds = set().union(*(hyphen_compounds(fix_characters(page)) for page in pages))
    return [clean_page(page, running, compounds) for page in pages]
