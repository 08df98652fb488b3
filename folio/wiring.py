"""Build the long-lived objects from settings, once, for the CLI and the web app."""

from __future__ import annotations

from folio.embedding import Embedder
from folio.index import Index
from folio.settings import Settings


def open_index(settings: Settings) -> tuple[Index, Embedder]:
    """The index and the embedder it was built with; the model loads only when first used."""
    embedder = Embedder(settings.embedding_model, device=settings.embedding_device)
    index = Index(settings, model_name=embedder.name, dim=lambda: embedder.dim)
    return index, embedder
