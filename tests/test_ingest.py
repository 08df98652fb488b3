"""Ingest end to end: real files, real parser worker, real model, real Chroma.

A batch with every kind of bad input, idempotent re-ingest, replace, delete, a time-limited
parser, and a kill in the middle of a document followed by a re-run.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from pypdf import PdfReader, PdfWriter

from folio.settings import Settings
from ingest.pipeline import ingest_paths
from retrieval.search import search
from services.build import open_index
from tests.fixtures import (
    make_docx,
    make_elf,
    make_encrypted_pdf,
    make_large_docx,
    make_pdf,
    make_scanned_pdf,
    make_truncated_pdf,
    make_zip_bomb_docx,
)

ROOT = Path(__file__).resolve().parent.parent
MANUAL_PAGES = [
    "Front matter of the Orion pump manual.",
    "Contents: installation, priming, maintenance.",
    "Installation. Bolt the Orion pump to a level concrete plinth using four M12 anchors.",
    "Priming. Open the vent screw and fill the casing with water until it overflows.",
    "Maintenance. Replace the shaft seal every 4000 operating hours.",
]


def folio(*args: str, data_dir: Path, **kw) -> subprocess.CompletedProcess:
    env = {**os.environ, "FOLIO_DATA_DIR": str(data_dir), "HF_HUB_OFFLINE": "1"}
    return subprocess.run(
        [sys.executable, "-m", "cli", *args], capture_output=True, text=True, env=env,
        cwd=ROOT, timeout=600, **kw,
    )  # fmt: skip


@pytest.fixture(scope="module")
def embedder():
    from folio.embedding import Embedder

    return Embedder("all-MiniLM-L6-v2")


def good_pdf(path: Path) -> Path:
    return make_pdf(
        path, MANUAL_PAGES, header="Orion P-7 Manual", footer="Page {n}",
        labels=[(0, "/r"), (2, "/D")], title="Orion P-7 Pump Manual",
    )  # fmt: skip


def test_batch_reports_every_bad_file_and_ingests_the_rest(tmp_path, embedder):
    src = tmp_path / "in"
    src.mkdir()
    good_pdf(src / "orion.pdf")
    make_docx(
        src / "handbook.docx",
        [("heading", 1, "Badges"), ("para", "Lost badges are replaced at reception desk B.")],
        title="Site Handbook",
    )
    make_encrypted_pdf(src / "locked.pdf", ["secret text"], password="hunter2")
    make_truncated_pdf(src / "truncated.pdf", MANUAL_PAGES)
    make_scanned_pdf(src / "scanned.pdf", 3)
    (src / "empty.pdf").write_bytes(b"")
    make_elf(src / "program.pdf")
    make_zip_bomb_docx(src / "bomb.docx")
    (src / "big.pdf").write_bytes(b"%PDF-1.4\n" + b"0" * (3 * 1024 * 1024))
    (src / "loop.pdf").symlink_to(src / "loop.pdf")

    settings = Settings(data_dir=tmp_path / "index", max_file_mb=2, max_unzipped_mb=20)
    index, _ = open_index(settings)
    results = {r.name: r for r in ingest_paths([src], settings, index=index, embedder=embedder)}

    assert results["orion.pdf"].status == "ingested"
    assert results["handbook.docx"].status == "ingested"
    reasons = {
        "locked.pdf": "password",
        "truncated.pdf": "corrupt",
        "scanned.pdf": "OCR",
        "empty.pdf": "empty",
        "program.pdf": "executable",
        "bomb.docx": "zip bomb",
        "big.pdf": "too large",
        "loop.pdf": "symlink loop",
    }
    for name, reason in reasons.items():
        r = results[name]
        assert r.status == "failed", name
        assert reason.lower() in r.error.lower(), (name, r.error)

    # the good files are searchable with their pages and labels; nothing of the bad ones is
    hits = search(index, embedder, settings, "how do I prime the pump casing", k=3)
    top = hits.passages[0]
    assert (top.doc_name, top.page, top.page_label) == ("orion.pdf", 4, "2")
    assert "Orion P-7 Manual" not in top.body and "Page 4" not in top.body
    ready = {d.name for d in index.documents() if d.status == "ready"}
    assert ready == {"orion.pdf", "handbook.docx"}
    failed = {d.name for d in index.documents() if d.status == "failed"}
    assert "locked.pdf" in failed and "scanned.pdf" in failed


def test_cli_exit_codes_reingest_replace_and_delete(tmp_path):
    data = tmp_path / "index"
    manual = good_pdf(tmp_path / "orion.pdf")

    first = folio("ingest", str(manual), "--json", data_dir=data)
    assert first.returncode == 0, first.stderr
    assert json.loads(first.stdout)[0]["status"] == "ingested"

    again = folio("ingest", str(manual), "--json", data_dir=data)
    assert again.returncode == 0
    assert json.loads(again.stdout)[0]["status"] == "unchanged"

    changed = MANUAL_PAGES[:-1] + ["Maintenance. Replace the shaft seal every 9000 hours."]
    make_pdf(manual, changed, title="Orion P-7 Pump Manual")
    replaced = folio("ingest", str(manual), "--json", data_dir=data)
    assert json.loads(replaced.stdout)[0]["status"] == "ingested"
    docs = json.loads(folio("docs", "--json", data_dir=data).stdout)
    assert len(docs) == 1 and docs[0]["status"] == "ready"

    found = json.loads(
        folio("search", "shaft seal hours", "--json", "-k", "1", data_dir=data).stdout
    )
    assert "9000" in found[0]["text"] and found[0]["page"] == 5
    assert set(found[0]) >= {"doc", "page", "page_label", "score", "text"}

    bad = tmp_path / "notes.pdf"
    bad.write_bytes(b"MZ\x90\x00" + b"\x00" * 200)
    mixed = folio("ingest", str(bad), str(manual), data_dir=data)
    assert mixed.returncode == 1
    assert "notes.pdf" in mixed.stdout

    assert folio("rm", "orion.pdf", data_dir=data).returncode == 0
    left = json.loads(folio("docs", "--json", data_dir=data).stdout)
    assert [d["file"] for d in left if d["status"] == "ready"] == []
    assert json.loads(folio("search", "shaft seal", "--json", data_dir=data).stdout) == []


def test_data_dir_before_or_after_the_command_keeps_indexes_apart(tmp_path):
    default, other = tmp_path / "default", tmp_path / "other"
    manual = good_pdf(tmp_path / "orion.pdf")

    after = folio("ingest", str(manual), "--data-dir", str(other), data_dir=default)
    assert after.returncode == 0, after.stderr
    in_other = json.loads(
        folio("docs", "--json", "--data-dir", str(other), data_dir=default).stdout
    )
    assert [d["file"] for d in in_other] == ["orion.pdf"]
    before = folio("--data-dir", str(other), "docs", "--json", data_dir=default)
    assert json.loads(before.stdout) == in_other
    assert json.loads(folio("docs", "--json", data_dir=default).stdout) == []


def test_parser_time_limit_fails_one_file_not_the_batch(tmp_path, embedder):
    # One dense page repeated 8,000 times (cheap to write, not to extract): reading the text
    # layer takes many times the 1 s limit on any machine.
    words = "impeller casing volute gasket bearing coupling flange strainer".split()
    page = "\n".join(" ".join(words[(j + k) % 8] for k in range(12)) for j in range(30))
    one = make_pdf(tmp_path / "one.pdf", [page])
    writer = PdfWriter()
    template = PdfReader(one).pages[0]
    for _ in range(8000):
        writer.add_page(template)
    slow = tmp_path / "slow.pdf"
    with open(slow, "wb") as f:
        writer.write(f)
    quick = good_pdf(tmp_path / "quick.pdf")
    settings = Settings(data_dir=tmp_path / "index", parse_timeout_s=1.0, max_pages=10_000)
    index, _ = open_index(settings)
    results = {
        r.name: r for r in ingest_paths([slow, quick], settings, index=index, embedder=embedder)
    }
    assert results["slow.pdf"].status == "failed"
    assert "longer than" in results["slow.pdf"].error
    assert results["quick.pdf"].status == "ingested"


def _parser_workers() -> list:
    import psutil

    return [
        p for p in psutil.Process().children()
        if "resource_tracker" not in " ".join(p.cmdline())
    ]  # fmt: skip


def _wait_for_parser_worker(timeout: float = 60.0):
    deadline = time.monotonic() + timeout
    while not (workers := _parser_workers()):
        assert time.monotonic() < deadline, "no parser worker started"
        time.sleep(0.05)
    return workers[0]


def test_a_parser_worker_killed_between_files_is_replaced(tmp_path):
    # pebble marks its pool broken when a worker dies with no file in hand (the OOM killer, an
    # operator, a crash before the main process read its acknowledgement on a loaded machine):
    # before, every later file failed with "Unexpected error within the Pool".
    from ingest.pipeline import Extractor

    extractor = Extractor(Settings(data_dir=tmp_path / "index"))
    try:
        future, spool = extractor.submit(good_pdf(tmp_path / "a.pdf"), "a")
        assert extractor.result(future, spool)["page_count"] == 5
        worker = _wait_for_parser_worker()
        worker.kill()  # not reaped here: pebble must see the exit code, as after the OOM killer
        time.sleep(1.0)  # pebble's manager notices the death (it looks every 0.1 s)
        future, spool = extractor.submit(good_pdf(tmp_path / "b.pdf"), "b")
        assert extractor.result(future, spool)["page_count"] == 5
        assert extractor.restarts == 1
    finally:
        extractor.close()


def test_a_parser_worker_killed_during_a_file_costs_a_retry_not_the_file(tmp_path):
    from ingest.pipeline import Extractor

    pages = [f"Page {n}: open valve V{n} and read the gauge." for n in range(400)]
    extractor = Extractor(Settings(data_dir=tmp_path / "index", max_pages=10_000))
    try:
        future, spool = extractor.submit(make_pdf(tmp_path / "long.pdf", pages), "long")
        worker = _wait_for_parser_worker()
        worker.kill()  # before or after the worker took the file: both must end in a retry
        assert extractor.result(future, spool)["page_count"] == 400
    finally:
        extractor.close()


def test_parse_past_the_memory_cap_says_so_and_the_batch_goes_on(tmp_path, embedder):
    # 600,000 paragraphs need ~300 MB of lxml nodes; the worker (~230 MB of address space once
    # its imports are loaded) is capped at 400 MB. libxml2 then fails with "unknown error".
    big = make_large_docx(tmp_path / "huge.docx", 600_000)
    quick = good_pdf(tmp_path / "quick.pdf")
    settings = Settings(data_dir=tmp_path / "index", parse_memory_mb=400)
    index, _ = open_index(settings)
    results = {
        r.name: r for r in ingest_paths([big, quick], settings, index=index, embedder=embedder)
    }
    assert results["huge.docx"].status == "failed"
    assert results["huge.docx"].error == (
        "too large to parse within the memory limit (400 MB, FOLIO_PARSE_MEMORY_MB)"
    )
    assert results["quick.pdf"].status == "ingested"


def _pending_chunks(registry: Path) -> int:
    if not registry.exists():
        return 0
    try:
        db = sqlite3.connect(registry, timeout=1)
        row = db.execute(
            "SELECT COUNT(*) FROM chunks c JOIN documents d ON d.id = c.doc_id"
            " WHERE d.status = 'pending'"
        ).fetchone()
        db.close()
        return row[0]
    except sqlite3.OperationalError:
        return 0


def test_kill_mid_ingest_then_rerun_completes(tmp_path):
    pages = [
        " ".join(
            f"Section {p} sentence {s} explains valve {p * 100 + s} adjustment." for s in range(40)
        )
        for p in range(120)
    ]
    big = make_pdf(tmp_path / "big.pdf", pages, title="Valve Manual")
    data = tmp_path / "index"
    env = {**os.environ, "FOLIO_DATA_DIR": str(data), "FOLIO_EMBED_BATCH_SIZE": "8"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "cli", "ingest", str(big)], cwd=ROOT, env=env,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    deadline = time.monotonic() + 300
    while _pending_chunks(data / "registry.sqlite3") == 0:
        assert proc.poll() is None, "ingest finished before it could be interrupted"
        assert time.monotonic() < deadline
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()

    # nothing of the half-written document is visible
    assert json.loads(folio("search", "valve adjustment", "--json", data_dir=data).stdout) == []
    docs = json.loads(folio("docs", "--json", data_dir=data).stdout)
    assert all(d["status"] != "ready" for d in docs)

    rerun = folio("ingest", str(big), "--json", data_dir=data)
    assert rerun.returncode == 0, rerun.stderr
    result = json.loads(rerun.stdout)[0]
    assert result["status"] == "ingested"

    settings = Settings(data_dir=data)
    index, _ = open_index(settings)
    (doc,) = index.documents()
    assert doc.status == "ready" and doc.chunks == result["chunks"]
    rows = index.db.execute("SELECT COUNT(*) FROM chunks").fetchone()[0]
    assert rows == doc.chunks == index.collection.count()  # no orphans from the killed run
    hits = json.loads(folio("search", "valve 1203 adjustment", "--json", data_dir=data).stdout)
    assert hits and hits[0]["doc"] == "big.pdf"
