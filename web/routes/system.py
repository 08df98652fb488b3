"""/health, /metrics, the original files, and the offline API docs page."""

from __future__ import annotations

from urllib.parse import quote

from fastapi import APIRouter, Depends, Request
from fastapi.responses import FileResponse, HTMLResponse, Response

from services.auth import Principal
from services.errors import ServiceError
from services.library import MEDIA_TYPES
from services.runtime import Runtime
from web.routes.deps import get_rt, page_principal
from web.schemas import Health

router = APIRouter(tags=["System"])


@router.get("/health", response_model=Health)
async def health(rt: Runtime = Depends(get_rt)):  # noqa: B008
    """Always 200 while the web app runs; `engine` says whether answers are LLM-written."""
    try:
        stats = rt.stats()
        index_ready = True
    except Exception:  # noqa: BLE001 - report, never fail the probe
        stats, index_ready = {"docs": 0, "chunks": 0}, False
    engine = rt.engine.status
    return {
        "status": "ok" if engine.reachable and index_ready else "degraded",
        "index_ready": index_ready,
        "documents": stats["docs"],
        "chunks": stats["chunks"],
        "engine": engine.reachable,
        "engine_state": engine.state,
        "model": engine.model,
        "engine_note": engine.note,
        "jobs_queued": rt.jobs.queued_count(),
        "auth": rt.auth,
        **_compute(rt),
    }


def _compute(rt: Runtime) -> dict:
    from folio.embedding import compute_plan

    plan = compute_plan(rt.embedder, rt.settings)
    return {
        "embed_backend": plan["backend"],
        "embed_precision": plan["precision"],
        "embed_precision_note": plan["precision_note"],
        "ingest_embed_backend": plan.get("ingest_backend"),  # auto: the runtime fastest for bulk
        "ingest_embed_precision": plan.get("ingest_precision"),
        "ingest_threads": plan.get("ingest_threads"),
        "query_threads": plan.get("query_threads"),
    }


@router.get("/metrics", include_in_schema=False)
async def metrics(rt: Runtime = Depends(get_rt)) -> Response:  # noqa: B008
    return Response(rt.metrics.render(), media_type="text/plain; version=0.0.4; charset=utf-8")


@router.get("/files/{doc_id}", response_class=FileResponse)
async def original_file(
    doc_id: str,
    request: Request,
    principal: Principal = Depends(page_principal),  # noqa: B008
    rt: Runtime = Depends(get_rt),  # noqa: B008
):
    """The original manual, inline (PDFs open at `#page=N`); HTML and Markdown as text."""
    doc = rt.library.document(doc_id, principal)
    path = rt.library.original(doc) if doc is not None else None
    if doc is None or path is None:
        raise ServiceError(404, f"no stored file for document {doc_id!r}")
    media = MEDIA_TYPES.get(doc.kind or "", "application/octet-stream")
    inline = media != MEDIA_TYPES["docx"] and media != "application/octet-stream"
    disposition = f"{'inline' if inline else 'attachment'}; filename*=UTF-8''{quote(doc.name)}"
    headers = {"Content-Disposition": disposition, "Cache-Control": "private, max-age=3600"}
    if doc.kind != "pdf":
        headers["Content-Security-Policy"] = "sandbox; default-src 'none'"
    return FileResponse(path, media_type=media, headers=headers)


@router.get("/docs", include_in_schema=False)
async def api_docs() -> HTMLResponse:
    """Swagger UI from /static (vendored), so the API docs work without internet."""
    return HTMLResponse(
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
        "<title>Folio API</title><link rel='stylesheet' href='/static/swagger-ui.css'>"
        "</head><body><div id='swagger-ui'></div>"
        "<script src='/static/swagger-ui-bundle.js'></script>"
        "<script src='/static/swagger-init.js'></script></body></html>"
    )
