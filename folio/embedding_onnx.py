"""MiniLM on ONNX Runtime: the same model as `folio.embedding.Embedder`, without torch.

What sentence-transformers does for all-MiniLM-L6-v2, written out: the model's fast tokenizer
(`tokenizers`, Rust) truncating to `max_seq_length` (256, sentence_bert_config.json) with the
special tokens included and padding to the longest text of a batch; the BERT encoder (an ONNX
export of the same weights, `folio/embedding_export.py`); the mean of the token vectors over
the attention mask; L2 normalisation. Vectors match the torch fp32 ones to a cosine ≥ 0.9999
(tests/test_embedding_onnx.py, English and Chinese, short and 256-token texts), and the model
name recorded in the index is the same, so either backend searches the other's index.

onnxruntime is already installed for OCR (rapidocr-onnxruntime), so this path adds nothing to
the image; it is what lets the image drop torch, sentence-transformers and transformers.

Speed here (2-core EPYC with AVX512_BF16, 800 dev chunks, 2 threads, batches of 32, loaded
machine; tests/bench/bench_embed.py): 32 chunks per CPU-second against torch bf16's 26 and
torch fp32's 14; as fast as torch bf16 in wall time (24.8 vs 24.5 chunks/s); a query 11 ms p50
(bf16 13.5); peak RSS 585 MiB against 825.

int8 (FOLIO_EMBED_PRECISION=int8, `folio embedder --export --int8`, opt-in): 57 chunks per
CPU-second, a query 2.5 ms, page-hit@1/@5 unchanged on dev and zh-dev; but cosine to fp32 only
0.98 at worst, so its index is its own (`-int8` in the recorded model name).
"""

from __future__ import annotations

import json
import threading
from functools import cached_property
from pathlib import Path

import numpy as np

from folio.embed_backend import EmbedBackend
from folio.precision import Precision

ONNX_DIR = "onnx"  # inside the model's directory, where sentence-transformers looks for one
ONNX_FILE = "model.onnx"
INT8_SUFFIX = "_qint8"  # model_qint8.onnx beside model.onnx, as sentence-transformers names it
INPUTS = ("input_ids", "attention_mask", "token_type_ids")


def default_onnx_file(model_dir: Path) -> Path:
    return model_dir / ONNX_DIR / ONNX_FILE


def int8_file(fp32_file: Path) -> Path:
    return fp32_file.with_name(fp32_file.stem + INT8_SUFFIX + fp32_file.suffix)


def max_seq_length(model_dir: Path) -> int:
    """sentence-transformers' limit for this model (tokens, special ones included)."""
    config = model_dir / "sentence_bert_config.json"
    if config.is_file():
        return int(json.loads(config.read_text()).get("max_seq_length") or 256)
    return 256


class OnnxEmbedder:
    """The sentence-transformers recipe on ONNX Runtime; vectors are L2-normalised float32.

    One inference session per thread count (ingest threads, 1 per query), made on first use:
    onnxruntime fixes a session's threads when it is created, where torch sets them per call.
    Its threads sleep when idle instead of spinning (as in ingest/ocr.py: on two shared cores,
    spinning threads starve the process that has work)."""

    backend = EmbedBackend.ONNX

    def __init__(
        self, name: str, model_dir: Path, onnx_file: Path, *, int8: bool = False, note: str = ""
    ) -> None:
        # int8 vectors are not the fp32 ones (cosine 0.98-0.99), so an int8 index records its
        # own model name and refuses fp32 queries, and the reverse, instead of mixing them.
        self.name = f"{name}-int8" if int8 else name
        self.precision = Precision.INT8 if int8 else Precision.FP32
        self.path = model_dir
        self.onnx_file = onnx_file
        self.precision_note = note  # why this backend: the start-up line and /health say it
        self.max_tokens = max_seq_length(model_dir)
        self._sessions: dict[int, object] = {}
        self._lock = threading.Lock()

    @cached_property
    def tokenizer(self):
        """Token counts for chunking, without special tokens or truncation."""
        from folio.embedding import counting_tokenizer

        return counting_tokenizer(self.path)

    @cached_property
    def _batch_tokenizer(self):
        """The tokenizer as the model is fed: special tokens, truncated to max_tokens (padding
        is done per batch in `_run`)."""
        from tokenizers import Tokenizer

        tok = Tokenizer.from_file(str(self.path / "tokenizer.json"))
        tok.enable_truncation(max_length=self.max_tokens)
        tok.no_padding()
        return tok

    @cached_property
    def _pad_id(self) -> int:
        return self._batch_tokenizer.token_to_id("[PAD]") or 0

    @cached_property
    def dim(self) -> int:
        """From the pooling config when there is one, so asking does not open a session with
        the wrong thread count (each holds its own copy of the model)."""
        pooling = self.path / "1_Pooling" / "config.json"
        if pooling.is_file():
            return int(json.loads(pooling.read_text())["word_embedding_dimension"])
        return int(self._session(1).get_outputs()[0].shape[-1])

    def count_tokens(self, texts: list[str]) -> list[int]:
        """Word-piece counts without the special tokens."""
        return [len(e.ids) for e in self.tokenizer.encode_batch(texts, add_special_tokens=False)]

    def _session(self, threads: int):
        session = self._sessions.get(threads)
        if session is None:
            import onnxruntime as ort

            opts = ort.SessionOptions()
            opts.intra_op_num_threads = threads
            opts.inter_op_num_threads = 1
            opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
            session = ort.InferenceSession(
                str(self.onnx_file), opts, providers=["CPUExecutionProvider"]
            )
            self._sessions[threads] = session
        return session

    def embed(
        self, texts: list[str], *, batch_size: int = 32, threads: int | None = None
    ) -> np.ndarray:
        """Embed a batch, shortest texts together (as sentence-transformers sorts) to cut
        padding; rows come back in the order given."""
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        encoded = [e.ids for e in self._batch_tokenizer.encode_batch(texts)]
        order = np.argsort([-len(ids) for ids in encoded], kind="stable")
        with self._lock:
            session = self._session(threads or 1)
            rows = []
            for start in range(0, len(texts), batch_size):
                batch = [encoded[i] for i in order[start : start + batch_size]]
                rows.append(self._run(session, batch))
        vecs = np.concatenate(rows)
        out = np.empty_like(vecs)
        out[order] = vecs
        return out

    def _run(self, session, batch: list[list[int]]) -> np.ndarray:  # noqa: ANN001 - ort session
        width = max(len(ids) for ids in batch)
        ids = np.full((len(batch), width), self._pad_id, dtype=np.int64)
        mask = np.zeros((len(batch), width), dtype=np.int64)
        for row, tokens in enumerate(batch):
            ids[row, : len(tokens)] = tokens
            mask[row, : len(tokens)] = 1
        feed = {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
        (hidden,) = session.run(None, feed)
        weights = mask[:, :, None].astype(np.float32)
        pooled = (hidden * weights).sum(axis=1) / np.clip(weights.sum(axis=1), 1e-9, None)
        norms = np.linalg.norm(pooled, axis=1, keepdims=True)
        return (pooled / np.clip(norms, 1e-12, None)).astype(np.float32, copy=False)

    def embed_query(self, text: str, *, threads: int = 1) -> np.ndarray:
        return self.embed([text], batch_size=1, threads=threads)[0]
