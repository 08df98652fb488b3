"""DOCX files: body text in reading order, headings as section paths, page numbers when known.

A DOCX has no fixed pages; Word records where pages broke when it last laid the file out
(`w:lastRenderedPageBreak`) next to the breaks the author forced (page breaks, page-break-before,
section breaks). When a file carries any of these, pages are counted from them; otherwise pages
are unknown (None) and citations fall back to the section path.

A DOCX is a ZIP archive, so before any XML is parsed the archive's declared sizes are checked:
a few-kilobyte file can expand to gigabytes (zip bomb). Python's zipfile never inflates an entry
past its declared size, so a checked header bounds the work.
"""

from __future__ import annotations

import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from docx import Document
from docx.opc.exceptions import PackageNotFoundError
from docx.text.paragraph import Paragraph
from lxml import etree

from folio.types import Page, ParsedDocument
from ingest import clean
from ingest.errors import IngestError, human_size

MAX_RATIO = 200  # uncompressed / compressed size beyond which an archive is refused
_RATIO_FLOOR = 1 << 20  # below 1 MiB expanded, any ratio is harmless

_W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"
_MC_FALLBACK = "{http://schemas.openxmlformats.org/markup-compatibility/2006}Fallback"
_SKIPPED = {f"{_W}del", f"{_W}moveFrom", f"{_W}pPr", f"{_W}rPr", _MC_FALLBACK}
_CONTAINERS = {f"{_W}sdt", f"{_W}sdtContent", f"{_W}customXml", f"{_W}smartTag"}
_PAGE_MARKERS = (
    ".//w:br[@w:type='page'] | .//w:lastRenderedPageBreak | .//w:pPr/w:pageBreakBefore"
    " | .//w:pPr/w:sectPr"
)
_BREAK = object()  # an explicit page break inside a paragraph's text
_RENDERED = object()  # where Word's last layout started a new page


def check_zip(path: Path, max_unzipped_bytes: int) -> None:
    """Refuse corrupt archives and zip bombs from the ZIP directory alone (nothing inflated)."""
    try:
        with zipfile.ZipFile(path) as zf:
            infos = zf.infolist()
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise IngestError(f"corrupt DOCX: not a valid ZIP archive ({exc})") from exc
    expanded = sum(info.file_size for info in infos)
    packed = sum(info.compress_size for info in infos)
    if expanded > max_unzipped_bytes:
        raise IngestError(f"DOCX expands to {human_size(expanded)} (zip bomb?)")
    if expanded > _RATIO_FLOOR and expanded > MAX_RATIO * max(packed, 1):
        ratio = expanded / max(packed, 1)
        raise IngestError(f"DOCX expands {ratio:.0f}:1 to {human_size(expanded)} (zip bomb?)")


def parse_docx(path: Path, *, max_unzipped_bytes: int) -> ParsedDocument:
    """Parse a DOCX into one Page per run of body text with the same section and page."""
    path = Path(path)
    check_zip(path, max_unzipped_bytes)
    try:
        document = Document(str(path))
    except (
        PackageNotFoundError,
        KeyError,
        ValueError,
        zipfile.BadZipFile,
        zlib.error,
        etree.XMLSyntaxError,
    ) as exc:
        raise IngestError(f"corrupt DOCX: {type(exc).__name__}: {exc}") from exc
    body = document.element.body
    walker = _Walker(document, paged=bool(body.xpath(_PAGE_MARKERS)))
    walker.walk(body)
    walker.flush()
    core_title = clean.clean_text(document.core_properties.title or "")
    return ParsedDocument(
        title=" ".join(core_title.split()) or walker.first_heading or path.stem,
        kind="docx",
        pages=walker.pages,
        page_count=walker.page,
    )


@dataclass
class _Walker:
    """Walks the body in order, tracking the section path and page, collecting Pages."""

    document: object
    paged: bool
    page: int | None = None
    headings: list[str] = field(default_factory=list)  # headings[i] is the level-(i+1) heading
    first_heading: str = ""
    pages: list[Page] = field(default_factory=list)
    _blocks: list[str] = field(default_factory=list)
    _just_broke: bool = False  # an explicit break was counted and no text followed yet
    _heading_only: bool = True  # the pending blocks are headings only
    _pending_level: int = 0  # level of the last pending heading

    def __post_init__(self) -> None:
        self.page = 1 if self.paged else None

    @property
    def section(self) -> str:
        return " > ".join(h for h in self.headings if h)

    def walk(self, parent: etree._Element) -> None:
        for child in parent.iterchildren():
            if child.tag == f"{_W}p":
                self.paragraph(child)
            elif child.tag == f"{_W}tbl":
                self.table(child)
            elif child.tag in _CONTAINERS:
                self.walk(child)

    def paragraph(self, p: etree._Element) -> None:
        if p.xpath("./w:pPr/w:pageBreakBefore[not(@w:val='0' or @w:val='false')]"):
            self.explicit_break()
        level = self.heading_level(p)
        parts = list(_paragraph_parts(p))
        text = "".join(part for part in parts if isinstance(part, str)).strip()
        heading = bool(level and text)
        if heading:
            # A heading directly under its parent heading joins the parent's page instead of
            # leaving a page that holds nothing but a title.
            if not (self._blocks and self._heading_only and level > self._pending_level):
                self.flush()
            self._pending_level = level
            title = " ".join(clean.fix_characters(text).split())
            self.headings = [*self.headings[: level - 1], *[""] * (level - 1 - len(self.headings))]
            self.headings.append(title)
            self.first_heading = self.first_heading or title
        piece: list[str] = []
        for part in parts:
            if isinstance(part, str):
                piece.append(part)
                if part.strip():
                    self._just_broke = False
                continue
            self.add("".join(piece), heading=heading)
            piece = []
            if part is _BREAK:
                self.explicit_break()
            elif self._just_broke:  # Word marks the page an explicit break began: counted
                self._just_broke = False
            else:
                self.new_page()
        self.add("".join(piece), heading=heading)
        if p.xpath("./w:pPr/w:sectPr[not(w:type/@w:val='continuous')]"):
            self.explicit_break()

    def table(self, tbl: etree._Element) -> None:
        rows: list[str] = []
        for tr in tbl.iterchildren(f"{_W}tr"):
            cells: list[str] = []
            broke = False
            for tc in tr.iterchildren(f"{_W}tc"):
                texts = []
                for p in tc.iter(f"{_W}p"):
                    parts = list(_paragraph_parts(p))
                    broke = broke or any(not isinstance(part, str) for part in parts)
                    texts.append("".join(part for part in parts if isinstance(part, str)))
                cells.append(" ".join(" ".join(texts).split()))
            if broke and self.paged:  # the row starts on a new page
                if rows:
                    self.add("\n".join(rows))
                    rows = []
                self.new_page()
            while cells and not cells[-1]:
                cells.pop()
            if cells:
                rows.append(" | ".join(cells))
        self.add("\n".join(rows))

    def heading_level(self, p: etree._Element) -> int:
        """1-9 for headings ("Title" counts as level 1), 0 for body paragraphs."""
        try:
            name = (Paragraph(p, self.document).style.name or "").strip().lower()
        except (KeyError, ValueError, AttributeError):
            name = ""
        if name == "title":
            return 1
        if name.startswith("heading ") and name[8:].strip().isdigit():
            return min(int(name[8:]), 9)
        levels = p.xpath("./w:pPr/w:outlineLvl/@w:val")
        if levels and levels[0].isdigit() and int(levels[0]) < 9:
            return int(levels[0]) + 1
        return 0

    def explicit_break(self) -> None:
        self.new_page()
        self._just_broke = True

    def new_page(self) -> None:
        if self.paged:
            self.flush()
            self.page = (self.page or 0) + 1

    def add(self, block: str, *, heading: bool = False) -> None:
        if block.strip():
            self._blocks.append(block)
            self._heading_only = self._heading_only and heading

    def flush(self) -> None:
        text = clean.normalise_whitespace(clean.fix_characters("\n\n".join(self._blocks)))
        self._blocks = []
        self._heading_only, self._pending_level = True, 0
        if text:
            self.pages.append(Page(text=text, number=self.page, section=self.section))


def _paragraph_parts(p: etree._Element) -> Iterator[str | object]:
    """A paragraph's text pieces in order, with _BREAK / _RENDERED where pages break."""
    for child in p.iterchildren():
        tag = child.tag
        if tag in _SKIPPED or not isinstance(tag, str):
            continue
        if tag == f"{_W}t":
            yield child.text or ""
        elif tag == f"{_W}tab":
            yield "\t"
        elif tag == f"{_W}br":
            kind = child.get(f"{_W}type")
            if kind == "page":
                yield _BREAK
            elif kind != "column":
                yield "\n"
        elif tag == f"{_W}cr":
            yield "\n"
        elif tag == f"{_W}noBreakHyphen":
            yield "-"
        elif tag == f"{_W}lastRenderedPageBreak":
            yield _RENDERED
        elif tag == f"{_W}p":  # a paragraph nested in a text box
            yield "\n"
            yield from _paragraph_parts(child)
        else:
            yield from _paragraph_parts(child)
