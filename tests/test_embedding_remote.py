"""The remote embedder: unit tests over httpx.MockTransport, then a real llama.cpp server.

The unit tests pin the HTTP behaviour (batching, retries and backoff, one-line errors for every
bad answer). The integration tests start llama.cpp's server (xllamacpp) in embedding mode on a
free loopback port, serving the packaged all-MiniLM-L6-v2 converted to GGUF, and run the normal
ingest and search pipeline through it with FOLIO_EMBEDDING_URL set.
"""

from __future__ import annotations

import base64
import importlib.util
import inspect
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import numpy as np
import pytest

from folio.embedding import Embedder, TextEmbedder, open_embedder
from folio.embedding_remote import EmbeddingServerError, RemoteEmbedder, normalise_base_url
from folio.index import IndexMismatch
from folio.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
URL = "http://embed.test:8001/v1"


# --- unit tests: a scripted server ------------------------------------------------------------


class Script:
    """A MockTransport handler: answers from a list, records requests and sleeps."""

    def __init__(self, *answers, dim: int = 4) -> None:
        self.answers = list(answers)
        self.dim = dim
        self.requests: list[httpx.Request] = []
        self.sleeps: list[float] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        answer = self.answers.pop(0) if self.answers else "ok"
        if isinstance(answer, Exception):
            raise answer
        if answer == "ok":
            return self.ok(request)
        return answer(request) if callable(answer) else answer

    def ok(self, request: httpx.Request) -> httpx.Response:
        texts = json.loads(request.content)["input"]
        data = [
            {"object": "embedding", "index": i, "embedding": self.vector(t)}
            for i, t in enumerate(texts)
        ]
        return httpx.Response(200, json={"object": "list", "data": data, "model": "m"})

    def vector(self, text: str) -> list[float]:
        """Deterministic, not normalised: [len, 1, 2, ...]."""
        return [float(len(text))] + [float(i) for i in range(1, self.dim)]

    def embedder(self, **kw) -> RemoteEmbedder:
        kw.setdefault("sleep", self.sleeps.append)
        return RemoteEmbedder(URL, "test-model", transport=httpx.MockTransport(self), **kw)

    def bodies(self) -> list[dict]:
        return [json.loads(r.content) for r in self.requests]


def test_batches_in_order_normalised_float32():
    script = Script()
    emb = script.embedder()
    texts = [f"text number {i}" + "x" * i for i in range(70)]
    vecs = emb.embed(texts, batch_size=32)
    assert [len(b["input"]) for b in script.bodies()] == [32, 32, 6]
    assert [b["model"] for b in script.bodies()] == ["test-model"] * 3
    assert vecs.dtype == np.float32 and vecs.shape == (70, 4)
    assert np.allclose(np.linalg.norm(vecs, axis=1), 1.0, atol=1e-6)
    expected = np.array([script.vector(t) for t in texts], dtype=np.float32)
    expected /= np.linalg.norm(expected, axis=1, keepdims=True)
    assert np.allclose(vecs, expected, atol=1e-6)
    assert emb.dim == 4 and len(script.requests) == 3  # the dimension came from the answers
    assert emb.requests == 3 and emb.texts == 70


def test_reorders_by_index_and_reads_base64():
    def shuffled(request):
        texts = json.loads(request.content)["input"]
        data = [
            {"index": i, "embedding": base64.b64encode(np.array([i + 1, 1], "<f4")).decode()}
            for i in range(len(texts))
        ]
        return httpx.Response(200, json={"data": data[::-1]})

    vecs = Script(shuffled).embedder().embed(["a", "b", "c"])
    raw = np.array([[1, 1], [2, 1], [3, 1]], dtype=np.float32)
    assert np.allclose(vecs, raw / np.linalg.norm(raw, axis=1, keepdims=True))


def test_dim_probe_when_nothing_was_embedded_and_empty_input():
    script = Script(dim=6)
    emb = script.embedder()
    assert emb.embed([]).shape == (0, 0) and not script.requests
    assert emb.dim == 6 and len(script.requests) == 1
    assert emb.dim == 6 and len(script.requests) == 1
    assert emb.embed([]).shape == (0, 6)
    assert emb.embed_query("q").shape == (6,)
    assert script.bodies()[-1]["input"] == ["q"]


def test_key_and_blank_inputs():
    script = Script()
    script.embedder(api_key="sk-secret").embed(["", "  ", "x"])
    request = script.requests[0]
    assert request.headers["authorization"] == "Bearer sk-secret"
    assert request.url == "http://embed.test:8001/v1/embeddings"
    assert json.loads(request.content)["input"] == [" ", " ", "x"]
    script = Script()
    script.embedder().embed(["x"])
    assert "authorization" not in script.requests[0].headers


def test_retries_with_backoff_on_connect_errors_5xx_and_429():
    script = Script(
        httpx.ConnectError("connection refused"),
        httpx.Response(503, json={"error": {"message": "loading"}}),
        httpx.ReadTimeout("slow"),
        httpx.Response(429, headers={"Retry-After": "3"}, text="busy"),
        "ok",
    )
    vecs = script.embedder(retries=4, backoff_s=0.5).embed(["a", "b"])
    assert vecs.shape == (2, 4)
    assert len(script.requests) == 5
    assert script.sleeps == [0.5, 1.0, 2.0, 3.0]  # exponential, then the server's Retry-After


def test_backoff_is_capped():
    script = Script(*[httpx.Response(500)] * 7)
    emb = script.embedder(retries=6, backoff_s=1.0)
    with pytest.raises(EmbeddingServerError):
        emb.embed(["a"])
    assert script.sleeps == [1.0, 2.0, 4.0, 8.0, 8.0, 8.0]


def test_gives_up_after_retries_with_one_line_message():
    script = Script(*[httpx.ConnectError("[Errno 111] Connection refused")] * 4)
    with pytest.raises(EmbeddingServerError) as info:
        script.embedder(retries=3).embed(["a"])
    msg = str(info.value)
    assert msg == (
        f"embedding server at {URL} is not reachable: ConnectError: [Errno 111] Connection "
        "refused; start it or unset FOLIO_EMBEDDING_URL"
    )
    assert len(script.requests) == 4 and len(script.sleeps) == 3

    script = Script(*[httpx.Response(502, text="Bad Gateway\n<html>\n")] * 2)
    with pytest.raises(EmbeddingServerError) as info:
        script.embedder(retries=1).embed(["a"])
    msg = str(info.value)
    assert "\n" not in msg and "HTTP 502 Bad Gateway <html> after 2 attempts" in msg
    assert msg.endswith("start it or unset FOLIO_EMBEDDING_URL")


@pytest.mark.parametrize(
    ("status", "hint"),
    [(400, "FOLIO_EMBEDDING_MODEL=test-model"), (404, "FOLIO_EMBEDDING_MODEL"),
     (401, "FOLIO_EMBEDDING_API_KEY")],
)  # fmt: skip
def test_other_4xx_are_not_retried(status, hint):
    body = {"error": {"message": "The model `test-model` does not exist.", "code": status}}
    script = Script(httpx.Response(status, json=body))
    with pytest.raises(EmbeddingServerError) as info:
        script.embedder().embed(["a"])
    msg = str(info.value)
    assert len(script.requests) == 1 and not script.sleeps
    assert f"refused the request: HTTP {status} The model `test-model` does not exist." in msg
    assert hint in msg and "\n" not in msg


def _json(payload):
    return httpx.Response(200, json=payload)


@pytest.mark.parametrize(
    ("answer", "what"),
    [
        (httpx.Response(200, text="<html>hello</html>"), "not JSON (<html>hello</html>)"),
        (_json({"object": "list"}), "no 'data' list"),
        (_json([1, 2]), "no 'data' list"),
        (_json({"data": [{"embedding": [1.0, 0.0]}]}), "1 embeddings for 2 inputs"),
        (_json({"data": [{"embedding": [1.0]}, {"embedding": [1.0, 2.0]}]}),
         "different lengths"),
        (_json({"data": [{"embedding": "!!"}, {"embedding": [1.0]}]}), "undecodable"),
        (_json({"data": [{"vector": [1.0]}, {"vector": [1.0]}]}), "no 'embedding' list"),
        (_json({"data": [{"embedding": ["a"]}, {"embedding": ["b"]}]}), "other than numbers"),
        (_json({"data": [{"embedding": [1.0]}, {"embedding": [None]}]}), "NaN"),
        (_json({"data": [{"embedding": [0.0, 0.0]}, {"embedding": [1.0, 0.0]}]}), "all zeros"),
        (_json({"data": [{"index": 0, "embedding": [1.0]}, {"index": 0, "embedding": [1.0]}]}),
         "indices"),
    ],
)  # fmt: skip
def test_wrong_shapes_are_one_clear_error(answer, what):
    script = Script(answer)
    with pytest.raises(EmbeddingServerError) as info:
        script.embedder().embed(["a", "b"])
    msg = str(info.value)
    assert msg.startswith(f"embedding server at {URL} returned an unusable response: ")
    assert what in msg and "FOLIO_EMBEDDING_URL" in msg and "\n" not in msg
    assert len(script.requests) == 1  # a wrong shape is not retried


def test_dimension_change_is_refused():
    script = Script("ok", lambda r: _json({"data": [{"embedding": [1.0, 2.0]}]}))
    emb = script.embedder()
    emb.embed(["a"])
    with pytest.raises(EmbeddingServerError, match="dimension changed from 4 to 2"):
        emb.embed(["b"])


def test_base_url_forms():
    assert normalise_base_url("gpu:8001/v1/") == "http://gpu:8001/v1"
    assert normalise_base_url("https://gpu/v1/embeddings") == "https://gpu/v1"
    assert normalise_base_url(" http://gpu:8001/v1 ") == "http://gpu:8001/v1"


def test_factory_and_protocol(tmp_path):
    local = open_embedder(Settings(data_dir=tmp_path, embed_backend="torch"))
    assert isinstance(local, Embedder) and local.name == "all-MiniLM-L6-v2"
    queries = open_embedder(Settings(data_dir=tmp_path))  # auto: ONNX Runtime where exported
    assert queries.name == "all-MiniLM-L6-v2"
    remote = open_embedder(
        Settings(
            data_dir=tmp_path, embedding_url="http://gpu:8001/v1/",
            embedding_model="BAAI/bge-m3", embedding_api_key="k", embedding_timeout_s=5,
        )
    )  # fmt: skip
    assert isinstance(remote, RemoteEmbedder)
    assert remote.name == "BAAI/bge-m3" and remote.base_url == "http://gpu:8001/v1"
    assert remote._http.headers["authorization"] == "Bearer k"
    assert remote._http.timeout.read == 5
    members = [n for n in dir(TextEmbedder) if not n.startswith("_")] + ["name"]
    for obj in (local, queries, remote):  # getattr_static: no model load, no request
        for member in members:
            inspect.getattr_static(obj, member)
        for method in ("count_tokens", "embed", "embed_query"):
            theirs = inspect.signature(getattr(obj, method)).parameters
            ours = inspect.signature(getattr(TextEmbedder, method)).parameters
            assert list(theirs) == [p for p in ours if p != "self"], (obj, method)


def test_count_tokens_estimate_and_configured_tokenizer(tmp_path):
    texts = ["Replace the shaft seal every 4000 operating hours.", "Ersetzen Sie die Dichtung."]
    local = Embedder("all-MiniLM-L6-v2")
    assert Script().embedder().count_tokens(texts) == local.count_tokens(texts)

    from tokenizers import Tokenizer, models, pre_tokenizers

    tok = Tokenizer(models.WordLevel({"[UNK]": 0, "seal": 1}, unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    tok.save(str(tmp_path / "tokenizer.json"))
    for ref in (tmp_path, tmp_path / "tokenizer.json"):
        emb = Script().embedder(tokenizer=ref)
        assert emb.count_tokens(["one two three", "seal"]) == [3, 1]
    with pytest.raises(EmbeddingServerError, match="tokenizer file not found"):
        Script().embedder(tokenizer=tmp_path / "missing.json").count_tokens(["x"])


# --- integration: the llama.cpp server, for real ----------------------------------------------

_MISSING = [m for m in ("xllamacpp", "gguf") if importlib.util.find_spec(m) is None]
needs_server = pytest.mark.skipif(
    bool(_MISSING),
    reason=f"the llama.cpp embeddings server needs {' and '.join(_MISSING)} "
    "(pip install -e '.[engine,dev]', as `make setup` does)",
)
SERVED = "minilm-gguf"  # deliberately not the local model's name: the index must tell them apart

MANUALS = {
    "pump.md": "# Orion pump\n\n## Maintenance\n\nReplace the shaft seal every 4000 operating "
    "hours. Lubricate the bearings with lithium grease once a month.\n",
    "router.txt": "Netgate R7 router\n\nTo restore factory settings, hold the reset button for "
    "ten seconds until the status light blinks amber.\n",
    "badges.md": "# Site handbook\n\n## Visitors\n\nLost visitor badges are replaced at the "
    "reception desk in building B. Bring a photo ID.\n",
    "coffee.txt": "Espresso machine\n\nDescale the boiler with citric acid every three weeks "
    "when the water is hard.\n",
}


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    if _MISSING:
        pytest.skip(f"needs {', '.join(_MISSING)}")
    from tests.embedding_server import convert_minilm, start_server

    gguf_path = convert_minilm(tmp_path_factory.mktemp("gguf") / "minilm.gguf")
    srv = start_server(gguf_path, model=SERVED)
    yield srv
    srv.stop()


def remote_settings(server, data_dir: Path, **kw) -> Settings:
    return Settings(
        data_dir=data_dir, embedding_url=server.base_url, embedding_model=server.model, **kw
    )


@needs_server
def test_server_vectors_match_the_local_model(server):
    texts = ["Replace the shaft seal every 4000 operating hours.", "Wo ist der Notausschalter?"]
    remote = RemoteEmbedder(server.base_url, server.model)
    vecs = remote.embed(texts)
    local = Embedder("all-MiniLM-L6-v2").embed(texts)
    assert vecs.dtype == np.float32 and vecs.shape == local.shape == (2, 384)
    assert remote.dim == 384
    assert np.allclose(np.linalg.norm(vecs, axis=1), 1.0, atol=1e-5)
    assert (vecs * local).sum(axis=1).min() > 0.999  # same model, served by llama.cpp


@needs_server
def test_batching_against_the_server(server):
    remote = RemoteEmbedder(server.base_url, server.model)
    texts = [f"Step {i}: tighten bolt {i} to {10 + i} Nm." for i in range(11)]
    batched = remote.embed(texts, batch_size=4)
    assert remote.requests == 3 and remote.texts == 11  # 4 + 4 + 3
    one_by_one = np.stack([remote.embed_query(t) for t in texts])
    assert np.allclose(batched, one_by_one, atol=1e-4)


@needs_server
def test_ingest_and_search_through_the_server(server, tmp_path):
    from ingest.pipeline import ingest_paths
    from retrieval.search import search
    from services.build import open_index

    src = tmp_path / "manuals"
    src.mkdir()
    for name, text in MANUALS.items():
        (src / name).write_text(text, encoding="utf-8")
    data = tmp_path / "index"
    settings = remote_settings(server, data, embed_batch_size=2)
    index, embedder = open_index(settings)
    assert isinstance(embedder, RemoteEmbedder) and embedder.name == SERVED
    results = ingest_paths([src], settings, index=index, embedder=embedder)
    assert {r.status for r in results} == {"ingested"}, [r.error for r in results]
    chunks = sum(r.chunks or 0 for r in results)
    assert chunks >= len(MANUALS) and embedder.texts >= chunks
    assert embedder.requests >= -(-chunks // 2)  # batches of at most embed_batch_size
    for query, doc in [
        ("how often should the seal be changed", "pump.md"),
        ("I lost my visitor pass", "badges.md"),
        ("factory reset of the router", "router.txt"),
    ]:
        hits = search(index, embedder, settings, query, mode="dense")
        assert hits.passages and hits.passages[0].doc_name == doc, query
    index.close()

    # The index now belongs to the served model: the local MiniLM is refused, and so is
    # another model name on the same server.
    with pytest.raises(IndexMismatch, match=SERVED):
        open_index(Settings(data_dir=data))
    with pytest.raises(IndexMismatch):
        open_index(remote_settings(server, data).model_copy(update={"embedding_model": "bge-m3"}))
    index, _ = open_index(remote_settings(server, data))  # the same model opens it again
    index.close()


@needs_server
def test_cli_ingest_and_search_with_environment(server, tmp_path):
    src = tmp_path / "router.txt"
    src.write_text(MANUALS["router.txt"], encoding="utf-8")
    env = {
        **os.environ, "FOLIO_DATA_DIR": str(tmp_path / "index"), "HF_HUB_OFFLINE": "1",
        "FOLIO_EMBEDDING_URL": server.base_url, "FOLIO_EMBEDDING_MODEL": server.model,
    }  # fmt: skip

    def folio(*args):
        return subprocess.run(
            [sys.executable, "-m", "cli", *args], capture_output=True, text=True, env=env,
            cwd=ROOT, timeout=300,
        )  # fmt: skip

    done = folio("ingest", str(src), "--json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)[0]["status"] == "ingested"
    found = folio("search", "reset button", "--json")
    assert found.returncode == 0, found.stderr
    assert "router.txt" in found.stdout


def test_clear_error_when_the_server_is_down(tmp_path):
    from tests.embedding_server import free_port

    url = f"http://127.0.0.1:{free_port()}/v1"  # nothing listens there
    settings = Settings(data_dir=tmp_path, embedding_url=url, embedding_retries=2)
    embedder = open_embedder(settings)
    t0 = time.monotonic()
    with pytest.raises(EmbeddingServerError) as info:
        embedder.embed(["anything"])
    msg = str(info.value)
    assert msg.startswith(f"embedding server at {url} is not reachable: ConnectError")
    assert msg.endswith("; start it or unset FOLIO_EMBEDDING_URL") and "\n" not in msg
    assert time.monotonic() - t0 < 10  # 0.5 + 1 s of backoff, no long hangs


@needs_server
def test_web_app_and_ingest_worker_use_the_server(server, tmp_path):
    from services.runtime import Runtime

    rt = Runtime.build(remote_settings(server, tmp_path))
    try:
        assert isinstance(rt.embedder.embedder, RemoteEmbedder)  # inside the BatchingEmbedder
        assert rt.embedder.name == SERVED
        assert rt.embedder.embed_query("reset the router").shape == (384,)
        index, worker = rt.jobs._open()  # the ingest worker's own index and embedder
        assert isinstance(worker, RemoteEmbedder) and worker is not rt.embedder.embedder
        assert worker.dim == 384
        index.close()
    finally:
        rt.embedder.close()
        rt.pool.close()
        rt.store.close()
