"""Parsing real files generated with known content: locators, structure, and every refusal."""

from __future__ import annotations

import pickle
from pathlib import Path

import pytest

from ingest import parse as parse_module
from ingest.errors import IngestError
from ingest.parse import parse_file
from ingest.pdf import iter_clean_pdf_pages, iter_pdf_pages
from ingest.sniff import sniff
from tests.fixtures import (
    make_docx,
    make_elf,
    make_encrypted_pdf,
    make_pdf,
    make_png,
    make_scanned_pdf,
    make_truncated_pdf,
    make_zero_page_pdf,
    make_zip_bomb_docx,
)

LIMITS = {"max_pages": 5000, "max_bytes": 200 << 20, "max_unzipped_bytes": 500 << 20}
CORPUS = Path(__file__).resolve().parents[1] / ".corpus" / "dev"


def parse(path: Path, **overrides):
    return parse_file(path, **{**LIMITS, **overrides})


def refusal(path: Path, **overrides) -> str:
    with pytest.raises(IngestError) as info:
        parse(path, **overrides)
    return info.value.reason


def body(n: int) -> str:
    return f"Body text of page {n} explains the valve number {n * 11} in detail."


# --- PDF: locators -------------------------------------------------------------------------------


def test_pdf_pages_are_numbered_physically_with_printed_labels(tmp_path):
    texts = [body(n) for n in range(1, 6)]
    path = make_pdf(tmp_path / "m.pdf", texts, labels=[(0, "/r"), (2, "/D")])
    doc = parse(path)
    assert doc.kind == "pdf" and doc.page_count == 5 and doc.empty_pages == 0
    assert [p.number for p in doc.pages] == [1, 2, 3, 4, 5]
    assert [p.label for p in doc.pages] == ["i", "ii", "1", "2", "3"]
    for page, text in zip(doc.pages, texts, strict=True):
        assert page.text == text


def test_pdf_without_page_labels_has_no_labels(tmp_path):
    doc = parse(make_pdf(tmp_path / "m.pdf", [body(1), body(2)]))
    assert [p.label for p in doc.pages] == [None, None]


def test_pdf_label_prefixes_are_kept(tmp_path):
    path = make_pdf(tmp_path / "m.pdf", [body(1), body(2), body(3)], labels=[(0, "/A")])
    assert [p.label for p in parse(path).pages] == ["A", "B", "C"]


def test_running_header_and_page_footer_are_removed(tmp_path):
    texts = [body(n) for n in range(1, 7)]
    path = make_pdf(tmp_path / "m.pdf", texts, header="Acme AP-300 Manual", footer="Page {n}")
    doc = parse(path)
    assert len(doc.pages) == 6
    for n, page in enumerate(doc.pages, start=1):
        assert "Acme AP-300 Manual" not in page.text
        assert f"Page {n}" not in page.text
        assert page.text == texts[n - 1]


def test_short_pdf_keeps_its_repeated_lines(tmp_path):
    # three pages are too few to tell a running header from content
    path = make_pdf(tmp_path / "m.pdf", [body(1), body(2), body(3)], header="Acme Manual")
    assert all(p.text.startswith("Acme Manual") for p in parse(path).pages)


def test_line_end_hyphenation_is_joined(tmp_path):
    path = make_pdf(tmp_path / "m.pdf", ["The configu-\nration file is read at every restart."])
    text = parse(path).pages[0].text
    assert "configuration file" in text
    assert "configu-" not in text


def test_outline_gives_each_page_its_deepest_section(tmp_path):
    outline = [("Intro", 0, 1), ("Install", 1, 1), ("Wiring", 2, 2), ("Usage", 4, 1)]
    path = make_pdf(tmp_path / "m.pdf", [body(n) for n in range(1, 6)], outline=outline)
    sections = [p.section for p in parse(path).pages]
    assert sections == ["Intro", "Install", "Install > Wiring", "Install > Wiring", "Usage"]


def test_pages_before_the_first_outline_entry_have_no_section(tmp_path):
    path = make_pdf(tmp_path / "m.pdf", [body(1), body(2)], outline=[("Setup", 1, 1)])
    assert [p.section for p in parse(path).pages] == ["", "Setup"]


def test_pdf_title_from_metadata_else_first_line(tmp_path):
    titled = make_pdf(tmp_path / "a.pdf", [body(1)], title="AP-300 Service Guide")
    assert parse(titled).title == "AP-300 Service Guide"
    untitled = make_pdf(tmp_path / "b.pdf", ["Pump Handbook\n" + body(1)])
    assert parse(untitled).title == "Pump Handbook"
    prose = "Step 4: Open the vent. Step 5: Fill the casing with water. Step 6: Close the vent."
    no_heading = make_pdf(tmp_path / "service-notes.pdf", [prose + "\n" + body(1)])
    assert parse(no_heading).title == "service-notes"


@pytest.mark.parametrize(
    "address", ["about:blank", "file:///tmp/manual.html", "https://example.com/h7/index.html"]
)
def test_pdf_title_is_not_the_address_a_browser_printed(tmp_path, address):
    """Chromium writes the page's address as the title of HTML it prints to PDF."""
    path = make_pdf(tmp_path / "m.pdf", ["AeroSound H7\n" + body(1)], title=address)
    assert parse(path).title == "AeroSound H7"


def test_streaming_api_yields_pages_lazily_and_cleans_them(tmp_path):
    texts = [body(n) for n in range(1, 7)]
    path = make_pdf(tmp_path / "m.pdf", texts, footer="Page {n}")
    info, raw = iter_pdf_pages(path, max_pages=10)
    assert info.page_count == 6 and not info.has_labels
    raw_pages = list(raw)
    assert raw_pages[2].text.splitlines() == [texts[2], "Page 3"]
    info, pages = iter_clean_pdf_pages(path, max_pages=10)
    assert info.empty_pages == 0
    assert [p.text for p in pages] == texts


def test_parse_file_result_and_errors_pickle(tmp_path):
    # the pipeline runs parse_file in a worker process
    doc = parse(make_pdf(tmp_path / "m.pdf", [body(1)]))
    assert pickle.loads(pickle.dumps(doc)) == doc
    error = pickle.loads(pickle.dumps(IngestError("file is empty")))
    assert error.reason == "file is empty"


# --- PDF: refusals -------------------------------------------------------------------------------


def test_pdf_with_a_user_password_is_refused(tmp_path):
    reason = refusal(make_encrypted_pdf(tmp_path / "m.pdf", [body(1)], password="s3cret"))
    assert reason == "encrypted PDF: a password is required"


def test_pdf_encrypted_with_an_empty_password_opens(tmp_path):
    texts = [body(1), body(2), body(3)]
    path = make_pdf(tmp_path / "m.pdf", texts, password="", labels=[(0, "/R")])
    doc = parse(path)
    assert [p.text for p in doc.pages] == texts
    assert [p.label for p in doc.pages] == ["I", "II", "III"]


def test_truncated_pdf_is_refused(tmp_path):
    assert refusal(make_truncated_pdf(tmp_path / "m.pdf")).startswith("corrupt PDF")


def test_scanned_pdf_is_refused_with_counts(tmp_path):
    reason = refusal(make_scanned_pdf(tmp_path / "m.pdf", n_pages=3))
    assert reason == "scanned / no text layer — needs OCR (3 of 3 pages have no text)"


def test_scanned_pdf_with_a_text_footer_is_still_scanned(tmp_path):
    # the footer is a running line over a page image, so the pages hold no text of their own
    path = make_scanned_pdf(tmp_path / "m.pdf", n_pages=6, image=True, footer="Page {n}")
    reason = refusal(path)
    assert reason == "scanned / no text layer — needs OCR (6 of 6 pages have no text)"


@pytest.mark.parametrize(
    "lines",
    [
        [f"Short line {n}." for n in range(1, 7)],  # repeats with the page number
        ["Hello world."] * 6,  # the same line on every page
        [f"Step {n}: check it." for n in range(1, 7)],
    ],
    ids=["numbered", "identical", "steps"],
)
def test_pdf_of_one_short_line_a_page_is_text_not_a_scan(tmp_path, lines):
    doc = parse(make_pdf(tmp_path / "m.pdf", lines))
    assert [p.text for p in doc.pages] == lines
    assert doc.empty_pages == 0


def test_mostly_text_pdf_with_a_blank_page_is_kept_and_counted(tmp_path):
    texts = [body(1), "", body(3), body(4)]
    doc = parse(make_pdf(tmp_path / "m.pdf", texts))
    assert doc.empty_pages == 1
    assert [p.number for p in doc.pages] == [1, 3, 4]


def test_zero_page_pdf_says_it_has_no_pages_even_after_an_encrypted_one(tmp_path):
    # PDFium refuses an empty page tree and keeps its previous error code: "Success" in a
    # fresh process, "password required" after an encrypted file
    assert refusal(make_zero_page_pdf(tmp_path / "zero.pdf")) == "the PDF has no pages"
    assert "password" in refusal(make_encrypted_pdf(tmp_path / "locked.pdf", ["x"]))
    assert refusal(make_zero_page_pdf(tmp_path / "zero2.pdf")) == "the PDF has no pages"


def test_too_many_pages_is_refused(tmp_path):
    path = make_pdf(tmp_path / "m.pdf", [body(n) for n in range(1, 4)])
    assert refusal(path, max_pages=2) == "too many pages (3 > 2)"


def test_garbage_named_pdf_is_refused(tmp_path):
    path = tmp_path / "m.pdf"
    path.write_bytes(b"%PDF-1.7\n" + bytes(range(256)) * 40)
    assert refusal(path).startswith("corrupt PDF")


# --- sniffing and file-level refusals --------------------------------------------------------


def test_sniff_reads_content_not_names(tmp_path):
    pdf = make_pdf(tmp_path / "manual.txt", [body(1)])
    docx = make_docx(tmp_path / "manual.bin", [("para", "x")])
    html = tmp_path / "page.txt"
    html.write_text("<!DOCTYPE html><html><body><p>x</p></body></html>")
    md = tmp_path / "readme.md"
    md.write_text("# Title\n\ntext\n")
    latin = tmp_path / "notes.txt"
    latin.write_bytes("Caf\u00e9 cr\u00e8me, na\u00efve r\u00e9sum\u00e9\n".encode("latin-1"))
    script = tmp_path / "setup"
    script.write_text("#!/bin/sh\necho configure the pump\n")
    kinds = [sniff(p) for p in (pdf, docx, html, md, latin, script)]
    assert kinds == ["pdf", "docx", "html", "markdown", "text", "text"]


def test_executable_named_pdf_is_refused_as_executable(tmp_path):
    reason = refusal(make_elf(tmp_path / "manual.pdf"))
    assert "executable" in reason and "not a supported file type" in reason
    assert ".pdf" in reason


def test_image_named_txt_is_refused_as_image(tmp_path):
    reason = refusal(make_png(tmp_path / "notes.txt"))
    assert "image (PNG)" in reason


def test_html_error_page_named_pdf_is_refused(tmp_path):
    path = tmp_path / "manual.pdf"
    path.write_text("<html><body><h1>403 Forbidden</h1></body></html>")
    reason = refusal(path)
    assert "not a real .pdf file" in reason and "HTML" in reason


def test_binary_junk_is_refused(tmp_path):
    path = tmp_path / "notes.txt"
    path.write_bytes(bytes((i * 37 + 11) % 256 for i in range(4096)))
    assert "binary data" in refusal(path)


def test_other_zip_archives_are_refused(tmp_path):
    import zipfile

    path = tmp_path / "manual.docx"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("readme.txt", "hello")
    assert "ZIP archive" in refusal(path)


def test_empty_file_is_refused(tmp_path):
    path = tmp_path / "empty.pdf"
    path.touch()
    assert refusal(path) == "file is empty"


def test_whitespace_only_text_is_refused(tmp_path):
    path = tmp_path / "blank.txt"
    path.write_text(" \n\n\t\n")
    assert refusal(path) == "no text found in the file"


def test_oversized_file_is_refused_before_reading(tmp_path):
    path = make_pdf(tmp_path / "m.pdf", [body(1)])
    size = path.stat().st_size
    reason = refusal(path, max_bytes=100)
    assert reason.startswith("file too large (") and reason.endswith("> limit 100 bytes)")
    assert f"{size / 1024:.1f} KB" in reason or f"{size / 1024:.0f} KB" in reason


def test_symlink_loop_is_refused(tmp_path):
    (tmp_path / "a.pdf").symlink_to(tmp_path / "b.pdf")
    (tmp_path / "b.pdf").symlink_to(tmp_path / "a.pdf")
    assert refusal(tmp_path / "a.pdf") == "symlink loop"


def test_missing_file_is_refused(tmp_path):
    assert refusal(tmp_path / "nope.pdf") == "file not found"


def test_unexpected_parser_errors_are_wrapped(tmp_path, monkeypatch):
    def broken(path):
        raise ValueError("boom")

    monkeypatch.setattr(parse_module, "parse_text", broken)
    path = tmp_path / "notes.txt"
    path.write_text("some text")
    assert refusal(path) == "could not parse: ValueError: boom"


# --- DOCX ----------------------------------------------------------------------------------------

DOCX_BLOCKS = [
    ("title", "Pump Manual"),
    ("para", "Read this first."),
    ("heading", 1, "Install"),
    ("para", "Mount the pump on a flat surface."),
    ("heading", 2, "Wiring"),
    ("table", [["Wire", "Terminal"], ["red", "L1"], ["blue", "N"]]),
    ("page_break",),
    ("para", "Connect the earth wire last."),
    ("heading", 3, "Fuses"),
    ("para", "Use a 10 A fuse."),
    ("heading", 1, "Maintenance"),
    ("para", "Clean the filter monthly."),
]


def test_docx_sections_tables_and_page_breaks(tmp_path):
    doc = parse(make_docx(tmp_path / "m.docx", DOCX_BLOCKS))
    assert doc.kind == "docx" and doc.title == "Pump Manual"
    found = [(p.section, p.number) for p in doc.pages]
    assert found == [
        ("Pump Manual", 1),
        ("Install", 1),
        ("Install > Wiring", 1),
        ("Install > Wiring", 2),
        ("Install > Wiring > Fuses", 2),
        ("Maintenance", 2),
    ]
    wiring = doc.pages[2].text
    assert "Wire | Terminal\nred | L1\nblue | N" in wiring
    assert doc.pages[3].text == "Connect the earth wire last."
    assert doc.page_count == 2


def test_docx_without_page_markers_has_no_page_numbers(tmp_path):
    blocks = [block for block in DOCX_BLOCKS if block[0] != "page_break"]
    doc = parse(make_docx(tmp_path / "m.docx", blocks))
    assert {p.number for p in doc.pages} == {None}
    assert doc.page_count is None
    assert [p.section for p in doc.pages][-1] == "Maintenance"


def test_docx_counts_rendered_page_breaks_once(tmp_path):
    blocks = [
        ("para", "Page one text."),
        ("rendered_page", "Page two text, where Word's layout broke the page."),
        ("page_break",),
        ("rendered_page", "Page three text after an explicit break."),
    ]
    doc = parse(make_docx(tmp_path / "m.docx", blocks))
    assert [(p.number, p.text.split(" text")[0]) for p in doc.pages] == [
        (1, "Page one"),
        (2, "Page two"),
        (3, "Page three"),
    ]


def test_docx_heading_directly_under_its_parent_shares_its_page(tmp_path):
    blocks = [
        ("heading", 1, "Filters"),
        ("heading", 2, "Replacing"),
        ("para", "Twist the cover."),
        ("heading", 2, "Obsolete"),
        ("heading", 2, "Cleaning"),
        ("para", "Rinse with water."),
    ]
    doc = parse(make_docx(tmp_path / "m.docx", blocks))
    assert [(p.section, p.text) for p in doc.pages] == [
        ("Filters > Replacing", "Filters\n\nReplacing\n\nTwist the cover."),
        ("Filters > Obsolete", "Obsolete"),
        ("Filters > Cleaning", "Cleaning\n\nRinse with water."),
    ]


def test_docx_title_from_core_properties_first(tmp_path):
    doc = parse(make_docx(tmp_path / "m.docx", DOCX_BLOCKS, title="Official Title"))
    assert doc.title == "Official Title"


def test_zip_bomb_docx_is_refused_by_ratio(tmp_path):
    reason = refusal(make_zip_bomb_docx(tmp_path / "bomb.docx"))
    assert "zip bomb" in reason and reason.startswith("DOCX expands")


def test_zip_bomb_docx_is_refused_by_size(tmp_path):
    reason = refusal(make_zip_bomb_docx(tmp_path / "bomb.docx"), max_unzipped_bytes=10 << 20)
    assert reason == "DOCX expands to 64 MB (zip bomb?)"


def test_corrupt_docx_is_refused(tmp_path):
    good = make_docx(tmp_path / "m.docx", DOCX_BLOCKS).read_bytes()
    path = tmp_path / "cut.docx"
    path.write_bytes(good[: len(good) // 2])
    assert refusal(path).startswith("corrupt")


# --- text, Markdown, HTML --------------------------------------------------------------------


def test_text_form_feeds_are_pages(tmp_path):
    path = tmp_path / "notes.txt"
    path.write_text("First page.\n\fSecond page.\n\fThird page.\n")
    doc = parse(path)
    assert [(p.number, p.text) for p in doc.pages] == [
        (1, "First page."),
        (2, "Second page."),
        (3, "Third page."),
    ]


def test_text_without_form_feeds_is_one_page(tmp_path):
    path = tmp_path / "notes.txt"
    path.write_text("One paragraph.\n\n\n\nAnother   paragraph.\n")
    doc = parse(path)
    assert [(p.number, p.text) for p in doc.pages] == [
        (None, "One paragraph.\n\nAnother paragraph.")
    ]
    assert doc.title == "notes"


def test_markdown_headings_are_sections(tmp_path):
    path = tmp_path / "guide.md"
    path.write_text(
        "# Pump Guide\n\nIntro.\n\n## Install\n\nMount it.\n\n```sh\n# not a heading\nmake\n```\n"
        "\n### Wiring\n\nRed to L1.\n\n## Usage ##\n\nPress start.\n"
    )
    doc = parse(path)
    assert doc.kind == "markdown" and doc.title == "Pump Guide"
    assert [p.section for p in doc.pages] == [
        "Pump Guide",
        "Pump Guide > Install",
        "Pump Guide > Install > Wiring",
        "Pump Guide > Usage",
    ]
    assert "# not a heading" in doc.pages[1].text
    assert doc.pages[2].text == "Wiring\n\nRed to L1."


def test_markdown_heading_directly_under_its_parent_shares_its_page(tmp_path):
    path = tmp_path / "guide.md"
    path.write_text("Pump Guide\n==========\n\nInstall\n-------\n\nMount it.\n")
    doc = parse(path)
    assert [(p.section, p.text) for p in doc.pages] == [
        ("Pump Guide > Install", "Pump Guide\n\nInstall\n\nMount it.")
    ]


def test_html_sections_tables_and_dropped_chrome(tmp_path):
    path = tmp_path / "page.html"
    path.write_text(
        "<!DOCTYPE html><html><head><title>Pump  Help</title><style>p{}</style></head><body>"
        "<nav>Home | Products</nav><h1>Pump</h1><p>Intro <b>bold</b> text.</p>"
        "<script>track()</script><h2>Specs</h2><table><tr><th>Flow</th><th>Head</th></tr>"
        "<tr><td>40 l/min</td><td>5 m</td></tr></table><h2>Care</h2><ul><li>Drain</li></ul>"
        "</body></html>"
    )
    doc = parse(path)
    assert doc.kind == "html" and doc.title == "Pump Help"
    assert [p.section for p in doc.pages] == ["Pump", "Pump > Specs", "Pump > Care"]
    assert doc.pages[0].text == "Pump\n\nIntro bold text."
    assert "Flow | Head\n40 l/min | 5 m" in doc.pages[1].text
    everything = "\n".join(p.text for p in doc.pages)
    assert "track()" not in everything and "Products" not in everything and "p{}" not in everything


# --- the development corpus (skipped when absent) -------------------------------------------


@pytest.mark.skipif(not CORPUS.is_dir(), reason="no .corpus/dev")
@pytest.mark.parametrize("name", ["R-admin.pdf", "nut-user-manual.pdf", "gnuplot.pdf"])
def test_dev_corpus_pdfs_parse_with_labels_sections_and_no_running_heads(name):
    doc = parse(CORPUS / name)
    assert doc.page_count and doc.empty_pages < doc.page_count / 10
    assert sum(1 for p in doc.pages if p.section) > len(doc.pages) / 2
    first_lines = [p.text.splitlines()[0] for p in doc.pages]
    most_common = max(set(first_lines), key=first_lines.count)
    assert first_lines.count(most_common) < len(first_lines) / 10
