"""The one place that builds the long-lived objects from `Settings`: the embedder, the index
(one per thread for readers), the optional reranker and the LLM connection. The CLI, the web
app's runtime and its ingest worker all call these, so a setting (FOLIO_RERANKER_MODEL, the
embedding server) means the same thing everywhere.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from folio.bm25_memory import BM25Memory
from folio.doc_vectors import DocVectors
from folio.embed_backend import Workload
from folio.embedding import TextEmbedder, open_embedder
from folio.index import Index
from folio.settings import Settings

if TYPE_CHECKING:
    from generation.client import LLMClient
    from generation.engine import EngineHandle
    from retrieval.rerank import Reranker


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


def index_factory(settings: Settings, embedder: TextEmbedder) -> Callable[[], Index]:
    """Makes `Index` objects bound to this embedder (its name and dimension are checked
    against the index's, so a model switch is refused instead of mixing vectors). They share
    one cache of documents' vectors (`folio.doc_vectors`) and one copy of the lexical postings
    (`folio.bm25_memory`), however many threads read."""
    vectors, postings = DocVectors(), BM25Memory(settings.bm25_memory_max_chunks)
    return lambda: Index(
        settings, model_name=embedder.name, dim=lambda: embedder.dim,
        doc_vectors=vectors, bm25_memory=postings,
    )  # fmt: skip


def open_index(
    settings: Settings,
    embedder: TextEmbedder | None = None,
    workload: Workload = Workload.QUERY,
) -> tuple[Index, TextEmbedder]:
    """An index and the embedder it was built with (its own, unless one is given: a writer
    wants its own model lock). Lazy: the model loads, and Chroma opens, when first used, so
    `folio docs` never pays for either."""
    embedder = embedder or open_embedder(settings, workload)
    return index_factory(settings, embedder)(), embedder


def open_reranker(settings: Settings) -> Reranker | None:
    """The optional cross-encoder; None unless FOLIO_RERANKER_MODEL names a local directory."""
    if not settings.reranker_model:
        return None
    from retrieval.rerank import Reranker

    return Reranker(settings.reranker_model, device=settings.embedding_device)


@dataclass
class LLMConnection:
    """The client to answer with (None = retrieval-only), the engine we started, and why."""

    client: LLMClient | None
    engine: EngineHandle | None = None
    note: str = ""

    def close(self) -> None:
        if self.engine is not None:
            self.engine.stop()


def local_base_url(settings: Settings) -> str:
    return f"http://{settings.engine_host}:{settings.engine_port}/v1"


def connect_llm(settings: Settings, *, start_local: bool = True) -> LLMConnection:
    """A remote server when one is configured; else the local engine, started if needed.

    Never raises for a missing engine: Folio then answers retrieval-only and says so.
    """
    from generation.client import LLMClient
    from generation.engine import EngineStartError, engine_reachable, start_engine
    from generation.models import default_model_path

    if settings.llm_base_url:
        client = LLMClient.from_settings(settings)
        return LLMConnection(client, note=f"remote engine {settings.llm_base_url}")
    base = local_base_url(settings)
    model_path = default_model_path(settings)
    if engine_reachable(base, timeout=1.0):
        return LLMConnection(
            LLMClient.from_settings(settings, base_url=base), note=f"local engine at {base}"
        )
    if not start_local:
        return LLMConnection(None, note=f"no engine at {base}")
    try:
        handle = start_engine(settings, model_path)
    except EngineStartError as exc:
        return LLMConnection(None, note=f"local engine not started: {exc}")
    client = LLMClient.from_settings(settings, base_url=handle.base_url, model=handle.model)
    return LLMConnection(client, handle, note=f"local engine {model_path.name} at {base}")
