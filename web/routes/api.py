"""/api/v1: ask, search, documents, jobs, feedback. Thin: parse, authorise, call a service."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse
from sse_starlette import EventSourceResponse

from services import qa
from services.answer import Event
from services.auth import Principal
from services.errors import ServiceError
from services.manuals import accept_upload, document_out, job_out, reindex
from services.runtime import Runtime
from web.errors import error_body
from web.routes.deps import api_principal, get_rt, writer
from web.schemas import (
    AskRequest,
    AskResponse,
    CollectionList,
    Deleted,
    DocumentList,
    DocumentOut,
    EngineDownBody,
    ErrorBody,
    FeedbackRequest,
    JobList,
    JobOut,
    SearchRequest,
    SearchResponse,
    UploadResponse,
)

router = APIRouter(prefix="/api/v1", tags=["Folio API"])

ERRORS = {
    401: {"model": ErrorBody, "description": "No or invalid API key"},
    403: {"model": ErrorBody, "description": "Collection not allowed for this key or user"},
    422: {"model": ErrorBody, "description": "Invalid input; the message says which field"},
}
PRINCIPAL = Depends(api_principal)
WRITER = Depends(writer)
RT = Depends(get_rt)


@router.post(
    "/ask",
    response_model=AskResponse,
    responses={
        **ERRORS,
        200: {
            "content": {"text/event-stream": {}},
            "description": "JSON, or with ?stream=true server-sent events: passages, token, "
            "reasoning, done (the same JSON as the non-streamed answer).",
        },
        429: {"model": ErrorBody, "description": "Too many answers in flight"},
        503: {"model": EngineDownBody, "description": "No LLM: the passages found, no answer"},
    },
)
async def ask(
    body: AskRequest,
    stream: bool = Query(False, description="Stream server-sent events."),  # noqa: FBT001
    principal: Principal = PRINCIPAL,
    rt: Runtime = RT,
):
    """Answer a question from the manuals, with [n] citations to manual and page."""
    question = qa.check_question(body.question, rt)
    events = qa.answer_events(
        rt, principal, question,
        history=[m.model_dump() for m in body.history], collections=body.collections,
        doc_ids=qa.doc_scope(body.doc_ids), retrieval_only=body.retrieval_only,
    )  # fmt: skip
    if stream:
        first = await anext(events)  # 403/429 surface as plain HTTP errors, before the stream
        return EventSourceResponse(sse(first, events), ping=15)
    result = None
    async for event in events:
        if event.type == "done":
            result = event.data
    assert result is not None
    if result.engine_failed:
        b = result.body
        return JSONResponse(
            {
                **error_body("engine_unavailable", b["notice"]),
                **{k: b[k] for k in ("id", "question", "mode", "passages", "timings")},
            },
            status_code=503,
            headers={"Retry-After": "30"},
        )
    return result.body


async def sse(first: Event, events: AsyncIterator[Event]) -> AsyncIterator[dict]:
    """Answerer events as SSE: JSON data, so tokens with newlines survive the wire."""

    try:
        async for event in qa.with_first(first, events):
            if event.type == "done":
                data = {**event.data.body, "engine_failed": event.data.engine_failed}
            elif event.type == "passages":
                data = [qa.passage_out(p, i) for i, p in enumerate(event.data, 1)]
            else:
                data = event.data
            yield {"event": event.type, "data": json.dumps(data, ensure_ascii=False)}
    except ServiceError as exc:
        yield {"event": "error", "data": json.dumps(error_body(exc.type, exc.message))}
    except Exception as exc:  # noqa: BLE001 - the stream is open: report in-band, then end
        yield {
            "event": "error",
            "data": json.dumps(error_body("internal_error", f"the answer failed: {exc}")),
        }


@router.post("/search", response_model=SearchResponse, responses=ERRORS)
async def search(body: SearchRequest, principal: Principal = PRINCIPAL, rt: Runtime = RT):
    """Ranked passages for a query (hybrid dense + BM25), each with manual and page."""
    query = qa.check_question(body.query, rt, what="query")
    return await asyncio.to_thread(
        qa.search, rt, principal, query,
        k=body.k, collections=body.collections, doc_ids=qa.doc_scope(body.doc_ids), mode=body.mode,
    )  # fmt: skip


@router.get("/collections", response_model=CollectionList, responses=ERRORS)
async def collections(principal: Principal = PRINCIPAL, rt: Runtime = RT) -> dict:
    """The collections this caller may search."""
    return {"collections": rt.library.collections(principal)}


@router.get("/documents", response_model=DocumentList, responses=ERRORS)
async def documents(
    collection: str | None = None, principal: Principal = PRINCIPAL, rt: Runtime = RT
):
    """Every manual the caller may see, with status and errors in words."""
    if collection:
        qa.scope(principal, [collection])
    return {"documents": [document_out(d) for d in rt.library.documents(principal, collection)]}


@router.post(
    "/documents",
    status_code=202,
    response_model=UploadResponse,
    responses={
        **ERRORS,
        400: {"model": ErrorBody, "description": "Empty file or malformed multipart body"},
        413: {"model": ErrorBody, "description": "Larger than FOLIO_MAX_FILE_MB"},
        415: {"model": ErrorBody, "description": "Not a PDF, DOCX, Markdown, HTML or text file"},
        429: {"model": ErrorBody, "description": "Too many files waiting"},
    },
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "multipart/form-data": {
                    "schema": {
                        "type": "object",
                        "properties": {
                            "file": {
                                "type": "array",
                                "items": {"type": "string", "format": "binary"},
                            },
                            "collection": {"type": "string"},
                        },
                        "required": ["file"],
                    }
                }
            },
        }
    },
)
async def upload(
    request: Request,
    collection: str | None = Query(None, description="Target collection (or a form field)."),
    principal: Principal = WRITER,
    rt: Runtime = RT,
):
    """Upload one or more manuals (multipart field `file`); each becomes an ingest job."""
    jobs, rejected = await accept_upload(rt, principal, request, collection)
    out = [job_out(j) for j in jobs]
    refused = [{"file": r.name, "type": r.type, "message": r.message} for r in rejected]
    return JSONResponse(
        {"job_id": out[0]["id"], "jobs": out, "rejected": refused},
        status_code=202,
        headers={"Location": out[0]["url"]},
    )


def _document(rt: Runtime, principal: Principal, doc_id: str):
    doc = rt.library.document(doc_id, principal)
    if doc is None:
        raise ServiceError(404, f"no document {doc_id!r}; GET /api/v1/documents lists them")
    return doc


@router.get("/documents/{doc_id}", response_model=DocumentOut, responses=ERRORS)
async def document(doc_id: str, principal: Principal = PRINCIPAL, rt: Runtime = RT):
    return document_out(_document(rt, principal, doc_id))


@router.delete("/documents/{doc_id}", response_model=Deleted, responses=ERRORS)
async def delete_document(doc_id: str, principal: Principal = WRITER, rt: Runtime = RT) -> dict:
    """Remove a manual, its passages and its stored original."""
    doc = _document(rt, principal, doc_id)
    await asyncio.to_thread(rt.library.delete, doc, principal)
    return {"deleted": doc.id, "file": doc.name}


@router.post(
    "/documents/{doc_id}/reindex",
    status_code=202,
    response_model=JobOut,
    responses={**ERRORS, 409: {"model": ErrorBody, "description": "The original is not stored"}},
)
async def reindex_document(doc_id: str, principal: Principal = WRITER, rt: Runtime = RT):
    """Index the stored original again (after a settings or Folio upgrade)."""
    job = reindex(rt, principal, _document(rt, principal, doc_id))
    return JSONResponse(job_out(job), status_code=202)


@router.get("/jobs", response_model=JobList, responses=ERRORS)
async def jobs(principal: Principal = PRINCIPAL, rt: Runtime = RT) -> dict:
    """Active jobs and those of the last day."""
    return {"jobs": [job_out(j) for j in rt.jobs.recent(principal.collections)]}


def _job(rt: Runtime, principal: Principal, job_id: str):
    job = rt.jobs.get(job_id)
    if job is None or not principal.may_see(job.collection):
        raise ServiceError(404, f"no job {job_id!r}; POST /api/v1/documents returns job ids")
    return job


@router.get("/jobs/{job_id}", response_model=JobOut, responses=ERRORS)
async def job(job_id: str, principal: Principal = PRINCIPAL, rt: Runtime = RT):
    """A job's progress: pages done of total, status, errors in words."""
    return job_out(_job(rt, principal, job_id))


@router.post(
    "/jobs/{job_id}/retry",
    status_code=202,
    response_model=JobOut,
    responses={**ERRORS, 409: {"model": ErrorBody, "description": "Not retryable"}},
)
async def retry_job(job_id: str, principal: Principal = WRITER, rt: Runtime = RT):
    """Run an interrupted job again (its upload is kept until it finishes)."""
    job = _job(rt, principal, job_id)
    if not job.retryable:
        raise ServiceError(409, f"job {job_id} is {job.status} and cannot be retried", "conflict")
    return JSONResponse(job_out(rt.jobs.retry(job)), status_code=202)


@router.post("/feedback", status_code=204, responses={**ERRORS, 404: {"model": ErrorBody}})
async def feedback(body: FeedbackRequest, principal: Principal = PRINCIPAL, rt: Runtime = RT):
    """Thumbs up or down for an answer (its id comes with the answer)."""
    qa.save_feedback(rt, principal, body.answer_id, body.rating, body.comment)
