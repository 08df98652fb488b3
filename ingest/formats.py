"""The one registry of the file formats Folio reads: signature, parser, suffixes, media type.

Sniffing (`ingest.sniff`), the folder walk (`ingest.pipeline.discover`), the upload check and the
names given to uploads (`services.uploads`) and the media type an original is served with
(`services.library`) all read this table, so a format is added, or a suffix accepted, in one
place. The content decides a file's format (see `ingest.sniff`); suffixes only choose which files
a folder walk picks up and break the tie between text formats, which share their bytes.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from folio.types import ParsedDocument

# Read with (path, options); see `ingest.parse` for the adapters the table names.
Parser = Callable[[Path, "ParseOptions"], "ParsedDocument"]
# Called by a parser before each page it reads with OCR: (page about to be read, pages to read).
OcrProgress = Callable[[int, int], None]


@dataclass(frozen=True)
class ParseOptions:
    """What a parser may need beyond the path: limits, and whether (and how) to OCR."""

    max_pages: int
    max_unzipped_bytes: int
    ocr: bool = False
    progress: OcrProgress | None = None


@dataclass(frozen=True)
class Format:
    kind: str  # recorded as the document's kind
    name: str  # for people: reasons, the upload refusal, README
    suffixes: tuple[str, ...]  # lower case; the first is the one given to uploads without one
    media_type: str  # the format's own media type
    parser: str  # "module:function" with the `Parser` signature, imported when first used
    magic: tuple[bytes, ...] = ()  # the file starts with one of these ...
    magic_within: int = 0  # ... or, when > 0, holds one within its first this many bytes
    zip_member: str | None = None  # a ZIP archive holding this member
    text: bool = False  # a text format, told apart from the others by markup and suffix
    scan: bool = False  # an image of pages: its text comes from OCR

    @property
    def served_as(self) -> str:
        """The media type the original is served with. Text formats are served as plain text:
        served inline from Folio's origin, an HTML manual's scripts would run with the user's
        session."""
        return "text/plain; charset=utf-8" if self.text else self.media_type

    def load_parser(self) -> Parser:
        module, _, function = self.parser.partition(":")
        return getattr(importlib.import_module(module), function)


FORMATS: tuple[Format, ...] = (
    Format(
        "pdf", "PDF", (".pdf",), "application/pdf", "ingest.parse:read_pdf",
        magic=(b"%PDF-",), magic_within=1024,
    ),
    Format(
        "docx", "DOCX", (".docx",),
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "ingest.parse:read_docx", zip_member="word/document.xml",
    ),
    Format(
        "html", "HTML", (".html", ".htm", ".xhtml"), "text/html", "ingest.parse:read_html",
        text=True,
    ),
    Format(
        "markdown", "Markdown", (".md", ".markdown", ".mdown", ".mkd"), "text/markdown",
        "ingest.parse:read_markdown", text=True,
    ),
    Format(
        "text", "text", (".txt", ".text", ".rst"), "text/plain", "ingest.parse:read_text",
        text=True,
    ),
    Format(
        "png", "PNG", (".png",), "image/png", "ingest.parse:read_image",
        magic=(b"\x89PNG\r\n\x1a\n",), scan=True,
    ),
    Format(
        "jpeg", "JPEG", (".jpg", ".jpeg", ".jpe"), "image/jpeg", "ingest.parse:read_image",
        magic=(b"\xff\xd8\xff",), scan=True,
    ),
    Format(
        "tiff", "TIFF", (".tif", ".tiff"), "image/tiff", "ingest.parse:read_image",
        magic=(b"II*\x00", b"MM\x00*"), scan=True,
    ),
)  # fmt: skip

KINDS: tuple[str, ...] = tuple(f.kind for f in FORMATS)
_BY_KIND = {f.kind: f for f in FORMATS}
_BY_SUFFIX = {s: f for f in FORMATS for s in f.suffixes}
DOCUMENT_SUFFIXES = frozenset(_BY_SUFFIX)  # what a folder walk picks up


def by_kind(kind: str) -> Format:
    return _BY_KIND[kind]


def by_suffix(suffix: str) -> Format | None:
    return _BY_SUFFIX.get(suffix.lower())


def served_types() -> dict[str, str]:
    """Document kind -> the media type its stored original is served with."""
    return {f.kind: f.served_as for f in FORMATS}


def skip_reason(path: Path) -> str | None:
    """Why a folder walk passes over this file, or None when it reads it. Files named on the
    command line are not asked: their content decides."""
    suffix = path.suffix.lower()
    if suffix in _BY_SUFFIX:
        return None
    what = f"{suffix} files are" if suffix else "files without an extension are"
    return f"not read from folders: {what} not a format Folio reads ({readable()})"


def readable() -> str:
    """The formats, for people: "PDF, DOCX, HTML, Markdown and text files; PNG, JPEG and TIFF
    scans (OCR)"."""
    docs = [f.name for f in FORMATS if not f.scan]
    scans = [f.name for f in FORMATS if f.scan]
    out = f"{_and(docs)} files"
    if scans:
        out += f"; {_and(scans)} scans (OCR)"
    return out


def fits(name: str, kind: str) -> bool:
    """The name already ends in a suffix of this format."""
    return Path(name).suffix.lower() in by_kind(kind).suffixes


def _and(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]
