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
from ingest.pdf import parse_pdf
from ingest.sniff import sniff
from ingest.text import parse_html, parse_markdown, parse_text


def parse_file(
    path: Path | str, *, max_pages: int, max_bytes: int, max_unzipped_bytes: int
) -> ParsedDocument:
    """Parse the file at `path` within the given limits; raise IngestError otherwise."""
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
    try:
        kind = sniff(resolved)
        document = _parse(resolved, kind, max_pages, max_unzipped_bytes)
    except IngestError:
        raise
    except MemoryError as exc:
        raise IngestError("could not parse: out of memory") from exc
    except Exception as exc:  # noqa: BLE001 - any parser failure becomes a reason, not a crash
        raise IngestError(f"could not parse: {type(exc).__name__}: {exc}"[:300]) from exc
    if not any(page.text.strip() for page in document.pages):
        raise IngestError("no text found in the file")
    return document


def _parse(path: Path, kind: str, max_pages: int, max_unzipped_bytes: int) -> ParsedDocument:
    if kind == "pdf":
        return parse_pdf(path, max_pages=max_pages)
    if kind == "docx":
        document = parse_docx(path, max_unzipped_bytes=max_unzipped_bytes)
    elif kind == "html":
        document = parse_html(path)
    elif kind == "markdown":
        document = parse_markdown(path)
    else:
        document = parse_text(path)
    if document.page_count is not None and document.page_count > max_pages:
        raise IngestError(f"too many pages ({document.page_count} > {max_pages})")
    return document
