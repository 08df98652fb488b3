"""The index's write lock, across real processes."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest

from folio.lock import IndexBusy, holder, writer

HOLD = """
import sys, time
from pathlib import Path
from folio.lock import writer
with writer(Path(sys.argv[1])):
    print("held", flush=True)
    time.sleep(float(sys.argv[2]))
"""


def _hold(data_dir, seconds: float) -> subprocess.Popen:
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(data_dir), str(seconds)],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert proc.stdout.readline().strip() == "held"
    return proc


def test_a_second_writer_is_told_who_holds_the_lock(tmp_path):
    proc = _hold(tmp_path, 30)
    try:
        assert holder(tmp_path) == proc.pid
        with pytest.raises(IndexBusy, match=f"pid {proc.pid}"), writer(tmp_path, wait=False):
            pass
    finally:
        proc.kill()
        proc.wait()


def test_a_waiting_writer_proceeds_when_the_holder_finishes(tmp_path):
    proc = _hold(tmp_path, 1.0)
    waited_for = []
    t0 = time.monotonic()
    with writer(tmp_path, on_wait=waited_for.append):
        elapsed = time.monotonic() - t0
    proc.wait()
    assert waited_for == [proc.pid] and elapsed > 0.3


def test_a_killed_holder_never_leaves_the_index_locked(tmp_path):
    proc = _hold(tmp_path, 60)
    proc.kill()
    proc.wait()
    with writer(tmp_path, wait=False):
        pass


def test_the_lock_is_reentrant_within_a_process(tmp_path):
    with writer(tmp_path), writer(tmp_path, wait=False):
        pass
    with writer(tmp_path, wait=False):  # and fully released afterwards
        pass
