"""The one error the service layer raises: what went wrong, in words that say what to do.

`status` uses HTTP's numbers because they are the vocabulary both edges already share: the web
app sends it as the response status, the CLI turns it into an exit code and a one-line message.
"""

from __future__ import annotations

from typing import Any

TYPES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    413: "too_large",
    415: "unsupported_media_type",
    421: "misdirected_request",
    422: "invalid_request",
    429: "rate_limited",
    503: "unavailable",
}


class ServiceError(Exception):
    """Raise from any service or router; the web app renders it as the JSON error (or error
    page), the CLI prints its message."""

    def __init__(
        self,
        status: int,
        message: str,
        type_: str | None = None,
        *,
        headers: dict[str, str] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.type = type_ or TYPES.get(status, "error")
        self.headers = headers
        self.extra = extra or {}
