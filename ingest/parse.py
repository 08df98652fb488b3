"""One entry point from a file on disk to a ParsedDocument, or an IngestError saying why not.

The checks that need no parser come first (existence, symlink loops, size, emptiness), then the
content decides the parser (see sniff). Callers get either a document or an IngestError with a
reason a person can act on; a parser's own exception types never leak out.

`parse_file` is a plain top-level function with picklable arguments and result, so the pipeline
can run it in a worker process and kill it if a hostile file makes a parser loop.
"""

from __future__ import annotations

import errno
from pathlib import Path

from folio.types import ParsedDocument
from ingest.docx import parse_docx
from ingest.errors import IngestError, human_size
from ingest.formats import OcrProgress, ParseOptions, by_kind
from ingest.image import parse_image
from ingest.pdf import parse_pdf
from ingest.sniff import sniff
from ingest.text import parse_html, parse_markdown, parse_text


def parse_file(
    path: Path | str,
    *,
    max_pages: int,
    max_bytes: int,
    max_unzipped_bytes: int,
    ocr: bool = False,
    progress: OcrProgress | None = None,
) -> ParsedDocument:
    """Parse the file at `path` within the given limits; raise IngestError otherwise.

    `ocr`: read pages without a text layer (and PNG/JPEG/TIFF scans) with OCR, calling
    `progress(page, pages)` before each page it reads; off, such files are refused ("needs
    OCR").
    """
    path = Path(path)
    try:
        resolved = path.resolve(strict=True)
    except FileNotFoundError as exc:
        raise IngestError("file not found") from exc
    except RuntimeError as exc:  # Python < 3.13 reports symlink loops this way
        raise IngestError("symlink loop") from exc
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise IngestError("symlink loop") from exc
        raise IngestError(f"cannot open file: {exc.strerror or exc}") from exc
    try:
        stat = resolved.stat()
    except OSError as exc:
        raise IngestError(f"cannot open file: {exc.strerror or exc}") from exc
    if not resolved.is_file():
        raise IngestError("not a regular file")
    if stat.st_size > max_bytes:
        raise IngestError(
            f"file too large ({human_size(stat.st_size)} > limit {human_size(max_bytes)})"
        )
    if stat.st_size == 0:
        raise IngestError("file is empty")
    options = ParseOptions(max_pages, max_unzipped_bytes, ocr, progress)
    try:
        fmt = by_kind(sniff(resolved))
        document = fmt.load_parser()(resolved, options)
    except IngestError as exc:
        if out_of_memory(exc.__cause__):  # e.g. "corrupt DOCX: XMLSyntaxError: unknown error"
            raise IngestError(memory_reason()) from exc
        raise
    except Exception as exc:  # noqa: BLE001 - any parser failure becomes a reason, not a crash
        if out_of_memory(exc):
            raise IngestError(memory_reason()) from exc
        raise IngestError(f"could not parse: {type(exc).__name__}: {exc}"[:300]) from exc
    if document.page_count is not None and document.page_count > max_pages:
        raise IngestError(f"too many pages ({document.page_count} > {max_pages})")
    if not any(page.text.strip() for page in document.pages):
        raise IngestError("no text found in the file")
    return document


def out_of_memory(exc: BaseException | None) -> bool:
    """True when a parser failed because an allocation failed. Under the worker's address-space
    cap libxml2 does not raise MemoryError: lxml raises `XMLSyntaxError('unknown error')` (or
    `XPathEvalError`) and records ERR_NO_MEMORY in the exception's error log, which is the only
    trace of the cause; the message alone read "XPathEvalError: unknown error"."""
    seen = 0
    while exc is not None and seen < 5:
        if isinstance(exc, MemoryError):
            return True
        log = getattr(exc, "error_log", None)
        if log is not None and any(
            getattr(e, "type_name", "") == "ERR_NO_MEMORY" for e in log
        ):  # fmt: skip
            return True
        if "memory allocation failed" in str(exc).lower():
            return True
        exc, seen = exc.__cause__ or exc.__context__, seen + 1
    return False


def memory_reason() -> str:
    """The refusal for a parse that ran out of memory, naming the cap when there is one."""
    try:
        import resource

        cap, unlimited = resource.getrlimit(resource.RLIMIT_AS)[0], resource.RLIM_INFINITY
    except (ImportError, ValueError, OSError):
        cap, unlimited = -1, -1
    if cap in (-1, unlimited):
        return "too large to parse within the memory limit (the parser ran out of memory)"
    return f"too large to parse within the memory limit ({cap >> 20} MB, FOLIO_PARSE_MEMORY_MB)"


# --- the parsers of the format registry (`ingest.formats`), one signature for all -------------


def read_pdf(path: Path, options: ParseOptions) -> ParsedDocument:
    return parse_pdf(
        path,
        max_pages=options.max_pages,
        ocr=_engine() if options.ocr else None,
        progress=options.progress,
    )


def read_docx(path: Path, options: ParseOptions) -> ParsedDocument:
    return parse_docx(path, max_unzipped_bytes=options.max_unzipped_bytes)


def read_html(path: Path, options: ParseOptions) -> ParsedDocument:
    return parse_html(path)


def read_markdown(path: Path, options: ParseOptions) -> ParsedDocument:
    return parse_markdown(path)


def read_text(path: Path, options: ParseOptions) -> ParsedDocument:
    return parse_text(path)


def read_image(path: Path, options: ParseOptions) -> ParsedDocument:
    return parse_image(
        path,
        max_pages=options.max_pages,
        ocr=_engine() if options.ocr else None,
        progress=options.progress,
    )


def _engine():
    from ingest.ocr import engine

    return engine()
