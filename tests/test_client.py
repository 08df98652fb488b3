"""LLMClient against a scripted OpenAI-compatible server (a real HTTP server on 127.0.0.1).

The scenario is the first path segment of the base URL: http://127.0.0.1:PORT/<scenario>/v1.
"""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from folio.settings import Settings
from generation.client import (
    ContextOverflow,
    Delta,
    EngineError,
    EngineRateLimited,
    EngineTimeout,
    EngineUnavailable,
    LLMClient,
    LLMError,
    StreamStats,
    Usage,
)

MESSAGES = [{"role": "user", "content": "How do I reset the pump?"}]


def _chunk(delta: dict[str, Any] | None = None, finish: str | None = None, **extra: Any) -> dict:
    choices = [] if delta is None else [{"index": 0, "delta": delta, "finish_reason": finish}]
    return {
        "id": "c1",
        "object": "chat.completion.chunk",
        "model": "m",
        "choices": choices,
        **extra,
    }


USAGE = {"prompt_tokens": 11, "completion_tokens": 4, "total_tokens": 15}
STREAMS: dict[str, list[dict]] = {
    # llama.cpp style: reasoning_content deltas, then content
    "llama": [
        _chunk({"role": "assistant", "content": None}),
        _chunk({"reasoning_content": "The manual "}),
        _chunk({"reasoning_content": "says p. 7."}),
        _chunk({"content": "Hold RESET "}),
        _chunk({"content": "for 5 s [1]."}),
        _chunk({}, finish="stop"),
        _chunk(None, usage=USAGE),
    ],
    # vLLM gpt-oss style: `reasoning` (sometimes duplicated as reasoning_content) and content
    "vllm": [
        _chunk({"role": "assistant", "content": ""}),
        _chunk({"reasoning": "think", "reasoning_content": "think"}),
        _chunk({"reasoning": " more", "content": None}),
        _chunk({"content": "Answer"}),
        _chunk({"content": "."}, finish="stop"),
        _chunk(None, usage=USAGE),
    ],
    # gpt-oss with no reasoning parser: the harmony channels inline, markers cut by the stream
    "harmony-inline": [
        _chunk({"content": "<|channel|>analysis<|mess"}),
        _chunk({"content": "age|>Passage 1 says 5 s.<|end|><|start|>assistant<|chan"}),
        _chunk({"content": "nel|>final<|message|>Hold RESET for 5 s [1]."}),
        _chunk({"content": "<|return|>"}, finish="stop"),
    ],
    # the same through a server that strips harmony's special tokens: the channel names stay
    "harmony-stripped": [
        _chunk({"content": "anal"}),
        _chunk({"content": "ysisPassage 1 says 5 s.assis"}),
        _chunk({"content": "tantfinalHold RESET for 5 s [1]."}, finish="stop"),
    ],
    "think-inline": [
        _chunk({"content": "<think>Passage 2"}),
        _chunk({"content": " covers it.</th"}),
        _chunk({"content": "ink>\n\nOpen the vent [2] <b>first</b>."}, finish="stop"),
    ],
    "stream-error": [
        _chunk({"content": "Hold"}),
        {"error": {"code": 500, "message": "slot crashed", "type": "server_error"}},
    ],
}

ERRORS: dict[str, tuple[int, dict, dict[str, str]]] = {
    "rate": (429, {"error": {"message": "Too many requests"}}, {"Retry-After": "3"}),
    "no-model": (404, {"object": "error", "message": "The model `hr` does not exist."}, {}),
    "ctx-vllm": (
        400,
        {
            "object": "error",
            "message": "This model's maximum context length is 8192 tokens. However, you "
            "requested 9000 tokens (8500 in the messages, 500 in the completion).",
            "type": "BadRequestError",
            "code": 400,
        },
        {},
    ),
    "ctx-llama": (
        400,
        {
            "error": {
                "code": 400,
                "message": "request (3024 tokens) exceeds the available context size "
                "(2048 tokens), try increasing it",
                "type": "exceed_context_size_error",
            }
        },
        {},
    ),
    "bad": (400, {"error": {"message": "temperature must be >= 0"}}, {}),
    "crash": (500, {"error": {"message": "CUDA out of memory"}}, {}),
    "auth": (401, {"error": {"message": "invalid api key"}}, {}),
    "loading": (503, {"error": {"message": "Loading model"}}, {}),
}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    requests: dict[str, list[dict]] = {}

    def log_message(self, *args: Any) -> None:
        pass

    def _send_json(self, status: int, body: dict, headers: dict[str, str] | None = None) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def _sse_start(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Connection", "close")
        self.end_headers()
        self.close_connection = True

    def _event(self, payload: dict | str) -> None:
        text = payload if isinstance(payload, str) else json.dumps(payload)
        self.wfile.write(f"data: {text}\n\n".encode())
        self.wfile.flush()

    def do_GET(self) -> None:
        if self.path.endswith("/v1/models"):
            self._send_json(200, {"object": "list", "data": [{"id": "m"}]})
        else:
            self._send_json(404, {"error": {"message": "not found"}})

    def do_POST(self) -> None:
        scenario = self.path.strip("/").split("/")[0]
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        Handler.requests.setdefault(scenario, []).append(body)
        if scenario in ERRORS:
            status, payload, headers = ERRORS[scenario]
            self._send_json(status, payload, headers)
        elif scenario == "slow":  # nothing at all for a while
            time.sleep(2.0)
            self._send_json(500, {"error": {"message": "too late"}})
        elif scenario == "stall":  # one token, then silence
            self._sse_start()
            self._event(_chunk({"content": "Hold"}))
            time.sleep(2.0)
        elif scenario == "split-utf8":  # a Chinese character cut in two between TCP writes
            self._sse_start()
            event = json.dumps(_chunk({"content": "按住复位孔 8 秒 [1]。"}), ensure_ascii=False)
            raw = f"data: {event}\n\ndata: [DONE]\n\n".encode()
            cut = raw.index("复".encode()) + 1
            for piece in (raw[:cut], raw[cut:]):
                self.wfile.write(piece)
                self.wfile.flush()
                time.sleep(0.05)
        elif scenario == "drop":  # one token, then the connection dies mid-stream
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            data = f"data: {json.dumps(_chunk({'content': 'Hold'}))}\n\n".encode()
            self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
            self.wfile.flush()
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
        else:
            self._sse_start()
            for event in STREAMS.get(scenario, STREAMS["llama"]):
                self._event(event)
            self._event("[DONE]")


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def _client(base: str, scenario: str, **kw: Any) -> LLMClient:
    return LLMClient(base_url=f"{base}/{scenario}/v1", model="m", **kw)


async def _collect(client: LLMClient, stats: StreamStats | None = None) -> list[Delta]:
    async with client:
        return [d async for d in client.stream(MESSAGES, stats=stats)]


def _raises(client: LLMClient, kind: type[LLMError]) -> LLMError:
    with pytest.raises(kind) as info:
        asyncio.run(_collect(client))
    assert isinstance(info.value, LLMError) and info.value.message
    return info.value


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# --- streaming -------------------------------------------------------------------------------


def test_llama_style_reasoning_is_kept_out_of_content(server: str) -> None:
    stats = StreamStats()
    deltas = asyncio.run(_collect(_client(server, "llama"), stats))
    assert deltas == [
        Delta("reasoning", "The manual "),
        Delta("reasoning", "says p. 7."),
        Delta("content", "Hold RESET "),
        Delta("content", "for 5 s [1]."),
    ]
    assert stats.usage == Usage(prompt_tokens=11, completion_tokens=4)
    assert stats.finish_reason == "stop"
    assert stats.first_token_s is not None and stats.total_s >= stats.first_token_s


def test_vllm_style_reasoning_field_not_duplicated(server: str) -> None:
    text, reasoning, usage = asyncio.run(_complete(_client(server, "vllm")))
    assert text == "Answer."
    assert reasoning == "think more"
    assert "think" not in text
    assert usage == Usage(11, 4)


@pytest.mark.parametrize(
    ("scenario", "answer", "thought"),
    [
        ("harmony-inline", "Hold RESET for 5 s [1].", "Passage 1 says 5 s."),
        ("harmony-stripped", "Hold RESET for 5 s [1].", "Passage 1 says 5 s."),
        ("think-inline", "\n\nOpen the vent [2] <b>first</b>.", "Passage 2 covers it."),
    ],
)
def test_inline_reasoning_never_reaches_the_answer(server, scenario, answer, thought) -> None:
    text, reasoning, _ = asyncio.run(_complete(_client(server, scenario)))
    assert (text, reasoning) == (answer, thought)


async def _complete(client: LLMClient) -> tuple[str, str, Usage | None]:
    async with client:
        return await client.complete(MESSAGES)


def test_request_body_asks_for_usage_and_sends_settings(server: str) -> None:
    settings = Settings(
        llm_base_url=f"{server}/body1/v1",
        llm_model="openai/gpt-oss-20b",
        llm_max_tokens=77,
        llm_temperature=0.3,
        reasoning_effort="low",
    )
    asyncio.run(_collect(LLMClient.from_settings(settings)))
    body = Handler.requests["body1"][-1]
    assert body["stream"] is True
    assert body["stream_options"] == {"include_usage": True}
    assert body["model"] == "openai/gpt-oss-20b"
    assert body["max_tokens"] == 77 and body["temperature"] == 0.3
    assert body["reasoning_effort"] == "low"
    assert body["messages"] == MESSAGES


def test_reasoning_effort_omitted_when_unset(server: str) -> None:
    asyncio.run(_collect(_client(server, "body2")))
    assert "reasoning_effort" not in Handler.requests["body2"][-1]


def test_from_settings_needs_a_url() -> None:
    with pytest.raises(ValueError):
        LLMClient.from_settings(Settings(llm_base_url=None))
    client = LLMClient.from_settings(Settings(), base_url="http://h:1/v1", model="local")
    assert client.base_url == "http://h:1/v1" and client.api_key is None


def test_health(server: str) -> None:
    async def check(url: str) -> bool:
        async with LLMClient(base_url=url, model="m") as client:
            return await client.health()

    assert asyncio.run(check(f"{server}/any/v1"))
    assert not asyncio.run(check(f"{server}/nope"))
    assert not asyncio.run(check(f"http://127.0.0.1:{_free_port()}/v1"))


# --- error mapping ---------------------------------------------------------------------------


def test_rate_limited(server: str) -> None:
    err = _raises(_client(server, "rate"), EngineRateLimited)
    assert err.retry_after == 3.0


@pytest.mark.parametrize("scenario", ["ctx-vllm", "ctx-llama"])
def test_context_overflow(server: str, scenario: str) -> None:
    err = _raises(_client(server, scenario), ContextOverflow)
    assert "context" in err.message


@pytest.mark.parametrize(
    ("scenario", "kind"),
    [
        ("bad", EngineError),
        ("crash", EngineError),
        ("auth", EngineError),
        ("loading", EngineUnavailable),
        ("stream-error", EngineError),
    ],
)
def test_other_statuses(server: str, scenario: str, kind: type[LLMError]) -> None:
    err = _raises(_client(server, scenario), kind)
    assert not isinstance(err, ContextOverflow)


def test_bad_request_keeps_server_message(server: str) -> None:
    err = _raises(_client(server, "bad"), EngineError)
    assert err.status == 400 and "temperature" in err.message


def test_timeout_before_first_byte(server: str) -> None:
    # the server stays silent for 2 s: only a client-side 0.5 s timeout can raise this
    _raises(_client(server, "slow", timeout_s=0.5), EngineTimeout)


def test_timeout_mid_stream(server: str) -> None:
    _raises(_client(server, "stall", timeout_s=0.5), EngineTimeout)


def test_connection_dropped_mid_stream(server: str) -> None:
    _raises(_client(server, "drop"), EngineUnavailable)


def test_connection_refused_is_quick_and_typed() -> None:
    client = LLMClient(base_url=f"http://127.0.0.1:{_free_port()}/v1", model="m", max_retries=2)
    err = _raises(client, EngineUnavailable)
    assert "FOLIO_LLM_BASE_URL" in err.message


def test_unknown_host_is_unavailable() -> None:
    client = LLMClient(base_url="http://folio-no-such-host.invalid:8000/v1", model="m")
    _raises(client, EngineUnavailable)


def test_not_a_url_is_engine_error() -> None:
    _raises(LLMClient(base_url="ftp://x/v1", model="m"), EngineError)


def test_a_multibyte_character_split_across_writes_arrives_whole(server):
    deltas = asyncio.run(_collect(_client(server, "split-utf8")))
    text = "".join(d.text for d in deltas if d.kind == "content")
    assert text == "按住复位孔 8 秒 [1]。"


def test_a_request_can_name_another_model_and_a_missing_one_names_its_setting(
    server: str,
) -> None:
    """A department's model goes in the request; the client's own model stays the default."""

    async def ask(client: LLMClient, model: str | None) -> None:
        async with client:
            async for _ in client.stream(MESSAGES, model=model):
                pass

    asyncio.run(ask(_client(server, "body-model"), "hr-lora"))
    asyncio.run(ask(_client(server, "body-model"), None))
    assert [b["model"] for b in Handler.requests["body-model"][-2:]] == ["hr-lora", "m"]
    for model, setting in (("hr", "FOLIO_DEPARTMENTS_FILE"), (None, "FOLIO_LLM_MODEL")):
        with pytest.raises(EngineError) as info:
            asyncio.run(ask(_client(server, "no-model"), model))
        assert info.value.status == 404
        assert f"no model {model or 'm'!r}" in info.value.message
        assert setting in info.value.message
