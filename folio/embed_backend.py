"""Which runtime the local embedder runs on (FOLIO_EMBED_BACKEND): torch or ONNX Runtime.

Both run the same MiniLM weights and give the same vectors (cosine ≥ 0.9999, tests/
test_embedding_onnx.py), and the index records the same model name, so an index built with one
is searched with the other. `auto` takes whichever measured faster for the job, on a quiet
machine (session-10 note):
- **Queries** (the server, `folio search/ask/eval`) run on ONNX Runtime wherever the export
  exists (`make setup` and the Docker build make it). Under 20 HTTP clients the server did 85
  req/s with it against 69 with torch bf16 (search p95 288 vs 356 ms), and 169 against 157
  (142 vs 160 ms) once the garbage collector's pauses were gone (services/runtime.py):
  sentence-transformers' and torch's Python around each forward pass holds the GIL (26% of the
  server's GIL samples with torch, 9% with ONNX Runtime).
- **Bulk embedding** (`folio ingest`, the server's ingest worker) runs on torch in bf16 where
  the CPU multiplies bf16 natively (folio/precision.py): the dev corpus took 54.6 s against
  63.9 s on ONNX Runtime fp32 and 103.8 s on torch fp32 (`bench_ingest.py --compare`). Without
  native bf16, ONNX Runtime fp32 (1.6x torch fp32 here).
torch also runs a GPU (`FOLIO_EMBEDDING_DEVICE`) and an explicit `FOLIO_EMBED_PRECISION=bf16`,
and everything where there is no export. ONNX Runtime needs neither torch nor transformers,
which is what lets the Docker image drop ~700 MB; its model is an export made at build time
(`folio embedder --export`).
"""

from __future__ import annotations

import importlib.util
from enum import StrEnum
from pathlib import Path

from folio.precision import Precision, resolve


class EmbedBackend(StrEnum):
    AUTO = "auto"  # by workload and CPU: see the module docstring
    TORCH = "torch"
    ONNX = "onnx"


class Workload(StrEnum):
    """What the embedder is opened for: `auto` picks the backend measured fastest for it."""

    QUERY = "query"  # one short text at a time, many threads: the least Python per call
    INGEST = "ingest"  # batches of chunks: the fastest arithmetic


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
    workload: Workload = Workload.QUERY,
    has_torch: bool | None = None,
    native_bf16: bool | None = None,
) -> tuple[EmbedBackend, str]:
    """The backend to run and why (for the start-up line and /health). `onnx_file` is the
    export that precision needs (the int8 one for int8); `native_bf16` is asked of the CPU
    (folio/precision.py, which imports torch) only for an auto ingest where torch is installed."""
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
    if has_torch:
        if device != "cpu":
            return EmbedBackend.TORCH, f"auto: device {device} runs on torch"
        if Precision(precision) is Precision.BF16:
            return EmbedBackend.TORCH, "auto: FOLIO_EMBED_PRECISION=bf16 runs on torch"
        if workload is Workload.INGEST and Precision(precision) is Precision.AUTO:
            if native_bf16 is None:
                native_bf16 = resolve(Precision.AUTO) is Precision.BF16
            if native_bf16:
                return EmbedBackend.TORCH, "auto: ingest, native bf16 on torch is fastest"
    if onnx_file.is_file():
        return EmbedBackend.ONNX, f"auto: {workload}, the ONNX export exists"
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
