"""`folio check [--repair]` on a real index that is then damaged the ways operators see."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from folio.settings import Settings
from ingest.pipeline import ingest_paths
from services.build import open_index
from tests.fixtures import make_pdf

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture()
def damaged(tmp_path):
    make_pdf(tmp_path / "pump.pdf", ["Pump manual.", "Prime the pump: open the vent screw.",
                                     "Grease the bearings monthly."], title="Pump")  # fmt: skip
    settings = Settings(data_dir=tmp_path / "index")
    index, embedder = open_index(settings)
    (result,) = ingest_paths([tmp_path / "pump.pdf"], settings, index=index, embedder=embedder)
    ids = [r[0] for r in index.db.execute("SELECT id FROM chunks ORDER BY ord")]
    index.collection.delete(ids=[ids[1]])  # a vector lost by a second writer
    index.db.execute("INSERT INTO chunks_fts (rowid, text, section, title) "
                     "VALUES (999999, 'orphan word', '', '')")  # fmt: skip
    (settings.files_dir / ("0" * 64 + ".pdf")).write_bytes(b"%PDF-orphan")
    stale = settings.data_dir / "uploads" / "incoming-dead"
    stale.mkdir(parents=True)
    old = time.time() - 7200
    os.utime(stale, (old, old))
    index.close()
    return settings, ids


def _check(settings: Settings, *args: str) -> subprocess.CompletedProcess:
    private_tmp = settings.data_dir.parent / "tmp"  # other runs' spool folders are not ours
    private_tmp.mkdir(exist_ok=True)
    return subprocess.run(
        [sys.executable, "-m", "cli", "--data-dir", str(settings.data_dir), "check", *args],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
        env={**os.environ, "TMPDIR": str(private_tmp)},
    )  # fmt: skip


def test_check_finds_each_problem_and_repair_fixes_it(damaged):
    settings, ids = damaged
    found = _check(settings)
    assert found.returncode == 1, found.stdout + found.stderr
    for kind in ("missing_vector", "fts_orphan", "orphan_file", "stale_folder"):
        assert kind in found.stdout, (kind, found.stdout)

    fixed = _check(settings, "--repair")
    assert fixed.returncode == 0, fixed.stdout + fixed.stderr
    again = _check(settings)
    assert again.returncode == 0 and "clean" in again.stdout, again.stdout

    from chromadb.api.client import SharedSystemClient

    SharedSystemClient.clear_system_cache()  # this process's Chroma predates the repair
    index, embedder = open_index(settings)
    got = index.collection.get(ids=[ids[1]], include=["embeddings"])
    assert got["ids"] == [ids[1]]  # re-embedded from the stored chunk text
    hits = index.dense(embedder.embed_query("open the vent screw to prime"), 1)
    assert hits[0][0] == ids[1]
