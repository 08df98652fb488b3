"""/v1: the OpenAI chat API, so any OpenAI client (a wiki bot, a chat UI) can ask Folio.

The model is always "folio". The answer's text ends with a "Sources:" list for clients that
show only text; clients that know Folio read the structured `citations` field (on the response,
or on the final chunk when streaming).
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from typing import Any

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse
from sse_starlette import EventSourceResponse

from services import qa
from services.auth import Principal
from services.runtime import Runtime
from web.errors import error_body
from web.routes.deps import api_principal, get_rt
from web.schemas import ChatCompletionRequest, ErrorBody

router = APIRouter(prefix="/v1", tags=["OpenAI-compatible"])
MODEL_ID = "folio"


@router.get("/models")
async def models(principal: Principal = Depends(api_principal)) -> dict:  # noqa: B008
    return {
        "object": "list",
        "data": [{"id": MODEL_ID, "object": "model", "created": 0, "owned_by": "folio"}],
    }


@router.post(
    "/chat/completions",
    responses={
        401: {"model": ErrorBody},
        422: {"model": ErrorBody},
        503: {"model": ErrorBody, "description": "No LLM engine; the error names passages"},
    },
)
async def chat_completions(
    body: ChatCompletionRequest,
    principal: Principal = Depends(api_principal),  # noqa: B008
    rt: Runtime = Depends(get_rt),  # noqa: B008
):
    """Answer the last user message from the manuals; earlier messages are the conversation."""
    question, history = qa.split_messages([m.model_dump() for m in body.messages])
    question = qa.check_question(question, rt)
    events = qa.answer_events(
        rt, principal, question, history=history, collections=body.collections
    )
    cid, created = qa.completion_id(), int(time.time())
    if body.stream:
        first = await anext(events)
        return EventSourceResponse(_stream(cid, created, first, events), ping=15)
    result = None
    async for event in events:
        if event.type == "done":
            result = event.data
    assert result is not None
    if result.engine_failed:
        return JSONResponse(
            error_body("engine_unavailable", result.body["notice"]),
            status_code=503,
            headers={"Retry-After": "30"},
        )
    answer = result.answer
    text = answer.text + qa.sources_text(answer.citations)
    usage = answer.usage or {"prompt_tokens": 0, "completion_tokens": 0}
    return {
        "id": cid,
        "object": "chat.completion",
        "created": created,
        "model": MODEL_ID,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": text},
                "finish_reason": "stop",
            }
        ],
        "usage": {**usage, "total_tokens": sum(usage.values())},
        "citations": result.body["citations"],
        "folio": _extras(result.body),
    }


def _extras(body: dict[str, Any]) -> dict[str, Any]:
    return {k: body[k] for k in ("id", "mode", "refused", "notice", "timings")}


def _chunk(cid: str, created: int, delta: dict, finish: str | None = None, **extra: Any) -> dict:
    payload = {
        "id": cid,
        "object": "chat.completion.chunk",
        "created": created,
        "model": MODEL_ID,
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
        **extra,
    }
    return {"data": json.dumps(payload, ensure_ascii=False)}


async def _stream(cid: str, created: int, first, events) -> AsyncIterator[dict]:
    yield _chunk(cid, created, {"role": "assistant", "content": ""})

    try:
        async for event in qa.with_first(first, events):
            if event.type == "token":
                yield _chunk(cid, created, {"content": event.data})
            elif event.type == "reasoning":
                yield _chunk(cid, created, {"reasoning_content": event.data})
            elif event.type == "done":
                result = event.data
                answer = result.answer
                if result.engine_failed:
                    yield {
                        "data": json.dumps(error_body("engine_unavailable", result.body["notice"]))
                    }
                    break
                if answer.mode == "no-evidence":
                    yield _chunk(cid, created, {"content": answer.text})
                sources = qa.sources_text(answer.citations)
                if sources:
                    yield _chunk(cid, created, {"content": sources})
                usage = answer.usage or {"prompt_tokens": 0, "completion_tokens": 0}
                yield _chunk(
                    cid, created, {}, "stop",
                    citations=result.body["citations"], folio=_extras(result.body),
                    usage={**usage, "total_tokens": sum(usage.values())},
                )  # fmt: skip
    except Exception as exc:  # noqa: BLE001 - the stream is open: report in-band, then end
        yield {"data": json.dumps(error_body("internal_error", f"the answer failed: {exc}"))}
    yield {"data": "[DONE]"}
