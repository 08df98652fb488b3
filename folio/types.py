"""The data that flows between stages: file -> pages -> chunks -> passages.

Plain dataclasses, no behaviour beyond formatting, so every stage and every test can build them
without setup.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class DocStatus(StrEnum):
    """A document's state in the registry: written `pending`, made `ready` (searchable) in the
    same transaction as its last chunk, `failed` when its ingest could not finish."""

    PENDING = "pending"
    READY = "ready"
    FAILED = "failed"


@dataclass(frozen=True)
class Page:
    """A unit of extracted text with its locator.

    For a PDF this is one physical page. Formats without pages (text, Markdown, HTML) and DOCX
    files yield one `Page` per section run; `number` is then the page recorded by the file's page
    breaks, or None. `ocr`: the text was read from the page's image (a scan), not its text layer.
    """

    text: str
    number: int | None = None
    label: str | None = None
    section: str = ""
    ocr: bool = False
    # Headings printed on the page, in reading order (`ingest.layout`: PDF pages, told by type
    # size); the chunker starts chunks at them and names each chunk's section after them.
    headings: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not isinstance(self.headings, tuple):  # read back from JSON as a list
            object.__setattr__(self, "headings", tuple(self.headings))


@dataclass
class ParsedDocument:
    """What a parser returns: metadata plus the pages in reading order."""

    title: str
    kind: str  # one of ingest.formats.KINDS: pdf | docx | html | markdown | text | png | ...
    pages: list[Page]
    page_count: int | None = None
    empty_pages: int = 0
    ocr_pages: int = 0  # pages whose text was read with OCR
    warnings: list[str] = field(default_factory=list)


def chunk_id(doc_id: str, ord_: int) -> str:
    """Stable across re-ingests of the same content, and names its document (see below)."""
    return f"{doc_id}-{ord_:05d}"


def chunk_doc_id(chunk_id: str) -> str:
    return chunk_id.rsplit("-", 1)[0]


@dataclass(frozen=True)
class Chunk:
    """A retrievable span of one document, never crossing documents (or PDF pages)."""

    id: str
    doc_id: str
    ord: int
    text: str
    page_start: int | None
    page_end: int | None
    label_start: str | None
    label_end: str | None
    section: str
    char_start: int
    char_end: int
    tokens: int = 0
    ocr: bool = False  # from a page read with OCR: its text may hold misread characters
    # reads like instructions to an AI assistant (`folio.text.instruction_like`), flagged at
    # ingest: a prompt injection, or text the UI marks and the citation check does not trust
    instruction_like: bool = False


@dataclass(frozen=True)
class Passage:
    """A chunk as retrieval returns it: joined with its document and scored."""

    chunk: Chunk
    doc_name: str
    title: str
    collection: str
    score: float
    text: str = ""  # possibly expanded with neighbouring chunks; chunk.text when empty
    neighbour_instruction_like: bool = False  # a neighbour joined into `text` is flagged

    @property
    def body(self) -> str:
        return self.text or self.chunk.text

    @property
    def instruction_like(self) -> bool:
        """Some of the passage's text reads like instructions to an assistant."""
        return self.chunk.instruction_like or self.neighbour_instruction_like

    @property
    def page(self) -> int | None:
        return self.chunk.page_start

    @property
    def page_label(self) -> str | None:
        return self.chunk.label_start

    @property
    def ocr(self) -> bool:
        """The passage's text was read with OCR from a scanned page."""
        return self.chunk.ocr

    def locator(self) -> str:
        return locator(self.chunk)


def locator(chunk: Chunk, *, no_page: str = "—") -> str:
    """Human citation: 'p. 7 (PDF page 12)', 'p. 12', or the section path."""
    page, label = chunk.page_start, chunk.label_start
    if page is None:
        return chunk.section or no_page
    if label and label != str(page):
        return f"p. {label} (PDF page {page})"
    return f"p. {page}"
