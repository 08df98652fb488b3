"""One writer per index: an inter-process lock on the data dir.

Two `folio ingest` processes writing one index used to both exit 0 while Chroma lost vectors of
both (887 of 4,513 raised "Error getting embedding" and were never found again) and the FTS
table gained duplicate rows. Every writer (CLI ingest and rm, the server's job worker) now holds
this lock for the whole write; a second writer waits and says for whom, or gives up with the
holder's pid. Readers (search, ask, docs) never take it.

An advisory `fcntl.flock` on `<data dir>/write.lock`: the kernel drops it when the holder dies,
even by `kill -9`, so a crash never leaves the index locked. Within one process the lock is
re-entrant (the server's worker threads share it through a counter).
"""

from __future__ import annotations

import fcntl
import os
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

LOCK_NAME = "write.lock"


class IndexBusy(RuntimeError):
    """Another process is writing this index."""


_local = threading.Lock()
_held: dict[Path, tuple[int, int]] = {}  # data dir -> (fd, depth) held by this process


def holder(data_dir: Path) -> int | None:
    """The pid recorded by the process holding the lock (None if unknown)."""
    try:
        text = (data_dir / LOCK_NAME).read_text().strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None


@contextmanager
def writer(
    data_dir: Path,
    *,
    wait: bool = True,
    timeout_s: float | None = None,
    on_wait: Callable[[int | None], None] | None = None,
    poll_s: float = 0.2,
) -> Iterator[None]:
    """Hold the index's write lock. `wait=False` (or a timeout) raises `IndexBusy` naming the
    holder's pid; `on_wait(pid)` is called once when the lock is found taken."""
    data_dir = data_dir.resolve()
    with _local:
        if data_dir in _held:
            fd, depth = _held[data_dir]
            _held[data_dir] = (fd, depth + 1)
            reentered = True
        else:
            reentered = False
    if reentered:
        try:
            yield
        finally:
            _release(data_dir)
        return
    data_dir.mkdir(parents=True, exist_ok=True)
    fd = os.open(data_dir / LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o644)
    start = time.monotonic()
    told = False
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            break
        except BlockingIOError:
            pid = holder(data_dir)
            late = timeout_s is not None and time.monotonic() - start >= timeout_s
            if not wait or late:
                os.close(fd)
                who = f"pid {pid}" if pid else "another process"
                raise IndexBusy(
                    f"another writer is using the index in {data_dir} ({who}); "
                    "wait for it to finish or stop it"
                ) from None
            if not told and on_wait is not None:
                on_wait(pid)
                told = True
            time.sleep(poll_s)
    os.ftruncate(fd, 0)
    os.write(fd, str(os.getpid()).encode())
    with _local:
        _held[data_dir] = (fd, 1)
    try:
        yield
    finally:
        _release(data_dir)


def _release(data_dir: Path) -> None:
    with _local:
        fd, depth = _held[data_dir]
        if depth > 1:
            _held[data_dir] = (fd, depth - 1)
            return
        del _held[data_dir]
    os.ftruncate(fd, 0)
    fcntl.flock(fd, fcntl.LOCK_UN)
    os.close(fd)
