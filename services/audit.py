"""The audit log: who did what, one JSON line per event, chained so that tampering shows.

Written by the service layer, so the CLI and HTTP are covered by the same calls. Each line
carries `prev` (the hash of the line before it, across files) and `hash` (SHA-256 of its own
canonical JSON, `hash` left out): deleting or editing a line breaks the chain at that point,
and `HEAD` (the last hash and the line count) catches a removed tail. A hash chain proves
integrity against edits after the fact, not against someone who rewrites the whole chain from
the edit on: ship the files to a write-once store for that.

Files are `audit-YYYYMMDD.jsonl`, a new one each day and whenever one reaches `audit_max_mb`
(`audit-YYYYMMDD.1.jsonl`, ...). Files older than `audit_retention_days` are deleted when a new
file starts; the oldest remaining line then anchors the chain. Writers in several processes
(`folio serve` and a `folio ingest` at the same time) append under an exclusive `flock`, and
each reads the previous hash from the file, so the chain stays one chain.

Never logged: passwords, API keys, session ids, CSRF tokens. Questions are logged (knowing who
asked what is the point), answers are not: the cited documents and pages are.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import logging
import os
import re
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import Any

log = logging.getLogger("folio.audit")

GENESIS = "0" * 64
_HEAD_BYTES = 256
_FILE = re.compile(r"^audit-(\d{8})(?:\.(\d+))?\.jsonl$")
_SECRET_KEYS = frozenset(
    {"password", "password_hash", "key", "api_key", "token", "session", "csrf"}
)


class Action(StrEnum):
    LOGIN = "login"
    LOGIN_FAILED = "login_failed"
    LOGOUT = "logout"
    ASK = "ask"
    SEARCH = "search"
    UPLOAD = "upload"
    INGEST = "ingest"
    DELETE = "delete"
    REINDEX = "reindex"
    KEY_CREATE = "key_create"
    KEY_REVOKE = "key_revoke"
    USER_CHANGE = "user_change"
    BLOCKED = "blocked"
    RATE_LIMITED = "rate_limited"


def _canonical(record: dict[str, Any]) -> bytes:
    return json.dumps(record, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode()


def line_hash(record: dict[str, Any]) -> str:
    """SHA-256 over the record without its own `hash`."""
    body = {k: v for k, v in record.items() if k != "hash"}
    return hashlib.sha256(_canonical(body)).hexdigest()


def _file_key(path: Path) -> tuple[str, int]:
    m = _FILE.match(path.name)
    return (m.group(1), int(m.group(2) or 0)) if m else ("", 0)


def log_files(directory: Path) -> list[Path]:
    """The audit files, oldest first."""
    if not directory.is_dir():
        return []
    return sorted((p for p in directory.iterdir() if _FILE.match(p.name)), key=_file_key)


def _last_line(path: Path) -> str | None:
    with path.open("rb") as f:
        f.seek(0, os.SEEK_END)
        end = f.tell()
        step = 4096
        pos = end
        buf = b""
        while pos > 0:
            pos = max(0, pos - step)
            f.seek(pos)
            buf = f.read(end - pos)
            lines = buf.rstrip(b"\n").split(b"\n")
            if len(lines) > 1 or pos == 0:
                last = lines[-1]
                return last.decode() if last else None
        return None


class AuditLog:
    """Append events; `record` never raises (an audit failure is logged, the request goes on)."""

    def __init__(
        self,
        directory: Path,
        *,
        max_bytes: int = 50 * 1024 * 1024,
        retention_days: int = 365,
        enabled: bool = True,
    ) -> None:
        self.directory = directory
        self.max_bytes = max_bytes
        self.retention_days = retention_days
        self.enabled = enabled
        self._expired = False
        self._mutex = threading.Lock()  # threads of this process; flock orders processes
        # What this process last wrote: (file, its size after the write, the line's hash). When
        # the file still has that size, no other process wrote since: skip the directory
        # listing and the tail read (a measured 2.6 ms a line otherwise, mostly rename()).
        self._last: tuple[Path, int, str] | None = None

    @classmethod
    def from_settings(cls, settings) -> AuditLog:
        return cls(
            settings.audit_path,
            max_bytes=int(settings.audit_max_mb * 1024 * 1024),
            retention_days=settings.audit_retention_days,
            enabled=settings.audit,
        )

    def record(self, action: Action, actor: str, **fields: Any) -> None:
        if not self.enabled:
            return
        clean = {k: v for k, v in fields.items() if k not in _SECRET_KEYS and v is not None}
        try:
            self._append(
                {
                    "ts": datetime.now(UTC).isoformat(timespec="milliseconds"),
                    "action": str(action),
                    "actor": actor,
                    **clean,
                }  # fmt: skip
            )
        except OSError:
            log.exception("audit log write failed", extra={"action": str(action)})

    def _append(self, record: dict[str, Any]) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        with self._mutex, (self.directory / ".lock").open("a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            target, prev = self._fast_path()
            if target is None:
                files = log_files(self.directory)
                prev = GENESIS
                if files:
                    last = _last_line(files[-1])
                    if last:
                        prev = json.loads(last)["hash"]
                target = self._target(files)
            record["prev"] = prev
            record["hash"] = line_hash(record)
            with target.open("a", encoding="utf-8") as f:
                f.write(_canonical(record).decode() + "\n")
                size = f.tell()
            self._last = (target, size, record["hash"])
            head = self._head()
            anchor = head.get("anchor", GENESIS)
            if self._expired or not head:
                anchor, self._expired = self._first_prev(), False
            self._write_head(
                {"hash": record["hash"], "lines": head.get("lines", 0) + 1, "anchor": anchor}
            )

    def _fast_path(self) -> tuple[Path | None, str]:
        """This process wrote the last line and nobody wrote since: append to the same file."""
        if self._last is None:
            return None, GENESIS
        path, size, last_hash = self._last
        today = datetime.now(UTC).strftime("%Y%m%d")
        try:
            current = path.stat().st_size
        except OSError:
            return None, GENESIS
        if current != size or _file_key(path)[0] != today or size >= self.max_bytes:
            return None, GENESIS
        return path, last_hash

    def _head(self) -> dict[str, Any]:
        try:
            return json.loads((self.directory / "HEAD").read_text())
        except (OSError, ValueError):
            return {}

    def _write_head(self, head: dict[str, Any]) -> None:
        """Overwritten in place, padded to a fixed size: one small write (rename() cost 1.5 ms
        here). A crash mid-write leaves a HEAD that does not parse: `verify` says so."""
        data = json.dumps(head).ljust(_HEAD_BYTES).encode()
        fd = os.open(self.directory / "HEAD", os.O_WRONLY | os.O_CREAT, 0o644)
        try:
            os.pwrite(fd, data, 0)
        finally:
            os.close(fd)

    def _first_prev(self) -> str:
        """The `prev` of the oldest line kept: the chain's anchor once older files expired."""
        for path in log_files(self.directory):
            with path.open(encoding="utf-8") as f:
                for line in f:
                    if line.strip():
                        return json.loads(line)["prev"]
        return GENESIS

    def _target(self, files: list[Path]) -> Path:
        today = datetime.now(UTC).strftime("%Y%m%d")
        if files:
            last = files[-1]
            day, n = _file_key(last)
            if day == today:
                if last.stat().st_size < self.max_bytes:
                    return last
                return self.directory / f"audit-{today}.{n + 1}.jsonl"
        self._expire(files)
        return self.directory / f"audit-{today}.jsonl"

    def _expire(self, files: list[Path]) -> None:
        cutoff = (datetime.now(UTC) - timedelta(days=self.retention_days)).strftime("%Y%m%d")
        for path in files:
            if _file_key(path)[0] < cutoff:
                path.unlink(missing_ok=True)
                self._expired = True
                log.info("audit file expired", extra={"file": path.name})


def read(directory: Path) -> Iterator[dict[str, Any]]:
    for path in log_files(directory):
        with path.open(encoding="utf-8") as f:
            for line in f:
                if line.strip():
                    yield json.loads(line)


@dataclass
class Verification:
    lines: int = 0
    files: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def verify(directory: Path) -> Verification:
    """Walk the chain: each line's hash must match its content and the next line's `prev`."""
    result = Verification()
    head_path = directory / "HEAD"
    try:
        head = json.loads(head_path.read_text())
    except OSError:
        head = None
    except ValueError:
        head = None
        result.problems.append("HEAD does not parse: the end of the chain cannot be checked")
    prev: str | None = head.get("anchor") if head else None
    for path in log_files(directory):
        result.files += 1
        with path.open(encoding="utf-8") as f:
            for n, line in enumerate(f, 1):
                if not line.strip():
                    continue
                where = f"{path.name}:{n}"
                try:
                    record = json.loads(line)
                except ValueError:
                    result.problems.append(f"{where}: not JSON")
                    prev = None
                    continue
                result.lines += 1
                if record.get("hash") != line_hash(record):
                    result.problems.append(f"{where}: edited (its hash does not match its content)")
                if prev is not None and record.get("prev") != prev:
                    result.problems.append(
                        f"{where}: a line before it was removed or changed (chain broken)"
                    )
                prev = record.get("hash")
    if head is not None and result.files:
        if head.get("hash") != prev:
            result.problems.append("the last lines were removed (HEAD names a later line)")
        elif head.get("lines", result.lines) < result.lines:
            result.problems.append("lines were added outside Folio (HEAD counts fewer)")
    return result


def parse_since(text: str) -> float:
    """`2h`, `3d`, `30m` ago, or an ISO date/time; returns a UNIX timestamp."""
    m = re.fullmatch(r"(\d+)\s*([smhd])", text.strip())
    if m:
        unit = {"s": 1, "m": 60, "h": 3600, "d": 86400}[m.group(2)]
        return time.time() - int(m.group(1)) * unit
    when = datetime.fromisoformat(text.strip())
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return when.timestamp()


def matches(
    record: dict[str, Any],
    *,
    since: float | None = None,
    actor: str | None = None,
    action: str | None = None,
) -> bool:
    if since is not None and datetime.fromisoformat(record["ts"]).timestamp() < since:
        return False
    if actor is not None and record.get("actor") != actor:
        return False
    return action is None or record.get("action") == action
