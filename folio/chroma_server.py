"""Where a Chroma server is and how to reach it: `FOLIO_CHROMA_SERVER` and its TLS/token settings.

Accepted forms: `host` (port 8000, what `chroma run` listens on), `host:port`, `[v6]:port`, and
`http://host[:port]` / `https://host[:port]` (without a port, the scheme's: 80 / 443, which is what
a URL means and what a TLS proxy in front of Chroma listens on). Anything else is refused when the
settings are built, in one line that names the setting, instead of failing at the first search.

Chroma's own server has no authentication; sites put a TLS proxy that checks a token in front of
it. `chroma_auth_token` is sent in `chroma_auth_header`: `Authorization: Bearer TOKEN` by default,
the bare token in any other header (`X-Chroma-Token`, the convention of Chroma's token auth).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

CHROMA_DEFAULT_PORT = 8000
_SCHEME_PORTS = {"http": 80, "https": 443}


class ChromaServerError(ValueError):
    """A `FOLIO_CHROMA_SERVER` value Folio cannot use; the message says why and what to write."""


class ChromaUnavailable(RuntimeError):
    """The configured Chroma server did not answer, or refused Folio's token or certificate."""


@dataclass(frozen=True)
class ChromaAddress:
    host: str
    port: int
    ssl: bool

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{'https' if self.ssl else 'http'}://{host}:{self.port}"


def parse_chroma_server(value: str) -> ChromaAddress:
    """`host`, `host:port` or `http(s)://host[:port]` → address; ChromaServerError otherwise."""
    text = value.strip()
    hint = "write host, host:port or http(s)://host:port"
    if not text:
        raise ChromaServerError(f"is empty: {hint}, or unset it for the embedded store")
    scheme = None
    if "://" in text:
        scheme = text.split("://", 1)[0].lower()
        if scheme not in _SCHEME_PORTS:
            raise ChromaServerError(f"{value!r}: scheme {scheme}:// is not http or https; {hint}")
        parts = urlsplit(text)
    else:
        parts = urlsplit("//" + text)
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise ChromaServerError(f"{value!r}: a path is not supported; {hint}")
    if parts.username or parts.password:
        raise ChromaServerError(
            f"{value!r}: no credentials in the address; set FOLIO_CHROMA_AUTH_TOKEN instead"
        )
    try:
        port = parts.port
    except ValueError:
        raise ChromaServerError(f"{value!r}: the port is not a number from 1 to 65535") from None
    host = parts.hostname
    if not host or any(c.isspace() for c in host):
        raise ChromaServerError(f"{value!r}: no host name; {hint}")
    if port == 0 or parts.netloc.endswith(":"):
        raise ChromaServerError(f"{value!r}: the port is not a number from 1 to 65535")
    if port is None:
        port = _SCHEME_PORTS[scheme] if scheme else CHROMA_DEFAULT_PORT
    return ChromaAddress(host=host, port=port, ssl=scheme == "https")


def auth_headers(header: str, token: str | None) -> dict[str, str]:
    """The header that carries the token: `Authorization: Bearer T`, or `header: T`."""
    if not token:
        return {}
    if header.lower() == "authorization":
        return {"Authorization": f"Bearer {token}"}
    return {header: token}


def ssl_verify(ca_file: Path | None) -> bool | str:
    """What the client checks the server's certificate against: a CA file, or the system's."""
    return str(ca_file) if ca_file is not None else True
