"""Ingest files into the index: hash, extract (sandboxed), chunk, embed, write.

Extraction runs in a separate worker process with a time limit and a memory cap, so a PDF that
makes a parser loop or explode costs one failed file, not the batch. The worker spools pages to a
temporary JSON-lines file; the main process streams them through chunking and embedding in
batches, so neither a huge document's text nor its vectors are held at once. While the main
process embeds one file, the worker is already extracting the next.

Pages without a text layer are read with OCR inside the worker (`FOLIO_OCR`, on by default);
the worker reports each OCR page through a small progress file beside its spool, which the main
process polls while it waits, so the caller's progress callback sees "OCR page 3/16".

A folder walk takes the files whose suffix belongs to a format of `ingest.formats`, and reports
every other file as skipped, by name, with the reason; hidden files and folders are passed over
silently. A file named explicitly is judged by its content alone.
"""

from __future__ import annotations

import hashlib
import json
import logging
import multiprocessing
import os
import shutil
import signal
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import TimeoutError as FutureTimeout
from concurrent.futures import wait
from dataclasses import asdict, dataclass, field, replace
from enum import StrEnum
from pathlib import Path
from typing import NamedTuple

from folio.embedding import Embedder
from folio.index import DocRecord, Index, doc_id_for, stored_file_path
from folio.leftovers import SPOOL_PREFIX, claim, drop_originals, remove_stale_folders
from folio.settings import Settings
from folio.types import Chunk, DocStatus, Page
from ingest.chunk import chunk_pages
from ingest.errors import IngestError
from ingest.formats import DOCUMENT_SUFFIXES, skip_reason
from ingest.stages import embed_window, run_overlapped, windows

log = logging.getLogger("folio.ingest")

__all__ = ["DOCUMENT_SUFFIXES", "FileResult", "FileStatus", "Progress", "discover", "ingest_paths"]

EMBED_WINDOW = 256  # chunks per step (ingest.stages): bounds memory, sorts batches by tokens
# Documents the parser worker extracts ahead of the one being embedded: one keeps it busy
# while the main process embeds; more would only pile up spool files.
EXTRACT_AHEAD = 1
POLL_S = 0.25  # how often the main process looks at the worker's OCR progress while it waits


class FileStatus(StrEnum):
    INGESTED = "ingested"
    UNCHANGED = "unchanged"  # the same content is already in the collection
    SKIPPED = "skipped"  # a folder walk passed it over (not a format Folio reads)
    FAILED = "failed"


@dataclass
class FileResult:
    path: str
    name: str
    status: FileStatus
    doc_id: str | None = None
    collection: str = ""
    title: str = ""
    pages: int | None = None
    empty_pages: int = 0
    chunks: int = 0
    error: str | None = None  # why it failed or was skipped
    timings: dict[str, float] = field(default_factory=dict)
    ocr_pages: int = 0  # pages read with OCR


@dataclass
class Progress:
    """Sent to the caller's callback after every step, for progress bars and job status.

    `phase` is "ocr" while the parser worker reads scanned pages (`pages_done` of `pages_total`
    are the pages being read with OCR) and "embedding" while chunks are embedded and written;
    empty when a file is done. `note` says the step in words ("OCR page 3/16").
    """

    file: str
    pages_done: int = 0
    pages_total: int | None = None
    chunks_done: int = 0
    files_done: int = 0
    files_total: int = 0
    phase: str = ""
    note: str = ""


ProgressFn = Callable[[Progress], None]


# --- discovery and hashing ---------------------------------------------------------------------


class Found(NamedTuple):
    path: Path
    error: str | None = None  # the path cannot be read
    skipped: str | None = None  # a folder walk passes it over, and why


def discover(paths: Iterable[Path]) -> Iterator[Found]:
    """Files under the given paths, recursively, with an error for paths that cannot be read
    and a reason for the files a folder walk skips (`ingest.formats.skip_reason`)."""
    for root in paths:
        root = Path(root)
        try:
            resolved = root.resolve(strict=True)
        except RuntimeError:
            yield Found(root, "symlink loop")
            continue
        except OSError as exc:
            yield Found(root, "symlink loop" if exc.errno == 40 else f"cannot read: {exc.strerror}")
            continue
        if resolved.is_dir():
            seen = set()
            for dirpath, dirnames, filenames in os.walk(resolved, followlinks=False):
                dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
                for name in sorted(filenames):
                    if name.startswith("."):
                        continue
                    p = Path(dirpath) / name
                    if p in seen:
                        continue
                    seen.add(p)
                    reason = skip_reason(p)
                    if reason is not None:
                        yield Found(p, skipped=reason)
                        continue
                    yield from discover([p])
        else:
            yield Found(root)


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


# --- the extraction worker (runs in a child process) -------------------------------------------


def _limit_memory(max_bytes: int) -> None:
    try:
        import resource

        resource.setrlimit(resource.RLIMIT_AS, (max_bytes, max_bytes))
    except (ImportError, ValueError, OSError):
        pass


def _start_worker(max_bytes: int) -> None:
    """Cap the worker's memory, then load the parsers (pdfium, lxml, ...) before it takes its
    first file: the per-file time limit measures extraction, not a fresh worker's imports
    (seconds at a load average over 10, enough to fail a 1 s limit)."""
    _limit_memory(max_bytes)
    import ingest.parse  # noqa: F401


def extract_to_spool(path: str, spool: str, limits: dict) -> dict:
    """Parse one file and write its pages as JSON lines; return the document's metadata.

    OCR progress goes to `progress_path(spool)` as "page pages", replaced atomically."""
    from ingest.parse import parse_file

    started = time.perf_counter()
    marker = progress_path(Path(spool))

    def ocr_progress(page: int, pages: int) -> None:
        tmp = marker.with_suffix(".tmp")
        tmp.write_text(f"{page} {pages}")
        os.replace(tmp, marker)

    doc = parse_file(
        Path(path),
        max_pages=limits["max_pages"],
        max_bytes=limits["max_bytes"],
        max_unzipped_bytes=limits["max_unzipped_bytes"],
        ocr=limits.get("ocr", False),
        progress=ocr_progress,
    )
    with open(spool, "w", encoding="utf-8") as f:
        for page in doc.pages:
            f.write(json.dumps(asdict(page), ensure_ascii=False) + "\n")
    return {
        "title": doc.title,
        "kind": doc.kind,
        "page_count": doc.page_count,
        "empty_pages": doc.empty_pages,
        "ocr_pages": doc.ocr_pages,
        "spooled_pages": len(doc.pages),
        "warnings": doc.warnings,
        "seconds": time.perf_counter() - started,
    }


def progress_path(spool: Path) -> Path:
    return spool.with_suffix(".progress")


def read_progress(spool: Path) -> tuple[int, int] | None:
    """(page, pages) of the worker's OCR on this spool's file, or None before any."""
    try:
        page, pages = progress_path(spool).read_text().split()
        return int(page), int(pages)
    except (OSError, ValueError):
        return None


def read_spool(spool: Path) -> Iterator[Page]:
    with open(spool, encoding="utf-8") as f:
        for line in f:
            yield Page(**json.loads(line))


class WorkerLost(Exception):
    """The parser worker died for a reason that need not be this file's (see Extractor)."""


class Extractor:
    """One worker process at a time, replaced when a file times out or kills it.

    A worker can also die for reasons of its own: killed from outside (the kernel's OOM killer,
    an operator), or while idle, or before the main process has read its "took the file"
    message, which is late on a loaded machine. pebble then marks the whole pool broken
    ("BrokenProcessPool: All workers expired") and fails every queued file with it:
    `test_parser_time_limit_fails_one_file_not_the_batch` lost its second file that way at a
    load average over 10. So a broken pool is replaced and the file submitted again, up to
    MAX_ATTEMPTS times, each retry logged; a file that keeps killing its worker is reported
    with that reason, and the batch goes on."""

    MAX_ATTEMPTS = 3

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.limits = {
            "max_pages": settings.max_pages,
            "max_bytes": int(settings.max_file_mb * 1024 * 1024),
            "max_unzipped_bytes": int(settings.max_unzipped_mb * 1024 * 1024),
            "ocr": settings.ocr,
        }
        self.tmp = Path(tempfile.mkdtemp(prefix=SPOOL_PREFIX))
        claim(self.tmp)  # a kill -9 leaves it behind; the next start removes it
        self.paths: dict[Path, Path] = {}  # spool -> the file, to submit it again
        self.restarts = 0
        self.pool = self._new_pool()

    def _new_pool(self):
        from pebble import ProcessPool

        return ProcessPool(
            max_workers=1,
            context=multiprocessing.get_context("spawn"),
            initializer=_start_worker,
            initargs=(self.settings.parse_memory_mb << 20,),
        )

    def _restart(self) -> None:
        self.restarts += 1
        log.warning("parser worker pool broken; starting a new one", extra={"n": self.restarts})
        self.pool.stop()
        self.pool.join(timeout=5)
        self.pool = self._new_pool()

    def _schedule(self, path: Path, spool: Path):
        if not self.pool.active:  # broken by a worker that died between files
            self._restart()
        progress_path(spool).unlink(missing_ok=True)
        return self.pool.schedule(
            extract_to_spool,
            args=(str(path), str(spool), self.limits),
            timeout=self.settings.parse_timeout_s,
        )

    def submit(self, path: Path, key: str):
        spool = self.tmp / f"{key}.jsonl"
        self.paths[spool] = path
        return self._schedule(path, spool), spool

    def result(
        self, future, spool: Path | None = None, on_ocr: Callable[[int, int], None] | None = None
    ) -> dict:
        """The worker's metadata for one file; while waiting, `on_ocr(page, pages)` is called
        whenever the worker starts another OCR page of it. A lost worker (see the class) costs
        a retry, not the file."""
        for attempt in range(1, self.MAX_ATTEMPTS + 1):
            try:
                return self._result(future, spool, on_ocr)
            except WorkerLost as lost:
                if attempt == self.MAX_ATTEMPTS or spool not in self.paths:
                    raise IngestError(
                        f"the parser worker died {attempt} times on this file ({lost})"
                    ) from lost
                log.warning(
                    "parser worker lost; trying the file again",
                    extra={"file": str(self.paths[spool]), "reason": str(lost), "try": attempt},
                )
                try:
                    future = self._schedule(self.paths[spool], spool)
                except Exception as exc:  # cannot start a worker at all
                    raise IngestError(f"could not restart the parser worker: {exc}") from exc
        raise AssertionError("unreachable")

    def _result(self, future, spool: Path | None, on_ocr: Callable[[int, int], None] | None):
        from concurrent.futures.process import BrokenProcessPool

        from pebble import ProcessExpired

        seen = None
        while spool is not None and on_ocr is not None and not future.done():
            wait([future], timeout=POLL_S)
            now = read_progress(spool)
            if now is not None and now != seen:
                seen = now
                on_ocr(*now)
        try:
            return future.result()
        except IngestError:
            raise
        except FutureTimeout as exc:
            ocr = read_progress(spool) if spool is not None else None
            during = (
                f" during OCR (page {ocr[0]} of {ocr[1]}; scans take ~1 s a page)" if ocr else ""
            )
            raise IngestError(
                f"extraction took longer than {self.settings.parse_timeout_s:.0f} s{during} and "
                "was stopped (FOLIO_PARSE_TIMEOUT_S)"
            ) from exc
        except BrokenProcessPool as exc:
            raise WorkerLost(f"worker pool broken: {exc}") from exc
        except ProcessExpired as exc:
            if exc.exitcode == -signal.SIGKILL:  # killed from outside, maybe not for this file
                raise WorkerLost("killed with SIGKILL") from exc
            raise IngestError(
                f"the parser crashed or ran out of memory (exit code {exc.exitcode})"
            ) from exc
        except MemoryError as exc:
            raise IngestError(
                "too large to parse within the memory limit "
                f"({self.settings.parse_memory_mb} MB, FOLIO_PARSE_MEMORY_MB)"
            ) from exc
        except Exception as exc:  # a parser bug must not end the batch
            raise IngestError(f"could not parse: {type(exc).__name__}: {exc}") from exc

    def close(self) -> None:
        self.pool.stop()
        self.pool.join(timeout=5)
        shutil.rmtree(self.tmp, ignore_errors=True)


# --- the pipeline ------------------------------------------------------------------------------


@dataclass
class _Job:
    path: Path
    sha256: str
    size: int
    future: object  # submitted to the worker EXTRACT_AHEAD documents before its turn
    spool: Path | None


def ingest_paths(
    paths: Iterable[Path],
    settings: Settings,
    *,
    index: Index,
    embedder: Embedder,
    collection: str | None = None,
    progress: ProgressFn | None = None,
    on_wait: Callable[[int | None], None] | None = None,
) -> list[FileResult]:
    """Ingest every file under `paths`; one bad file never stops the others.

    The whole batch holds the index's write lock (`folio.lock`): a second writer on the same
    data dir waits (`on_wait(pid)` says for whom) instead of corrupting Chroma."""
    from folio.lock import writer

    def waiting(pid: int | None) -> None:
        log.warning("waiting for another writer on the index", extra={"pid": pid})
        if on_wait is not None:
            on_wait(pid)

    with writer(settings.data_dir, on_wait=waiting):
        collection = collection or settings.default_collection
        return _ingest_locked(list(paths), settings, index, embedder, collection, progress)


def _ingest_locked(
    paths: list[Path], settings: Settings, index: Index, embedder: Embedder, collection: str,
    progress: ProgressFn | None,
) -> list[FileResult]:  # fmt: skip
    results: list[FileResult] = []
    jobs: list[_Job] = []
    found = list(discover(paths))
    max_bytes = settings.max_file_mb * 1024 * 1024
    recovered = index.recover()
    if recovered:
        log.info("cleared interrupted ingests", extra={"doc_ids": recovered})
    removed = remove_stale_folders(settings.data_dir)
    if removed:
        log.info("removed working folders of dead processes", extra={"folders": removed})
    extractor: Extractor | None = None
    try:
        for path, error, skipped in found:
            if error:
                results.append(_failed(path, collection, error))
                continue
            if skipped:
                results.append(
                    FileResult(str(path), path.name, FileStatus.SKIPPED, None, collection,
                               error=skipped)
                )  # fmt: skip
                continue
            try:
                size = path.stat().st_size
                if size > max_bytes:
                    raise IngestError(
                        f"file too large ({size / 2**20:.1f} MB > limit "
                        f"{settings.max_file_mb:g} MB, FOLIO_MAX_FILE_MB)"
                    )
                if size == 0:
                    raise IngestError("file is empty")
                sha = sha256_file(path)
            except IngestError as exc:
                results.append(_failed(path, collection, exc.reason))
                continue
            except OSError as exc:
                results.append(_failed(path, collection, f"cannot read: {exc.strerror}"))
                continue
            same = index.ready_by_sha(collection, sha)
            if same is not None:
                results.append(
                    FileResult(
                        str(path), path.name, FileStatus.UNCHANGED, same.id, collection,
                        same.title, same.pages, same.empty_pages, same.chunks,
                    )
                )  # fmt: skip
                continue
            if extractor is None:
                extractor = Extractor(settings)
            jobs.append(_Job(path, sha, size, None, None))

        for n, job in enumerate(jobs):
            for ahead in jobs[n : n + 1 + EXTRACT_AHEAD]:  # the worker's bounded queue
                if ahead.future is None:
                    key = doc_id_for(collection, ahead.sha256)
                    ahead.future, ahead.spool = extractor.submit(ahead.path, key)
            result = _ingest_one(job, settings, index, embedder, extractor, collection, progress)
            if progress:
                progress(Progress(job.path.name, files_done=n + 1, files_total=len(jobs)))
            results.append(result)
    finally:
        if extractor is not None:
            extractor.close()
    for r in results:
        log.info(
            "file %s: %s", r.name, r.status,
            extra={"file": r.path, "status": r.status, "doc_id": r.doc_id, "error": r.error,
                   "pages": r.pages, "chunks": r.chunks},
        )  # fmt: skip
    return results


def _failed(path: Path, collection: str, reason: str) -> FileResult:
    return FileResult(str(path), path.name, FileStatus.FAILED, collection=collection, error=reason)


def _ingest_one(
    job: _Job,
    settings: Settings,
    index: Index,
    embedder: Embedder,
    extractor: Extractor,
    collection: str,
    progress: ProgressFn | None,
) -> FileResult:
    path = job.path
    doc = DocRecord(
        id=doc_id_for(collection, job.sha256),
        collection=collection,
        name=path.name,
        sha256=job.sha256,
        status=DocStatus.PENDING,
        source=str(path.resolve()),
        size=job.size,
    )
    timings = {"extract": 0.0, "chunk": 0.0, "embed": 0.0, "write": 0.0}

    def on_ocr(page: int, pages: int) -> None:
        if progress:
            progress(Progress(path.name, page, pages, phase="ocr", note=f"OCR page {page}/{pages}"))

    try:
        meta = extractor.result(job.future, job.spool, on_ocr)
        timings["extract"] = meta["seconds"]
        doc.title, doc.kind, doc.pages = meta["title"], meta["kind"], meta["page_count"]
        stored = stored_file_path(settings, job.sha256, path.suffix)
        doc.stored_file = str(stored)
        index.begin(doc)
        n_chunks = _write_chunks(
            doc, read_spool(job.spool), meta, settings, index, embedder, timings, progress
        )
        if n_chunks == 0:
            raise IngestError("no text to index (the file has no extractable text)")
        t = time.perf_counter()
        _store_original(path, stored)
        retired = index.finish(
            doc, pages=meta["page_count"], empty_pages=meta["empty_pages"], chunks=n_chunks
        )
        drop_originals(index.db, settings.files_dir, retired)  # the replaced version's file
        timings["write"] += time.perf_counter() - t
    except IngestError as exc:
        index.fail(doc, exc.reason)
        return FileResult(
            str(path), path.name, FileStatus.FAILED, doc.id, collection, error=exc.reason,
            timings=timings,
        )  # fmt: skip
    finally:
        job.spool.unlink(missing_ok=True)
        progress_path(job.spool).unlink(missing_ok=True)
    return FileResult(
        str(path), path.name, FileStatus.INGESTED, doc.id, collection, doc.title, doc.pages,
        doc.empty_pages, doc.chunks, timings=timings, ocr_pages=meta.get("ocr_pages", 0),
    )  # fmt: skip


def _write_chunks(
    doc: DocRecord,
    pages: Iterator[Page],
    meta: dict,
    settings: Settings,
    index: Index,
    embedder: Embedder,
    timings: dict[str, float],
    progress: ProgressFn | None,
) -> int:
    def count_tokens(texts: list[str]) -> list[int]:
        return embedder.count_tokens(texts)

    pages_done = 0

    def counted(pages: Iterator[Page]) -> Iterator[Page]:
        nonlocal pages_done
        for page in pages:
            pages_done += 1
            yield page if settings.chunk_at_headings else replace(page, headings=())

    stream = chunk_pages(
        counted(pages),
        doc_id=doc.id,
        count_tokens=count_tokens,
        max_tokens=settings.chunk_tokens,
        overlap=settings.chunk_overlap,
    )

    def embed(window: list[Chunk]):
        return embed_window(embedder, window, doc.title, settings)

    def on_written(total: int) -> None:
        if progress:
            progress(
                Progress(
                    doc.name,
                    pages_done=pages_done,
                    pages_total=meta.get("spooled_pages"),
                    chunks_done=total,
                    phase="embedding",
                )
            )

    return run_overlapped(
        windows(stream, EMBED_WINDOW),
        embed,
        lambda window, vectors: index.add_chunks(doc, window, vectors),
        timings,
        on_written=on_written,
    )


def _store_original(path: Path, dest: Path) -> None:
    """Keep the original so the browser can open it at the cited page."""
    if dest.exists():
        return
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_suffix(dest.suffix + ".part")
    shutil.copyfile(path, tmp)
    os.replace(tmp, dest)
