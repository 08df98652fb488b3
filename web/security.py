"""Who may talk to Folio at all, before any route runs: Host names, cross-site writes, headers.

- **Loopback mode** (auth off, bound to loopback): only loopback Host names (localhost,
  127.0.0.1, [::1], any loopback address, plus FOLIO_ALLOWED_HOSTS) are served; any other gets
  421. That is what stops DNS rebinding: a web page whose own name has been re-pointed at
  127.0.0.1 reaches Folio with *its* name in the Host header.
- **No cross-site writes**: an unsafe request (not GET/HEAD/OPTIONS) without an API key is
  refused when the browser says it is cross-site (`Sec-Fetch-Site`), and, from browsers that do
  not send Sec-Fetch-Site, when its `Origin` (or, without one, its `Referer`) is another origin
  than the request's Host. A request with none of the three is not from a browser (curl, a
  script): browsers send Origin with every POST.
- Security headers on every response.
"""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

from fastapi.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from services.auth import peer_trusted
from web.errors import error_body

_SAFE = {"GET", "HEAD", "OPTIONS"}
LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "::1"})
_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"
)
_CSP_DOCS = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; object-src 'none'; base-uri 'none'; frame-ancestors 'none'"
)


def split_host(value: str | None) -> tuple[str, int | None] | None:
    """`Host`-style `name[:port]` -> (lower-case name without brackets or final dot, port);
    None when it is not a host."""
    if not value:
        return None
    try:
        parts = urlsplit("//" + value.strip())
        name, port = parts.hostname, parts.port
    except ValueError:
        return None
    if not name or parts.username is not None or parts.path:
        return None
    return name.rstrip("."), port


def loopback_host(name: str, allowed: frozenset[str]) -> bool:
    """A Host name that cannot belong to someone else's site."""
    if name in LOOPBACK_NAMES or name in allowed:
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def _origin_key(name: str, port: int | None) -> tuple[str, int | None]:
    return name, None if port in (80, 443) else port


def same_origin(source: str, hosts: list[str]) -> bool:
    """Whether an Origin or Referer value names one of these Host header values."""
    if source == "null":
        return False  # an opaque origin: a sandboxed frame, a file, a privacy redirect
    try:
        parts = urlsplit(source)
        name, port = parts.hostname, parts.port
    except ValueError:
        return False
    if parts.scheme not in ("http", "https") or not name:
        return False
    want = _origin_key(name.rstrip("."), port)
    for host in hosts:
        split = split_host(host)
        if split is not None and _origin_key(*split) == want:
            return True
    return False


class SecurityMiddleware:
    def __init__(
        self,
        app: ASGIApp,
        *,
        loopback_only: bool = False,
        allowed_hosts: list[str] | None = None,
        trusted_proxies: list[str] | None = None,
    ) -> None:
        self.app = app
        self.loopback_only = loopback_only
        names = (split_host(h) for h in allowed_hosts or [])
        self.allowed = frozenset(n[0] for n in names if n is not None)
        self.trusted = list(trusted_proxies or [])

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        refusal = self._refusal(scope, headers)
        if refusal is not None:
            await refusal(scope, receive, send)
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

    def _refusal(self, scope: Scope, headers: dict[str, str]) -> JSONResponse | None:
        host = headers.get("host")
        if self.loopback_only:
            split = split_host(host)
            if split is None or not loopback_host(split[0], self.allowed):
                return JSONResponse(
                    error_body(
                        "misdirected_request",
                        "this Folio runs without login, for this computer only, so it answers "
                        f"only to localhost, 127.0.0.1 and [::1], not to {host or 'no Host'!r}; "
                        "to reach it by another name, add the name to FOLIO_ALLOWED_HOSTS",
                    ),
                    421,
                )
        if scope["method"] in _SAFE or "authorization" in headers:
            return None
        site = headers.get("sec-fetch-site")
        if site in ("cross-site", "same-site"):
            return _forbidden("cross-site requests may not change Folio's data")
        if site is None:
            source = headers.get("origin") or headers.get("referer")
            if source is not None and not same_origin(source, self._hosts(scope, headers)):
                return _forbidden(
                    f"a request from {_shown(source)} may not change Folio's data: only Folio's "
                    "own pages may (the Origin or Referer must be this server)"
                )
        return None

    def _hosts(self, scope: Scope, headers: dict[str, str]) -> list[str]:
        """The names this request reached Folio by: its Host, and behind a trusted proxy the
        X-Forwarded-Host the proxy set."""
        hosts = [headers.get("host", "")]
        client = scope.get("client")
        peer = client[0] if client else None
        if headers.get("x-forwarded-host") and peer_trusted(peer, self.trusted):
            hosts.append(headers["x-forwarded-host"].split(",")[-1].strip())
        return hosts


def _forbidden(message: str) -> JSONResponse:
    return JSONResponse(error_body("forbidden", message), 403)


def _shown(source: str) -> str:
    try:
        parts = urlsplit(source)
    except ValueError:
        return "another site"
    return f"{parts.scheme}://{parts.netloc}" if parts.netloc else "another site"
