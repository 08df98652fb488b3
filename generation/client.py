"""An async client for any OpenAI-compatible chat server: vLLM in production, llama.cpp in dev.

Written on httpx rather than the `openai` package because Folio needs three things that package
makes awkward: reasoning kept apart from content whatever field the server uses for it (vLLM's
gpt-oss sends `reasoning` or `reasoning_content`, llama.cpp `reasoning_content`; these are
extras the openai types do not declare), retries that never stall the UI behind a dead server,
and errors typed by what the user should do about them rather than by HTTP detail.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from typing import Any, Literal

import httpx

from folio.settings import Settings
from generation.reasoning import InlineReasoning

_REASONING_FIELDS = ("reasoning_content", "reasoning")
_CONTEXT_RE = re.compile(
    r"context (length|size|window)|too many tokens|exceeds? (the )?(available |maximum )?context"
    r"|maximum context|prompt is too long|exceed_context_size",
    re.IGNORECASE,
)


# --- errors ---------------------------------------------------------------------------------


class LLMError(Exception):
    """Base of every client error; `message` is meant for the person using Folio."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class EngineUnavailable(LLMError):
    """Nothing answers at the base URL (refused, DNS, dropped connection, server loading)."""


class EngineTimeout(LLMError):
    """The server accepted the request but did not answer in time."""


class EngineRateLimited(LLMError):
    """HTTP 429: the server is saturated."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class ContextOverflow(LLMError):
    """The prompt (plus max_tokens) does not fit the model's context window."""


class EngineError(LLMError):
    """Any other failure reported by the server."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


# --- results --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Delta:
    kind: Literal["content", "reasoning"]
    text: str


@dataclass(frozen=True)
class Usage:
    prompt_tokens: int
    completion_tokens: int


@dataclass
class StreamStats:
    """Filled in while a stream runs; pass one to `stream()` to read it afterwards."""

    usage: Usage | None = None
    first_token_s: float | None = None  # request sent -> first content or reasoning delta
    total_s: float | None = None
    finish_reason: str | None = None
    model: str | None = None


@dataclass
class LLMClient:
    """One server, one model. Reuse it: it keeps a pooled httpx connection.

    `max_retries` only retries failures to *connect* (never a request the server has seen), with
    a short pause, so a dead server costs the user well under a second, not minutes.
    """

    base_url: str
    model: str
    api_key: str | None = None
    timeout_s: float = 300.0
    connect_timeout_s: float = 5.0
    max_tokens: int = 512
    temperature: float = 0.0
    top_p: float = 1.0
    reasoning_effort: str | None = None
    max_retries: int = 1
    retry_pause_s: float = 0.2
    last_stats: StreamStats | None = field(default=None, init=False)
    _http: httpx.AsyncClient | None = field(default=None, init=False, repr=False)

    @classmethod
    def from_settings(
        cls, settings: Settings, *, base_url: str | None = None, model: str | None = None
    ) -> LLMClient:
        """Build from settings; `base_url` / `model` override them (e.g. the local engine's)."""
        url = base_url or settings.llm_base_url
        if not url:
            raise ValueError("no LLM base URL: set FOLIO_LLM_BASE_URL or start the local engine")
        key = settings.llm_api_key.get_secret_value()
        return cls(
            base_url=url,
            model=model or settings.llm_model,
            api_key=None if key in ("", "none") else key,
            timeout_s=settings.llm_timeout_s,
            max_tokens=settings.llm_max_tokens,
            temperature=settings.llm_temperature,
            top_p=settings.llm_top_p,
            reasoning_effort=settings.reasoning_effort,
        )

    # --- public API ---------------------------------------------------------------------------

    async def stream(
        self,
        messages: list[dict[str, Any]],
        *,
        stats: StreamStats | None = None,
        max_tokens: int | None = None,
        model: str | None = None,
        **extra: Any,
    ) -> AsyncIterator[Delta]:
        """Yield content and reasoning deltas as the server produces them.

        Reasoning never ends up in content: each delta's text comes from exactly one field.
        `model` names another model on the same server for this request (a department's LoRA
        adapter); `extra` goes into the request body (e.g. `stop`, `seed`).
        """
        stats = stats if stats is not None else StreamStats()
        self.last_stats = stats
        body: dict[str, Any] = {
            "model": model or self.model,
            "messages": messages,
            "stream": True,
            "stream_options": {"include_usage": True},
            "max_tokens": max_tokens or self.max_tokens,
            "temperature": self.temperature,
            "top_p": self.top_p,
            **extra,
        }
        if self.reasoning_effort:
            body["reasoning_effort"] = self.reasoning_effort
        t0 = time.monotonic()
        deadline = t0 + self.timeout_s
        inline = InlineReasoning()
        try:
            async with self._open_stream(body) as response:
                async for data in _sse_data(response):
                    if time.monotonic() > deadline:
                        raise self._timeout()
                    if data == "[DONE]":
                        break
                    for delta in _split_inline(_parse_chunk(data, stats), inline):
                        if stats.first_token_s is None:
                            stats.first_token_s = time.monotonic() - t0
                        yield delta
            for kind, text in inline.flush():
                yield Delta(kind, text)
        except httpx.TimeoutException as exc:
            raise self._timeout() from exc
        except (httpx.TransportError, httpx.StreamError) as exc:
            raise EngineUnavailable(
                f"The connection to the LLM server at {self.base_url} was lost mid-answer "
                f"({type(exc).__name__}). It may have crashed or restarted; ask again."
            ) from exc
        finally:
            stats.total_s = time.monotonic() - t0

    async def complete(
        self, messages: list[dict[str, Any]], **kwargs: Any
    ) -> tuple[str, str, Usage | None]:
        """The whole answer: (content, reasoning, usage)."""
        stats = StreamStats()
        content: list[str] = []
        reasoning: list[str] = []
        async for delta in self.stream(messages, stats=stats, **kwargs):
            (content if delta.kind == "content" else reasoning).append(delta.text)
        return "".join(content), "".join(reasoning), stats.usage

    async def health(self, timeout: float = 3.0) -> bool:
        """Whether the server lists models (GET {base}/models answers 200). Never raises."""
        try:
            response = await self._client().get(
                self._url("/models"), timeout=min(timeout, self.timeout_s)
            )
        except httpx.HTTPError:
            return False
        return response.status_code == 200

    async def aclose(self) -> None:
        if self._http is not None:
            await self._http.aclose()
            self._http = None

    async def __aenter__(self) -> LLMClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    # --- internals ----------------------------------------------------------------------------

    def _client(self) -> httpx.AsyncClient:
        if self._http is None:
            headers = {"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}
            self._http = httpx.AsyncClient(
                headers=headers,
                timeout=httpx.Timeout(self.timeout_s, connect=self.connect_timeout_s),
            )
        return self._http

    def _url(self, path: str) -> str:
        return self.base_url.rstrip("/") + path

    def _timeout(self) -> EngineTimeout:
        return EngineTimeout(
            f"The LLM server at {self.base_url} did not answer within {self.timeout_s:g} s. "
            "It may be overloaded: try again shortly, or raise FOLIO_LLM_TIMEOUT_S."
        )

    def _open_stream(self, body: dict[str, Any]) -> _StreamOpener:
        return _StreamOpener(self, body)


class _StreamOpener:
    """Async context manager: POST with connect-only retries; non-2xx becomes a typed error."""

    def __init__(self, client: LLMClient, body: dict[str, Any]) -> None:
        self.client = client
        self.body = body
        self.response: httpx.Response | None = None

    async def __aenter__(self) -> httpx.Response:
        client = self.client
        http = client._client()
        request = http.build_request("POST", client._url("/chat/completions"), json=self.body)
        attempt = 0
        while True:
            try:
                response = await http.send(request, stream=True)
                break
            except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
                if attempt >= client.max_retries:
                    raise EngineUnavailable(
                        f"Cannot reach the LLM server at {client.base_url} ({_reason(exc)}). "
                        "Is it running? Check FOLIO_LLM_BASE_URL, or unset it to use the "
                        "local engine."
                    ) from exc
                attempt += 1
                await asyncio.sleep(client.retry_pause_s * attempt)
            except httpx.UnsupportedProtocol as exc:
                raise EngineError(
                    f"FOLIO_LLM_BASE_URL {client.base_url!r} is not an http(s) URL."
                ) from exc
        if response.status_code >= 400:
            try:
                await response.aread()
            finally:
                await response.aclose()
            raise _status_error(response, client, self.body)
        self.response = response
        return response

    async def __aexit__(self, *exc: object) -> None:
        if self.response is not None:
            await self.response.aclose()


async def _sse_data(response: httpx.Response) -> AsyncIterator[str]:
    """The `data:` payloads of a server-sent-event stream (one per event)."""
    buffer: list[str] = []
    async for line in response.aiter_lines():
        if not line:
            if buffer:
                yield "\n".join(buffer)
                buffer = []
            continue
        if line.startswith("data:"):
            buffer.append(line[5:].removeprefix(" "))
        elif line.startswith("error:"):  # some servers name the event instead
            buffer.append(line[6:].strip())
    if buffer:
        yield "\n".join(buffer)


def _parse_chunk(data: str, stats: StreamStats) -> list[Delta]:
    try:
        chunk = json.loads(data)
    except json.JSONDecodeError:
        return []
    if not isinstance(chunk, dict):
        return []
    if "error" in chunk:  # an error after the 200 (llama.cpp, vLLM) arrives as a data event
        raise _body_error(chunk, status=None)
    stats.model = chunk.get("model") or stats.model
    usage = chunk.get("usage")
    if isinstance(usage, dict):
        stats.usage = Usage(
            prompt_tokens=int(usage.get("prompt_tokens") or 0),
            completion_tokens=int(usage.get("completion_tokens") or 0),
        )
    deltas: list[Delta] = []
    for choice in chunk.get("choices") or []:
        if choice.get("finish_reason"):
            stats.finish_reason = choice["finish_reason"]
        delta = choice.get("delta") or {}
        # One field only: vLLM may send the same text as both reasoning and reasoning_content.
        reasoning = next((delta[f] for f in _REASONING_FIELDS if delta.get(f)), None)
        if isinstance(reasoning, str):
            deltas.append(Delta("reasoning", reasoning))
        content = delta.get("content")
        if isinstance(content, str) and content:
            deltas.append(Delta("content", content))
    return deltas


def _split_inline(deltas: list[Delta], inline: InlineReasoning) -> Iterator[Delta]:
    for delta in deltas:
        if delta.kind == "reasoning":
            yield delta
        else:
            for kind, text in inline.feed(delta.text):
                yield Delta(kind, text)


def _status_error(
    response: httpx.Response, client: LLMClient, request_body: dict[str, Any] | None = None
) -> LLMError:
    status = response.status_code
    try:
        body: Any = response.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        body = {"error": {"message": response.text[:500]}}
    if status == 429:
        return EngineRateLimited(
            f"The LLM server at {client.base_url} is busy (429 Too Many Requests). "
            "Wait a moment and ask again.",
            retry_after=_retry_after(response),
        )
    if status == 503:
        return EngineUnavailable(
            f"The LLM server at {client.base_url} is not ready (503: {_message(body)}). "
            "It may still be loading the model; try again in a few seconds."
        )
    if status in (401, 403):
        return EngineError(
            f"The LLM server refused the API key ({status}). Check FOLIO_LLM_API_KEY.", status
        )
    if status == 404:
        model = (request_body or {}).get("model", client.model)
        setting = "FOLIO_LLM_MODEL" if model == client.model else "FOLIO_DEPARTMENTS_FILE"
        return EngineError(
            f"The LLM server has no model {model!r} or no chat endpoint at "
            f"{client.base_url} (404: {_message(body)}). Check {setting} and "
            "FOLIO_LLM_BASE_URL (it usually ends in /v1).",
            status,
        )
    return _body_error(body, status)


def _body_error(body: Any, status: int | None) -> LLMError:
    message = _message(body)
    if (status in (None, 400, 413, 422)) and _CONTEXT_RE.search(json.dumps(body)):
        return ContextOverflow(
            f"The question and the retrieved passages do not fit the model's context window "
            f"({message}). Ask a shorter question, lower FOLIO_TOP_K, or give the model more "
            "context (FOLIO_ENGINE_CTX for the local engine)."
        )
    where = f"{status}: " if status else ""
    return EngineError(f"The LLM server reported an error ({where}{message}).", status)


def _message(body: Any) -> str:
    if isinstance(body, dict):
        err = body.get("error", body)
        if isinstance(err, dict):
            return str(err.get("message") or err.get("detail") or err)[:500]
        if isinstance(err, str):
            return err[:500]
        if "detail" in body:
            return str(body["detail"])[:500]
    return str(body)[:500]


def _retry_after(response: httpx.Response) -> float | None:
    try:
        return float(response.headers.get("retry-after", ""))
    except ValueError:
        return None


def _reason(exc: Exception) -> str:
    text = str(exc) or type(exc).__name__
    return text.split("] ", 1)[-1][:200]  # drop "[Errno 111] " style prefixes
