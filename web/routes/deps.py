"""Request dependencies: the runtime, the caller (auth), CSRF, and write permission."""

from __future__ import annotations

import hmac
from dataclasses import replace
from urllib.parse import quote

from fastapi import Depends, Request

from services.auth import LOCAL, SESSION_COOKIE, Principal, forwarded_client, peer_trusted
from services.errors import ServiceError
from services.runtime import Runtime
from web.errors import wants_html

SAFE_METHODS = ("GET", "HEAD", "OPTIONS")
_BEARER_HINT = (
    "send Authorization: Bearer <key> (create a key with `folio keys create --name NAME`)"
)


class LoginRequired(Exception):
    """A browser page without a session: redirect to the login form."""

    def __init__(self, next_url: str) -> None:
        super().__init__(next_url)
        self.next_url = next_url


def get_rt(request: Request) -> Runtime:
    return request.app.state.rt


def client_address(request: Request, rt: Runtime) -> str:
    """The end user's address: the peer, or (behind trusted proxies) the rightmost
    X-Forwarded-For hop that is not one of them."""
    peer = request.client.host if request.client else ""
    forwarded = request.headers.getlist("x-forwarded-for")
    return forwarded_client(peer, forwarded, rt.settings.trusted_proxies)


def is_https(request: Request, rt: Runtime) -> bool:
    if rt.settings.cookie_secure is not None:
        return rt.settings.cookie_secure
    if request.url.scheme == "https":
        return True
    peer = request.client.host if request.client else ""
    return (
        peer_trusted(peer, rt.settings.trusted_proxies)
        and request.headers.get("x-forwarded-proto", "").lower() == "https"
    )


def authenticate(request: Request, rt: Runtime) -> Principal | None:
    """The caller, or None when nothing identifies them. A wrong key is an error, not None."""
    if not rt.auth:
        return LOCAL
    header = request.headers.get("authorization")
    if header:
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise ServiceError(401, f"unsupported Authorization header: {_BEARER_HINT}", **_www())
        key = rt.keys.verify(token.strip())
        if key is None:
            raise ServiceError(
                401,
                "this API key is not valid (mistyped or revoked); ask an administrator for a "
                "new one (`folio keys create --name NAME`)",
                **_www(),
            )
        colls = frozenset(key.collections) if key.collections else None
        return Principal(
            key.name, "key", colls, key.read_only,
            rate_limit=key.rate_limit, tokens_per_day=key.tokens_per_day,
        )  # fmt: skip
    session = rt.sessions.read(request.cookies.get(SESSION_COOKIE))
    if session is not None:
        user = rt.users.get(session.user)
        if user is not None:
            return Principal(user.name, "user", user.collections, csrf=session.csrf)
    name_header = rt.settings.trusted_user_header
    if name_header:
        peer = request.client.host if request.client else None
        name = request.headers.get(name_header, "").strip()
        if name and peer_trusted(peer, rt.settings.trusted_proxies):
            return proxy_principal(rt, name)
    return None


def proxy_principal(rt: Runtime, name: str) -> Principal:
    """A user named by the authenticating proxy: the collections the users file grants them,
    else FOLIO_TRUSTED_USER_COLLECTIONS (default none; '*' = all). Their browser requests
    carry a CSRF token like a login session's."""
    user = rt.users.get(name)
    if user is not None:
        colls = user.collections
    else:
        default = rt.settings.trusted_user_collections
        colls = None if "*" in default else frozenset(c for c in default if c)
    return Principal(name, "proxy", colls, csrf=rt.sessions.proxy_csrf(name))


def _www() -> dict:
    return {"type_": "unauthorized", "headers": {"WWW-Authenticate": 'Bearer realm="folio"'}}


async def check_csrf(request: Request, principal: Principal) -> None:
    """Cookie sessions and proxy users must echo their CSRF token on unsafe requests (header or
    form field): both are browsers, which send their credentials along with any site's form."""
    if principal.csrf is None or request.method in SAFE_METHODS:
        return
    token = request.headers.get("x-csrf-token")
    ctype = request.headers.get("content-type", "")
    if not token and ctype.startswith("application/x-www-form-urlencoded"):
        token = str((await request.form()).get("csrf_token") or "")
    if not token or not hmac.compare_digest(token, principal.csrf):
        raise ServiceError(
            403, "missing or stale CSRF token: reload the page and try again", "csrf"
        )


async def api_principal(request: Request) -> Principal:
    """For /api/v1 and /v1: a key, a session or the proxy's user; 401 JSON otherwise."""
    rt = get_rt(request)
    principal = authenticate(request, rt)
    if principal is None:
        raise ServiceError(401, f"authentication required: {_BEARER_HINT}", **_www())
    principal = replace(principal, address=client_address(request, rt))
    await check_csrf(request, principal)
    rt.count_request(principal)
    return principal


async def page_principal(request: Request) -> Principal:
    """For pages and their fragments: like api_principal, but browsers go to the login form."""
    rt = get_rt(request)
    principal = authenticate(request, rt)
    if principal is None:
        if request.headers.get("hx-request"):
            raise ServiceError(
                401, "your session has ended: log in again", headers={"HX-Redirect": "/login"}
            )
        if wants_html(request):
            target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
            raise LoginRequired(quote(target, safe="/?=&"))
        raise ServiceError(401, f"authentication required: {_BEARER_HINT}", **_www())
    principal = replace(principal, address=client_address(request, rt))
    await check_csrf(request, principal)
    return principal


async def writer(principal: Principal = Depends(api_principal)) -> Principal:  # noqa: B008
    if principal.read_only:
        raise ServiceError(403, f"key {principal.name!r} is read-only: it may search and ask only")
    return principal


async def page_writer(principal: Principal = Depends(page_principal)) -> Principal:  # noqa: B008
    if principal.read_only:
        raise ServiceError(403, f"{principal.name!r} may search and ask only")
    return principal
