"""The web app's own SQLite database (data_dir/web.sqlite3): API keys, browser sessions, jobs,
answers, feedback.

Kept apart from the index registry so the index stays a pure function of the manuals: deleting
web.sqlite3 loses keys and history, never a document. Every thread gets its own connection
(the job worker writes progress while request threads read it); WAL lets them overlap.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

SCHEMA = """
CREATE TABLE IF NOT EXISTS api_keys (
    name TEXT PRIMARY KEY,
    hash TEXT UNIQUE NOT NULL,
    prefix TEXT NOT NULL,
    collections TEXT,
    read_only INTEGER NOT NULL DEFAULT 0,
    created_at REAL NOT NULL,
    last_used_at REAL
);
CREATE TABLE IF NOT EXISTS sessions (
    id TEXT PRIMARY KEY,  -- sha256 of the cookie value; the value itself is not stored
    user TEXT NOT NULL,
    csrf TEXT NOT NULL,
    credential TEXT NOT NULL,  -- keyed fingerprint of the password hash at login
    created_at REAL NOT NULL,
    expires_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS sessions_user ON sessions(user);
CREATE TABLE IF NOT EXISTS jobs (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    collection TEXT NOT NULL,
    name TEXT NOT NULL,
    status TEXT NOT NULL,
    phase TEXT NOT NULL DEFAULT '',
    pages_done INTEGER NOT NULL DEFAULT 0,
    pages_total INTEGER,
    chunks_done INTEGER NOT NULL DEFAULT 0,
    doc_id TEXT,
    title TEXT,
    error TEXT,
    detail TEXT,
    owner TEXT,
    upload_path TEXT,
    created_at REAL NOT NULL,
    started_at REAL,
    finished_at REAL,
    dismissed INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS jobs_created ON jobs(created_at);
CREATE TABLE IF NOT EXISTS answers (
    id TEXT PRIMARY KEY,
    created_at REAL NOT NULL,
    owner TEXT,
    question TEXT NOT NULL,
    answer TEXT,
    mode TEXT,
    refused INTEGER,
    citations TEXT,
    timings TEXT,
    usage TEXT
);
CREATE TABLE IF NOT EXISTS feedback (
    id INTEGER PRIMARY KEY,
    answer_id TEXT NOT NULL,
    rating INTEGER NOT NULL,
    comment TEXT,
    owner TEXT,
    created_at REAL NOT NULL
);
"""


# Numbered steps after SCHEMA, tracked by PRAGMA user_version (as the index registry does):
# a database from an older Folio gains the new columns when it is opened.
MIGRATIONS: list[str] = [
    SCHEMA,
    # 2: per-key limits (`folio keys create --rate-limit 60/minute --tokens-per-day N`)
    "ALTER TABLE api_keys ADD COLUMN rate_limit TEXT;"
    "ALTER TABLE api_keys ADD COLUMN tokens_per_day INTEGER;",
]


def _statements(script: str) -> list[str]:
    """Split a script at the `;` that end statements (not those inside comments or strings)."""
    done, part = [], ""
    for piece in script.split(";"):
        part += piece + ";"
        if sqlite3.complete_statement(part):
            if part.strip(" \n;"):
                done.append(part)
            part = ""
    return done


class Store:
    """Thread-local connections to one SQLite file, created and migrated on first use."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        self._lock = threading.Lock()
        self._all: list[sqlite3.Connection] = []
        self._migrate()

    def _migrate(self) -> None:
        """Each step in its own transaction; the version is read inside it, so two processes
        opening one database at once never run a step twice."""
        db = self.db
        while True:
            db.execute("BEGIN IMMEDIATE")
            try:
                version = db.execute("PRAGMA user_version").fetchone()[0]
                if (
                    version == 0
                    and db.execute("SELECT 1 FROM sqlite_master WHERE name='api_keys'").fetchone()
                ):
                    version = 1  # made by a Folio before migrations: SCHEMA is in place
                if version >= len(MIGRATIONS):
                    db.execute("COMMIT")
                    return
                for statement in _statements(MIGRATIONS[version]):
                    db.execute(statement)
                db.execute(f"PRAGMA user_version={version + 1}")
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise

    @property
    def db(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(
                self.path, timeout=30, isolation_level=None, check_same_thread=False
            )
            conn.row_factory = sqlite3.Row
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            self._local.conn = conn
            with self._lock:
                self._all.append(conn)
        return conn

    @contextmanager
    def tx(self) -> Iterator[sqlite3.Connection]:
        db = self.db
        db.execute("BEGIN IMMEDIATE")
        try:
            yield db
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")

    def close(self) -> None:
        with self._lock:
            for conn in self._all:
                with suppress(sqlite3.Error):
                    conn.close()
            self._all.clear()
        self._local = threading.local()
