"""Build the long-lived objects from settings, once, for the CLI and the web app."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from folio.embedding import TextEmbedder, open_embedder
from folio.index import Index
from folio.settings import Settings

if TYPE_CHECKING:
    from generation.client import LLMClient
    from generation.engine import EngineHandle
    from retrieval.rerank import Reranker


def open_index(settings: Settings) -> tuple[Index, TextEmbedder]:
    """The index and the embedder it was built with; the model loads only when first used."""
    embedder = open_embedder(settings)
    index = Index(settings, model_name=embedder.name, dim=lambda: embedder.dim)
    return index, embedder


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
