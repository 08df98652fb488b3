"""The manuals as the web app sees them: listing, deleting, the original files, one passage.

Reads go through `IndexPool`: each thread gets its own `Index` (its own SQLite connection;
Chroma's client is shared per path inside the process), so concurrent searches never share a
connection and never wait for the ingest worker's transactions (WAL readers do not block).
"""

from __future__ import annotations

import shutil
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from folio.index import DocRecord, Index
from folio.leftovers import drop_originals
from folio.lock import writer
from folio.settings import Settings
from folio.text import instruction_like
from folio.types import Chunk, locator
from ingest.formats import served_types
from retrieval.search import expanded_text, neighbour_keys
from web.services.auth import Principal

# Document kind -> media type of its stored original, from the format registry. HTML and
# Markdown manuals are served as text: served inline from Folio's origin, their scripts would run
# with the user's session.
MEDIA_TYPES = served_types()


# Chroma creates its per-path shared system without a lock: two threads opening a client on
# the same path at once can both build one and break each other. Every Index the web app opens
# goes through this lock (see `open_with_chroma`).
CHROMA_LOCK = threading.Lock()


def open_with_chroma(factory: Callable[[], Index]) -> Index:
    """An Index with its Chroma collection already open, opened under CHROMA_LOCK."""
    with CHROMA_LOCK:
        index = factory()
        _ = index.collection
    return index


class IndexPool:
    """One `Index` per thread, made on first use; behaves like an `Index` (attribute access
    goes to the calling thread's instance), so it can be handed to retrieval code as is."""

    def __init__(self, factory: Callable[[], Index]) -> None:
        self._factory = factory
        self._local = threading.local()
        self._lock = threading.Lock()
        self._all: list[Index] = []

    def get(self) -> Index:
        index = getattr(self._local, "index", None)
        if index is None:
            index = open_with_chroma(self._factory)
            self._local.index = index
            with self._lock:
                self._all.append(index)
        return index

    def __getattr__(self, name: str):
        return getattr(self.get(), name)

    def close(self) -> None:
        with self._lock:
            for index in self._all:
                index.close()
            self._all.clear()
        self._local = threading.local()


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


class Library:
    def __init__(self, settings: Settings, pool: IndexPool) -> None:
        self.settings = settings
        self.pool = pool
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

    def delete(self, doc: DocRecord) -> None:
        """Remove the document, its chunks and vectors, and its original when nothing else
        (another collection, another name) still points at the same stored file."""
        index = self.pool.get()
        with self._write_lock, writer(self.settings.data_dir):
            index.delete(doc.id)
            drop_originals(index.db, self.settings.files_dir, [doc.stored_file])

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
        if doc.status != "ready" or not principal.may_see(doc.collection):
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
