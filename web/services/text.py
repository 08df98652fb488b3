"""Showing manual text in HTML safely, with the question's words highlighted.

Manual text and questions are data from outside: they may contain `<script>` or entities.
`highlight` finds the matches in the raw text, then escapes every piece before it wraps the
matched pieces in <mark>, so markup in the text is always shown, never executed, and a match
can never cut an entity in half.
"""

from __future__ import annotations

import re

from markupsafe import Markup, escape

from folio.index import STOPWORDS

_WORD = re.compile(r"\w[\w\-]*\w|\w", re.UNICODE)


def query_terms(question: str, limit: int = 12) -> list[str]:
    """The question's content words (no stopwords, no single letters), longest first."""
    words: list[str] = []
    for w in _WORD.findall(question.lower()):
        if (len(w) > 1 or w.isdigit()) and w not in STOPWORDS and w not in words:
            words.append(w)
    return sorted(words, key=len, reverse=True)[:limit]


_LIST_ITEM = re.compile(r"^\s*(?:[-•*▪]|\d+[.)])\s")
_SENTENCE_END = re.compile(r"[.:;!?]\s*$")


def reflow(text: str) -> str:
    """Join the line breaks a PDF puts inside sentences: after a long line that does not end a
    sentence, unless a list item follows. Headings (short lines), steps and paragraphs keep
    their breaks."""
    lines = text.split("\n")
    out = [lines[0]]
    for prev, line in zip(lines, lines[1:], strict=False):
        soft = (
            len(prev.strip()) >= 30
            and not _SENTENCE_END.search(prev)
            and line.strip()
            and not _LIST_ITEM.match(line)
        )
        out.append((" " if soft else "\n") + line)
    return "".join(out)


def highlight(text: str, terms: list[str]) -> Markup:
    """`text` escaped, with whole-word (or word-prefix) matches of `terms` in <mark>."""
    if not terms:
        return escape(text)
    pattern = re.compile(
        r"(?<!\w)(?:" + "|".join(re.escape(t) for t in terms) + r")\w{0,3}(?!\w)",
        re.IGNORECASE | re.UNICODE,
    )
    out: list[str] = []
    pos = 0
    for m in pattern.finditer(text):
        out.append(str(escape(text[pos : m.start()])))
        out.append(f"<mark>{escape(m.group(0))}</mark>")
        pos = m.end()
    out.append(str(escape(text[pos:])))
    return Markup("".join(out))
