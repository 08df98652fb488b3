"""Generators for test input files: PDFs, DOCX files and hostile inputs with known content.

Tests assert against the text and structure they asked these functions to write, so every
generator takes the content as an argument instead of inventing it. PDFs are drawn with fpdf2
and post-processed with pypdf for the features fpdf2 does not write (page labels, outline
entries at given pages, encryption).
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Sequence
from pathlib import Path

from fpdf import FPDF
from pypdf import PdfReader, PdfWriter

# (first physical page index, style) where style is a PDF label style: "/D" decimal,
# "/r" lower roman, "/R" upper roman, "/a" lower letters, "/A" upper letters.
LabelRange = tuple[int, str]
# (title, physical page index, level) with level 1 for top-level entries.
OutlineEntry = tuple[str, int, int]


def _draw_pdf(pages: Sequence[str], header: str | None, footer: str | None) -> bytes:
    """Write one PDF page per string, left-aligned (justification changes word spacing)."""
    pdf = FPDF(format="A4")
    pdf.set_auto_page_break(False)
    pdf.set_font("Helvetica", size=11)
    for n, text in enumerate(pages, start=1):
        pdf.add_page()
        if header is not None:
            pdf.set_xy(15, 10)
            pdf.cell(0, 6, header.format(n=n))
        pdf.set_xy(15, 25)
        if text:
            pdf.multi_cell(180, 6, text, align="L")
        if footer is not None:
            pdf.set_xy(15, 280)
            pdf.cell(0, 6, footer.format(n=n))
    return bytes(pdf.output())


def make_pdf(
    path: Path,
    pages: Sequence[str],
    *,
    header: str | None = None,
    footer: str | None = None,
    labels: Sequence[LabelRange] | None = None,
    outline: Sequence[OutlineEntry] | None = None,
    title: str | None = None,
    password: str | None = None,
) -> Path:
    """Write a PDF with `pages[i]` as the text of physical page i + 1.

    `header` and `footer` are drawn on every page; "{n}" in them becomes the page number.
    `password`: None = not encrypted; "" = encrypted with an empty user password (opens without
    asking, like many vendor manuals); anything else = that password is needed to open it.
    """
    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(_draw_pdf(pages, header, footer))))
    if title is not None:
        writer.add_metadata({"/Title": title})
    for i, (first, style) in enumerate(labels or ()):
        last = labels[i + 1][0] - 1 if i + 1 < len(labels) else len(pages) - 1
        writer.set_page_label(first, last, style=style, start=1)
    parents: dict[int, object] = {}
    for text, page_index, level in outline or ():
        parent = parents.get(level - 1) if level > 1 else None
        parents[level] = writer.add_outline_item(title=text, page_number=page_index, parent=parent)
    if password is not None:
        writer.encrypt(user_password=password, owner_password="owner-secret", algorithm="AES-128")
    with open(path, "wb") as fh:
        writer.write(fh)
    return path


def make_encrypted_pdf(path: Path, pages: Sequence[str], password: str = "secret") -> Path:
    """A PDF that cannot be opened without `password`."""
    return make_pdf(path, pages, password=password)


def make_scanned_pdf(path: Path, n_pages: int = 3) -> Path:
    """A PDF whose pages carry only drawings, as a scan without OCR has no text layer."""
    pdf = FPDF(format="A4")
    for _ in range(n_pages):
        pdf.add_page()
        pdf.set_fill_color(200, 200, 200)
        pdf.rect(20, 20, 170, 250, style="F")
        for y in range(40, 260, 8):
            pdf.line(30, y, 180, y)
    path.write_bytes(bytes(pdf.output()))
    return path


def make_truncated_pdf(path: Path, pages: Sequence[str] | None = None, keep: float = 0.5) -> Path:
    """A PDF cut off after `keep` of its bytes, like an interrupted download."""
    pages = pages or [f"Page {i} of a manual that was never fully downloaded." for i in range(8)]
    data = _draw_pdf(pages, None, None)
    path.write_bytes(data[: int(len(data) * keep)])
    return path


def make_docx(path: Path, blocks: Sequence[tuple], *, title: str | None = None) -> Path:
    """Write a DOCX from blocks, in order:

    ("title", text) | ("heading", level, text) | ("para", text) | ("table", [[cell, ...], ...])
    | ("page_break",) | ("rendered_page", text): a paragraph that Word's last layout put at the
    top of a new page (a `w:lastRenderedPageBreak` before its text, as Word saves it).
    """
    from docx import Document
    from docx.oxml import OxmlElement

    doc = Document()
    if title is not None:
        doc.core_properties.title = title
    for block in blocks:
        kind = block[0]
        if kind == "title":
            doc.add_heading(block[1], level=0)
        elif kind == "heading":
            doc.add_heading(block[2], level=block[1])
        elif kind == "para":
            doc.add_paragraph(block[1])
        elif kind == "table":
            rows = block[1]
            table = doc.add_table(rows=len(rows), cols=len(rows[0]))
            for r, row in enumerate(rows):
                for c, value in enumerate(row):
                    table.cell(r, c).text = value
        elif kind == "page_break":
            doc.add_page_break()
        elif kind == "rendered_page":
            paragraph = doc.add_paragraph()
            paragraph.add_run()._r.append(OxmlElement("w:lastRenderedPageBreak"))
            paragraph.add_run(block[1])
        else:
            raise ValueError(f"unknown block kind {kind!r}")
    doc.save(str(path))
    return path


_CONTENT_TYPES = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.'
    'relationships+xml"/>'
    '<Default Extension="xml" ContentType="application/xml"/>'
    '<Override PartName="/word/document.xml" ContentType="application/vnd.openxmlformats-'
    'officedocument.wordprocessingml.document.main+xml"/></Types>'
)
_RELS = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
    'relationships/officeDocument" Target="word/document.xml"/></Relationships>'
)
_DOCUMENT_HEAD = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    '<w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main">'
    "<w:body><w:p><w:r><w:t>Harmless looking text.</w:t></w:r></w:p></w:body></w:document>"
)


def make_zip_bomb_docx(path: Path, expanded_bytes: int = 64 << 20) -> Path:
    """A well-formed DOCX whose document.xml expands to `expanded_bytes` (trailing whitespace).

    The padding is streamed through the compressor 1 MiB at a time, so memory stays flat; it
    compresses about 1000:1 (64 MiB -> 64 KB, 0.5 s). The default stays under the usual size limit
    on purpose, so it exercises the compression-ratio guard; 1 GiB takes about 7 s to build.
    """
    chunk = b" " * (1 << 20)
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("[Content_Types].xml", _CONTENT_TYPES)
        zf.writestr("_rels/.rels", _RELS)
        with zf.open("word/document.xml", "w", force_zip64=True) as out:
            out.write(_DOCUMENT_HEAD.encode())
            left = expanded_bytes - len(_DOCUMENT_HEAD)
            while left > 0:
                out.write(chunk[: min(left, len(chunk))])
                left -= len(chunk)
    return path


def make_elf(path: Path) -> Path:
    """Bytes that start like a Linux executable (ELF header) followed by binary junk."""
    path.write_bytes(b"\x7fELF\x02\x01\x01\x00" + bytes(range(256)) * 16)
    return path


def make_png(path: Path) -> Path:
    """A small valid PNG image (drawn with Pillow, which fpdf2 depends on)."""
    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (8, 8), (255, 0, 0)).save(buf, format="PNG")
    path.write_bytes(buf.getvalue())
    return path
