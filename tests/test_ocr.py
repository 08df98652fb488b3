"""OCR of scans and the one registry of formats, against real parts.

A 16-page scanned manual (English and Chinese pages printed with real fonts, turned into noisy,
skewed JPEG page images, no text layer) goes through the real parser worker with RapidOCR's
packaged PP-OCRv4 models, the real embedder and Chroma; a PNG scan goes through the web upload;
FOLIO_OCR=false refuses both. The format registry is checked against sniffing and the folder
walk.
"""

from __future__ import annotations

import io
import json
import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from folio.index import SCHEMA_VERSION, Index, _chunk
from folio.settings import Settings
from folio.types import Chunk, Page
from ingest import formats
from ingest.chunk import chunk_page
from ingest.errors import IngestError
from ingest.ocr import OcrLine, engine, join_lines
from ingest.parse import parse_file
from ingest.pipeline import FileStatus, Progress, discover, ingest_paths
from ingest.sniff import sniff
from retrieval.search import search
from services.build import open_index
from tests.fixtures import (
    SCAN_MANUAL,
    SCAN_QUESTIONS,
    make_docx,
    make_pdf,
    make_scan_image,
    make_scanned_pdf,
    make_scanned_text_pdf,
    scan_images,
)

ROOT = Path(__file__).resolve().parent.parent
LIMITS = {"max_pages": 5000, "max_bytes": 200 << 20, "max_unzipped_bytes": 500 << 20}


def _words(text: str) -> str:
    """Case and spacing as OCR may vary them ("HUMIDiTY", "20厘米" for "20 厘米")."""
    return "".join(text.split()).lower()


@pytest.fixture(scope="module")
def embedder():
    from folio.embedding import Embedder

    return Embedder("all-MiniLM-L6-v2")


# --- the 16-page scanned manual -----------------------------------------------------------------


@pytest.fixture(scope="module")
def scanned(tmp_path_factory, embedder):
    """The scan ingested once: (settings, index, result, progress notes, seconds)."""
    root = tmp_path_factory.mktemp("scan")
    pdf = make_scanned_text_pdf(root / "kestrel-k9-service.pdf")
    settings = Settings(data_dir=root / "index")
    index, _ = open_index(settings)
    notes: list[str] = []

    def progress(p: Progress) -> None:
        if p.phase == "ocr":
            notes.append(p.note)

    started = time.perf_counter()
    (result,) = ingest_paths([pdf], settings, index=index, embedder=embedder, progress=progress)
    yield settings, index, result, notes, time.perf_counter() - started
    index.close()


def test_scanned_pdf_is_read_with_ocr_page_by_page(scanned):
    _, index, result, notes, _ = scanned
    assert result.status == FileStatus.INGESTED, result.error
    assert (result.pages, result.ocr_pages, result.empty_pages) == (16, 16, 0)
    assert result.title == "Kestrel K-9 Dehumidifier - Service Manual"  # its first OCR line
    # progress came from inside the worker, page by page, in order
    assert notes and notes[-1] == "OCR page 16/16", notes
    seen = [int(n.split()[2].split("/")[0]) for n in notes]
    assert seen == sorted(set(seen)) and len(seen) >= 8, notes
    rows = index.db.execute(
        "SELECT page_start, text, ocr FROM chunks WHERE doc_id=? ORDER BY ord", (result.doc_id,)
    ).fetchall()
    assert {r["ocr"] for r in rows} == {1}
    assert {r["page_start"] for r in rows} == set(range(1, 17))
    text = {n: _words(" ".join(r["text"] for r in rows if r["page_start"] == n)) for n in (9, 12)}
    assert _words("hold the DEFROST button for eight seconds until the amber lamp") in text[9]
    assert _words("若任一读数为无穷大，说明绕组断路，需要更换压缩机。") in text[12]
    # the printed running header and page numbers were removed like a text PDF's
    everything = " ".join(r["text"] for r in rows)
    assert "Dehumidifier - Service" not in everything and "Page 9" not in everything


@pytest.mark.parametrize("q", SCAN_QUESTIONS, ids=lambda q: q.question[:24])
def test_questions_about_scanned_pages_find_their_page(scanned, embedder, q):
    """BM25 over the OCR text ranks the page first; the hybrid has it in its top 3 (the default
    embedder is English-only, so for Chinese questions the dense half is noise)."""
    settings, index, _, _, _ = scanned
    lexical = search(index, embedder, settings, q.question, k=3, mode="bm25").passages
    assert lexical[0].page == q.page, [(p.page, p.body[:60]) for p in lexical]
    hybrid = search(index, embedder, settings, q.question, k=3).passages
    hit = next(p for p in hybrid if p.page == q.page)
    assert hit.ocr and hit.chunk.ocr
    assert _words(q.words) in _words(hit.body)


def test_question_about_a_sentence_on_page_9_finds_page_9(scanned, embedder):
    settings, index, _, _, _ = scanned
    q = SCAN_QUESTIONS[0]
    assert q.page == 9
    top = search(index, embedder, settings, q.question, k=3).passages[0]
    assert (top.page, top.ocr, top.doc_name) == (9, True, "kestrel-k9-service.pdf")


def test_passages_and_citations_say_ocr(scanned, embedder):
    from services.answer import Citation, passage_dict

    settings, index, _, _, _ = scanned
    top = search(index, embedder, settings, SCAN_QUESTIONS[0].question, k=1).passages[0]
    assert passage_dict(top)["ocr"] is True
    assert Citation(1, "d", "i", "t", 9, None, "p. 9", "x", "c", ocr=top.ocr).ocr is True


# --- images and the switch ------------------------------------------------------------------------


def test_png_jpeg_and_multipage_tiff_scans_parse(tmp_path):
    png = make_scan_image(tmp_path / "e17.png", [SCAN_MANUAL[8]])
    jpeg = make_scan_image(tmp_path / "fan.jpg", [SCAN_MANUAL[10]], fmt="JPEG")
    tiff = make_scan_image(tmp_path / "two.tiff", [SCAN_MANUAL[6], SCAN_MANUAL[10]], fmt="TIFF")
    pages: list[tuple[int, int]] = []
    docs = [
        parse_file(p, **LIMITS, ocr=True, progress=lambda n, t: pages.append((n, t)))
        for p in (png, jpeg, tiff)
    ]
    assert [d.kind for d in docs] == ["png", "jpeg", "tiff"]
    assert pages == [(1, 1), (1, 1), (1, 2), (2, 2)]
    assert [[p.number for p in d.pages] for d in docs] == [[1], [1], [1, 2]]
    assert all(p.ocr for d in docs for p in d.pages)
    assert _words("To clear error E17, hold the DEFROST button") in _words(docs[0].pages[0].text)
    assert _words("18 to 22 ohms") in _words(docs[1].pages[0].text)
    assert _words("每运行两周") in _words(docs[2].pages[0].text)
    assert _words("18 to 22 ohms") in _words(docs[2].pages[1].text)


def test_ocr_off_refuses_scans_with_needs_ocr(tmp_path, monkeypatch, embedder):
    monkeypatch.setenv("FOLIO_OCR", "false")
    settings = Settings(data_dir=tmp_path / "index")
    assert settings.ocr is False
    src = tmp_path / "in"
    src.mkdir()
    make_scanned_text_pdf(src / "scan.pdf", SCAN_MANUAL[:3])
    make_scan_image(src / "scan.png", [SCAN_MANUAL[8]])
    index, _ = open_index(settings)
    results = {r.name: r for r in ingest_paths([src], settings, index=index, embedder=embedder)}
    assert results["scan.pdf"].status == FileStatus.FAILED
    assert results["scan.pdf"].error == (
        "scanned / no text layer — needs OCR (3 of 3 pages have no text)"
    )
    assert results["scan.png"].status == FileStatus.FAILED
    assert "image (PNG)" in results["scan.png"].error
    assert "needs OCR" in results["scan.png"].error
    assert "FOLIO_OCR" in results["scan.png"].error


def test_scan_without_any_text_fails_loudly_with_ocr_on(tmp_path):
    with pytest.raises(IngestError) as info:
        parse_file(make_scanned_pdf(tmp_path / "lines.pdf", 3), **LIMITS, ocr=True)
    assert "OCR found no text" in info.value.reason


def test_text_pdf_never_loads_the_ocr_models(tmp_path):
    """A PDF with a text layer is read from it, even with OCR on; its pages say so."""
    pdf = make_pdf(tmp_path / "m.pdf", ["Body text of page one.", "", "Page three text."])
    code = (
        "import sys; from ingest.parse import parse_file;"
        f"d = parse_file({str(pdf)!r}, max_pages=9, max_bytes=1<<30, max_unzipped_bytes=1<<30,"
        " ocr=True);"
        "print([(p.number, p.ocr) for p in d.pages], d.ocr_pages, d.empty_pages,"
        " 'rapidocr_onnxruntime' in sys.modules)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True
    ).stdout
    # the blank page 2 was rendered and found blank without running the models
    assert out.strip() == "[(1, False), (3, False)] 0 1 False"


# --- pieces ---------------------------------------------------------------------------------------


def test_boxes_join_into_lines_top_to_bottom_left_to_right():
    boxes = [
        OcrLine("world", 100, 130, 400),
        OcrLine("second line", 140, 170, 50),
        OcrLine("hello", 102, 128, 50),
        OcrLine("连接", 180, 210, 300),
        OcrLine("路由器", 182, 212, 50),
        OcrLine("E42", 181, 211, 500),
    ]
    assert [line.text for line in join_lines(boxes)] == [
        "hello world",
        "second line",
        "路由器连接 E42",
    ]


def test_recogniser_spaces_restored_between_latin_words(monkeypatch):
    """At 8 pt the recogniser reads the header as one word; the ink gaps put the spaces back."""
    import numpy as np

    from ingest import ocr

    image = np.asarray(scan_images(["x"], header="Kestrel K-9 Dehumidifier - Service Manual")[0])
    header = image[: image.shape[0] // 16]  # the header line alone
    assert engine().read(header) == "Kestrel K-9 Dehumidifier - Service Manual"
    monkeypatch.setattr(ocr, "WORD_GAP", 99.0)
    assert engine().read(header).count(" ") < 4  # what the recogniser read by itself


def test_pages_carry_ocr_to_chunks():
    page = Page("Scanned text. Second sentence here.", number=4, ocr=True)
    (chunk,) = chunk_page(page, doc_id="d", first_ord=0, count_tokens=lambda t: [5] * len(t))
    assert chunk.ocr and chunk.page_start == 4


def test_registry_migration_adds_the_ocr_column(tmp_path):
    settings = Settings(data_dir=tmp_path)
    index = Index(settings, model_name="m")
    index.db.execute(
        "INSERT INTO chunks (id, doc_id, ord, text, page_start, section, char_start, char_end,"
        " tokens) VALUES ('d-00000', 'd', 0, 'old text', 3, '', 0, 8, 2)"
    )
    index.close()
    db = sqlite3.connect(settings.registry_path)  # back to the schema before OCR
    db.execute("ALTER TABLE chunks DROP COLUMN ocr")
    db.execute("PRAGMA user_version = 2")  # migration 3 added the column
    db.commit()
    db.close()
    index = Index(settings, model_name="m")
    assert index.db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    row = index.db.execute("SELECT * FROM chunks").fetchone()
    assert _chunk(row) == Chunk("d-00000", "d", 0, "old text", 3, None, None, None, "", 0, 8, 2)
    assert _chunk(row).ocr is False
    # a row selected without the column still maps
    partial = index.db.execute(
        "SELECT id, doc_id, ord, text, page_start, page_end, label_start,"
        " label_end, section, char_start, char_end, tokens FROM chunks"
    )
    assert _chunk(partial.fetchone()).ocr is False  # fmt: skip
    index.close()


# --- the format registry --------------------------------------------------------------------------


def _sample(path: Path, kind: str) -> Path:
    """A small real file of this kind at `path`."""
    if kind == "pdf":
        return make_pdf(path, ["A page of text."])
    if kind == "docx":
        return make_docx(path, [("para", "A paragraph.")])
    if kind in ("png", "jpeg", "tiff"):
        from PIL import Image

        buf = io.BytesIO()
        Image.new("L", (40, 20), 255).save(buf, format=kind.upper())
        path.write_bytes(buf.getvalue())
        return path
    content = {"html": "<p>Some <b>text</b>.</p>", "markdown": "# Title\n\ntext\n"}
    path.write_text(content.get(kind, "Plain text.\n"))
    return path


def test_every_suffix_belongs_to_exactly_one_format():
    seen: dict[str, str] = {}
    for fmt in formats.FORMATS:
        assert fmt.suffixes, fmt.kind
        for suffix in fmt.suffixes:
            assert suffix.startswith(".") and suffix == suffix.lower(), suffix
            assert suffix not in seen, (suffix, seen.get(suffix), fmt.kind)
            seen[suffix] = fmt.kind
        assert callable(fmt.load_parser()), fmt.kind
        assert "/" in fmt.media_type and fmt.served_as
    assert set(seen) == formats.DOCUMENT_SUFFIXES
    assert len(set(formats.KINDS)) == len(formats.FORMATS)
    assert formats.by_kind("html").served_as.startswith("text/plain")  # never served as HTML


def test_sniffing_and_the_folder_walk_agree(tmp_path):
    """Every suffix of every format is walked, and a file of that format with that suffix sniffs
    as it; `.xhtml` and `.mdown`, which the walk used to skip, included."""
    made = {}
    for fmt in formats.FORMATS:
        for n, suffix in enumerate(fmt.suffixes):
            made[_sample(tmp_path / f"{fmt.kind}{n}{suffix}", fmt.kind)] = fmt.kind
    found = list(discover([tmp_path]))
    assert {f.path for f in found} == set(made)
    assert all(f.error is None and f.skipped is None for f in found)
    for path, kind in made.items():
        assert sniff(path) == kind, path.name
    assert {".xhtml", ".mdown"} <= formats.DOCUMENT_SUFFIXES


def test_upload_names_follow_the_registry():
    from services.uploads import with_extension

    assert with_extension("scan", "png") == "scan.png"
    assert with_extension("scan.JPG", "jpeg") == "scan.JPG"
    assert with_extension("page.xhtml", "html") == "page.xhtml"
    assert with_extension("notes.log", "text") == "notes.log.txt"
    assert with_extension("manual.pdf", "tiff") == "manual.pdf.tif"


def test_corrupt_image_is_refused_when_sniffed(tmp_path):
    path = tmp_path / "manual.png"
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 200)
    with pytest.raises(IngestError) as info:
        sniff(path)
    assert info.value.reason.startswith("corrupt image (PNG)")


def test_unknown_suffixes_are_reported_as_skipped_by_name(tmp_path, embedder):
    src = tmp_path / "in"
    (src / "sub").mkdir(parents=True)
    (src / "parts.xlsx").write_bytes(b"PK\x03\x04 not really")
    (src / "sub" / "README").write_text("no extension")
    (src / ".hidden.txt").write_text("hidden files are passed over silently")
    (src / "notes.md").write_text("# Notes\n\nThe valve is blue.\n")
    settings = Settings(data_dir=tmp_path / "index")
    index, _ = open_index(settings)
    results = {r.name: r for r in ingest_paths([src], settings, index=index, embedder=embedder)}
    assert set(results) == {"parts.xlsx", "README", "notes.md"}
    assert results["notes.md"].status == FileStatus.INGESTED
    for name, why in (("parts.xlsx", ".xlsx files are"), ("README", "without an extension")):
        assert results[name].status == FileStatus.SKIPPED == "skipped"
        assert why in results[name].error and "Folio reads" in results[name].error
    assert [d.name for d in index.documents()] == ["notes.md"]  # nothing recorded for skips


def test_cli_lists_skipped_files_and_ocr_pages(tmp_path):
    src = tmp_path / "in"
    src.mkdir()
    make_scan_image(src / "e17.png", [SCAN_MANUAL[8]])
    (src / "wiring.dwg").write_bytes(b"AC1032 drawing")
    env = {**os.environ, "FOLIO_DATA_DIR": str(tmp_path / "index"), "HF_HUB_OFFLINE": "1"}
    env.pop("FOLIO_OCR", None)
    run = subprocess.run(
        [sys.executable, "-m", "cli", "ingest", str(src), "--json"],
        capture_output=True, text=True, env=env, cwd=ROOT, timeout=600,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    rows = {r["name"]: r for r in json.loads(run.stdout)}
    assert rows["wiring.dwg"]["status"] == "skipped" and ".dwg" in rows["wiring.dwg"]["error"]
    assert rows["e17.png"]["status"] == "ingested" and rows["e17.png"]["ocr_pages"] == 1
    table = subprocess.run(
        [sys.executable, "-m", "cli", "ingest", str(src)],
        capture_output=True, text=True, env={**env, "COLUMNS": "200"}, cwd=ROOT, timeout=600,
    )  # fmt: skip
    assert "wiring.dwg" in table.stdout and "skipped" in table.stdout
    assert "0 ingested, 1 unchanged, 1 skipped, 0 failed" in table.stdout


# --- the web upload -----------------------------------------------------------------------------


def test_png_scan_upload_is_ingested(tmp_path):
    from fastapi.testclient import TestClient

    from tests.web.conftest import wait_job, web_settings
    from web.app import create_app

    png = make_scan_image(tmp_path / "fan motor scan", [SCAN_MANUAL[10]])  # no extension
    with TestClient(create_app(web_settings(tmp_path / "index"))) as client:
        r = client.post(
            "/api/v1/documents",
            files={"file": ("fan motor scan", png.read_bytes(), "application/octet-stream")},
        )
        assert r.status_code == 202, r.text
        job = wait_job(client, r.json()["job_id"])
        assert job["status"] == "done", job
        (doc,) = client.get("/api/v1/documents").json()["documents"]
        assert (doc["file"], doc["pages"]) == ("fan motor scan.png", 1)
        original = client.get(f"/files/{doc['id']}")
        assert original.headers["content-type"] == "image/png"
        assert original.content == png.read_bytes()
        hits = client.post("/api/v1/search", json={"query": "fan motor winding resistance"})
        top = hits.json()["passages"][0]
        assert top["page"] == 1 and "18 to 22 ohms" in top["text"]
