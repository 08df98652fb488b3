"""Decide a file's kind from its bytes, not its name.

Uploads arrive with whatever name the user's machine gave them: a `.pdf` can be an executable,
a `.txt` an image. Trusting the extension would hand such files to a parser that fails with an
obscure error (or worse, succeeds on junk), so the kind comes from magic bytes and a text check.
The extension only breaks the tie between plain text and Markdown, which share their bytes. The
signatures, suffixes and kinds come from the one registry of formats, `ingest.formats`.
"""

from __future__ import annotations

import re
import zipfile
from pathlib import Path

from ingest.errors import IngestError
from ingest.formats import FORMATS, KINDS, Format, by_suffix

__all__ = ["KINDS", "looks_like_text", "sniff"]

_HEAD_BYTES = 64 * 1024
# names that promise a binary format
_BINARY_SUFFIXES = {s for f in FORMATS if not f.text for s in f.suffixes}
_MAGIC_FORMATS = [f for f in FORMATS if f.magic]
_ZIP_FORMATS = [f for f in FORMATS if f.zip_member]

# Prefix -> what the file looks like, for formats we refuse. Checked before the text test so the
# reason names the real format.
_REFUSED_MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"\x7fELF", "an executable (Linux ELF)"),
    (b"MZ", "an executable (Windows)"),
    (b"\xfe\xed\xfa\xce", "an executable (macOS Mach-O)"),
    (b"\xfe\xed\xfa\xcf", "an executable (macOS Mach-O)"),
    (b"\xce\xfa\xed\xfe", "an executable (macOS Mach-O)"),
    (b"\xcf\xfa\xed\xfe", "an executable (macOS Mach-O)"),
    (b"\xca\xfe\xba\xbe", "an executable (macOS universal binary or Java class)"),
    (b"GIF87a", "an image (GIF)"),
    (b"GIF89a", "an image (GIF)"),
    (b"BM", "an image (BMP)"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "a legacy Office file (.doc/.xls); save it as .docx"),
    (b"{\\rtf", "an RTF document; save it as .docx or PDF"),
    (b"\x1f\x8b", "a gzip archive"),
    (b"7z\xbc\xaf\x27\x1c", "a 7-Zip archive"),
    (b"Rar!", "a RAR archive"),
)

_HTML_START = re.compile(
    rb"^(?:\xef\xbb\xbf)?\s*(?:<\?xml[^>]*>\s*)?(?:<!--.*?-->\s*)*<(?:!doctype\s+html|html)\b",
    re.I | re.S,
)
_ANY_TAG = re.compile(rb"<(?:[a-z][a-z0-9]*)(?:\s[^>]*)?>", re.I)
# Everything except C0 control bytes other than tab, LF, FF, CR and ESC, and DEL: deleting these
# leaves the control bytes, which are rare in text and common in binary data.
_NOT_CONTROL = bytes(b for b in range(256) if b >= 32 and b != 127 or b in (9, 10, 12, 13, 27))


def sniff(path: Path) -> str:
    """Return the file's kind (one of `KINDS`), or raise IngestError saying why not."""
    path = Path(path)
    with open(path, "rb") as fh:
        head = fh.read(_HEAD_BYTES)
    if not head:
        raise IngestError("file is empty")
    for fmt in _MAGIC_FORMATS:
        if _has_magic(head, fmt):
            if fmt.scan:
                _check_image(path, fmt.name)
            return fmt.kind
    if head.startswith((b"PK\x03\x04", b"PK\x05\x06")):
        return _sniff_zip(path)
    for magic, what in _REFUSED_MAGIC:
        if head.startswith(magic) and not (magic in (b"MZ", b"BM") and looks_like_text(head)):
            raise IngestError(_refusal(path, what))
    if head[8:12] == b"WEBP" and head.startswith(b"RIFF"):
        raise IngestError(_refusal(path, "an image (WebP)"))
    if not looks_like_text(head):
        raise IngestError(_refusal(path, "binary data"))
    suffix = path.suffix.lower()
    if suffix in _BINARY_SUFFIXES:  # typically an HTML error page saved by a failed download
        what = "an HTML page" if _ANY_TAG.search(head) else "plain text"
        raise IngestError(f"not a real {suffix} file (looks like {what}; a failed download?)")
    named = by_suffix(suffix)
    if _HTML_START.match(head[:4096]):
        return "html"
    if named is not None and named.kind == "html" and _ANY_TAG.search(head):
        return "html"
    if named is not None and named.kind == "markdown":
        return "markdown"
    return "text"


def _has_magic(head: bytes, fmt: Format) -> bool:
    if fmt.magic_within:
        return any(m in head[: fmt.magic_within] for m in fmt.magic)
    return head.startswith(fmt.magic)


def _check_image(path: Path, name: str) -> None:
    """An image whose header Pillow cannot read is refused now, not after a job is queued."""
    from PIL import Image

    try:
        with Image.open(path) as image:
            image.size  # noqa: B018 - the header is read by open
    except Image.DecompressionBombError as exc:
        raise IngestError(f"image too large to read ({name}): {exc}"[:300]) from exc
    except Exception as exc:  # noqa: BLE001 - every reason Pillow gives means "unreadable"
        raise IngestError(f"corrupt image ({name}): {exc}"[:300]) from exc


def looks_like_text(sample: bytes) -> bool:
    """True when `sample` decodes as UTF-8 (or 8-bit text) and carries no binary control bytes."""
    if b"\x00" in sample:  # UTF-16 text lands here too; it is rare enough for manuals to refuse
        return False
    try:
        sample.decode("utf-8")
    except UnicodeDecodeError as exc:
        # A multi-byte character cut by the sample boundary is still UTF-8.
        if exc.start < len(sample) - 3:
            return _control_ratio(sample) < 0.01 and _c1_ratio(sample) < 0.05
    return _control_ratio(sample) < 0.01


def _control_ratio(sample: bytes) -> float:
    return len(sample.translate(None, delete=_NOT_CONTROL)) / len(sample)


def _c1_ratio(sample: bytes) -> float:
    # Latin-1 / cp1252 text uses 0x80-0x9f sparingly (cp1252 quotes); binary uses them evenly.
    return sum(1 for b in sample if 0x80 <= b <= 0x9F) / len(sample)


def _sniff_zip(path: Path) -> str:
    try:
        with zipfile.ZipFile(path) as zf:
            names = set(zf.namelist())
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        what = "DOCX" if path.suffix.lower() == ".docx" else "ZIP archive"
        raise IngestError(f"corrupt {what}: {exc}") from exc
    for fmt in _ZIP_FORMATS:
        if fmt.zip_member in names:
            return fmt.kind
    if "xl/workbook.xml" in names:
        raise IngestError(_refusal(path, "an Excel workbook"))
    if "ppt/presentation.xml" in names:
        raise IngestError(_refusal(path, "a PowerPoint presentation"))
    if "content.xml" in names and "mimetype" in names:
        raise IngestError(_refusal(path, "an OpenDocument file; save it as .docx or PDF"))
    raise IngestError(_refusal(path, "a ZIP archive"))


def _refusal(path: Path, what: str) -> str:
    suffix = path.suffix.lower()
    named = f", despite its {suffix} name" if suffix else ""
    return f"not a supported file type (looks like {what}{named})"
