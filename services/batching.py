"""Query embedding for many users at once: concurrent queries share one model call.

On two CPU cores one MiniLM forward pass for a single query costs ~20 ms, and the embedder's
lock runs them one after another, so twenty users asking at once would wait ~400 ms for the
last vector. A batch of twenty short queries costs little more than a few single ones, so the
web app puts queries in a queue and one thread embeds whatever has gathered while the previous
batch ran. Recent queries are also remembered (the same question is often asked again).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from concurrent.futures import Future

import numpy as np

from folio.embedding import Embedder


class BatchingEmbedder:
    """Looks like an `Embedder` to retrieval code; `embed_query` is batched and cached."""

    def __init__(self, embedder: Embedder, *, max_batch: int = 32, cache_size: int = 2048):
        self.embedder = embedder
        self.max_batch = max_batch
        self.cache_size = cache_size
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self._pending: list[tuple[str, Future]] = []
        self._cond = threading.Condition()
        self._thread: threading.Thread | None = None
        self._closed = False
        self.batches = 0  # for tests and metrics
        self.largest_batch = 0

    def __getattr__(self, name: str):
        return getattr(self.embedder, name)

    def embed_query(self, text: str, *, threads: int = 1) -> np.ndarray:
        with self._cond:
            hit = self._cache.get(text)
            if hit is not None:
                self._cache.move_to_end(text)
                return hit
            if self._closed:
                raise RuntimeError("the query embedder is closed")
            future: Future = Future()
            self._pending.append((text, future))
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, args=(threads,), name="folio-embed-queries", daemon=True
                )
                self._thread.start()
            self._cond.notify()
        return future.result()

    def _run(self, threads: int) -> None:
        while True:
            with self._cond:
                while not self._pending and not self._closed:
                    self._cond.wait()
                if self._closed and not self._pending:
                    return
                batch = self._pending[: self.max_batch]
                del self._pending[: self.max_batch]
            texts = list(dict.fromkeys(t for t, _ in batch))
            try:
                vectors = self.embedder.embed(texts, batch_size=len(texts), threads=threads)
            except BaseException as exc:  # noqa: BLE001 - hand the failure to every waiter
                for _, future in batch:
                    future.set_exception(exc)
                continue
            by_text = dict(zip(texts, vectors, strict=True))
            with self._cond:
                self.batches += 1
                self.largest_batch = max(self.largest_batch, len(texts))
                for text, vec in by_text.items():
                    vec.setflags(write=False)
                    self._cache[text] = vec
                    self._cache.move_to_end(text)
                while len(self._cache) > self.cache_size:
                    self._cache.popitem(last=False)
            for text, future in batch:
                future.set_result(by_text[text])

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()
