"""/v1: the OpenAI chat API, so any OpenAI client (a wiki bot, a chat UI) can ask Folio.

The model is "folio" (every collection the caller may read) or "folio-<collection>" (that
collection only, answered by its department's model and instruction: services/catalog.py).
The answer's text ends with a "Sources:" list for clients that
show only text; clients that know Folio read the structured `citations` field (on the response,
or on the final chunk when streaming).
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from typing import Any

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse
from sse_starlette import EventSourceResponse

from services import catalog, qa
from services.answer import Mode
from services.auth import Principal
from services.runtime import Runtime
from web.errors import error_body
from web.routes.deps import api_principal, get_rt
from web.schemas import ChatCompletion, ChatCompletionRequest, ErrorBody, ModelList, ModelOut

router = APIRouter(prefix="/v1", tags=["OpenAI-compatible"])
MODEL_ID = catalog.MODEL_ID


def _model_out(card: catalog.ModelCard) -> dict[str, Any]:
    return {"id": card.id, "object": "model", "created": 0, "owned_by": "folio",
            "description": card.description}  # fmt: skip


@router.get("/models", response_model=ModelList, responses={401: {"model": ErrorBody}})
async def models(
    principal: Principal = Depends(api_principal),  # noqa: B008
    rt: Runtime = Depends(get_rt),  # noqa: B008
):
    """`folio` (all your collections) and `folio-<collection>` for each one you may read."""
    cards = await asyncio.to_thread(catalog.model_cards, rt, principal)
    return {"object": "list", "data": [_model_out(c) for c in cards]}


@router.get(
    "/models/{model_id}",
    response_model=ModelOut,
    responses={401: {"model": ErrorBody}, 404: {"model": ErrorBody}},
)
async def model(
    model_id: str,
    principal: Principal = Depends(api_principal),  # noqa: B008
    rt: Runtime = Depends(get_rt),  # noqa: B008
):
    """One model; 404 when it does not exist or the caller may not read its collection."""
    return _model_out(await asyncio.to_thread(catalog.find_model, rt, principal, model_id))


@router.post(
    "/chat/completions",
    response_model=ChatCompletion,
    responses={
        200: {
            "content": {"text/event-stream": {}},
            "description": "JSON, or with stream=true chat.completion.chunk events, then [DONE].",
        },
        401: {"model": ErrorBody},
        403: {"model": ErrorBody},
        404: {"model": ErrorBody, "description": "No such model for this caller"},
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
    model_id = body.model or MODEL_ID
    colls = await asyncio.to_thread(
        catalog.chat_collections, rt, principal, model_id, body.collections
    )
    events = qa.answer_events(
        rt,
        principal,
        question,
        history=history,
        collections=colls,
        doc_ids=qa.doc_scope(body.doc_ids),
    )
    cid, created = qa.completion_id(), int(time.time())
    if body.stream:
        first = await anext(events)
        return EventSourceResponse(_stream(cid, created, first, events, model_id), ping=15)
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
        "model": model_id,
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
    return {k: body[k] for k in ("id", "mode", "refused", "notice", "timings", "model")}


def _chunk(
    cid: str, created: int, delta: dict, finish: str | None = None, *, model: str, **extra: Any
) -> dict:
    payload = {
        "id": cid,
        "object": "chat.completion.chunk",
        "created": created,
        "model": model,
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
        **extra,
    }
    return {"data": json.dumps(payload, ensure_ascii=False)}


async def _stream(cid: str, created: int, first, events, model: str) -> AsyncIterator[dict]:
    yield _chunk(cid, created, {"role": "assistant", "content": ""}, model=model)

    try:
        async for event in qa.with_first(first, events):
            if event.type == "token":
                yield _chunk(cid, created, {"content": event.data}, model=model)
            elif event.type == "reasoning":
                yield _chunk(cid, created, {"reasoning_content": event.data}, model=model)
            elif event.type == "done":
                result = event.data
                answer = result.answer
                if result.engine_failed:
                    yield {
                        "data": json.dumps(error_body("engine_unavailable", result.body["notice"]))
                    }
                    break
                if answer.mode == Mode.NO_EVIDENCE:
                    yield _chunk(cid, created, {"content": answer.text}, model=model)
                sources = qa.sources_text(answer.citations)
                if sources:
                    yield _chunk(cid, created, {"content": sources}, model=model)
                usage = answer.usage or {"prompt_tokens": 0, "completion_tokens": 0}
                yield _chunk(
                    cid, created, {}, "stop", model=model,
                    citations=result.body["citations"], folio=_extras(result.body),
                    usage={**usage, "total_tokens": sum(usage.values())},
                )  # fmt: skip
    except Exception as exc:  # noqa: BLE001 - the stream is open: report in-band, then end
        yield {"data": json.dumps(error_body("internal_error", f"the answer failed: {exc}"))}
    yield {"data": "[DONE]"}
