"""The HTML pages (Ask, Manuals, Login) and the htmx fragments that keep them live."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import jinja2
from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from folio.index import MAX_DOC_IDS
from folio.types import DocStatus
from services.audit import Action
from services.auth import SESSION_COOKIE, Principal, check_login
from services.errors import ServiceError
from services.manuals import reindex
from services.runtime import Runtime
from web import i18n
from web.highlight import highlight, query_terms, reflow
from web.routes.deps import (
    client_address,
    get_rt,
    is_https,
    page_principal,
    page_writer,
)

router = APIRouter(include_in_schema=False)
TEMPLATES_DIR = Path(__file__).resolve().parent.parent / "templates"
templates = Jinja2Templates(
    env=jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES_DIR),
        autoescape=True,  # every template, whatever its name: manual text is untrusted
        undefined=jinja2.StrictUndefined,
    )
)
PAGE = Depends(page_principal)
PAGE_WRITER = Depends(page_writer)
RT = Depends(get_rt)
DOCS = Query([], description="Ids of the manuals chosen in the Ask page's picker.")


i18n.install(templates.env)


def status_context(rt: Runtime, principal: Principal) -> dict[str, Any]:
    stats = rt.stats()
    return {
        "engine": rt.engine.status,
        "docs": stats["docs"],
        "chunks": stats["chunks"],
        "last": rt.last_answer.get(principal.name),
        "queued": rt.jobs.queued_count(),
    }


def render(
    request: Request,
    name: str,
    rt: Runtime,
    principal: Principal | None,
    status_code: int = 200,
    **ctx: Any,
) -> HTMLResponse:
    locale = i18n.request_locale(request)
    base = {
        "locale": locale,
        "languages": i18n.switch_links(request, locale),
        "js_strings": i18n.js_strings(locale),
        "auth": rt.auth,
        "principal": principal,
        "csrf": principal.csrf if principal and principal.csrf else "",
        "status": status_context(rt, principal) if principal else None,
        "page": name.split("/")[-1].removesuffix(".html"),
    }
    response = templates.TemplateResponse(request, name, {**base, **ctx}, status_code=status_code)
    response.headers["Vary"] = "Accept-Language, Cookie"  # the page's language depends on them
    response.headers["Content-Language"] = locale
    return response


def render_error(request: Request, status: int, message: str) -> HTMLResponse:
    rt = get_rt(request)
    return render(request, "error.html", rt, None, status, code=status, message=message)


# --- pages ---------------------------------------------------------------------------------------


@router.get("/", response_class=HTMLResponse)
async def ask_page(
    request: Request,
    doc: list[str] = DOCS,
    principal: Principal = PAGE,
    rt: Runtime = RT,
):
    """The Ask page; `?doc=ID` (the manuals page's "Ask this manual") preselects manuals."""
    return render(
        request, "ask.html", rt, principal,
        collections=rt.library.collections(principal),
        max_chars=rt.settings.max_question_chars,
        max_docs=MAX_DOC_IDS,
        **_picker_context(rt, principal, None, doc[:MAX_DOC_IDS]),
    )  # fmt: skip


def _picker_context(
    rt: Runtime, principal: Principal, collection: str | None, chosen: list[str]
) -> dict[str, Any]:
    """The manual picker's list: the ready manuals the caller may ask (of one collection, or
    all), the chosen ones first and checked."""
    docs = rt.library.documents(principal, collection or None)
    docs = [d for d in docs if d.status == DocStatus.READY]
    picked = set(chosen)
    docs.sort(key=lambda d: d.id not in picked)  # stable: library order otherwise
    return {"manuals": docs, "chosen": picked, "picker_collection": collection or ""}


@router.get("/manuals", response_class=HTMLResponse)
async def manuals_page(request: Request, principal: Principal = PAGE, rt: Runtime = RT):
    return render(
        request, "manuals.html", rt, principal,
        **_library_context(rt, principal),
        collections=rt.library.collections(principal),
        default_collection=rt.settings.default_collection,
        max_file_mb=rt.settings.max_file_mb,
    )  # fmt: skip


def _library_context(rt: Runtime, principal: Principal) -> dict[str, Any]:
    jobs = rt.jobs.recent(principal.collections)
    return {
        "documents": rt.library.documents(principal),
        "jobs": jobs,
        "active": any(j.active for j in jobs),
        "seen": rt.jobs.finished_count(),
        "read_only": principal.read_only,
    }


# --- login ---------------------------------------------------------------------------------------


def _safe_next(target: str | None) -> str:
    """Only local paths: `next` must never send a user to another site after login."""
    target = unquote(target or "/")
    if not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


@router.get("/login", response_class=HTMLResponse)
async def login_page(request: Request, next: str = "/", rt: Runtime = RT):  # noqa: A002
    if not rt.auth:
        return RedirectResponse("/", 303)
    return render(
        request, "login.html", rt, None, next=_safe_next(next), error=None,
        no_users=not rt.users.all(), username="",
    )  # fmt: skip


@router.post("/login", response_class=HTMLResponse)
async def login(
    request: Request,
    username: str = Form("", max_length=200),
    password: str = Form("", max_length=1000),
    next: str = Form("/", max_length=2000),  # noqa: A002
    rt: Runtime = RT,
):
    if not rt.auth:
        return RedirectResponse("/", 303)
    client = client_address(request, rt)
    wait = rt.throttle.retry_after(client, username.strip())
    if wait:
        raise ServiceError(
            429,
            f"too many failed logins; wait {wait:.0f} seconds and try again",
            headers={"Retry-After": str(int(wait))},
        )
    user = await asyncio.to_thread(check_login, rt.users, username.strip(), password)
    if user is None:
        rt.throttle.failed(client, username.strip())  # logged: name and address, no password
        rt.audit.record(Action.LOGIN_FAILED, username.strip()[:200], client=client)
        return render(
            request, "login.html", rt, None, 401, next=_safe_next(next),
            error=i18n.t(i18n.request_locale(request), "login.wrong"), no_users=not rt.users.all(),
            username=username.strip(),
        )  # fmt: skip
    rt.throttle.succeeded(client)
    rt.audit.record(Action.LOGIN, user.name, kind="user", client=client)
    value, _ = rt.sessions.issue(user.name, replacing=request.cookies.get(SESSION_COOKIE))
    response = RedirectResponse(_safe_next(next), 303)
    response.set_cookie(
        SESSION_COOKIE, value, max_age=int(rt.sessions.lifetime_s), httponly=True,
        samesite="lax", secure=is_https(request, rt), path="/",
    )  # fmt: skip
    return response


@router.post("/logout")
async def logout(request: Request, principal: Principal = PAGE, rt: Runtime = RT):
    rt.sessions.revoke(request.cookies.get(SESSION_COOKIE))  # the session ends server-side
    rt.audit.record(Action.LOGOUT, principal.name, kind=principal.kind, client=principal.address)
    response = RedirectResponse("/login" if rt.auth else "/", 303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


# --- fragments -----------------------------------------------------------------------------------


@router.get("/ui/status", response_class=HTMLResponse)
async def status_fragment(request: Request, principal: Principal = PAGE, rt: Runtime = RT):
    return render(request, "partials/status.html", rt, principal)


@router.get("/ui/jobs", response_class=HTMLResponse)
async def jobs_fragment(
    request: Request, seen: int = -1, principal: Principal = PAGE, rt: Runtime = RT
):
    ctx = _library_context(rt, principal)
    response = render(request, "partials/jobs.html", rt, principal, **ctx)
    if seen >= 0 and ctx["seen"] != seen:
        response.headers["HX-Trigger"] = "folio:docs"  # a job finished: refresh the list
    return response


@router.get("/ui/manual-picker", response_class=HTMLResponse)
async def manual_picker_fragment(
    request: Request,
    collection: str = Query("", max_length=64),
    doc: list[str] = DOCS,
    principal: Principal = PAGE,
    rt: Runtime = RT,
):
    """The Ask page's manual list for a collection (htmx, when the collection changes); chosen
    manuals of that collection stay chosen."""
    if collection and not principal.may_see(collection):
        raise ServiceError(403, f"collection {collection!r} is not yours to search")
    return render(
        request, "partials/manual_options.html", rt, principal,
        **_picker_context(rt, principal, collection, doc[:MAX_DOC_IDS]),
    )  # fmt: skip


@router.get("/ui/documents", response_class=HTMLResponse)
async def documents_fragment(request: Request, principal: Principal = PAGE, rt: Runtime = RT):
    return render(
        request, "partials/documents.html", rt, principal, **_library_context(rt, principal)
    )


@router.post("/ui/documents/{doc_id}/delete", response_class=HTMLResponse)
async def delete_fragment(
    doc_id: str, request: Request, principal: Principal = PAGE_WRITER, rt: Runtime = RT
):
    doc = rt.library.document(doc_id, principal)
    if doc is None:
        raise ServiceError(404, "that manual is gone already; reload the page")
    await asyncio.to_thread(rt.library.delete, doc, principal)
    response = render(
        request, "partials/documents.html", rt, principal, **_library_context(rt, principal),
        flash=i18n.t(i18n.request_locale(request), "docs.deleted", title=doc.title or doc.name),
    )  # fmt: skip
    response.headers["HX-Trigger"] = "folio:answered"  # refresh the status line's counts
    return response


@router.post("/ui/documents/{doc_id}/reindex")
async def reindex_fragment(doc_id: str, principal: Principal = PAGE_WRITER, rt: Runtime = RT):
    doc = rt.library.document(doc_id, principal)
    if doc is None:
        raise ServiceError(404, "that manual is gone; reload the page")
    reindex(rt, principal, doc)
    return Response(status_code=204, headers={"HX-Trigger": "folio:jobs"})


@router.post("/ui/jobs/{job_id}/retry")
async def retry_fragment(job_id: str, principal: Principal = PAGE_WRITER, rt: Runtime = RT):
    job = rt.jobs.get(job_id)
    if job is None or not principal.may_see(job.collection) or not job.retryable:
        raise ServiceError(409, "this job cannot be retried; upload the file again")
    rt.jobs.retry(job)
    return Response(status_code=204, headers={"HX-Trigger": "folio:jobs"})


@router.post("/ui/jobs/dismiss")
async def dismiss_fragment(principal: Principal = PAGE, rt: Runtime = RT):
    rt.jobs.dismiss_finished(principal.collections)
    return Response(status_code=204, headers={"HX-Trigger": "folio:jobs"})


@router.get("/ui/passage/{chunk_id}", response_class=HTMLResponse)
async def passage_fragment(
    chunk_id: str,
    request: Request,
    q: str = Query("", max_length=4000),
    n: int | None = None,
    principal: Principal = PAGE,
    rt: Runtime = RT,
):
    view = await asyncio.to_thread(rt.library.passage, chunk_id, principal)
    if view is None:
        raise ServiceError(404, "this passage is no longer in the index (the manual was removed)")
    page = view.chunk.page_start
    locale = i18n.request_locale(request)
    return render(
        request, "partials/passage.html", rt, principal,
        view=view, n=n, body=highlight(reflow(view.text), query_terms(q)),
        locator=i18n.locator(locale, page, view.chunk.label_start, view.locator),
        url=f"/files/{view.doc.id}" + (f"#page={page}" if page and view.doc.kind == "pdf" else ""),
    )  # fmt: skip
