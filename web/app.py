"""`create_app(settings)`: the FastAPI app, its middleware, routers and lifespan."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import RedirectResponse
from fastapi.staticfiles import StaticFiles

from folio.settings import Settings
from services.auth import is_loopback
from services.metrics import MetricsMiddleware
from services.runtime import Runtime
from web.errors import install_error_handlers
from web.i18n import LanguageCookieMiddleware
from web.limits import BodyCaps, BodyLimitMiddleware
from web.openapi import install_openapi
from web.routes import api, dify, openai, pages, system
from web.routes.deps import LoginRequired
from web.security import SecurityMiddleware

STATIC_DIR = Path(__file__).resolve().parent / "static"


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
    install_openapi(app)

    @app.exception_handler(LoginRequired)
    async def to_login(request: Request, exc: LoginRequired) -> RedirectResponse:
        return RedirectResponse(f"/login?next={exc.next_url}", 303)

    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    for router in (pages.router, api.router, dify.router, openai.router, system.router):
        app.include_router(router)
    # Outermost last: metrics see every answer, the Host and cross-site checks run before any
    # byte of a body is read, and the body cap before anything (auth included) reads one.
    app.add_middleware(BodyLimitMiddleware, caps=BodyCaps.from_settings(settings))
    app.add_middleware(
        SecurityMiddleware,
        loopback_only=not rt.auth and is_loopback(settings.host),
        allowed_hosts=settings.allowed_hosts,
        trusted_proxies=settings.trusted_proxies,
    )
    app.add_middleware(LanguageCookieMiddleware)
    app.add_middleware(MetricsMiddleware, metrics=rt.metrics)
    return app


def server_options(settings: Settings) -> dict:
    """uvicorn's options for `folio serve` (the tests' live server takes the same).

    The keep-alive timeout (FOLIO_KEEPALIVE_TIMEOUT_S, 75 s) outlives the idle expiry of
    clients (httpx, requests: 5 s) and proxies (nginx upstream: 60 s), so the client always
    drops an idle connection first. With uvicorn's default of 5 s, tests/bench/bench_load.py
    (50 streaming askers, 5 min) saw 21 connections reset before any response: a client
    reused a connection the server was just closing. 20 minutes at 75 s: none."""
    return {
        "host": settings.host,
        "port": settings.port,
        "proxy_headers": False,  # X-Forwarded-* are read by the app, from trusted_proxies only
        "log_level": "warning",
        "timeout_graceful_shutdown": 10,
        "timeout_keep_alive": settings.keepalive_timeout_s,
    }
