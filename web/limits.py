"""Bounded requests: a body-size cap per route class, enforced while the body is read.

Pure ASGI, in front of everything that reads a body (FastAPI's body parsing, the upload parser,
the CSRF form check), and so before authentication: an unauthenticated client cannot make Folio
hold more than the cap. A declared Content-Length over the cap is refused before a byte is read;
otherwise the bytes are counted as `receive()` hands them over and the request is refused the
moment the count passes the cap. The answer is a 413 in the usual error shape, sent with
`Connection: close` so that the server stops reading the rest of the body.
"""

from __future__ import annotations

from dataclasses import dataclass

from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from folio.settings import Settings
from ingest.errors import human_size
from web.errors import error_body

UPLOAD_PATH = "/api/v1/documents"
MULTIPART_OVERHEAD = 1 << 20  # headers and boundaries of a multi-file upload


@dataclass(frozen=True)
class BodyCaps:
    """Bytes a request body may have, by route class."""

    api: int  # /api/v1/* except uploads
    openai: int  # /v1/*
    upload: int  # POST /api/v1/documents
    form: int  # everything else: the login form, htmx fragments

    @classmethod
    def from_settings(cls, s: Settings) -> BodyCaps:
        return cls(
            api=s.max_api_body_kb * 1024,
            openai=s.max_openai_body_kb * 1024,
            upload=int(s.max_file_mb * 1024 * 1024) + MULTIPART_OVERHEAD,
            form=s.max_form_body_kb * 1024,
        )

    def for_path(self, path: str) -> tuple[int, str]:
        """(cap, a sentence naming the limit and its setting) for a request path."""
        if path.rstrip("/") == UPLOAD_PATH:
            return self.upload, (
                f"the upload is larger than the limit of {human_size(self.upload)} per request "
                "(FOLIO_MAX_FILE_MB); send large manuals one per request"
            )
        if path.startswith("/api/"):
            return self.api, (
                f"the request body is larger than the limit of {human_size(self.api)} for "
                "/api/v1 (FOLIO_MAX_API_BODY_KB); questions, histories and lists have their own "
                "limits (see /docs)"
            )
        if path.startswith("/v1/"):
            return self.openai, (
                f"the request body is larger than the limit of {human_size(self.openai)} for /v1 "
                "(FOLIO_MAX_OPENAI_BODY_KB); send fewer or shorter messages"
            )
        return self.form, (
            f"the request body is larger than the limit of {human_size(self.form)} for forms "
            "(FOLIO_MAX_FORM_BODY_KB)"
        )


class BodyTooLarge(HTTPException):
    """Raised by the counting `receive()` once the cap is passed. An HTTPException, so that
    FastAPI's body parsing lets it through instead of calling it a malformed body; the
    middleware answers 413 itself whatever the app makes of it."""

    def __init__(self, message: str) -> None:
        super().__init__(413, message)


class BodyLimitMiddleware:
    def __init__(self, app: ASGIApp, caps: BodyCaps) -> None:
        self.app = app
        self.caps = caps

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        cap, message = self.caps.for_path(scope["path"])
        declared = _content_length(scope)
        if declared is not None and declared > cap:
            await _refuse(scope, receive, send, message)
            return

        state = {"read": 0, "over": False, "started": False, "done": not _has_body(scope)}

        async def counted_receive() -> Message:
            if state["over"]:
                raise BodyTooLarge(message)
            msg = await receive()
            if msg["type"] == "http.request":
                state["read"] += len(msg.get("body", b""))
                if state["read"] > cap:
                    state["over"] = True
                    raise BodyTooLarge(message)
                state["done"] = state["done"] or not msg.get("more_body", False)
            return msg

        async def guarded_send(msg: Message) -> None:
            if state["over"] and not state["started"]:
                return  # whatever the app answers to a cut-off body, the answer is our 413
            if msg["type"] == "http.response.start":
                state["started"] = True
                if not state["done"]:
                    # Answered (a 401, say) before reading the body: close the connection
                    # rather than let the server read and drop the rest of it.
                    msg = {**msg, "headers": [*msg.get("headers", []), (b"connection", b"close")]}
            await send(msg)

        try:
            await self.app(scope, counted_receive, guarded_send)
        except Exception:
            if not (state["over"] and not state["started"]):
                raise
        if state["over"] and not state["started"]:
            await _refuse(scope, receive, send, message)


def _has_body(scope: Scope) -> bool:
    for key, value in scope["headers"]:
        name = key.lower()
        if name == b"transfer-encoding" or (name == b"content-length" and value.strip() != b"0"):
            return True
    return False


def _content_length(scope: Scope) -> int | None:
    for key, value in scope["headers"]:
        if key.lower() == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


async def _refuse(scope: Scope, receive: Receive, send: Send, message: str) -> None:
    response = JSONResponse(
        error_body("too_large", message), status_code=413, headers={"Connection": "close"}
    )
    await response(scope, receive, send)
