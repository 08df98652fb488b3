"""The OpenAPI schema says every status an operation can answer, in Folio's error shape.

Routes declare what is theirs (404 for an unknown document, 503 when there is no engine);
the errors that middleware and the error handlers give any operation are added here, so a
client generated from /openapi.json (or schemathesis, tests/bench/fuzz_api.py) is never met by
an undeclared status: 421 (a Host not served in loopback mode), 401 and 403 (no key, a
collection not granted, a cross-site browser request), 429 (too busy), and for operations
with a body 400 (not JSON at all), 413 (past the body cap) and 422 (invalid), for operations
with a path parameter 404. FastAPI's own 422 schema (`{"detail": [...]}`) is replaced by
`ErrorBody`, which is what the handler in web/errors.py sends.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from web.schemas import ErrorBody

REF = {"$ref": "#/components/schemas/ErrorBody"}
WHY = {
    "400": "The body is not JSON (or not the form it should be)",
    "401": "No API key or session, or an invalid key",
    "403": "Not allowed: a collection not granted, a read-only key, a cross-site request",
    "404": "Nothing with that id (or not visible to this caller)",
    "413": "The body is over the size cap (FOLIO_MAX_*_BODY_KB, FOLIO_MAX_FILE_MB)",
    "421": "A Host name this server does not answer to (loopback mode)",
    "422": "Invalid input; the message says which field",
    "429": "Too many requests or answers in flight; Retry-After says when to try again",
}
PUBLIC = ("/health",)  # no authentication
OWN_AUTH_ERRORS = ("/api/v1/dify/",)  # answer 403 with Dify's codes instead of 401


def install_openapi(app: FastAPI) -> None:
    """Replace `app.openapi` with one that completes the generated schema (once, cached)."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(
                title=app.title, version=app.version, summary=app.summary, routes=app.routes
            )
            complete(schema)
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def complete(schema: dict[str, Any]) -> None:
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    defs = ErrorBody.model_json_schema(ref_template="#/components/schemas/{model}")
    for name, sub in defs.pop("$defs", {}).items():
        components.setdefault(name, sub)
    components.setdefault("ErrorBody", defs)
    for path, item in schema.get("paths", {}).items():
        for method, operation in item.items():
            if method in ("get", "post", "put", "patch", "delete"):
                for status in _statuses(path, operation):
                    _declare(operation, status)
    for unused in ("HTTPValidationError", "ValidationError"):
        components.pop(unused, None)


def _statuses(path: str, operation: dict[str, Any]) -> list[str]:
    statuses = ["421"]
    if not path.startswith(PUBLIC):
        statuses.append("429")
        if not path.startswith(OWN_AUTH_ERRORS):
            statuses += ["401", "403"]
    params = operation.get("parameters", [])
    if operation.get("requestBody"):
        statuses += ["400", "413", "422"]
    if params:
        statuses.append("422")
    if any(p.get("in") == "path" for p in params):
        statuses.append("404")
    return statuses


def _declare(operation: dict[str, Any], status: str) -> None:
    responses = operation.setdefault("responses", {})
    current = responses.get(status)
    if current is None:
        responses[status] = {
            "description": WHY[status],
            "content": {"application/json": {"schema": REF}},
        }
    elif status == "422" and _is_fastapi_default(current):
        current["content"] = {"application/json": {"schema": REF}}
        current["description"] = WHY[status]


def _is_fastapi_default(response: dict[str, Any]) -> bool:
    schema = response.get("content", {}).get("application/json", {}).get("schema", {})
    return schema.get("$ref", "").endswith("/HTTPValidationError")
