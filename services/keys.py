"""API keys: created by `folio keys create`, shown once, stored as sha256 only.

A key is a long random token, so a plain sha256 (no salt, no slow hash) is enough: there is
nothing to brute-force, and the lookup by hash stays one indexed query per request.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import re
import secrets
import sqlite3
import time
from dataclasses import dataclass

from folio.settings import parse_rate
from services.store import Store

KEY_PREFIX = "folio_"
NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}$")
_TOUCH_EVERY_S = 60.0  # last_used_at is a hint; writing it on every request would cost a lock


class KeyRequestError(ValueError):
    """A key could not be created or revoked; the message says why."""


@dataclass
class ApiKey:
    name: str
    prefix: str
    collections: list[str] | None
    read_only: bool
    created_at: float
    last_used_at: float | None = None
    rate_limit: str | None = None  # overrides FOLIO_RATE_LIMIT for this key
    tokens_per_day: int | None = None  # overrides FOLIO_TOKENS_PER_DAY


def hash_key(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_key(
    store: Store,
    name: str,
    *,
    collections: list[str] | None = None,
    read_only: bool = False,
    rate_limit: str | None = None,
    tokens_per_day: int | None = None,
) -> tuple[ApiKey, str]:
    """Create a key; returns the record and the token (which is not stored anywhere)."""
    if not NAME_RE.match(name):
        raise KeyRequestError(
            f"invalid key name {name!r}: use letters, digits, '.', '_' or '-' (max 64)"
        )
    colls = sorted({c.strip() for c in collections or [] if c.strip()}) or None
    if rate_limit is not None:
        try:
            parse_rate(rate_limit)
        except ValueError as exc:
            raise KeyRequestError(str(exc)) from exc
    token = KEY_PREFIX + secrets.token_urlsafe(32)
    key = ApiKey(
        name, token[:12], colls, read_only, time.time(),
        rate_limit=rate_limit, tokens_per_day=tokens_per_day,
    )  # fmt: skip
    with store.tx() as db:
        if db.execute("SELECT 1 FROM api_keys WHERE name=?", (name,)).fetchone():
            raise KeyRequestError(
                f"a key named {name!r} exists; revoke it first or pick another name"
            )
        db.execute(
            "INSERT INTO api_keys (name, hash, prefix, collections, read_only, created_at,"
            " rate_limit, tokens_per_day) VALUES (?,?,?,?,?,?,?,?)",
            (
                name,
                hash_key(token),
                key.prefix,
                json.dumps(colls) if colls else None,
                int(read_only),
                key.created_at,
                rate_limit,
                tokens_per_day,
            ),
        )
    return key, token


def list_keys(store: Store) -> list[ApiKey]:
    return [_key(r) for r in store.db.execute("SELECT * FROM api_keys ORDER BY name")]


def revoke_key(store: Store, name: str) -> bool:
    cur = store.db.execute("DELETE FROM api_keys WHERE name=?", (name,))
    return cur.rowcount > 0


class KeyVerifier:
    """Looks a presented token up by hash; remembers when each key was last written as used."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._touched: dict[str, float] = {}

    def verify(self, token: str) -> ApiKey | None:
        if not token.startswith(KEY_PREFIX) or len(token) > 200:
            return None
        row = self.store.db.execute(
            "SELECT * FROM api_keys WHERE hash=?", (hash_key(token),)
        ).fetchone()
        if row is None:
            return None
        key = _key(row)
        now = time.time()
        if now - self._touched.get(key.name, 0.0) > _TOUCH_EVERY_S:
            self._touched[key.name] = now
            with contextlib.suppress(sqlite3.Error):  # a busy database must not fail the request
                self.store.db.execute(
                    "UPDATE api_keys SET last_used_at=? WHERE name=?", (now, key.name)
                )
        return key


def _key(row) -> ApiKey:
    return ApiKey(
        name=row["name"],
        prefix=row["prefix"],
        collections=json.loads(row["collections"]) if row["collections"] else None,
        read_only=bool(row["read_only"]),
        created_at=row["created_at"],
        last_used_at=row["last_used_at"],
        rate_limit=row["rate_limit"],
        tokens_per_day=row["tokens_per_day"],
    )
