"""Questions and searches over HTTP: scoping to the caller's collections, running the Answerer,
recording the answer, and shaping it for /api/v1 and for the OpenAI-compatible /v1.

Every surface (the Ask page, /api/v1/ask, /v1/chat/completions) runs `answer_events`, so all
three show the same passages, the same answer and the same citations.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Any

from folio.index import TooManyDocuments, doc_filter
from retrieval.search import search as run_search
from services.answer import Answer, Answerer, Citation, Event, Mode, passage_dict
from services.audit import Action, AuditLog
from services.auth import Principal
from services.errors import ServiceError
from services.metrics import Metrics
from services.notices import Notice, notice_text
from services.runtime import Runtime
from services.terms import BlockedTerms

ENGINE_ERROR_TYPES = ("EngineUnavailable", "EngineTimeout", "EngineRateLimited")


def check_question(text: str, rt: Runtime, what: str = "question") -> str:
    text = (text or "").strip()
    limit = rt.settings.max_question_chars
    if not text:
        raise ServiceError(422, f"the {what} is empty: type a {what} about your manuals")
    if len(text) > limit:
        raise ServiceError(
            422,
            f"the {what} is {len(text)} characters long; the limit is {limit}. "
            "Shorten it to the essentials (the manuals are searched by meaning, not by length).",
        )
    return text


def screen(
    terms: BlockedTerms | None,
    audit: AuditLog,
    principal: Principal,
    text: str,
    what: str = "question",
    metrics: Metrics | None = None,
) -> None:
    """Refuse a question (or search) that holds a blocked term: 400, audited, never naming the
    term (that would teach the list). The web app and the CLI both call it."""
    if terms is None or not terms.blocks(text):
        return
    if metrics is not None:
        metrics.blocked.labels("question").inc()
    audit.record(
        Action.BLOCKED, principal.name, kind=principal.kind, client=principal.address,
        what=what, question=text,
    )  # fmt: skip
    raise ServiceError(
        400,
        f"this {what} contains a term that may not be used with Folio here; rephrase it "
        "(an administrator keeps the list of such terms)",
        "blocked_term",
    )


def doc_scope(ids: Sequence[str] | None) -> list[str] | None:
    """The documents to search, or a 422 naming the limit (the request models cap the list
    too; this holds for any caller, before anything is searched)."""
    try:
        return doc_filter(list(ids) if ids is not None else None)
    except TooManyDocuments as exc:
        raise ServiceError(422, f"doc_ids: {exc}", "invalid_request") from None


def scope(principal: Principal, requested: Sequence[str] | None) -> list[str] | None:
    """The collections a request may search: what it asked for, if allowed (else 403), or
    everything the caller may see."""
    if principal.collections is not None and not principal.collections:
        # An empty grant must never reach the index: an empty filter there means "all".
        raise ServiceError(
            403,
            f"{principal.kind} {principal.name!r} may not search any collection; an "
            "administrator grants collections in the users file (or, for users of the "
            "authenticating proxy, with FOLIO_TRUSTED_USER_COLLECTIONS)",
        )
    wanted = [c for c in (requested or []) if c]
    if wanted:
        denied = [c for c in wanted if not principal.may_see(c)]
        if denied:
            allowed = ", ".join(sorted(principal.collections or ()))
            raise ServiceError(
                403,
                f"{principal.kind} {principal.name!r} may not use collection(s) "
                f"{', '.join(denied)}; allowed: {allowed}",
            )
        return wanted
    return sorted(principal.collections) if principal.collections is not None else None


def file_url(doc_id: str, page: int | None) -> str:
    return f"/files/{doc_id}" + (f"#page={page}" if page else "")


def passage_out(p: dict[str, Any], n: int) -> dict[str, Any]:
    return {**p, "n": n, "url": file_url(p["doc_id"], p["page"])}


def citation_out(c: Citation) -> dict[str, Any]:
    return {
        "n": c.n,
        "doc": c.doc,
        "doc_id": c.doc_id,
        "title": c.title,
        "page": c.page,
        "label": c.label,
        "locator": c.locator,
        "passage": c.passage,
        "chunk_id": c.chunk_id,
        "url": file_url(c.doc_id, c.page),
        "supported": c.supported,
        "added_by_folio": c.added_by_folio,
        "instruction_like": c.instruction_like,
    }


def search(
    rt: Runtime,
    principal: Principal,
    query: str,
    *,
    k: int | None,
    collections: Sequence[str] | None,
    doc_ids: Sequence[str] | None,
    mode: str,
) -> dict[str, Any]:
    """Blocking: run it in a thread."""
    screen(rt.terms, rt.audit, principal, query, "search", rt.metrics)
    colls = scope(principal, collections)
    hits = run_search(
        rt.pool, rt.embedder, rt.settings, query,
        k=k, collections=colls, doc_ids=doc_ids, mode=mode, reranker=rt.reranker,
    )  # fmt: skip
    rt.audit.record(
        Action.SEARCH, principal.name, kind=principal.kind, client=principal.address,
        collections=colls, query=query, mode=mode,
        results=[{"doc": p.doc_name, "page": p.page} for p in hits.passages],
    )  # fmt: skip
    return {
        "query": query,
        "passages": [passage_out(passage_dict(p), i) for i, p in enumerate(hits.passages, 1)],
        "timings": {k: round(v, 2) for k, v in hits.timings.items()},
    }


@dataclass
class AskResult:
    """The done event's payload: the answer and how the HTTP layer should treat it."""

    id: str
    answer: Answer
    body: dict[str, Any]
    engine_failed: bool  # the caller wanted an LLM answer and did not get one


async def answer_events(
    rt: Runtime,
    principal: Principal,
    question: str,
    *,
    history: Sequence[dict] | None = None,
    collections: Sequence[str] | None = None,
    doc_ids: Sequence[str] | None = None,
    retrieval_only: bool = False,
) -> AsyncIterator[Event]:
    """The Answerer's events, with `done` carrying an AskResult; raises ServiceError (429/403)
    before anything is streamed."""
    screen(rt.terms, rt.audit, principal, question, metrics=rt.metrics)
    colls = scope(principal, collections)
    client = None if retrieval_only else rt.engine.client
    if client is not None:
        rt.quotas.check_tokens(principal.caller, principal.tokens_per_day)
    if client is not None and rt.pending_asks >= rt.settings.max_pending_asks:
        raise ServiceError(
            429,
            f"Folio is already answering {rt.pending_asks} questions; ask again in a few "
            "seconds (or use retrieval_only for passages now)",
            headers={"Retry-After": "10"},
        )
    answerer = Answerer(rt.settings, rt.pool, rt.embedder, client, rt.reranker)  # type: ignore[arg-type]
    answer_id = uuid.uuid4().hex[:16]
    if client is not None:
        rt.pending_asks += 1
    masker = rt.terms.masker() if rt.terms is not None else None
    try:
        async for event in answerer.stream(
            question, history=list(history or []), collections=colls, doc_ids=doc_ids,
            department=rt.departments.for_scope(colls),
        ):  # fmt: skip
            if event.type == "done":
                answer = event.data
                if masker is not None:
                    rest = masker.flush()
                    if rest:
                        yield Event("token", rest)
                    _mask_answer(rt, answer)
                # its SQLite row and audit line are file I/O: off the event loop
                result = await asyncio.to_thread(
                    _finish, rt, principal, answer_id, answer, retrieval_only, colls
                )
                yield Event("done", result)
            elif event.type == "token" and masker is not None:
                piece = masker.push(event.data)
                if piece:
                    yield Event("token", piece)
            else:
                yield event
    finally:
        if client is not None:
            rt.pending_asks -= 1


def _mask_answer(rt: Runtime, answer: Answer) -> None:
    """The checked answer with blocked terms masked, as the stream showed it."""
    masked = rt.terms.mask(answer.text)
    if masked != answer.text:
        rt.metrics.blocked.labels("answer").inc()
        answer.text = masked
    answer.reasoning = rt.terms.mask(answer.reasoning) if answer.reasoning else answer.reasoning


def _finish(
    rt: Runtime,
    principal: Principal,
    answer_id: str,
    answer: Answer,
    retrieval_only: bool,
    collections: Sequence[str] | None = None,
) -> AskResult:
    engine_failed = answer.mode == Mode.RETRIEVAL_ONLY and not retrieval_only
    # Worded by the English catalogue; the page words the code in its own language.
    code, detail = None, None
    if answer.mode == Mode.NO_EVIDENCE:
        code = Notice.NO_EVIDENCE
    elif retrieval_only:
        code = Notice.RETRIEVAL_ONLY
    elif engine_failed:
        status = rt.engine.status
        if rt.engine.client is None and status.state == "starting":
            code = Notice.ENGINE_STARTING
        elif rt.engine.client is None:
            code, detail = Notice.ENGINE_DOWN, status.note
        else:
            code, detail = Notice.ENGINE_FAILED, answer.error or "no reason given"
    notice = notice_text(code, detail) if code else None
    if answer.error_type:
        rt.metrics.engine_errors.labels(answer.error_type).inc()
        if rt.engine.client is not None and answer.error_type in ENGINE_ERROR_TYPES:
            rt.engine.report(False, answer.error)
    elif answer.mode == Mode.LLM and rt.engine.client is not None:
        rt.engine.report(True)
    rt.metrics.answers.labels(answer.mode).inc()
    body = answer_body(answer_id, answer, notice, code, detail)
    rt.last_answer[principal.name] = {
        "at": time.time(),
        "mode": answer.mode,
        "timings": body["timings"],
        "usage": answer.usage,
    }
    _record(rt, principal, answer_id, answer)
    tokens = sum((answer.usage or {}).get(k) or 0 for k in ("prompt_tokens", "completion_tokens"))
    rt.quotas.spend_tokens(principal.caller, int(tokens))
    audit_answer(rt.audit, principal, answer, collections, answer_id=answer_id)
    return AskResult(answer_id, answer, body, engine_failed)


def audit_answer(
    audit: AuditLog,
    principal: Principal,
    answer: Answer,
    collections: Sequence[str] | None,
    **extra: Any,
) -> None:
    """One `ask` line: who, what, which pages answered, refused or not, model, tokens, times.
    Shared by the web app and `folio ask`."""
    audit.record(
        Action.ASK, principal.name, kind=principal.kind, client=principal.address,
        collections=list(collections) if collections else None, question=answer.question,
        cited=[{"doc": c.doc, "page": c.page} for c in answer.citations],
        refused=answer.refused, mode=answer.mode, model=answer.model,
        usage=answer.usage or None, timings={k: round(v, 1) for k, v in answer.timings.items()},
        **extra,
    )  # fmt: skip


def answer_body(
    answer_id: str,
    answer: Answer,
    notice: str | None,
    notice_code: str | None = None,
    notice_detail: str | None = None,
) -> dict[str, Any]:
    return {
        "id": answer_id,
        "question": answer.question,
        "answer": answer.text if answer.mode != Mode.RETRIEVAL_ONLY else "",
        "citations": [citation_out(c) for c in answer.citations],
        "refused": answer.refused,
        "mode": answer.mode,
        "notice": notice,
        "notice_code": notice_code,
        "notice_detail": notice_detail,
        "reasoning": answer.reasoning,
        "search_query": answer.search_query,
        "unsupported": answer.unsupported,
        "timings": {k: round(v, 1) for k, v in answer.timings.items()},
        "usage": answer.usage,
        "relevance": answer.relevance,
        "model": answer.model,
        "passages": [passage_out(passage_dict(p), i) for i, p in enumerate(answer.passages, 1)],
    }


def _record(rt: Runtime, principal: Principal, answer_id: str, answer: Answer) -> None:
    rt.store.db.execute(
        "INSERT INTO answers (id, created_at, owner, question, answer, mode, refused, citations,"
        " timings, usage) VALUES (?,?,?,?,?,?,?,?,?,?)",
        (
            answer_id, time.time(), principal.name, answer.question, answer.text, answer.mode,
            int(answer.refused), json.dumps([c.chunk_id for c in answer.citations]),
            json.dumps(answer.timings), json.dumps(answer.usage),
        ),
    )  # fmt: skip


def save_feedback(
    rt: Runtime, principal: Principal, answer_id: str, rating: str, comment: str | None
) -> None:
    row = rt.store.db.execute("SELECT owner FROM answers WHERE id=?", (answer_id,)).fetchone()
    if row is None or (row["owner"] != principal.name and principal.kind != "local"):
        raise ServiceError(404, f"no answer {answer_id!r}: feedback refers to an answer's id")
    with rt.store.tx() as db:
        db.execute(
            "DELETE FROM feedback WHERE answer_id=? AND owner=?", (answer_id, principal.name)
        )
        db.execute(
            "INSERT INTO feedback (answer_id, rating, comment, owner, created_at)"
            " VALUES (?,?,?,?,?)",
            (answer_id, 1 if rating == "up" else -1, comment, principal.name, time.time()),
        )


# --- OpenAI-compatible shapes ------------------------------------------------------------------


def split_messages(messages: list[dict[str, Any]]) -> tuple[str, list[dict[str, str]]]:
    """The last user message is the question; earlier user/assistant turns are the history."""
    turns = []
    for m in messages:
        role = m.get("role")
        if role not in ("user", "assistant"):
            continue  # system prompts are Folio's own; a client's is ignored
        content = m.get("content")
        if isinstance(content, list):
            content = " ".join(
                str(p.get("text", "")) for p in content if isinstance(p, dict) and p.get("text")
            )
        turns.append({"role": role, "content": str(content or "")})
    if not turns or turns[-1]["role"] != "user":
        raise ServiceError(422, "the last message must be the user's question (role 'user')")
    return turns[-1]["content"], turns[:-1]


def sources_text(citations: list[Citation]) -> str:
    """The 'Sources:' list appended to OpenAI answers, for clients that show only text."""
    if not citations:
        return ""
    lines = [f"[{c.n}] {c.title}, {c.locator} ({c.doc})" for c in citations]
    return "\n\nSources:\n" + "\n".join(lines)


def completion_id() -> str:
    return "chatcmpl-" + uuid.uuid4().hex[:24]


async def with_first(first: Event, events: AsyncIterator[Event]) -> AsyncIterator[Event]:
    """Put back the event a route already read (to choose its status code) before the rest."""
    yield first
    async for event in events:
        yield event
