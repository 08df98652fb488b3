"""Exact nearest neighbours within chosen manuals, from vectors held in memory.

Asking within one manual ("Ask this manual", the API's `doc_ids`) went through Chroma's `where`
filter. On the 100k-chunk benchmark index (`tests/bench/bench_query.py --scale 100000`) that
dense step took a median 40-100 ms and a p95 of 240-290 ms for the whole search, against
5.5 ms for an unfiltered query: Chroma filters the metadata first and then searches the graph
with the allowed ids. A manual holds at most a few thousand chunks, so the exact answer is one
matrix product over its vectors: 0.2 ms for 700 chunks, 17 ms for 2,000 (measured on the same
index; fetching a document's vectors from Chroma the first time costs 25-290 ms, about one
filtered query). The vectors are kept per document, least recently used first out, bounded by
a number of vectors (fp32, 1.5 KB each for MiniLM's 384 dimensions), and keyed by the
document's registry version, so a re-ingested document is fetched again.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

# 50,000 vectors of 384 floats: ~77 MB. Every thread's Index shares one cache (services.build).
MAX_VECTORS = 50_000
# Scopes larger than this go to Chroma's filtered search: held whole they would evict the rest.
MAX_SCOPE = 20_000


@dataclass(frozen=True)
class DocMatrix:
    ids: list[str]
    matrix: np.ndarray  # (len(ids), dim), L2-normalised rows

    def __len__(self) -> int:
        return len(self.ids)


Key = tuple[str, str]  # (document id, registry version of that document)
Loader = Callable[[str], DocMatrix]


class DocVectors:
    """A thread-safe LRU of documents' vectors, bounded by the number of vectors held."""

    def __init__(self, max_vectors: int = MAX_VECTORS) -> None:
        self.max_vectors = max_vectors
        self._docs: OrderedDict[Key, DocMatrix] = OrderedDict()
        self._held = 0
        self._lock = threading.Lock()
        self.loads = 0  # for tests and metrics

    def get(self, doc_id: str, version: str, load: Loader) -> DocMatrix:
        key = (doc_id, version)
        with self._lock:
            hit = self._docs.get(key)
            if hit is not None:
                self._docs.move_to_end(key)
                return hit
        loaded = load(doc_id)
        with self._lock:
            self.loads += 1
            for old in [k for k in self._docs if k[0] == doc_id]:  # an older version
                self._held -= len(self._docs.pop(old))
            if key not in self._docs:
                self._docs[key] = loaded
                self._held += len(loaded)
            while self._held > self.max_vectors and len(self._docs) > 1:
                _, dropped = self._docs.popitem(last=False)
                self._held -= len(dropped)
        return loaded

    @property
    def held(self) -> int:
        return self._held


def nearest(vector: np.ndarray, docs: Sequence[DocMatrix], k: int) -> list[tuple[str, float]]:
    """(chunk id, cosine) of the k nearest rows over these documents, best first."""
    docs = [d for d in docs if len(d)]
    if not docs or k <= 0:
        return []
    ids = [cid for d in docs for cid in d.ids]
    scores = np.concatenate([d.matrix @ vector for d in docs])
    k = min(k, len(ids))
    top = np.argpartition(-scores, k - 1)[:k]
    top = top[np.argsort(-scores[top], kind="stable")]
    return [(ids[i], float(scores[i])) for i in top]
