"""`create_app(settings)`: the FastAPI app, its middleware, routers and lifespan."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from folio.settings import Settings
from web.errors import error_body, install_error_handlers
from web.i18n import LanguageCookieMiddleware
from web.metrics import MetricsMiddleware
from web.routes import api, openai, pages, system
from web.routes.deps import LoginRequired
from web.runtime import Runtime

STATIC_DIR = Path(__file__).resolve().parent / "static"
_SAFE = {"GET", "HEAD", "OPTIONS"}
_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"
)
_CSP_DOCS = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; object-src 'none'; base-uri 'none'; frame-ancestors 'none'"
)


def create_app(settings: Settings) -> FastAPI:
    """Build the app. Heavy objects (index, embedder, store) are built here; the worker
    thread and the LLM connection start with the lifespan and stop with it."""
    rt = Runtime.build(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await rt.start()
        try:
            yield
        finally:
            await rt.stop()

    app = FastAPI(
        title="Folio",
        summary="Answers from your manuals, with the page they came from.",
        version="0.1.0",
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
    )
    app.state.rt = rt
    install_error_handlers(app, pages.render_error)

    @app.exception_handler(LoginRequired)
    async def to_login(request: Request, exc: LoginRequired) -> RedirectResponse:
        return RedirectResponse(f"/login?next={exc.next_url}", 303)

    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    for router in (pages.router, api.router, openai.router, system.router):
        app.include_router(router)
    app.add_middleware(SecurityMiddleware)
    app.add_middleware(LanguageCookieMiddleware)
    app.add_middleware(MetricsMiddleware, metrics=rt.metrics)
    return app


class SecurityMiddleware:
    """Security headers on every response, and no cross-site writes.

    A cross-site form or fetch (Sec-Fetch-Site: cross-site / same-site) may not change
    anything unless it carries an API key: with auth off (the local single-user default) that
    is what stops another web page from uploading to or deleting from a local Folio.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        if (
            scope["method"] not in _SAFE
            and headers.get("sec-fetch-site") in ("cross-site", "same-site")
            and "authorization" not in headers
        ):
            response = JSONResponse(
                error_body("forbidden", "cross-site requests may not change Folio's data"), 403
            )
            await response(scope, receive, send)
            return
        path: str = scope["path"]
        csp = _CSP_DOCS if path == "/docs" else _CSP
        if path.startswith("/files/"):
            csp = ""  # a CSP on a PDF can keep the browser's viewer from loading

        async def send_wrapper(message: Message) -> None:
            if message["type"] == "http.response.start":
                raw = message.setdefault("headers", [])
                present = {k.lower() for k, _ in raw}
                extra = {
                    b"x-content-type-options": b"nosniff",
                    b"referrer-policy": b"same-origin",
                    b"x-frame-options": b"DENY",
                }
                if csp:
                    extra[b"content-security-policy"] = csp.encode()
                for key, value in extra.items():
                    if key not in present:
                        raw.append((key, value))
            await send(message)

        await self.app(scope, receive, send_wrapper)
