"""Chunk, embed and write one document at the same time, on bounded queues.

Embedding holds the cores (torch's threads, with the GIL released); chunking (reading the
spool, counting tokens) and writing (Chroma upsert, SQLite rows and FTS) are single Python
threads. Done one after the other, the cores idle while a window is chunked or written; here a
chunker thread keeps the next window ready and a writer thread stores the previous one while the
caller's thread embeds the current one. Queues of `DEPTH` windows bound what is held at once
(a few hundred chunks and their vectors), whatever the document's size.

Windows are embedded and written in order, and the first error of any stage stops all three and
is raised in the caller's thread, so the caller's all-or-nothing rule (a document becomes visible
only in `Index.finish`, after every window is written) is unchanged.

Each stage's busy time is added to `timings` ("chunk", "embed", "write"): with the stages
overlapped their sum exceeds the wall time, and the difference is what overlapping saved.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Iterator
from typing import Generic, TypeVar

import numpy as np

from folio.embedding import TextEmbedder
from folio.settings import Settings
from folio.types import Chunk
from ingest.chunk import embedding_text

T = TypeVar("T")

DEPTH = 2  # windows waiting between two stages
_END = object()
_POLL_S = 0.1


class _Stage(Generic[T]):
    """A thread with its inbox; `error` holds what stopped it."""

    def __init__(self, name: str, target: Callable[[], None]) -> None:
        self.error: BaseException | None = None
        self._target = target
        self.thread = threading.Thread(target=self._run, name=name, daemon=True)

    def _run(self) -> None:
        try:
            self._target()
        except BaseException as exc:  # noqa: BLE001 - re-raised in the caller's thread
            self.error = exc


def windows(items: Iterator[T], size: int) -> Iterator[list[T]]:
    """Consecutive lists of `size` items (the last one shorter)."""
    while window := [item for _, item in zip(range(size), items, strict=False)]:
        yield window


def embed_window(
    embedder: TextEmbedder, window: list[Chunk], title: str, settings: Settings
) -> np.ndarray:
    """The window's vectors, in its order, embedded in batches of texts of similar token counts.

    A batch is padded to its longest text. sentence-transformers sorts a call's texts by their
    length in characters, which on the dev corpus (identifiers, tables, Chinese) padded batches
    of 32 to 1.15x the real tokens, worse than not sorting (1.14x); sorted by token counts, in
    windows of 256 chunks, they come to 1.05x. Each batch is then one call of its own, so the
    model's re-sorting cannot mix them again."""
    texts = [embedding_text(c, title) for c in window]
    order = np.argsort([-n for n in embedder.count_tokens(texts)], kind="stable")
    size = settings.embed_batch_size
    out = np.empty((len(texts), embedder.dim), dtype=np.float32)
    for start in range(0, len(texts), size):
        picked = order[start : start + size]
        out[picked] = embedder.embed(
            [texts[i] for i in picked], batch_size=len(picked), threads=settings.embed_threads
        )
    return out


def run_overlapped(
    windows: Iterator[list[T]],
    embed: Callable[[list[T]], np.ndarray],
    write: Callable[[list[T], np.ndarray], None],
    timings: dict[str, float],
    *,
    on_written: Callable[[int], None] | None = None,
    depth: int = DEPTH,
) -> int:
    """Pull windows from `windows` (chunker thread), `embed` each (this thread), `write` each
    with its vectors (writer thread), in order; returns how many items were written.
    `on_written(total)` is called in this thread whenever more have been stored."""
    stop = threading.Event()
    ready: queue.Queue = queue.Queue(depth)  # chunked windows
    embedded: queue.Queue = queue.Queue(depth)  # (window, vectors)
    stored = [0]  # items written so far (the writer's count; read here for progress)

    def put(q: queue.Queue, item: object) -> bool:
        while not stop.is_set():
            try:
                q.put(item, timeout=_POLL_S)
                return True
            except queue.Full:
                continue
        return False

    def get(q: queue.Queue, producer: _Stage) -> object:
        while True:
            try:
                return q.get(timeout=_POLL_S)
            except queue.Empty:
                if stop.is_set() or not producer.thread.is_alive():
                    return q.get_nowait() if not q.empty() else _END

    def chunk() -> None:
        while not stop.is_set():
            t = time.perf_counter()
            window = next(windows, None)
            timings["chunk"] += time.perf_counter() - t
            if not window:
                break
            if not put(ready, window):
                return
        put(ready, _END)

    def store() -> None:
        while True:
            item = embedded.get()
            if item is _END:
                return
            window, vectors = item
            t = time.perf_counter()
            write(window, vectors)
            timings["write"] += time.perf_counter() - t
            stored[0] += len(window)

    chunker = _Stage("folio-chunk", chunk)
    writer = _Stage("folio-write", store)
    chunker.thread.start()
    writer.thread.start()
    reported = 0
    try:
        while True:
            window = get(ready, chunker)
            _raise(chunker, writer)
            if window is _END:
                break
            t = time.perf_counter()
            vectors = embed(window)
            timings["embed"] += time.perf_counter() - t
            _hand(embedded, (window, vectors), writer)
            _raise(chunker, writer)
            if on_written is not None and stored[0] != reported:
                reported = stored[0]
                on_written(reported)
        _hand(embedded, _END, writer)
        writer.thread.join()
        _raise(chunker, writer)
    finally:
        stop.set()
        _hand(embedded, _END, writer)  # left early: the writer stops after what it holds
        chunker.thread.join()
        writer.thread.join()
    if on_written is not None and stored[0] != reported:
        on_written(stored[0])
    return stored[0]


def _hand(q: queue.Queue, item: object, consumer: _Stage) -> None:
    """Put `item` for a consumer thread, unless it has stopped (a failed writer takes nothing
    more, and waiting on its full queue would hang)."""
    while consumer.thread.is_alive():
        try:
            q.put(item, timeout=_POLL_S)
            return
        except queue.Full:
            continue


def _raise(*stages: _Stage) -> None:
    for stage in stages:
        if stage.error is not None:
            raise stage.error
