"""The manuals, for the CLI and the web app alike: listing, ingesting, deleting, the original
files, one passage. Every write takes the one-writer lock (`folio.lock`) here, so no caller
can forget it, and is written to the audit log.

Reads go through `services.build.IndexPool`: each thread gets its own `Index` (its own SQLite
connection), so concurrent searches never share a connection and never wait for the ingest
worker's transactions (WAL readers do not block).
"""

from __future__ import annotations

import shutil
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from folio.embedding import TextEmbedder
from folio.index import DocRecord, Index
from folio.leftovers import drop_originals
from folio.lock import writer
from folio.settings import Settings
from folio.text import instruction_like
from folio.types import Chunk, DocStatus, locator
from ingest.formats import served_types
from ingest.pipeline import FileResult, ingest_paths
from retrieval.search import expanded_text, neighbour_keys
from services.audit import Action, AuditLog
from services.auth import LOCAL, Principal
from services.build import IndexPool

# Document kind -> media type of its stored original, from the format registry. HTML and
# Markdown manuals are served as text: served inline from Folio's origin, their scripts would run
# with the user's session.
MEDIA_TYPES = served_types()


@dataclass
class PassageView:
    chunk: Chunk
    doc: DocRecord
    text: str

    @property
    def locator(self) -> str:
        return locator(self.chunk, no_page="")

    @property
    def instruction_like(self) -> bool:
        """The shown text (the chunk and its neighbours) holds text addressed to an assistant."""
        return self.chunk.instruction_like or instruction_like(self.text)


def ingest(
    settings: Settings,
    paths: list[Path],
    *,
    index: Index,
    embedder: TextEmbedder,
    audit: AuditLog,
    actor: Principal,
    collection: str | None = None,
    progress: Callable | None = None,
    on_wait: Callable[[int | None], None] | None = None,
) -> list[FileResult]:
    """Add files and folders: `folio ingest` and the server's upload worker both come here.
    The pipeline takes the write lock; each file's outcome is one audit line."""
    results = ingest_paths(
        paths, settings, index=index, embedder=embedder, collection=collection,
        progress=progress, on_wait=on_wait,
    )  # fmt: skip
    for r in results:
        audit.record(
            Action.INGEST, actor.name, kind=actor.kind, client=actor.address, file=r.name,
            collection=collection or settings.default_collection, status=r.status,
            doc_id=r.doc_id, pages=r.pages, chunks=r.chunks, error=r.error,
        )  # fmt: skip
    return results


class Library:
    def __init__(self, settings: Settings, pool: IndexPool, audit: AuditLog | None = None) -> None:
        self.settings = settings
        self.pool = pool
        self.audit = audit or AuditLog(settings.audit_path, enabled=False)
        self._write_lock = threading.Lock()

    def documents(self, principal: Principal, collection: str | None = None) -> list[DocRecord]:
        docs = self.pool.get().documents(collection)
        return [d for d in docs if principal.may_see(d.collection)]

    def document(self, doc_id: str, principal: Principal) -> DocRecord | None:
        doc = self.pool.get().document(doc_id)
        if doc is None or not principal.may_see(doc.collection):
            return None
        return doc

    def collections(self, principal: Principal) -> list[str]:
        found = set(self.pool.get().collections())
        found.add(self.settings.default_collection)
        if principal.collections is not None:
            return sorted(principal.collections)
        return sorted(found)

    def stats(self) -> dict:
        return self.pool.get().stats()

    def find(self, ref: str, collection: str | None = None) -> list[DocRecord]:
        """Documents whose id starts with `ref` or whose file name is `ref`."""
        return self.pool.get().find(ref, collection)

    def delete(
        self,
        doc: DocRecord,
        actor: Principal = LOCAL,
        on_wait: Callable[[int | None], None] | None = None,
    ) -> None:
        """Remove the document, its chunks and vectors, and its original when nothing else
        (another collection, another name) still points at the same stored file."""
        index = self.pool.get()
        with self._write_lock, writer(self.settings.data_dir, on_wait=on_wait):
            index.delete(doc.id)
            drop_originals(index.db, self.settings.files_dir, [doc.stored_file])
        self.audit.record(
            Action.DELETE, actor.name, kind=actor.kind, client=actor.address, doc_id=doc.id,
            file=doc.name, collection=doc.collection,
        )  # fmt: skip

    def original(self, doc: DocRecord) -> Path | None:
        """The stored original, only if it really lies in files_dir."""
        if not doc.stored_file:
            return None
        path = Path(doc.stored_file)
        if not self._inside_files_dir(path) or not path.is_file():
            return None
        return path

    def copy_original(self, doc: DocRecord, dest_dir: Path) -> Path | None:
        """A copy of the original under its display name, for re-indexing."""
        src = self.original(doc)
        if src is None:
            return None
        dest = dest_dir / doc.name
        shutil.copyfile(src, dest)
        return dest

    def passage(self, chunk_id: str, principal: Principal) -> PassageView | None:
        """A chunk with the neighbouring chunks of its page, as the answer's passage had it."""
        index = self.pool.get()
        found = index.chunks([chunk_id]).get(chunk_id)
        if found is None:
            return None
        chunk, doc = found
        if doc.status != DocStatus.READY or not principal.may_see(doc.collection):
            return None
        return PassageView(chunk, doc, expand(index, chunk))

    def _inside_files_dir(self, path: Path) -> bool:
        try:
            return path.resolve().is_relative_to(self.settings.files_dir.resolve())
        except OSError:
            return False


def expand(index: Index, chunk: Chunk) -> str:
    """The passage text as retrieval gives it to the prompt (the chunk and its neighbours)."""
    return expanded_text(chunk, index.chunks_at(neighbour_keys(chunk)))
