"""A consumer manual as Chromium prints it (two columns, tables, captions, step lists, running
header and page footer), parsed and chunked: headings found by type size start the chunks and
name their sections, running lines are gone, table rows stay on their line.

Uses the bench's page language (`tests/bench/product_manuals.py`) on four of the headset
manual's pages; needs Playwright and Debian's Chromium, as the browser tests do.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

from ingest.chunk import chunk_pages
from ingest.pdf import parse_pdf

CHROMIUM = Path("/usr/bin/chromium")
if not CHROMIUM.exists():
    pytest.skip("needs Debian chromium at /usr/bin/chromium", allow_module_level=True)
if importlib.util.find_spec("playwright") is None:
    pytest.skip("needs playwright (pip install playwright)", allow_module_level=True)

sys.path.insert(0, str(Path(__file__).parent / "bench"))
import product_manuals as pm  # noqa: E402


def words(texts: list[str]) -> list[int]:
    return [len(t.split()) for t in texts]


@pytest.fixture(scope="module")
def manual(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from playwright.sync_api import sync_playwright

    path = tmp_path_factory.mktemp("manual") / "h7.pdf"
    pages = [pm.H7[i - 1] for i in (4, 5, 6, 10)]  # charging, pairing, controls, troubleshooting
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=pm.ARGS, headless=True)
        try:
            page = browser.new_page()
            page.set_content(pm.page_html(pages, "'DejaVu Sans', sans-serif", "en"))
            page.pdf(
                path=str(path), format="A5", display_header_footer=True,
                header_template=pm._header("AeroSound H7 User Manual"),
                footer_template=pm._footer("en"),
                margin={"top": "16mm", "bottom": "15mm", "left": "11mm", "right": "11mm"},
            )  # fmt: skip
        finally:
            browser.close()
    return path


def test_running_lines_go_and_the_title_is_not_the_browser_address(manual: Path):
    doc = parse_pdf(manual, max_pages=10)
    assert doc.title == "Charging"  # first line of the first page, not "about:blank"
    assert len(doc.pages) == 4
    for page in doc.pages:
        assert "User Manual" not in page.text and "Rev. 2026-03" not in page.text
        assert f"{page.number} / 4" not in page.text


def test_headings_of_every_level_are_found_and_body_lines_are_not(manual: Path):
    pages = parse_pdf(manual, max_pages=10).pages
    assert pages[1].headings == (
        "Pairing",
        "Pairing with a phone for the first time",  # wrapped in its column
        "Pairing a second device",
        "Reconnecting",
        "Clearing the pairing list",
    )
    assert pages[0].headings == ("Charging", "Fast charging", "Checking the battery level")


def test_chunks_follow_the_sections_of_a_two_column_page(manual: Path):
    pages = parse_pdf(manual, max_pages=10).pages
    chunks = list(chunk_pages(pages, doc_id="d", count_tokens=words, max_tokens=96, overlap=16))
    pairing = [c for c in chunks if c.page_start == 2]
    assert pairing[0].text.startswith("Pairing\n")
    second = next(c for c in pairing if "(multipoint)" in c.text)
    assert second.section == "Pairing a second device"
    assert second.text.startswith("Pairing a second device")
    # a step list stays with its heading: the first steps are in the chunk that names them
    first = next(c for c in pairing if "Make sure the headset is off" in c.text)
    assert "Pairing with a phone for the first" in first.text


def test_table_rows_stay_on_their_line(manual: Path):
    controls = parse_pdf(manual, max_pages=10).pages[2].text
    assert "Previous track Press the power button three times" in controls.split("\n")


def test_headings_the_outline_names_are_left_to_the_outline(manual: Path, tmp_path: Path):
    """A book's bookmarks already name its sections; only the headings they leave out
    (sub-headings of a chapter-level outline) start chunks."""
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter(clone_from=PdfReader(str(manual)))
    # numbered in the outline, not on the page
    writer.add_outline_item(title="2 Pairing", page_number=1)
    outlined = tmp_path / "outlined.pdf"
    with open(outlined, "wb") as f:
        writer.write(f)
    pages = parse_pdf(outlined, max_pages=10).pages
    assert "Pairing" not in pages[1].headings and "Reconnecting" in pages[1].headings
    chunks = list(chunk_pages(pages, doc_id="d", count_tokens=words, max_tokens=96, overlap=16))
    sections = {c.section for c in chunks if c.page_start == 2}
    assert "2 Pairing > Pairing a second device" in sections
    assert all(s.startswith("2 Pairing") for s in sections)


@pytest.mark.parametrize("at_headings", [False, True])
def test_ingest_starts_chunks_at_headings_only_when_the_setting_says_so(
    manual: Path, tmp_path: Path, at_headings: bool
):
    from folio.settings import Settings
    from ingest.pipeline import ingest_paths
    from services.build import open_index

    settings = Settings(data_dir=tmp_path / "index", chunk_at_headings=at_headings)
    index, embedder = open_index(settings)
    try:
        ingest_paths([manual], settings, index=index, embedder=embedder)
        sections = {s for (s,) in index.db.execute("SELECT section FROM chunks")}
    finally:
        index.close()
    named = "Pairing a second device" in sections
    assert named is at_headings, sections
