"""One error shape everywhere: `{"error": {"type", "message"}}`, the message saying what to do.

Browsers asking for a page get the same message as an HTML page instead of JSON.
"""

from __future__ import annotations

import logging
import uuid
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from services.errors import TYPES as _TYPES
from services.errors import ServiceError

log = logging.getLogger("folio.web")


def error_body(type_: str, message: str, **extra: Any) -> dict[str, Any]:
    return {"error": {"type": type_, "message": message}, **extra}


def wants_html(request: Request) -> bool:
    path = request.url.path
    if path.startswith(("/api/", "/v1/", "/ui/", "/health", "/metrics")):
        return False
    return "text/html" in request.headers.get("accept", "")


def install_error_handlers(app: FastAPI, render_error) -> None:
    """`render_error(request, status, message)` draws the HTML error page."""

    def respond(
        request: Request,
        status: int,
        type_: str,
        message: str,
        headers: dict[str, str] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> Response:
        if wants_html(request):
            return render_error(request, status, message)
        return JSONResponse(error_body(type_, message, **(extra or {})), status, headers=headers)

    @app.exception_handler(ServiceError)
    async def api_error(request: Request, exc: ServiceError) -> Response:
        return respond(request, exc.status, exc.type, exc.message, exc.headers, exc.extra)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        if exc.status_code == 404:
            message = f"nothing at {request.url.path}; the API is described at /docs"
        elif exc.status_code == 405:
            message = f"{request.method} is not allowed on {request.url.path}; see /docs"
        elif exc.status_code == 400 and exc.detail == "There was an error parsing the body":
            message = (
                "the request body could not be parsed: send UTF-8 JSON with Content-Type: "
                "application/json (uploads: multipart/form-data); see /docs"
            )
        else:
            message = str(exc.detail)
        return respond(
            request,
            exc.status_code,
            _TYPES.get(exc.status_code, "error"),
            message,
            dict(exc.headers or {}),
        )

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> Response:
        parts = []
        for err in exc.errors():
            where = ".".join(str(p) for p in err.get("loc", ()) if p != "body")
            msg = str(err.get("msg", "invalid")).removeprefix("Value error, ")
            parts.append(f"{where}: {msg}" if where else msg)
        message = "invalid request: " + "; ".join(parts) + " (see /docs for the request format)"
        return respond(request, 422, "invalid_request", message)

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> Response:
        ref = uuid.uuid4().hex[:8]
        log.exception("unhandled error", extra={"ref": ref, "path": request.url.path})
        return respond(
            request,
            500,
            "internal_error",
            f"something went wrong inside Folio (reference {ref}); the server log "
            "(data_dir/logs/folio.jsonl) has the details",
        )
