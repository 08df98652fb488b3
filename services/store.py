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


class Store:
    """Thread-local connections to one SQLite file, created with the schema on first use."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        self._lock = threading.Lock()
        self._all: list[sqlite3.Connection] = []
        self.db.executescript(SCHEMA)

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
