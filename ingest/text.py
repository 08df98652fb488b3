"""Plain text, Markdown and HTML: formats without pages, cut into sections instead.

Citations for these formats point at a section path ("Install > Options") rather than a page, so
Markdown and HTML yield one Page per section; plain text has no structure beyond form feeds,
which printers and man-page dumps use as page breaks.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from bs4 import BeautifulSoup, NavigableString, Tag
from bs4.element import Comment, Declaration, Doctype, ProcessingInstruction

from folio.types import Page, ParsedDocument
from ingest import clean

_DROPPED_TAGS = ("script", "style", "nav", "noscript", "template", "head")
_HEADINGS = {f"h{i}": i for i in range(1, 7)}
_BLOCKS = {
    "p", "div", "li", "ul", "ol", "dl", "dt", "dd", "pre", "blockquote", "section", "article",
    "main", "header", "footer", "aside", "figure", "figcaption", "form", "fieldset", "address",
    "details", "summary", "hr", "br", "tr", "body", "html",
}  # fmt: skip
_ATX = re.compile(r"^ {0,3}(#{1,6})(?:[ \t]+(.*?))?(?:[ \t]+#+)?[ \t]*$")
_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
_SETEXT = re.compile(r"^ {0,3}(=+|-+)[ \t]*$")
_WHITESPACE = re.compile(r"\s+")


def decode_text(data: bytes) -> str:
    """UTF-8 (with or without BOM), else Windows-1252, else Latin-1 (which never fails)."""
    for encoding in ("utf-8-sig", "cp1252"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    return data.decode("latin-1")


def parse_text(path: Path) -> ParsedDocument:
    """Plain text: one Page, or one per form-feed-separated page numbered from 1."""
    path = Path(path)
    raw = decode_text(path.read_bytes()).replace("\r\n", "\n")
    chunks = raw.split("\f")
    paged = len(chunks) > 1
    pages = []
    for number, chunk in enumerate(chunks, start=1):
        text = clean.clean_text(chunk)
        if text:
            pages.append(Page(text=text, number=number if paged else None))
    return ParsedDocument(
        title=path.stem,
        kind="text",
        pages=pages,
        page_count=len(chunks) if paged else None,
        empty_pages=sum(1 for chunk in chunks if not clean.clean_text(chunk)) if paged else 0,
    )


def parse_markdown(path: Path) -> ParsedDocument:
    """Markdown: ATX ("## Options") and setext headings form section paths, one Page each."""
    path = Path(path)
    lines = decode_text(path.read_bytes()).replace("\r\n", "\n").split("\n")
    sections = _Sections()
    fence: str | None = None
    start = _front_matter_end(lines)
    for index in range(start, len(lines)):
        line = lines[index]
        fence_match = _FENCE.match(line)
        if fence is not None:
            if fence_match and fence_match.group(1)[0] == fence[0]:
                fence = None
            sections.add(line)
            continue
        if fence_match:
            fence = fence_match.group(1)
            sections.add(line)
            continue
        atx = _ATX.match(line)
        if atx and (atx.group(2) or "").strip():
            sections.heading(len(atx.group(1)), atx.group(2))
            continue
        setext = _SETEXT.match(line)
        previous = sections.lines[-1] if sections.lines else ""
        if setext and previous.strip() and (len(sections.lines) < 2 or not sections.lines[-2]):
            # "Title\n=====" turns the paragraph line above into a heading
            sections.pop()
            sections.heading(1 if setext.group(1)[0] == "=" else 2, previous)
            continue
        sections.add(line)
    sections.flush()
    return ParsedDocument(
        title=sections.first_h1 or path.stem, kind="markdown", pages=sections.pages
    )


def parse_html(path: Path) -> ParsedDocument:
    """HTML: h1-h6 form section paths (one Page each), tables become "a | b" rows."""
    path = Path(path)
    soup = BeautifulSoup(path.read_bytes(), "html.parser")
    title_tag = soup.find("title")
    title = " ".join(title_tag.get_text(" ").split()) if title_tag else ""
    for tag in soup.find_all(_DROPPED_TAGS):
        tag.decompose()
    sections = _Sections()
    _walk_html(soup.body or soup, sections, preformatted=False)
    sections.flush()
    return ParsedDocument(
        title=clean.fix_characters(title) or sections.first_h1 or path.stem,
        kind="html",
        pages=sections.pages,
    )


@dataclass
class _Sections:
    """Collects lines under the current heading path; each heading starts a new Page."""

    headings: list[str] = field(default_factory=list)
    lines: list[str] = field(default_factory=list)
    pages: list[Page] = field(default_factory=list)
    first_h1: str = ""
    _body: int = 0  # non-empty body lines pending
    _pending_level: int = 0  # level of the last pending heading

    def heading(self, level: int, text: str) -> None:
        # A heading directly under its parent heading joins the parent's page instead of
        # leaving a page that holds nothing but a title.
        if self._body or level <= self._pending_level:
            self.flush()
        self._pending_level = level
        title = " ".join(clean.fix_characters(text).split())
        self.headings = [*self.headings[: level - 1], *[""] * (level - 1 - len(self.headings))]
        self.headings.append(title)
        if level == 1 and not self.first_h1:
            self.first_h1 = title
        self.lines.append(title)
        self.lines.append("")

    def add(self, line: str) -> None:
        self.lines.append(line)
        self._body += bool(line.strip())

    def inline(self, text: str) -> None:
        """Continue the current line with inline text (preformatted text keeps its lines)."""
        first, *rest = text.split("\n")
        if self.lines and self.lines[-1]:
            self.lines[-1] += first
        else:
            self.lines.append(first)
        self.lines.extend(rest)
        self._body += bool(text.strip())

    def pop(self) -> str:
        line = self.lines.pop()
        self._body -= bool(line.strip())
        return line

    def flush(self) -> None:
        text = clean.clean_text("\n".join(self.lines))
        self.lines = []
        self._body, self._pending_level = 0, 0
        if text:
            section = " > ".join(h for h in self.headings if h)
            self.pages.append(Page(text=text, section=section))


def _front_matter_end(lines: list[str]) -> int:
    """Skip a leading YAML front-matter block ("---" ... "---"), common in docs sites."""
    if lines and lines[0].strip() == "---":
        for index in range(1, len(lines)):
            if lines[index].strip() in ("---", "..."):
                return index + 1
    return 0


def _walk_html(node: Tag, sections: _Sections, *, preformatted: bool) -> None:
    """Append the text under `node` to `sections`, one line per block element."""
    for child in node.children:
        if isinstance(child, (Comment, Declaration, Doctype, ProcessingInstruction)):
            continue
        if isinstance(child, NavigableString):
            text = str(child) if preformatted else _WHITESPACE.sub(" ", str(child))
            sections.inline(text)
            continue
        if not isinstance(child, Tag):
            continue
        name = child.name.lower()
        if name in _HEADINGS:
            sections.heading(_HEADINGS[name], child.get_text(" "))
        elif name == "table":
            sections.add("")
            for row in _table_rows(child):
                sections.add(row)
            sections.add("")
        elif name in _BLOCKS:
            sections.add("")
            _walk_html(child, sections, preformatted=preformatted or name == "pre")
            sections.add("")
        else:
            _walk_html(child, sections, preformatted=preformatted)


def _table_rows(table: Tag) -> list[str]:
    """Rows of this table (not of tables nested in its cells) as "cell | cell"."""
    rows = []
    for tr in table.find_all("tr"):
        if tr.find_parent("table") is not table:
            continue
        cells = [
            " ".join(cell.get_text(" ").split())
            for cell in tr.find_all(["td", "th"])
            if cell.find_parent("tr") is tr
        ]
        while cells and not cells[-1]:
            cells.pop()
        if cells:
            rows.append(" | ".join(cells))
    return rows
