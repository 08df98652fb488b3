"""Dify's External Knowledge API: `POST /api/v1/dify/retrieval`, so a Dify app searches Folio's
manuals and keeps the manual and page of every chunk.

In Dify, an External Knowledge API with endpoint `http://folio:8000/api/v1/dify` (Dify appends
`/retrieval`) and a Folio API key; each external knowledge base's "External Knowledge ID" is a
Folio collection the key may read. Errors carry Dify's `error_code` and `error_msg` beside
Folio's own `error` object: 1001 (the Authorization header is not `Bearer <key>`) and 1002 (the
key is not valid) with 403, 2001 (no such collection for this key) with 404, as Dify documents.
Dify checks a new endpoint by POSTing to it with the key and no body: a valid key gets 422 (the
body is missing), which Dify accepts; a wrong key gets 403, which Dify reports.
"""

from __future__ import annotations

import asyncio
from dataclasses import replace
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, Field, StringConstraints

from services import catalog, knowledge, qa
from services.audit import Action
from services.auth import Principal
from services.errors import ServiceError
from services.runtime import Runtime
from web.routes.deps import authenticate, client_address, get_rt
from web.schemas import ErrorBody, ErrorDetail

router = APIRouter(prefix="/api/v1/dify", tags=["Dify External Knowledge API"])

INVALID_HEADER, AUTH_FAILED, NO_KNOWLEDGE = 1001, 1002, 2001
MAX_CONDITIONS = 50


class RetrievalSetting(BaseModel):
    top_k: int | None = Field(
        None, ge=1, description="Records wanted (default FOLIO_TOP_K; more than 50 give 50)."
    )
    score_threshold: float | None = Field(
        0.0, ge=0.0, le=1.0, description="Only records with at least this score (0 = all)."
    )


class MetadataConditionItem(BaseModel):
    name: str | list[str] = Field(
        description="Metadata field(s): doc, doc_id, title, collection, page, page_label, "
        "locator, section, url."
    )
    comparison_operator: str = Field(max_length=32)
    value: str | float | list[str] | None = None


class MetadataCondition(BaseModel):
    logical_operator: Literal["and", "or"] = "and"
    conditions: list[MetadataConditionItem] = Field(max_length=MAX_CONDITIONS)


class RetrievalRequest(BaseModel):
    """Dify's request, as its External Knowledge API documents it."""

    knowledge_id: Annotated[str, StringConstraints(max_length=256)] = Field(
        description="A Folio collection the API key may read."
    )
    query: str = Field(description="1 to 4000 characters (FOLIO_MAX_QUESTION_CHARS).")
    retrieval_setting: RetrievalSetting
    metadata_condition: MetadataCondition | None = None


class RecordMetadata(BaseModel):
    doc: str = Field(description="File name.")
    doc_id: str
    title: str
    collection: str
    page: int | None = Field(description="Physical page.")
    page_label: str | None = Field(description="The page number printed on the page.")
    locator: str = Field(description="Human citation, e.g. 'p. 7 (PDF page 12)'.")
    section: str
    url: str = Field(description="Opens the original at this page in Folio.")


class Record(BaseModel):
    content: str
    score: float = Field(ge=0.0, le=1.0, description="Cosine similarity to the query, 0-1.")
    title: str
    metadata: RecordMetadata


class RetrievalResponse(BaseModel):
    records: list[Record]


class DifyErrorBody(BaseModel):
    error_code: int = Field(description="1001, 1002 or 2001 (Dify's codes).")
    error_msg: str
    error: ErrorDetail


def dify_error(status: int, code: int, message: str) -> ServiceError:
    kind = {403: "forbidden", 404: "not_found"}[status]
    return ServiceError(status, message, kind, extra={"error_code": code, "error_msg": message})


async def dify_principal(request: Request) -> Principal:
    """The API key Dify sends; Dify's error codes when it is missing or wrong. Without auth
    (a loopback run) every caller is the local user, as everywhere in Folio."""
    rt = get_rt(request)
    if not rt.auth:
        return _counted(rt, request, authenticate(request, rt))  # type: ignore[arg-type]
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise dify_error(
            403,
            INVALID_HEADER,
            "Invalid Authorization header format. Expected 'Bearer <api-key>' format: in Dify, "
            "set the External Knowledge API's key to a Folio API key (`folio keys create`)",
        )
    try:
        principal = authenticate(request, rt)
    except ServiceError as exc:
        raise dify_error(403, AUTH_FAILED, f"Authorization failed: {exc.message}") from None
    if principal is None:  # pragma: no cover - a Bearer header always names a key
        raise dify_error(403, AUTH_FAILED, "Authorization failed")
    return _counted(rt, request, principal)


def _counted(rt: Runtime, request: Request, principal: Principal) -> Principal:
    """The same per-caller limits as every other API request (429 with Retry-After)."""
    principal = replace(principal, address=client_address(request, rt))
    rt.count_request(principal)
    return principal


@router.post(
    "/retrieval",
    response_model=RetrievalResponse,
    responses={
        403: {"model": DifyErrorBody, "description": "1001 bad header, 1002 invalid key"},
        404: {"model": DifyErrorBody, "description": "2001 no such collection for this key"},
        422: {"model": ErrorBody, "description": "Invalid request; the message says which field"},
    },
)
async def retrieval(
    body: RetrievalRequest,
    request: Request,
    principal: Principal = Depends(dify_principal),  # noqa: B008
    rt: Runtime = Depends(get_rt),  # noqa: B008
):
    """Passages of one collection for Dify, each with its manual, page and a link to it."""
    readable = await asyncio.to_thread(catalog.readable_collections, rt, principal)
    if body.knowledge_id not in readable:
        shown = ", ".join(readable) or "none"
        raise dify_error(
            404,
            NO_KNOWLEDGE,
            f"The knowledge does not exist: no collection {body.knowledge_id!r} this key may "
            f"read. Use a Folio collection as the External Knowledge ID; this key may read: "
            f"{shown}",
        )
    query = qa.check_question(body.query, rt, what="query")
    qa.screen(rt.terms, rt.audit, principal, query, "search", rt.metrics)
    condition = body.metadata_condition
    conditions = [
        knowledge.Condition(
            tuple(c.name) if isinstance(c.name, list) else (c.name,),
            c.comparison_operator,
            c.value,
        )
        for c in (condition.conditions if condition else [])
    ]
    knowledge.check_conditions(conditions)
    setting = body.retrieval_setting
    records = await asyncio.to_thread(
        knowledge.retrieve, rt, body.knowledge_id, query,
        top_k=setting.top_k, threshold=setting.score_threshold or 0.0, conditions=conditions,
        logic=condition.logical_operator if condition else "and", base_url=str(request.base_url),
    )  # fmt: skip
    rt.audit.record(
        Action.SEARCH, principal.name, kind=principal.kind, client=principal.address,
        via="dify", collections=[body.knowledge_id], query=query,
        results=[{"doc": r["metadata"]["doc"], "page": r["metadata"]["page"]} for r in records],
    )  # fmt: skip
    return {"records": records}
