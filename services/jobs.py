"""Ingest jobs: one background worker thread, persisted in web.sqlite3.

Why one thread in the server process: embedded Chroma must be written by a single process,
and the two CPU cores are better spent on one ingest plus the queries than on two ingests.
The worker has its own `Index` (own SQLite connection) and its own `Embedder` (own lock), so a
query never waits behind an ingest batch. Jobs are rows, not memory: the Manuals page shows
them after a reload, and a job that was running when the server stopped is marked
`interrupted` at the next start (queued ones simply run then).
"""

from __future__ import annotations

import logging
import queue
import shutil
import threading
import time
import uuid
from dataclasses import asdict, dataclass
from enum import StrEnum
from pathlib import Path

from folio.embed_backend import Workload
from folio.embedding import open_embedder
from folio.leftovers import remove_stale_folders
from folio.lock import writer
from folio.settings import Settings
from services.audit import Action, AuditLog
from services.metrics import Metrics
from services.store import Store

log = logging.getLogger("folio.web")


class JobStatus(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"
    INTERRUPTED = "interrupted"


class Phase(StrEnum):
    NONE = ""
    WAITING = "waiting"
    EXTRACTING = "extracting"
    OCR = "ocr"
    EMBEDDING = "embedding"
    SAVING = "saving"


ACTIVE = (JobStatus.QUEUED, JobStatus.RUNNING)
_FLUSH_EVERY_S = 0.5


@dataclass
class Job:
    id: str
    kind: str  # upload | reindex
    collection: str
    name: str
    status: JobStatus
    phase: Phase = Phase.NONE
    pages_done: int = 0
    pages_total: int | None = None
    chunks_done: int = 0
    doc_id: str | None = None
    title: str | None = None
    error: str | None = None
    detail: str | None = None
    owner: str | None = None
    upload_path: str | None = None
    created_at: float = 0.0
    started_at: float | None = None
    finished_at: float | None = None

    @property
    def active(self) -> bool:
        return self.status in ACTIVE

    @property
    def retryable(self) -> bool:
        return self.status in (JobStatus.INTERRUPTED, JobStatus.FAILED) and bool(
            self.upload_path and Path(self.upload_path).is_file()
        )

    def describe(self) -> str:
        """The job's state in words, as the Manuals page shows it."""
        if self.status == JobStatus.QUEUED:
            return "waiting for the indexer"
        if self.status == JobStatus.RUNNING:
            if self.phase == Phase.EMBEDDING and self.pages_total:
                return f"indexing: page {self.pages_done} of {self.pages_total}"
            if self.phase == Phase.OCR and self.pages_total:
                return f"reading scanned pages (OCR): page {self.pages_done} of {self.pages_total}"
            return {"extracting": "reading the file", "saving": "saving"}.get(
                self.phase, "starting"
            )
        if self.status == JobStatus.DONE:
            return self.detail or "done"
        if self.status == JobStatus.INTERRUPTED:
            return self.error or "interrupted by a server restart"
        return f"failed: {self.error}" if self.error else "failed"

    def public(self) -> dict:
        d = asdict(self)
        d.pop("upload_path")
        d["description"] = self.describe()
        return d


class QueueFull(RuntimeError):
    pass


class JobService:
    def __init__(
        self, settings: Settings, store: Store, metrics: Metrics, audit: AuditLog | None = None
    ) -> None:
        self.settings = settings
        self.audit = audit or AuditLog(settings.audit_path, enabled=False)
        self.store = store
        self.metrics = metrics
        self.uploads_dir = settings.data_dir / "uploads"
        self._queue: queue.Queue[str] = queue.Queue()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._live: dict[str, Job] = {}  # the running job, fresher than its row
        self._index = None
        self._embedder = None
        self.current: str | None = None

    # --- lifecycle --------------------------------------------------------------------------

    def start(self) -> None:
        self.uploads_dir.mkdir(parents=True, exist_ok=True)
        remove_stale_folders(self.settings.data_dir)  # what a killed server left behind
        with self.store.tx() as db:
            db.execute(
                "UPDATE jobs SET status=?, phase='', finished_at=?, error=? WHERE status=?",
                (
                    JobStatus.INTERRUPTED,
                    time.time(),
                    "interrupted: the server stopped while indexing this file",
                    JobStatus.RUNNING,
                ),  # fmt: skip
            )
        for row in self.store.db.execute(
            "SELECT id FROM jobs WHERE status=? ORDER BY created_at", (JobStatus.QUEUED,)
        ):
            self._queue.put(row["id"])
        self._thread = threading.Thread(target=self._run, name="folio-ingest", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 3.0) -> None:
        """Let the worker finish its step; a job still running is then marked interrupted."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
        current = self.current
        if current is not None:
            self._update(
                current,
                status=JobStatus.INTERRUPTED,
                phase=Phase.NONE,
                finished_at=time.time(),
                error="interrupted: the server stopped while indexing this file",
            )

    # --- submitting and reading -------------------------------------------------------------

    def new_upload_dir(self) -> tuple[str, Path]:
        job_id = uuid.uuid4().hex[:16]
        path = self.uploads_dir / job_id
        path.mkdir(parents=True, exist_ok=False)
        return job_id, path

    def submit(
        self,
        job_id: str,
        *,
        kind: str,
        collection: str,
        name: str,
        upload_path: Path,
        owner: str,
        doc_id: str | None = None,
    ) -> Job:
        if self.queued_count() >= self.settings.max_queued_jobs:
            raise QueueFull(
                f"{self.settings.max_queued_jobs} files are already waiting to be indexed; "
                "try again when some have finished"
            )
        job = Job(
            id=job_id,
            kind=kind,
            collection=collection,
            name=name,
            status=JobStatus.QUEUED,
            phase=Phase.WAITING,
            owner=owner,
            doc_id=doc_id,
            upload_path=str(upload_path),
            created_at=time.time(),
        )
        with self.store.tx() as db:
            db.execute(
                "INSERT INTO jobs (id, kind, collection, name, status, phase, owner, doc_id,"
                " upload_path, created_at) VALUES (?,?,?,?,?,?,?,?,?,?)",
                (
                    job.id, job.kind, job.collection, job.name, job.status, job.phase,
                    job.owner, job.doc_id, job.upload_path, job.created_at,
                ),
            )  # fmt: skip
        self._queue.put(job.id)
        return job

    def retry(self, job: Job) -> Job:
        self._update(
            job.id, status=JobStatus.QUEUED, phase=Phase.WAITING, error=None, pages_done=0,
            chunks_done=0, started_at=None, finished_at=None,
        )  # fmt: skip
        self._queue.put(job.id)
        return self.get(job.id) or job

    def get(self, job_id: str) -> Job | None:
        live = self._live.get(job_id)
        if live is not None:
            return live
        row = self.store.db.execute("SELECT * FROM jobs WHERE id=?", (job_id,)).fetchone()
        return _job(row) if row else None

    def recent(self, collections: frozenset[str] | None = None, limit: int = 20) -> list[Job]:
        """Active jobs and those finished in the last day, newest first."""
        rows = self.store.db.execute(
            "SELECT * FROM jobs WHERE status IN (?,?)"
            " OR (created_at > ? AND dismissed = 0) ORDER BY created_at DESC LIMIT ?",
            (*ACTIVE, time.time() - 86400, limit),
        )
        jobs = [self._live.get(r["id"]) or _job(r) for r in rows]
        return [j for j in jobs if collections is None or j.collection in collections]

    def dismiss_finished(self, collections: frozenset[str] | None = None) -> None:
        """Hide finished jobs from the list (they stay in the table)."""
        for job in self.recent(collections, limit=1000):
            if not job.active:
                self.store.db.execute("UPDATE jobs SET dismissed=1 WHERE id=?", (job.id,))

    def queued_count(self) -> int:
        row = self.store.db.execute(
            "SELECT COUNT(*) FROM jobs WHERE status=?", (JobStatus.QUEUED,)
        ).fetchone()
        return int(row[0])

    def finished_count(self) -> int:
        row = self.store.db.execute(
            "SELECT COUNT(*) FROM jobs WHERE status NOT IN (?,?)", ACTIVE
        ).fetchone()
        return int(row[0])

    # --- the worker -------------------------------------------------------------------------

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                job_id = self._queue.get(timeout=0.5)
            except queue.Empty:
                continue
            job = self.get(job_id)
            if job is None or job.status != JobStatus.QUEUED:
                continue
            self.current = job_id
            try:
                self._process(job)
            except Exception as exc:  # noqa: BLE001 - one broken job must not stop the worker
                log.exception("ingest job crashed", extra={"job": job_id})
                self._finish(
                    job, JobStatus.FAILED, error=f"internal error: {type(exc).__name__}: {exc}"
                )
            finally:
                self._live.pop(job_id, None)
                self.current = None

    def _open(self):
        if self._index is None:
            from services.build import index_factory, open_with_chroma

            # its own lock (or its own HTTP client), and the runtime measured fastest for bulk
            embedder = open_embedder(self.settings, Workload.INGEST)
            self._index = open_with_chroma(index_factory(self.settings, embedder))
            self._embedder = embedder
        return self._index, self._embedder

    def _process(self, job: Job) -> None:
        from services.auth import Principal
        from services.library import ingest

        job.status, job.phase, job.started_at = JobStatus.RUNNING, Phase.EXTRACTING, time.time()
        self._live[job.id] = job
        self._update(
            job.id, status=JobStatus.RUNNING, phase=Phase.EXTRACTING, started_at=job.started_at
        )
        path = Path(job.upload_path or "")
        if not path.is_file():
            self._finish(job, JobStatus.FAILED, error="the uploaded file is gone; upload it again")
            return
        index, embedder = self._open()
        if job.kind == "reindex" and job.doc_id:
            with writer(self.settings.data_dir):  # ingest_paths below takes it again
                index.delete(job.doc_id)
        last_flush = 0.0

        def on_progress(p) -> None:
            nonlocal last_flush
            if not p.phase:
                return
            job.phase = Phase.OCR if p.phase == "ocr" else Phase.EMBEDDING
            job.pages_done, job.pages_total, job.chunks_done = (
                p.pages_done,
                p.pages_total,
                p.chunks_done,
            )
            now = time.monotonic()
            if now - last_flush >= _FLUSH_EVERY_S:
                last_flush = now
                self._update(
                    job.id, phase=job.phase, pages_done=job.pages_done,
                    pages_total=job.pages_total, chunks_done=job.chunks_done,
                )  # fmt: skip

        results = ingest(
            self.settings, [path], index=index, embedder=embedder, audit=self.audit,
            actor=Principal(job.owner or "?", "upload"), collection=job.collection,
            progress=on_progress,
        )  # fmt: skip
        result = results[0]
        job.doc_id, job.title = result.doc_id, result.title or None
        if result.status == "failed":
            self._finish(job, JobStatus.FAILED, error=result.error or "could not be indexed")
            return
        job.pages_total = result.pages if result.pages is not None else job.pages_total
        job.pages_done = job.pages_total or job.pages_done
        job.chunks_done = result.chunks
        if result.status == "unchanged":
            detail = "already in the index (same content): nothing to do"
        else:
            pages = f"{result.pages} page{'s' * (result.pages != 1)}, " if result.pages else ""
            detail = f"done: {pages}{result.chunks} passage{'s' * (result.chunks != 1)}"
            self.metrics.ingest_pages.inc(result.pages or 0)
            self.metrics.ingest_chunks.inc(result.chunks)
        self._finish(job, JobStatus.DONE, detail=detail)

    def _finish(
        self, job: Job, status: JobStatus, *, error: str | None = None, detail: str | None = None
    ) -> None:
        job.status, job.error, job.detail, job.phase = status, error, detail, Phase.NONE
        job.finished_at = time.time()
        self._update(
            job.id, status=status, phase=Phase.NONE, error=error, detail=detail, doc_id=job.doc_id,
            title=job.title, pages_done=job.pages_done, pages_total=job.pages_total,
            chunks_done=job.chunks_done, finished_at=job.finished_at,
        )  # fmt: skip
        self.metrics.ingest_jobs.labels(status).inc()
        if status != JobStatus.DONE or job.kind == "reindex":  # a done upload: its ingest line
            self.audit.record(
                Action.REINDEX if job.kind == "reindex" else Action.UPLOAD, job.owner or "?",
                collection=job.collection, file=job.name, doc_id=job.doc_id,
                status=str(status), error=error,
            )  # fmt: skip
        if job.upload_path:
            shutil.rmtree(Path(job.upload_path).parent, ignore_errors=True)

    def _update(self, job_id: str, **fields: object) -> None:
        cols = ", ".join(f"{k}=?" for k in fields)
        with self.store.tx() as db:
            db.execute(f"UPDATE jobs SET {cols} WHERE id=?", [*fields.values(), job_id])


def _job(row) -> Job:
    data = dict(row)
    data.pop("dismissed", None)
    data["status"], data["phase"] = JobStatus(data["status"]), Phase(data["phase"] or "")
    return Job(**data)
