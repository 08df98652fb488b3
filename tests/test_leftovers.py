"""Originals and working folders nothing uses any more are removed; those in use never are.

Real processes throughout: folders owned by a process that ran and exited, by one that is still
running, a `folio ingest` killed with SIGKILL, and `folio rm` / `folio check` as commands.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from folio.check import check
from folio.leftovers import OWNER_FILE, claim, owner_alive, remove_stale_folders, stale_folders
from folio.settings import Settings
from ingest.pipeline import ingest_paths
from services.build import open_index
from tests.fixtures import make_pdf

ROOT = Path(__file__).resolve().parent.parent
PAGES = ["Orion pump manual.", "Prime the pump: open the vent screw.", "Grease monthly."]


@pytest.fixture(scope="module")
def embedder():
    from folio.embedding import Embedder

    return Embedder("all-MiniLM-L6-v2")


def folio(*args: str, data_dir: Path, tmp: Path, **kw) -> subprocess.CompletedProcess:
    env = {**os.environ, "FOLIO_DATA_DIR": str(data_dir), "TMPDIR": str(tmp)}
    return subprocess.run(
        [sys.executable, "-m", "cli", *args], capture_output=True, text=True, env=env,
        cwd=ROOT, timeout=600, **kw,
    )  # fmt: skip


def owned_by(folder: Path, proc: subprocess.Popen) -> Path:
    """Make `folder` as `proc` would have made it (its pid and start time in the owner file)."""
    import psutil

    folder.mkdir(parents=True)
    started = psutil.Process(proc.pid).create_time()
    (folder / OWNER_FILE).write_text(f"{proc.pid} {started:.3f}")
    (folder / "part.jsonl").write_text("{}")
    return folder


def stored_files(settings: Settings) -> list[str]:
    return (
        sorted(p.name for p in settings.files_dir.iterdir()) if settings.files_dir.is_dir() else []
    )


def test_a_replaced_version_takes_its_original_with_it(tmp_path, embedder):
    settings = Settings(data_dir=tmp_path / "index")
    index, _ = open_index(settings)
    manual = make_pdf(tmp_path / "orion.pdf", PAGES)
    (first,) = ingest_paths([manual], settings, index=index, embedder=embedder)
    v1 = stored_files(settings)
    assert len(v1) == 1 and v1[0].startswith(index.document(first.doc_id).sha256)

    make_pdf(manual, PAGES[:-1] + ["Grease the bearings every week."])
    (second,) = ingest_paths([manual], settings, index=index, embedder=embedder)
    assert second.status == "ingested"
    assert stored_files(settings) == [Path(index.document(second.doc_id).stored_file).name]
    assert check(index, spool_root=tmp_path).problems == []


def test_the_same_content_in_two_collections_keeps_its_file_until_both_go(tmp_path):
    data, tmp = tmp_path / "index", tmp_path / "tmp"
    tmp.mkdir()
    settings = Settings(data_dir=data)
    manual = make_pdf(tmp_path / "orion.pdf", PAGES)
    for coll in ("a", "b"):
        assert folio("ingest", str(manual), "-c", coll, data_dir=data, tmp=tmp).returncode == 0
    assert len(stored_files(settings)) == 1  # one file by content

    removed = folio("rm", "orion.pdf", "-c", "a", data_dir=data, tmp=tmp)
    assert removed.returncode == 0, removed.stderr
    assert len(stored_files(settings)) == 1  # collection b still cites it
    assert folio("rm", "orion.pdf", "-c", "b", data_dir=data, tmp=tmp).returncode == 0
    assert stored_files(settings) == []
    checked = folio("check", data_dir=data, tmp=tmp)
    assert checked.returncode == 0 and "clean" in checked.stdout, checked.stdout


def test_folders_of_dead_processes_go_and_of_live_ones_stay(tmp_path):
    data, spool_root = tmp_path / "index", tmp_path / "tmp"
    spool_root.mkdir()
    done = subprocess.Popen([sys.executable, "-c", "pass"])
    dead_spool = owned_by(spool_root / "folio-spool-dead", done)
    dead_upload = owned_by(data / "uploads" / "incoming-dead", done)
    done.wait()
    live = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        live_spool = owned_by(spool_root / "folio-spool-live", live)
        live_upload = owned_by(data / "uploads" / "incoming-live", live)
        old = time.time() - 7 * 86400
        os.utime(live_spool, (old, old))  # old, but its owner runs: kept
        unowned_old = spool_root / "folio-spool-legacy"
        unowned_old.mkdir()
        os.utime(unowned_old, (old, old))
        unowned_new = data / "uploads" / "incoming-new"
        unowned_new.mkdir()
        job_dir = data / "uploads" / "0123456789abcdef"  # a queued job's upload: not ours
        job_dir.mkdir()

        assert owner_alive(dead_spool) is False and owner_alive(live_spool) is True
        assert owner_alive(unowned_old) is None
        expected = sorted([dead_spool, dead_upload, unowned_old])
        assert stale_folders(data, spool_root) == expected
        assert remove_stale_folders(data, spool_root) == expected
        for gone in expected:
            assert not gone.exists()
        for kept in (live_spool, live_upload, unowned_new, job_dir):
            assert kept.is_dir()
    finally:
        live.kill()
        live.wait()
    assert stale_folders(data, spool_root) == sorted([live_spool, live_upload])


def test_a_recycled_pid_is_not_the_owner(tmp_path):
    folder = tmp_path / "folio-spool-x"
    folder.mkdir()
    claim(folder)
    assert owner_alive(folder) is True
    pid, started = (folder / OWNER_FILE).read_text().split()
    earlier = float(started) - 3600  # the pid is live, but that process started an hour later
    (folder / OWNER_FILE).write_text(f"{pid} {earlier:.3f}")
    assert owner_alive(folder) is False


def _spools(tmp: Path) -> list[Path]:
    return sorted(tmp.glob("folio-spool-*"))


def test_a_killed_ingest_leaves_a_spool_that_the_next_ingest_removes(tmp_path):
    data, tmp = tmp_path / "index", tmp_path / "tmp"
    tmp.mkdir()
    pages = [" ".join(f"Valve {p}-{s} needs a quarter turn." for s in range(40)) for p in range(80)]
    big = make_pdf(tmp_path / "big.pdf", pages)
    env = {**os.environ, "FOLIO_DATA_DIR": str(data), "TMPDIR": str(tmp)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "cli", "ingest", str(big)], cwd=ROOT, env=env,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    deadline = time.monotonic() + 300
    while not _spools(tmp):
        assert proc.poll() is None, "ingest ended before it made its spool folder"
        assert time.monotonic() < deadline
        time.sleep(0.05)
    (spool,) = _spools(tmp)
    assert owner_alive(spool) is True
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert spool.is_dir() and owner_alive(spool) is False

    found = folio("check", data_dir=data, tmp=tmp)
    assert found.returncode == 1 and "stale_folder" in found.stdout, found.stdout
    small = make_pdf(tmp_path / "small.pdf", PAGES)
    again = folio("ingest", str(small), "--json", data_dir=data, tmp=tmp)
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout)[0]["status"] == "ingested"
    assert not spool.exists()
    assert _spools(tmp) == []  # and its own is gone at the end
