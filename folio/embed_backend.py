"""Which runtime the local embedder runs on (FOLIO_EMBED_BACKEND): torch or ONNX Runtime.

Both run the same MiniLM weights and give the same vectors (cosine ≥ 0.9999, tests/
test_embedding_onnx.py), and the index records the same model name, so an index built with one
is searched with the other. `auto` runs ONNX Runtime wherever the export exists (`make setup`
and the Docker build make it) and the model runs on the CPU in fp32 or auto precision: fp32 on
ONNX Runtime measured as fast as torch bf16 in wall time, 1.2x by CPU time, 2.3x torch fp32
(docs/ARCHITECTURE.md, "Embedding on ONNX Runtime"), and it holds Python's GIL far less: 20
HTTP clients against `folio serve` got 63-75 req/s with it against 55 with torch bf16, the query
embedder's share of the server's GIL samples falling from 26% to 9% (session-10 note, py-spy
--gil). torch stays for a GPU (`FOLIO_EMBEDDING_DEVICE`), for explicit bf16, and where there is
no export. ONNX Runtime needs neither torch nor transformers, which is what lets the Docker
image drop ~700 MB; its model is an export made at build time (`folio embedder --export`).
"""

from __future__ import annotations

import importlib.util
from enum import StrEnum
from pathlib import Path

from folio.precision import Precision


class EmbedBackend(StrEnum):
    AUTO = "auto"  # ONNX Runtime when the export exists (CPU, fp32), else torch
    TORCH = "torch"
    ONNX = "onnx"


class BackendUnavailable(RuntimeError):
    pass


def torch_installed() -> bool:
    """torch and sentence-transformers importable, checked without importing them (~2 s)."""
    return all(importlib.util.find_spec(m) is not None for m in ("torch", "sentence_transformers"))


def choose(
    requested: EmbedBackend | str,
    onnx_file: Path,
    *,
    precision: Precision | str = Precision.AUTO,
    device: str = "cpu",
    has_torch: bool | None = None,
) -> tuple[EmbedBackend, str]:
    """The backend to run and why (for the start-up line and /health). `onnx_file` is the
    export that precision needs (the int8 one for int8)."""
    requested = EmbedBackend(requested)
    if Precision(precision) is Precision.INT8:
        if requested is EmbedBackend.TORCH:
            raise BackendUnavailable(
                "FOLIO_EMBED_PRECISION=int8 runs on ONNX Runtime only; "
                "set FOLIO_EMBED_BACKEND=onnx (or auto)"
            )
        _need(onnx_file, "FOLIO_EMBED_PRECISION=int8", int8=True)
        return EmbedBackend.ONNX, "FOLIO_EMBED_PRECISION=int8"
    has_torch = torch_installed() if has_torch is None else has_torch
    if requested is EmbedBackend.TORCH:
        if not has_torch:
            raise BackendUnavailable(
                "FOLIO_EMBED_BACKEND=torch, but torch and sentence-transformers are not "
                "installed here; set FOLIO_EMBED_BACKEND=onnx (or auto)"
            )
        return requested, "FOLIO_EMBED_BACKEND=torch"
    if requested is EmbedBackend.ONNX:
        _need(onnx_file, "FOLIO_EMBED_BACKEND=onnx")
        return requested, "FOLIO_EMBED_BACKEND=onnx"
    torch_only = device != "cpu" or Precision(precision) is Precision.BF16
    if has_torch and torch_only:
        why = f"device {device}" if device != "cpu" else "FOLIO_EMBED_PRECISION=bf16"
        return EmbedBackend.TORCH, f"auto: {why} runs on torch"
    if onnx_file.is_file():
        return EmbedBackend.ONNX, "auto: the ONNX export exists"
    if has_torch:
        return EmbedBackend.TORCH, "auto: no ONNX export, torch is installed"
    _need(onnx_file, "torch is not installed")
    return EmbedBackend.ONNX, "auto: torch is not installed"


def _need(onnx_file: Path, why: str, *, int8: bool = False) -> None:
    if not onnx_file.is_file():
        what, flags = ("int8 ONNX export", " --int8") if int8 else ("ONNX export", "")
        raise BackendUnavailable(
            f"{why}, and there is no {what} of the embedding model at {onnx_file}: "
            f"make one where torch is installed with `folio embedder --export{flags}` "
            "(or set FOLIO_EMBED_ONNX to an existing fp32 export)"
        )
