"""Dense vectors from an OpenAI-compatible `/v1/embeddings` server.

For multilingual manuals the packaged English MiniLM is not enough; a GPU box serving e.g.
BAAI/bge-m3 with vLLM (`vllm serve BAAI/bge-m3 --task embed`), text-embeddings-inference,
infinity or llama.cpp (`llama-server --embedding`) does the embedding instead, and Folio talks
to it over HTTP. Chosen by `FOLIO_EMBEDDING_URL` (the server's `/v1` base URL); the served model
is `FOLIO_EMBEDDING_MODEL`, the same setting that names the local model, because exactly one
model builds an index, wherever it runs.

The index records `RemoteEmbedder.name`, which is the served model name as configured (e.g.
"BAAI/bge-m3"), so an index built through the server refuses to open with the local MiniLM or
another served model (`IndexMismatch`), and vice versa.

Token counts (`count_tokens`) are computed here, not on the server. Chunking counts the tokens
of every paragraph before anything is embedded; a round trip per count would make chunking
network-bound, and tokenizing is not part of the OpenAI API (vLLM, llama.cpp and TEI each have
their own endpoint, and some servers none). So the counts come from a local tokenizer: the one
named by `FOLIO_EMBEDDING_TOKENIZER` (the served model's `tokenizer.json`, or the directory that
holds it) when set, for exact counts; otherwise the packaged MiniLM WordPiece tokenizer as an
estimate. A wrong estimate only makes chunks somewhat longer or shorter than
`FOLIO_CHUNK_TOKENS`; it cannot overflow the server, since chunks stay at most 512 tokens and
bge-m3-class models take 8192.

Requests are batched (`batch_size`, from `FOLIO_EMBED_BATCH_SIZE`) and retried with exponential
backoff on connection errors, timeouts, HTTP 5xx and 429 (honouring Retry-After). Other 4xx
answers are not retried. Every failure is one `EmbeddingServerError` whose message is a single
line saying what to do. Vectors come back L2-normalised float32, like the local embedder's; the
dimension is whatever the first response holds.
"""

from __future__ import annotations

import base64
import math
import threading
import time
from collections.abc import Callable
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
import numpy as np

if TYPE_CHECKING:
    from folio.settings import Settings

MAX_BACKOFF_S = 8.0
MAX_RETRY_AFTER_S = 30.0
_RETRY_STATUS = frozenset({429, 500, 502, 503, 504})


class EmbeddingServerError(RuntimeError):
    """The embedding server is down, refused the request, or answered something unusable."""


def normalise_base_url(url: str) -> str:
    """'gpu:8001/v1/' or 'http://gpu:8001/v1/embeddings' -> 'http://gpu:8001/v1'."""
    url = url.strip().rstrip("/")
    if "://" not in url:
        url = "http://" + url
    return url.removesuffix("/embeddings").rstrip("/")


def load_tokenizer(ref: str | Path | None):  # noqa: ANN201 - a tokenizers.Tokenizer
    """A tokenizer.json (file or its directory); None = the packaged MiniLM tokenizer."""
    from tokenizers import Tokenizer

    if ref is None:
        from folio.embedding import DEFAULT_TOKENIZER_MODEL, resolve_model_path

        path = resolve_model_path(DEFAULT_TOKENIZER_MODEL) / "tokenizer.json"
    else:
        path = Path(ref).expanduser()
        if path.is_dir():
            path = path / "tokenizer.json"
    if not path.is_file():
        raise EmbeddingServerError(
            f"tokenizer file not found: {path}; set FOLIO_EMBEDDING_TOKENIZER to the served "
            "model's tokenizer.json (or its directory), or unset it to use the MiniLM estimate"
        )
    tok = Tokenizer.from_file(str(path))
    tok.no_truncation()
    tok.no_padding()
    return tok


class RemoteEmbedder:
    """Satisfies `folio.embedding.TextEmbedder` over HTTP; thread-safe (httpx.Client is)."""

    # Chunks never exceed 512 tokens (FOLIO_CHUNK_TOKENS is capped there) and questions are
    # shorter; the served model's own window is larger for every model worth serving.
    max_tokens = 512
    precision = "remote"  # the server's own; nothing here to choose

    def __init__(
        self,
        base_url: str,
        model: str,
        *,
        api_key: str | None = None,
        timeout_s: float = 60.0,
        retries: int = 3,
        backoff_s: float = 0.5,
        tokenizer: str | Path | None = None,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.base_url = normalise_base_url(base_url)
        self.model = model
        self.name = model  # what the index records
        self.retries = max(0, retries)
        self.backoff_s = backoff_s
        self._tokenizer_ref = tokenizer
        self._sleep = sleep
        self._dim: int | None = None
        self._lock = threading.Lock()
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._http = httpx.Client(
            base_url=self.base_url + "/",
            headers=headers,
            timeout=httpx.Timeout(timeout_s, connect=min(10.0, timeout_s)),
            transport=transport,
        )
        # For tests and figures: HTTP requests sent (retries included), texts embedded.
        self.requests = 0
        self.texts = 0

    @classmethod
    def from_settings(cls, settings: Settings, **kwargs) -> RemoteEmbedder:
        if not settings.embedding_url:
            raise ValueError("FOLIO_EMBEDDING_URL is not set")
        key = settings.embedding_api_key
        return cls(
            settings.embedding_url,
            settings.embedding_model,
            api_key=key.get_secret_value() if key is not None else None,
            timeout_s=settings.embedding_timeout_s,
            retries=settings.embedding_retries,
            tokenizer=settings.embedding_tokenizer,
            **kwargs,
        )

    # --- the TextEmbedder protocol ----------------------------------------------------------

    @property
    def dim(self) -> int:
        """From the first response; asks the server once if nothing was embedded yet."""
        if self._dim is None:
            self.embed(["dimension probe"], batch_size=1)
        assert self._dim is not None
        return self._dim

    @cached_property
    def tokenizer(self):  # noqa: ANN201 - a tokenizers.Tokenizer
        return load_tokenizer(self._tokenizer_ref)

    def count_tokens(self, texts: list[str]) -> list[int]:
        """Token counts without special tokens (exact with FOLIO_EMBEDDING_TOKENIZER, else an
        estimate from the MiniLM tokenizer; see the module docstring)."""
        return [len(e.ids) for e in self.tokenizer.encode_batch(texts, add_special_tokens=False)]

    def embed(
        self, texts: list[str], *, batch_size: int = 32, threads: int | None = None
    ) -> np.ndarray:
        """One request per `batch_size` texts, in order; `threads` is the server's business."""
        del threads
        if not texts:
            return np.zeros((0, self._dim or 0), dtype=np.float32)
        step = max(1, batch_size)
        parts = [self._embed_batch(texts[i : i + step]) for i in range(0, len(texts), step)]
        return parts[0] if len(parts) == 1 else np.concatenate(parts)

    def embed_query(self, text: str, *, threads: int = 1) -> np.ndarray:
        return self.embed([text], batch_size=1, threads=threads)[0]

    def close(self) -> None:
        self._http.close()

    # --- HTTP -------------------------------------------------------------------------------

    def _embed_batch(self, texts: list[str]) -> np.ndarray:
        # OpenAI-compatible servers reject empty strings; a space embeds as "nothing".
        body = {
            "model": self.model,
            "input": [t if t.strip() else " " for t in texts],
            "encoding_format": "float",
        }
        response = self._post(body)
        vectors = self._parse(response, len(texts))
        with self._lock:
            self.texts += len(texts)
        return vectors

    def _post(self, body: dict) -> httpx.Response:
        attempt = 0
        while True:
            with self._lock:
                self.requests += 1
            try:
                response = self._http.post("embeddings", json=body)
            except httpx.TransportError as exc:  # refused, DNS, timeouts, dropped connections
                if attempt >= self.retries:
                    raise self._unreachable(_describe(exc)) from exc
                delay = None
            else:
                if response.status_code < 400:
                    return response
                if response.status_code not in _RETRY_STATUS:
                    raise self._refused(response)
                if attempt >= self.retries:
                    raise self._unreachable(
                        f"HTTP {response.status_code} {_snippet(response)} after "
                        f"{attempt + 1} attempts"
                    )
                delay = _retry_after(response)
            if delay is None:
                delay = min(MAX_BACKOFF_S, self.backoff_s * 2**attempt)
            self._sleep(delay)
            attempt += 1

    def _parse(self, response: httpx.Response, expected: int) -> np.ndarray:
        try:
            payload = response.json()
        except ValueError:
            raise self._bad_shape(f"not JSON ({_snippet(response)})") from None
        data = payload.get("data") if isinstance(payload, dict) else None
        if not isinstance(data, list):
            raise self._bad_shape(f"no 'data' list in {_snippet(response)}")
        if len(data) != expected:
            raise self._bad_shape(f"{len(data)} embeddings for {expected} inputs")
        items = data
        if all(isinstance(d, dict) and isinstance(d.get("index"), int) for d in data):
            items = sorted(data, key=lambda d: d["index"])
            if [d["index"] for d in items] != list(range(expected)):
                raise self._bad_shape("embedding indices are not 0..n-1")
        rows = []
        for d in items:
            emb = d.get("embedding") if isinstance(d, dict) else None
            if isinstance(emb, str):  # base64 float32, if a server ignores encoding_format
                try:
                    emb = np.frombuffer(base64.b64decode(emb, validate=True), dtype="<f4")
                except ValueError:
                    raise self._bad_shape("an embedding is an undecodable string") from None
            if not isinstance(emb, list | np.ndarray) or len(emb) == 0:
                raise self._bad_shape("an item has no 'embedding' list of numbers")
            rows.append(emb)
        if len({len(r) for r in rows}) != 1:
            raise self._bad_shape("embeddings of different lengths in one response")
        try:
            vecs = np.asarray(rows, dtype=np.float32)
        except (TypeError, ValueError):
            raise self._bad_shape("an embedding holds something other than numbers") from None
        if vecs.ndim != 2 or not np.isfinite(vecs).all():
            raise self._bad_shape("an embedding holds NaN or infinite values")
        dim = vecs.shape[1]
        with self._lock:
            if self._dim is None:
                self._dim = dim
            elif dim != self._dim:
                raise self._bad_shape(f"dimension changed from {self._dim} to {dim}")
        norms = np.linalg.norm(vecs, axis=1, keepdims=True)
        if not norms.all():
            raise self._bad_shape("an embedding is all zeros")
        return (vecs / norms).astype(np.float32, copy=False)

    # --- one-line errors --------------------------------------------------------------------

    def _unreachable(self, why: str) -> EmbeddingServerError:
        return EmbeddingServerError(
            f"embedding server at {self.base_url} is not reachable: {why}; "
            "start it or unset FOLIO_EMBEDDING_URL"
        )

    def _refused(self, response: httpx.Response) -> EmbeddingServerError:
        hint = (
            "check FOLIO_EMBEDDING_API_KEY"
            if response.status_code in (401, 403)
            else f"check that it serves the model FOLIO_EMBEDDING_MODEL={self.model}"
        )
        return EmbeddingServerError(
            f"embedding server at {self.base_url} refused the request: "
            f"HTTP {response.status_code} {_snippet(response)}; {hint}"
        )

    def _bad_shape(self, what: str) -> EmbeddingServerError:
        return EmbeddingServerError(
            f"embedding server at {self.base_url} returned an unusable response: {what}; "
            "FOLIO_EMBEDDING_URL must be the /v1 base URL of an OpenAI-compatible embeddings "
            "server (or unset it)"
        )


def _describe(exc: httpx.TransportError) -> str:
    text = str(exc).strip().replace("\n", " ")
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _snippet(response: httpx.Response, limit: int = 200) -> str:
    """The server's error message (OpenAI shape) or the start of the body, on one line."""
    try:
        payload = response.json()
    except ValueError:
        payload = None
    if isinstance(payload, dict):
        error = payload.get("error")
        message = error.get("message") if isinstance(error, dict) else error
        message = message or payload.get("message") or payload.get("detail")
        if isinstance(message, str) and message:
            return _one_line(message, limit)
    return _one_line(response.text, limit) or "(empty body)"


def _one_line(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("retry-after")
    try:
        seconds = float(value) if value is not None else math.nan
    except ValueError:
        return None
    return None if math.isnan(seconds) or seconds < 0 else min(seconds, MAX_RETRY_AFTER_S)
