"""Optional cross-encoder reranking of the fused candidates.

Off by default: no cross-encoder ships offline with Folio. Set FOLIO_RERANKER_MODEL to a local
sentence-transformers CrossEncoder directory (e.g. a copy of ms-marco-MiniLM-L-6-v2) to turn it
on; it then re-orders the top candidates by a model that reads question and passage together,
which is more precise than either BM25 or a bi-encoder, at ~10-30 ms per passage on CPU.
It runs on torch; the Docker image has none (it embeds on ONNX Runtime), so there the setting
is refused in one line.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import replace
from functools import cached_property
from pathlib import Path

from folio.embed_backend import BackendUnavailable, torch_installed
from folio.types import Passage


class Reranker:
    def __init__(self, path: str | Path, device: str = "cpu") -> None:
        self.path = Path(path)
        if not self.path.is_dir():
            raise FileNotFoundError(
                f"reranker model {path} is not a local directory (Folio never downloads models)"
            )
        if not torch_installed():
            raise BackendUnavailable(
                "FOLIO_RERANKER_MODEL needs torch and sentence-transformers, which this install "
                "does not have (the Docker image embeds on ONNX Runtime); unset it"
            )
        self.device = device
        self._lock = threading.Lock()

    @cached_property
    def model(self):
        from sentence_transformers import CrossEncoder

        return CrossEncoder(str(self.path), device=self.device, local_files_only=True)

    def rerank(self, query: str, passages: Sequence[Passage], top: int) -> list[Passage]:
        """Best first; each passage's score becomes the cross-encoder's."""
        if not passages:
            return []
        with self._lock:
            scores = self.model.predict([(query, p.body) for p in passages], batch_size=16)
        ranked = sorted(zip(passages, scores, strict=True), key=lambda ps: -float(ps[1]))
        return [replace(p, score=float(s)) for p, s in ranked[:top]]
