"""Showing manual text in HTML safely, with the question's words highlighted.

Manual text and questions are data from outside: they may contain `<script>` or entities.
`highlight` finds the matches in the raw text, then escapes every piece before it wraps the
matched pieces in <mark>, so markup in the text is always shown, never executed, and a match
can never cut an entity in half.
"""

from __future__ import annotations

import re

from markupsafe import Markup, escape

from folio import text as lang


def query_terms(question: str, limit: int = 12) -> list[str]:
    """The question's content words (`folio.text.query_terms`), longest first."""
    return sorted(lang.query_terms(question), key=len, reverse=True)[:limit]


_LIST_ITEM = re.compile(r"^\s*(?:[-•*▪]|\d+[.)])\s")


def reflow(text: str) -> str:
    """Join the line breaks a PDF puts inside sentences: after a long line that does not end a
    sentence, unless a list item follows. Headings (short lines), steps and paragraphs keep
    their breaks. Chinese lines join with no space (Chinese puts none between words), and a Han
    character is two columns wide."""
    lines = text.split("\n")
    out = [lines[0]]
    for prev, line in zip(lines, lines[1:], strict=False):
        soft = (
            lang.display_width(prev.strip()) >= 30
            and not lang.ends_sentence(prev)
            and line.strip()
            and not _LIST_ITEM.match(line)
        )
        if not soft:
            out.append("\n" + line)
        elif lang.is_han(prev[-1:]) and lang.is_han(line.lstrip()[:1]):
            out.append(line.lstrip())
        else:
            out.append(" " + line)
    return "".join(out)


def highlight(text: str, terms: list[str]) -> Markup:
    """`text` escaped, with whole-word (or word-prefix) matches of `terms` in <mark>; Chinese
    terms match anywhere, since Chinese text has no spaces between words."""
    if not terms:
        return escape(text)
    latin = [re.escape(t) for t in terms if not lang.is_han(t)]
    han = [re.escape(t) for t in terms if lang.is_han(t)]
    alternatives = ([r"(?<!\w)(?:" + "|".join(latin) + r")\w{0,3}(?!\w)"] if latin else []) + han
    pattern = re.compile("|".join(alternatives), re.IGNORECASE | re.UNICODE)
    out: list[str] = []
    pos = 0
    for m in pattern.finditer(text):
        out.append(str(escape(text[pos : m.start()])))
        out.append(f"<mark>{escape(m.group(0))}</mark>")
        pos = m.end()
    out.append(str(escape(text[pos:])))
    return Markup("".join(out))
