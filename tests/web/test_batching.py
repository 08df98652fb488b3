"""The batching query embedder: concurrent queries share model calls and get the same vectors
as one-by-one embedding (real MiniLM)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np

from folio.embedding import Embedder
from folio.settings import DEFAULT_EMBEDDING_MODEL
from services.batching import BatchingEmbedder


def test_concurrent_queries_are_batched_and_exact() -> None:
    embedder = Embedder(DEFAULT_EMBEDDING_MODEL)
    batching = BatchingEmbedder(embedder, cache_size=4)
    texts = [f"how do I reset alarm {i} on the pump" for i in range(24)]
    with ThreadPoolExecutor(24) as pool:
        vectors = list(pool.map(batching.embed_query, texts))
    try:
        assert batching.batches < len(texts)  # some calls shared a model pass
        assert batching.largest_batch > 1
        for text, vec in zip(texts, vectors, strict=True):
            assert np.allclose(vec, embedder.embed_query(text), atol=1e-5)
        again = batching.embed_query("error E42 meaning")
        assert batching.embed_query("error E42 meaning") is again  # remembered
        assert batching.dim == embedder.dim and batching.name == embedder.name
    finally:
        batching.close()
