"""Who is asking, and which collections they may see.

Three ways in, checked in this order: an API key (`Authorization: Bearer folio_...`), a session
cookie from the login form, or a user name set by a trusted reverse proxy. When auth is off (the
default for a server bound to loopback) every request is the single local user.

Passwords are stored as scrypt hashes (`folio keys hash-password`). Sessions live server-side in
the web database (the cookie holds a random id, the table its sha256): logout deletes the row, a
login issues a new id and ends the one it was sent with, and a session ends by itself when its
user leaves the users file or gets another password (each row remembers a keyed fingerprint of
the password hash it was opened with).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import ipaddress
import logging
import os
import secrets
import threading
import time
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from folio.settings import Settings
from services.store import Store

log = logging.getLogger("folio.web.auth")

SESSION_COOKIE = "folio_session"
_SCRYPT_N, _SCRYPT_R, _SCRYPT_P = 2**14, 8, 1
LOGIN_WINDOW_S = 300.0
LOGIN_EVICT_AT = 10_000  # addresses remembered before old ones are dropped
LOGIN_MAX_FAILURES = 5


@dataclass(frozen=True)
class Principal:
    """The caller. `collections` None = every collection."""

    name: str
    kind: str  # local | user | key | proxy
    collections: frozenset[str] | None = None
    read_only: bool = False
    csrf: str | None = None  # set for cookie sessions: unsafe requests must echo it
    address: str | None = None  # the client's address, for the audit log and limits
    rate_limit: str | None = None  # an API key's own limits (else the global ones)
    tokens_per_day: int | None = None

    def may_see(self, collection: str) -> bool:
        return self.collections is None or collection in self.collections

    @property
    def caller(self) -> str:
        """Whom limits count: the key or user, or the client address when auth is off."""
        if self.kind == "local":
            return f"address:{self.address or 'local'}"
        return f"{self.kind}:{self.name}"


LOCAL = Principal("local", "local")


def auth_enabled(settings: Settings) -> bool:
    """Auth is on unless configured off, or unset and the server only listens on loopback."""
    if settings.auth is not None:
        return settings.auth
    return not is_loopback(settings.host)


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


# --- passwords ---------------------------------------------------------------------------------


def hash_password(password: str) -> str:
    """`scrypt$N$r$p$salt$hash`, base64 parts; slow on purpose (about 50 ms)."""
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(
        password.encode(), salt=salt, n=_SCRYPT_N, r=_SCRYPT_R, p=_SCRYPT_P, dklen=32
    )
    return f"scrypt${_SCRYPT_N}${_SCRYPT_R}${_SCRYPT_P}${_b64(salt)}${_b64(digest)}"


def verify_password(password: str, stored: str) -> bool:
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        if scheme != "scrypt":
            return False
        got = hashlib.scrypt(
            password.encode(),
            salt=_unb64(salt),
            n=int(n),
            r=int(r),
            p=int(p),
            dklen=len(_unb64(digest)),
            maxmem=256 * 1024 * 1024,
        )
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(got, _unb64(digest))


_DUMMY_HASH = "scrypt$16384$8$1$AAAAAAAAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"


# --- users -------------------------------------------------------------------------------------


@dataclass
class User:
    name: str
    password_hash: str
    collections: frozenset[str] | None = None


class Users:
    """Users from settings (auth_user) and the users file, re-read when the file changes."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.path = settings.users_file or settings.data_dir / "users.txt"
        self._mtime: float | None = None
        self._file_users: dict[str, User] = {}
        self._lock = threading.Lock()
        self.errors: list[str] = []

    def all(self) -> dict[str, User]:
        with self._lock:
            self._reload()
            users = dict(self._file_users)
        s = self.settings
        if s.auth_user and s.auth_password_hash is not None:
            users[s.auth_user] = User(s.auth_user, s.auth_password_hash.get_secret_value())
        return users

    def get(self, name: str) -> User | None:
        return self.all().get(name)

    def _reload(self) -> None:
        try:
            mtime = self.path.stat().st_mtime
        except OSError:
            self._file_users, self._mtime = {}, None
            return
        if mtime == self._mtime:
            return
        self._mtime = mtime
        self._file_users, self.errors = parse_users(self.path.read_text(encoding="utf-8"))


def parse_users(text: str) -> tuple[dict[str, User], list[str]]:
    """Lines `name:scrypt$...[:coll1,coll2]`; blank lines and `#` comments are skipped."""
    users: dict[str, User] = {}
    errors: list[str] = []
    for n, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        parts = line.split(":")
        if len(parts) not in (2, 3) or not parts[0] or not parts[1].startswith("scrypt$"):
            errors.append(f"line {n}: expected name:scrypt$...[:collections]")
            continue
        colls = frozenset(c.strip() for c in (parts[2] if len(parts) == 3 else "").split(","))
        users[parts[0]] = User(parts[0], parts[1], frozenset(c for c in colls if c) or None)
    return users, errors


# --- sessions ----------------------------------------------------------------------------------


@dataclass
class Session:
    user: str
    csrf: str
    expires: float


class Sessions:
    """Server-side sessions in the web database; the cookie value is a random id."""

    def __init__(self, settings: Settings, store: Store, users: Users) -> None:
        self.lifetime_s = settings.session_hours * 3600
        self.store = store
        self.users = users
        path = settings.session_secret_file or settings.data_dir / "session.key"
        self.key = _load_or_create_secret(path)

    def issue(self, user: str, replacing: str | None = None) -> tuple[str, Session]:
        """A new session for `user` (who must exist); `replacing`, the cookie the login form
        was posted with, ends here: every login gets a fresh id."""
        found = self.users.get(user)
        if found is None:
            raise KeyError(user)
        token = secrets.token_urlsafe(32)
        now = time.time()
        session = Session(user, secrets.token_urlsafe(24), now + self.lifetime_s)
        with self.store.tx() as db:
            db.execute("DELETE FROM sessions WHERE expires_at < ?", (now,))
            if replacing:
                db.execute("DELETE FROM sessions WHERE id=?", (_session_id(replacing),))
            db.execute(
                "INSERT INTO sessions (id, user, csrf, credential, created_at, expires_at)"
                " VALUES (?,?,?,?,?,?)",
                (
                    _session_id(token), user, session.csrf,
                    self._credential(found), now, session.expires,
                ),
            )  # fmt: skip
        return token, session

    def read(self, value: str | None) -> Session | None:
        """The live session behind a cookie value, or None. A session whose user is gone or
        has another password since it was opened is deleted on sight."""
        if not value or len(value) > 256:
            return None
        sid = _session_id(value)
        row = self.store.db.execute("SELECT * FROM sessions WHERE id=?", (sid,)).fetchone()
        if row is None:
            return None
        user = self.users.get(row["user"])
        if (
            row["expires_at"] <= time.time()
            or user is None
            or not hmac.compare_digest(row["credential"], self._credential(user))
        ):
            self.store.db.execute("DELETE FROM sessions WHERE id=?", (sid,))
            return None
        return Session(row["user"], row["csrf"], row["expires_at"])

    def revoke(self, value: str | None) -> None:
        """Logout: the session behind this cookie value ends (no-op for an unknown value)."""
        if value and len(value) <= 256:
            self.store.db.execute("DELETE FROM sessions WHERE id=?", (_session_id(value),))

    def revoke_user(self, user: str) -> int:
        """End every session of `user`; returns how many there were."""
        return self.store.db.execute("DELETE FROM sessions WHERE user=?", (user,)).rowcount

    def count(self, user: str) -> int:
        row = self.store.db.execute(
            "SELECT COUNT(*) FROM sessions WHERE user=? AND expires_at > ?", (user, time.time())
        ).fetchone()
        return int(row[0])

    def proxy_csrf(self, user: str) -> str:
        """The CSRF token of a trusted-header user (no cookie session to keep one in): keyed on
        the name, so only pages Folio rendered for that user carry it."""
        return _b64(hmac.new(self.key, b"proxy-csrf\0" + user.encode(), hashlib.sha256).digest())

    def _credential(self, user: User) -> str:
        digest = hmac.new(self.key, b"credential\0" + user.password_hash.encode(), hashlib.sha256)
        return digest.hexdigest()


def _session_id(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def _load_or_create_secret(path: Path) -> bytes:
    try:
        data = path.read_bytes()
        if len(data) >= 32:
            return data
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    data = secrets.token_bytes(32)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
    return data


# --- login throttling --------------------------------------------------------------------------


@dataclass
class LoginThrottle:
    """At most LOGIN_MAX_FAILURES failed logins per client address per LOGIN_WINDOW_S."""

    failures: dict[str, deque[float]] = field(default_factory=dict)

    def retry_after(self, client: str, user: str | None = None) -> float:
        q = self._recent(client)
        if len(q) < LOGIN_MAX_FAILURES:
            return 0.0
        wait = max(1.0, q[0] + LOGIN_WINDOW_S - time.time())
        log.warning(
            "login refused: too many failed logins",
            extra={"event": "login_throttled", "user": user, "client": client, "wait_s": wait},
        )
        return wait

    def failed(self, client: str, user: str | None = None) -> None:
        """Record (and log: user name and client address, never the password) a failed login."""
        q = self._recent(client)
        q.append(time.time())
        log.warning(
            "login failed",
            extra={"event": "login_failed", "user": user, "client": client, "failures": len(q)},
        )

    def succeeded(self, client: str) -> None:
        self.failures.pop(client, None)

    def evict(self) -> None:
        """Forget addresses whose failures are all older than the window: a scan from many
        addresses must not grow this table for ever."""
        cutoff = time.time() - LOGIN_WINDOW_S
        for client in [c for c, q in self.failures.items() if not q or q[-1] < cutoff]:
            del self.failures[client]

    def _recent(self, client: str) -> deque[float]:
        if len(self.failures) >= LOGIN_EVICT_AT and client not in self.failures:
            self.evict()
        q = self.failures.setdefault(client, deque())
        while q and q[0] < time.time() - LOGIN_WINDOW_S:
            q.popleft()
        return q


def check_login(users: Users, name: str, password: str) -> User | None:
    """The user when the password matches; the same work is done for unknown names."""
    user = users.get(name)
    if user is None:
        verify_password(password, _DUMMY_HASH)
        return None
    return user if verify_password(password, user.password_hash) else None


def forwarded_client(peer: str, forwarded: Iterable[str], trusted: Iterable[str]) -> str:
    """The client's address. `forwarded` are the X-Forwarded-For header values in order; they
    are believed only when the peer is a trusted proxy, and then read from the right: each proxy
    appends the address it got the request from, so the first hop from the right that is not a
    trusted proxy is the client (the leftmost entries are whatever the client chose to send)."""
    trusted = list(trusted)
    if not peer_trusted(peer, trusted):
        return peer
    hops = [_bare_address(h) for value in forwarded for h in value.split(",") if h.strip()]
    client = peer
    for hop in reversed(hops):
        client = hop
        if not peer_trusted(hop, trusted):
            break
    return client


def _bare_address(hop: str) -> str:
    """`1.2.3.4`, `1.2.3.4:5678`, `[2001:db8::1]:443` -> the address alone."""
    hop = hop.strip()
    if hop.startswith("[") and "]" in hop:
        return hop[1 : hop.index("]")]
    if hop.count(":") == 1:
        return hop.split(":", 1)[0]
    return hop


def peer_trusted(peer: str | None, trusted: Iterable[str]) -> bool:
    if not peer:
        return False
    for entry in trusted:
        try:
            if ipaddress.ip_address(peer) in ipaddress.ip_network(entry, strict=False):
                return True
        except ValueError:
            if peer == entry:
                return True
    return False


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
