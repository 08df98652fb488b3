"""What nothing uses any more: originals no document names, working folders no live process holds.

Every ingest writes to a spool folder in the temp dir (`folio-spool-*`), every upload to
`<data dir>/uploads/incoming-*` while it is received, and every ingested version keeps its
original under `<data dir>/files/`. A `kill -9` leaves the folders behind (the issue found one per
kill, and incoming folders surviving restarts), and a replaced or removed version used to leave
its original. Each working folder now names its owner in an `.owner` file (pid and the process's
start time, so a recycled pid is not mistaken for the owner); a folder is stale when its owner is
gone, or, without an owner file (made by an older Folio), when it is untouched for an hour. The
server's start, `folio ingest` and `folio check --repair` remove stale folders; a folder whose
owner lives is never touched, whatever its age.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import tempfile
import time
from collections.abc import Iterable
from pathlib import Path

import psutil

OWNER_FILE = ".owner"
SPOOL_PREFIX = "folio-spool-"
INCOMING_PREFIX = "incoming-"
UNOWNED_STALE_S = 3600.0  # a folder without an owner file, untouched this long, is nobody's


def claim(folder: Path) -> None:
    """Record this process as the owner of `folder` (call right after creating it)."""
    (folder / OWNER_FILE).write_text(f"{os.getpid()} {_started(os.getpid()):.3f}")


def owner_alive(folder: Path) -> bool | None:
    """True if the process recorded in `folder` runs, False if it is gone, None if the folder
    records no owner."""
    try:
        pid_text, started_text = (folder / OWNER_FILE).read_text().split()
        pid, started = int(pid_text), float(started_text)
    except (OSError, ValueError):
        return None
    now = _started(pid)
    return now is not None and abs(now - started) < 1.0


def working_folders(data_dir: Path, spool_root: Path | None = None) -> list[Path]:
    """Every spool folder in the temp dir and every incoming upload folder of this data dir."""
    root = spool_root or Path(tempfile.gettempdir())
    found = list(root.glob(SPOOL_PREFIX + "*")) + list(
        (data_dir / "uploads").glob(INCOMING_PREFIX + "*")
    )
    return sorted(p for p in found if p.is_dir())


def stale_folders(data_dir: Path, spool_root: Path | None = None) -> list[Path]:
    """The working folders whose owner is gone (see the module docstring)."""
    now = time.time()
    stale = []
    for folder in working_folders(data_dir, spool_root):
        alive = owner_alive(folder)
        if alive is False:
            stale.append(folder)
        elif alive is None:
            try:
                if now - folder.stat().st_mtime > UNOWNED_STALE_S:
                    stale.append(folder)
            except OSError:
                continue
    return stale


def remove_stale_folders(data_dir: Path, spool_root: Path | None = None) -> list[Path]:
    """Remove the stale working folders; returns them."""
    stale = stale_folders(data_dir, spool_root)
    for folder in stale:
        shutil.rmtree(folder, ignore_errors=True)
    return stale


def unreferenced(db: sqlite3.Connection, stored_files: Iterable[str | None]) -> list[Path]:
    """Those of these stored originals that no document row names any more (another
    collection or another name may hold the same content, and so the same file)."""
    out = []
    for stored in {s for s in stored_files if s}:
        row = db.execute("SELECT 1 FROM documents WHERE stored_file=? LIMIT 1", (stored,))
        if row.fetchone() is None:
            out.append(Path(stored))
    return out


def drop_originals(db: sqlite3.Connection, files_dir: Path, stored_files: Iterable[str | None]):
    """Delete the originals of removed or replaced versions that nothing else names; only files
    inside `files_dir` are ever deleted. Call it holding the write lock, after the rows are
    gone. Returns the deleted paths."""
    root = files_dir.resolve()
    dropped = []
    for path in unreferenced(db, stored_files):
        try:
            inside = path.resolve().is_relative_to(root)
        except OSError:
            continue
        if inside and path.is_file():
            path.unlink(missing_ok=True)
            dropped.append(path)
    return dropped


def _started(pid: int) -> float | None:
    try:
        return psutil.Process(pid).create_time()
    except (psutil.Error, ValueError):
        return None
