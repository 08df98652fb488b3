"""PDF pages, streamed: text from pypdfium2, page labels, outline and decryption from pypdf.

pypdfium2 extracts text about ten times faster than pypdf and keeps the spaces on justified lines
that pypdf glues together ("AutoMultipleChoiceisfreesoftware"; tests/bench/bench_extract.py has
the figures). pypdf reads the document structure well: printed page labels ("iv", "A-3"), the
outline that gives every page its section path, and encryption with an empty user password.

Pages are produced one at a time so that a 2,400-page manual is never held in memory whole:
`iter_pdf_pages` makes one pass over the raw text, `iter_clean_pdf_pages` makes two (the first
keeps only each page's edge lines, to find running headers and footers, and the hyphenated
compounds the document writes inside lines, to keep their hyphen at line ends; the second
cleans).

Pages without a text layer (scans) are read with OCR when the caller passes an engine
(`ingest.ocr`): after the first pass, each page that holds nothing in its text layer, or only
running lines over an image, is rendered at `RENDER_DPI` and read; its edge lines then join the
running-line vote, so a scan's printed header and page number are removed like a text PDF's.
Without an engine a PDF of scans is refused ("needs OCR"). A page holding one short line is
text, not a scan: when the repeated lines are all the text a PDF has, they are its content.
"""

from __future__ import annotations

import bisect
import re
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pypdfium2 as pdfium
import pypdfium2.raw as pdfium_c
from pypdf import PdfReader

from folio.types import Page, ParsedDocument
from ingest import clean, layout
from ingest.errors import IngestError
from ingest.formats import OcrProgress
from ingest.ocr import MAX_SIDE, RENDER_DPI, Ocr

NO_PAGES = "the PDF has no pages"
SCANNED_SHARE = 0.9  # this share of pages without text means the PDF needs OCR
_TITLE_PAGES = 5  # pages searched for a first line when the metadata has no title

# PDFium document-loading errors (FPDF_GetLastError) as reasons.
_LOAD_ERRORS = {
    pdfium_c.FPDF_ERR_UNKNOWN: "PDFium could not load it (unknown error)",
    pdfium_c.FPDF_ERR_FILE: "cannot open the file",
    pdfium_c.FPDF_ERR_FORMAT: "not a valid PDF (data format error)",
    pdfium_c.FPDF_ERR_PASSWORD: "encrypted PDF: a password is required",
    pdfium_c.FPDF_ERR_SECURITY: "encrypted PDF: unsupported security handler",
    pdfium_c.FPDF_ERR_PAGE: "page not found or content error",
}
# Titles that name no manual: placeholders, and the page address a browser writes when it prints
# HTML to PDF ("about:blank", "file:///tmp/manual.html", "https://…/index.html").
_JUNK_TITLE = re.compile(
    r"^(untitled|microsoft word - .*|document\d*|about:\S*|[a-z][a-z0-9+.-]*://\S*|\s*)$", re.I
)


@dataclass
class PdfInfo:
    """What is known about a PDF before its pages are read."""

    title: str
    page_count: int
    has_labels: bool
    has_outline: bool
    empty_pages: int | None = None  # known after the first pass (`iter_clean_pdf_pages`)
    warnings: list[str] = field(default_factory=list)
    title_from: str = "metadata"  # metadata | text | file name
    ocr_pages: int = 0  # pages whose text was read with OCR


@dataclass(frozen=True)
class _Structure:
    """Per-page locators read by pypdf: printed labels and outline section starts."""

    labels: list[str] | None
    section_starts: list[int]  # physical page indexes, sorted
    section_paths: list[str]  # the path in force from the matching start on


def iter_pdf_pages(path: Path, *, max_pages: int) -> tuple[PdfInfo, Iterator[Page]]:
    """Open a PDF and stream its pages' raw text (characters fixed, running lines kept).

    Raises IngestError at once for encrypted, corrupt and over-long PDFs. Empty pages are yielded
    too (with empty text), so callers see every physical page.
    """
    doc, info, structure = _open(Path(path), max_pages)
    return info, _raw_pages(doc, info, structure)


def iter_clean_pdf_pages(
    path: Path,
    *,
    max_pages: int,
    ocr: Ocr | None = None,
    progress: OcrProgress | None = None,
) -> tuple[PdfInfo, Iterator[Page]]:
    """Open a PDF, find its running lines, and stream its cleaned, non-empty pages.

    The first pass over the text happens before returning, so scanned PDFs (at least 90 % of
    pages without text) raise IngestError here and `info.empty_pages` is already known. With an
    `ocr` engine, the pages without text are read with it in this pass instead (calling
    `progress(n, pages to read)` before the n-th), and a scan is refused only when OCR finds no
    text on any page.
    """
    doc, info, structure = _open(Path(path), max_pages)
    ocr_text: dict[int, str] = {}
    try:
        edges: list[list[str]] = []
        only_edges: list[bool] = []
        compounds: set[str] = set()
        sizes: Counter[float] = Counter()
        for index in range(info.page_count):
            raw, lines = _read_page(doc, index, info.warnings)
            sizes += layout.size_weights(lines)
            text = clean.fix_characters(raw)
            page_edges = clean.edge_lines(text)
            edges.append(page_edges)
            only_edges.append(not _has_middle(text))
            compounds |= clean.hyphen_compounds(text)
        running = _running(doc, edges, only_edges)
        if ocr is not None:
            textless = _scanned(doc, edges, only_edges, running)
            for n, index in enumerate(textless, start=1):
                if progress is not None:
                    progress(n, len(textless))
                text = clean.fix_characters(ocr.read(_render(doc, index, info.warnings)))
                if text.strip():
                    ocr_text[index] = text
                    edges[index] = clean.edge_lines(text)
                    only_edges[index] = not _has_middle(text)
                    compounds |= clean.hyphen_compounds(text)
            if ocr_text:  # the scanned pages' printed headers and footers join the vote
                running = _running(doc, edges, only_edges)
                _title_from_ocr(info, ocr_text)
        info.empty_pages = len(_empty(edges, only_edges, running))
        info.ocr_pages = len(ocr_text)
        scanned = len(_scanned(doc, edges, only_edges, running))
    except BaseException:
        doc.close()
        raise
    del edges, only_edges
    _check_text_layer(info, doc, scanned, ocr_tried=ocr is not None)
    body = layout.body_size(sizes)
    return info, _clean_pages(doc, info, structure, running, compounds, ocr_text, body)


def parse_pdf(
    path: Path,
    *,
    max_pages: int,
    ocr: Ocr | None = None,
    progress: OcrProgress | None = None,
) -> ParsedDocument:
    """The whole PDF as a ParsedDocument of cleaned, non-empty pages (see iter_clean_pdf_pages)."""
    info, pages = iter_clean_pdf_pages(path, max_pages=max_pages, ocr=ocr, progress=progress)
    return ParsedDocument(
        title=info.title,
        kind="pdf",
        pages=list(pages),
        page_count=info.page_count,
        empty_pages=info.empty_pages or 0,
        ocr_pages=info.ocr_pages,
        warnings=info.warnings,
    )


def _empty(edges: list[list[str]], only_edges: list[bool], running: set[str]) -> list[int]:
    """Indexes of the pages with no text of their own (nothing, or only running lines)."""
    return [
        index
        for index, (page_edges, whole) in enumerate(zip(edges, only_edges, strict=True))
        if whole and all(clean.line_key(line) in running for line in page_edges)
    ]


def _running(doc: pdfium.PdfDocument, edges: list[list[str]], only_edges: list[bool]) -> set[str]:
    """The running lines, unless they are all the text there is: a PDF of one short line a page
    ("Step 3", "Hello") repeats a line at every edge, and removing it would leave nothing of a
    document that has text on every page. Pages that also hold an image (a scan under a typed
    footer) do not count against the running lines: their text is still to be read."""
    running = clean.running_lines(edges)
    empty = _empty(edges, only_edges, running)
    if len(empty) == len(edges) and any(
        edges[i] and not _has_image(doc, i) for i in empty
    ):  # fmt: skip
        return set()
    return running


def _scanned(
    doc: pdfium.PdfDocument, edges: list[list[str]], only_edges: list[bool], running: set[str]
) -> list[int]:
    """Pages that need OCR: nothing in the text layer at all, or only running lines over an
    image. A page holding one short line of its own is text, however short."""
    return [i for i in _empty(edges, only_edges, running) if not edges[i] or _has_image(doc, i)]


def _has_image(doc: pdfium.PdfDocument, index: int) -> bool:
    try:
        page = doc[index]
    except pdfium.PdfiumError:
        return False
    try:
        return next(page.get_objects(filter=(pdfium_c.FPDF_PAGEOBJ_IMAGE,)), None) is not None
    finally:
        page.close()


def _raw_pages(doc: pdfium.PdfDocument, info: PdfInfo, structure: _Structure) -> Iterator[Page]:
    try:
        for index in range(info.page_count):
            text = clean.fix_characters(_page_text(doc, index, info.warnings))
            yield _page(index, text, structure)
    finally:
        doc.close()


def _clean_pages(
    doc: pdfium.PdfDocument,
    info: PdfInfo,
    structure: _Structure,
    running: set[str],
    compounds: set[str],
    ocr_text: dict[int, str] | None = None,
    body: float = 0.0,
) -> Iterator[Page]:
    """Cleaned pages; `body` is the document's body type size, for telling headings."""
    ocr_text = ocr_text or {}
    # Sections the outline (bookmarks) names already: their headings add nothing, and breaking
    # chunks at them moved answers on the Debian dev sets (docs/ARCHITECTURE.md, "Consumer-manual
    # layout").
    outlined = {layout.bare(t) for path in structure.section_paths for t in path.split(" > ")}
    try:
        for index in range(info.page_count):
            raw = ocr_text.get(index)
            heads: list[str] = []
            if raw is None:
                raw_text, lines = _read_page(doc, index, [])
                heads = layout.headings(lines, body)
            text = clean.clean_page(raw if raw is not None else raw_text, running, compounds)
            if text:
                keep = [
                    h for h in heads
                    if clean.line_key(h) not in running and layout.bare(h) not in outlined
                ]  # fmt: skip
                yield _page(index, text, structure, ocr=raw is not None, headings=keep)
    finally:
        doc.close()


def _page(
    index: int, text: str, structure: _Structure, *, ocr: bool = False,
    headings: Sequence[str] = (),
) -> Page:  # fmt: skip
    labels = structure.labels
    at = bisect.bisect_right(structure.section_starts, index) - 1
    return Page(
        text=text,
        number=index + 1,
        label=labels[index] if labels is not None and index < len(labels) else None,
        section=structure.section_paths[at] if at >= 0 else "",
        ocr=ocr,
        headings=tuple(headings),
    )


def _has_middle(text: str) -> bool:
    """True when the page has non-empty lines besides its edge lines."""
    filled = sum(1 for line in clean.fix_characters(text).split("\n") if line.strip())
    return filled > 2 * clean.EDGE_DEPTH


def _check_text_layer(
    info: PdfInfo, doc: pdfium.PdfDocument, scanned: int, *, ocr_tried: bool
) -> None:
    """Refuse a scan (`scanned`: pages with no text at all, or only running lines over an
    image); warn when many pages hold no text of their own."""
    empty, total = info.empty_pages or 0, info.page_count
    if ocr_tried:
        if empty >= total:
            doc.close()
            raise IngestError(
                f"scanned / no text layer, and OCR found no text on any of its {total} "
                f"page{'s' * (total != 1)}"
            )
        if empty * 10 > total:
            info.warnings.append(f"{empty} of {total} pages have no text, even with OCR")
        return
    if scanned >= SCANNED_SHARE * total:
        doc.close()
        raise IngestError(
            f"scanned / no text layer — needs OCR ({scanned} of {total} pages have no text)"
        )
    if empty * 10 > total:
        info.warnings.append(f"{empty} of {total} pages have no text (scanned pages need OCR)")


def _render(doc: pdfium.PdfDocument, index: int, warnings: list[str]) -> np.ndarray:
    """One page as a grey image at RENDER_DPI (at most MAX_SIDE pixels on its longer side)."""
    try:
        page = doc[index]
    except pdfium.PdfiumError as exc:
        warnings.append(f"page {index + 1} unreadable: {exc}")
        return np.zeros((0, 0), dtype=np.uint8)
    try:
        width, height = page.get_size()
        scale = min(RENDER_DPI / 72, MAX_SIDE / max(width, height, 1.0))
        bitmap = page.render(scale=scale, grayscale=True)
        try:
            return bitmap.to_numpy().copy()
        finally:
            bitmap.close()
    finally:
        page.close()


# --- opening -------------------------------------------------------------------------------------


def _open(path: Path, max_pages: int) -> tuple[pdfium.PdfDocument, PdfInfo, _Structure]:
    """Load with PDFium (text) and pypdf (structure); refuse what cannot or must not be read."""
    try:
        doc = pdfium.PdfDocument(str(path))
    except pdfium.PdfiumError as exc:
        if _has_no_pages(path):  # PDFium refuses these with a stale code ("Success")
            raise IngestError(NO_PAGES) from exc
        reason = _LOAD_ERRORS.get(exc.err_code, str(exc))
        if exc.err_code in (pdfium_c.FPDF_ERR_PASSWORD, pdfium_c.FPDF_ERR_SECURITY):
            raise IngestError(reason) from exc
        raise IngestError(f"corrupt PDF: {reason}") from exc
    try:
        page_count = len(doc)
        if page_count == 0:
            raise IngestError(NO_PAGES)
        if page_count > max_pages:
            raise IngestError(f"too many pages ({page_count} > {max_pages})")
        warnings: list[str] = []
        structure, meta_title = _read_structure(path, page_count, warnings)
        title, title_from = _title(doc, meta_title, path)
        info = PdfInfo(
            title=title,
            page_count=page_count,
            has_labels=structure.labels is not None,
            has_outline=bool(structure.section_starts),
            warnings=warnings,
            title_from=title_from,
        )
    except BaseException:
        doc.close()
        raise
    return doc, info, structure


def _has_no_pages(path: Path) -> bool:
    """True when pypdf reads the file as a PDF whose page tree is empty. PDFium does not load
    such a file and leaves its last error as it was: "Success", or the previous file's
    error (an encrypted PDF's "password required"), so its code cannot say why."""
    try:
        return len(PdfReader(str(path)).pages) == 0
    except Exception:  # noqa: BLE001 - unreadable for pypdf too: PDFium's reason stands
        return False


def _read_structure(
    path: Path, page_count: int, warnings: list[str]
) -> tuple[_Structure, str | None]:
    """Labels, outline and metadata title via pypdf; a broken structure only costs a warning."""
    labels: list[str] | None = None
    starts: list[tuple[int, int, str]] = []
    title: str | None = None
    try:
        with open(path, "rb") as fh:
            reader = PdfReader(fh, strict=False)
            if reader.is_encrypted and not reader.decrypt(""):
                # PDFium opened it, so only pypdf is stuck (e.g. an unusual security handler).
                raise ValueError("pypdf cannot decrypt it with an empty password")
            if "/PageLabels" in reader.root_object:
                labels = list(reader.page_labels)
            title = reader.metadata.title if reader.metadata else None
            starts = _outline_starts(reader, reader.outline, (), [])
    except Exception as exc:  # noqa: BLE001 - text from PDFium is still worth having
        warnings.append(f"PDF structure unreadable, no page labels or sections: {exc}")
        labels, starts = None, []
    if labels is not None and len(labels) != page_count:
        warnings.append(f"page labels cover {len(labels)} pages, PDFium reads {page_count}")
    starts.sort()
    return (
        _Structure(labels, [page for page, _, _ in starts], [path_ for _, _, path_ in starts]),
        title,
    )


def _outline_starts(
    reader: PdfReader, items: list, parents: tuple[str, ...], out: list[tuple[int, int, str]]
) -> list[tuple[int, int, str]]:
    """Flatten the outline to (page index, order, "A > B > C"); nested lists follow their parent.

    Sorted by page then order, the last start at or before a page is the deepest entry in force
    there, because children come after their parent.
    """
    current = parents
    for item in items:
        if isinstance(item, list):
            _outline_starts(reader, item, current, out)
            continue
        title = " ".join(str(item.title or "").split())
        current = (*parents, title)
        page = reader.get_destination_page_number(item)
        if page is not None and page >= 0:
            out.append((page, len(out), " > ".join(current)))
    return out


def _title(doc: pdfium.PdfDocument, meta_title: str | None, path: Path) -> tuple[str, str]:
    """(title, where it came from): the metadata title, else the first line of the first page
    with text, else the file name."""
    title = " ".join((meta_title or "").split())
    if title and not _JUNK_TITLE.match(title):
        return title, "metadata"
    texts = (_page_text(doc, index, []) for index in range(min(_TITLE_PAGES, len(doc))))
    line = _first_line_title(texts)
    return (line, "text") if line else (path.stem, "file name")


def _first_line_title(texts: Iterable[str]) -> str | None:
    """The first line of the first page with text, when it looks like a title."""
    for text in texts:
        for line in clean.fix_characters(text).split("\n"):
            line = " ".join(line.split())
            if line:
                return line if _looks_like_title(line) else None
    return None


def _title_from_ocr(info: PdfInfo, ocr_text: dict[int, str]) -> None:
    """A scan without a metadata title is named by its first OCR line, as a text PDF would be."""
    if info.title_from != "file name":
        return
    first = sorted(index for index in ocr_text if index < _TITLE_PAGES)
    line = _first_line_title(ocr_text[index] for index in first)
    if line:
        info.title, info.title_from = line, "text"


def _looks_like_title(line: str) -> bool:
    """A heading, not the first sentence of body text (which would make a poor title)."""
    return (
        sum(ch.isalpha() for ch in line) >= 3
        and len(line) <= 90
        and len(line.split()) <= 12
        and len(re.findall(r"[.!?:](\s|$)", line)) <= 1
    )


def _read_page(
    doc: pdfium.PdfDocument, index: int, warnings: list[str]
) -> tuple[str, list[tuple[str, float]]]:
    """One page's text (as `_page_text`) and its lines with the font size PDFium reports for
    each line's first visible character (for `ingest.layout`)."""
    try:
        page = doc[index]
    except pdfium.PdfiumError as exc:
        warnings.append(f"page {index + 1} unreadable: {exc}")
        return "", []
    try:
        textpage = page.get_textpage()
        try:
            text = textpage.get_text_bounded()
            count = textpage.count_chars()  # the sizes go by character index
            indexed = textpage.get_text_range(0, count) if count > 0 else ""
            lines: list[tuple[str, float]] = []
            start = 0
            for line in indexed.split("\n"):
                first = next((start + i for i, ch in enumerate(line) if not ch.isspace()), None)
                if first is not None and first < count:
                    size = float(pdfium_c.FPDFText_GetFontSize(textpage.raw, first))
                    lines.append((clean.fix_characters(line), size))
                start += len(line) + 1
        finally:
            textpage.close()
    finally:
        page.close()
    return _plain_hyphens(text), lines


def _plain_hyphens(text: str) -> str:
    return text.replace("\x02", "-\n").replace("\ufffe", "-\n")


def _page_text(doc: pdfium.PdfDocument, index: int, warnings: list[str]) -> str:
    """One page's text as PDFium reads it, with its line-end hyphen marks made plain again.

    PDFium joins a line ending in a hyphen to the next and marks the spot with U+0002 (U+FFFE
    from get_text_range); turning it back into "-\\n" lets `clean.dehyphenate` decide.
    """
    try:
        page = doc[index]
    except pdfium.PdfiumError as exc:
        warnings.append(f"page {index + 1} unreadable: {exc}")
        return ""
    try:
        textpage = page.get_textpage()
        try:
            text = textpage.get_text_bounded()
        finally:
            textpage.close()
    finally:
        page.close()
    return _plain_hyphens(text)
