"""The Chinese fixtures read back by Folio's own parsers: what the tests write is what Folio reads.

The router manual of tests/fixtures.py as a PDF (Noto Sans CJK SC, text extracted by PDFium) and
as a DOCX: pages, page numbers, section paths, running lines, the English terms inside Chinese
sentences, and the page every question in `ZH_QUESTIONS` points at. Also the Chinese sample
manual that `make run` ingests.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from ingest.parse import parse_file
from tests import fixtures
from tests.fixtures import (
    ZH_MANUAL,
    ZH_MANUAL_HEADER,
    ZH_MANUAL_TITLE,
    ZH_QUESTIONS,
    MissingFontError,
    make_pdf,
    make_zh_manual_docx,
    make_zh_manual_pdf,
    zh_manual_page_texts,
)

LIMITS = {"max_pages": 5000, "max_bytes": 200 << 20, "max_unzipped_bytes": 500 << 20}
SAMPLE = Path(__file__).resolve().parents[1] / "data" / "samples" / "qingsong-lp2200-manual-zh.pdf"
PAGES = range(1, len(ZH_MANUAL) + 1)


def squash(text: str) -> str:
    """Text without whitespace: how a PDF's line breaks and spacing are set aside."""
    return "".join(text.split())


@pytest.fixture(scope="module")
def pdf_doc(tmp_path_factory):
    return parse_file(make_zh_manual_pdf(tmp_path_factory.mktemp("zh") / "xr500.pdf"), **LIMITS)


@pytest.fixture(scope="module")
def docx_doc(tmp_path_factory):
    return parse_file(make_zh_manual_docx(tmp_path_factory.mktemp("zh") / "xr500.docx"), **LIMITS)


def page_texts(doc) -> dict[int, str]:
    """The text by page number (a DOCX has a Page per run of one section on one page)."""
    texts: dict[int, list[str]] = {}
    for page in doc.pages:
        texts.setdefault(page.number, []).append(page.text)
    return {number: "\n".join(parts) for number, parts in texts.items()}


# --- PDF -----------------------------------------------------------------------------------------


def test_pdf_pages_come_back_verbatim_with_their_numbers(pdf_doc):
    expected = zh_manual_page_texts()
    assert pdf_doc.kind == "pdf" and pdf_doc.title == ZH_MANUAL_TITLE
    assert pdf_doc.page_count == 9 and pdf_doc.empty_pages == 0 and pdf_doc.warnings == []
    assert [p.number for p in pdf_doc.pages] == list(PAGES)
    assert [p.label for p in pdf_doc.pages] == [None] * 9
    for page, text in zip(pdf_doc.pages, expected, strict=True):
        assert squash(page.text) == squash(text), f"page {page.number}"


def test_pdf_lines_keep_their_spacing_and_english_terms_whole(pdf_doc):
    # Every extracted line is a verbatim piece of what was drawn: PDFium adds no space between
    # Han characters and drops none around English words (table cells are drawn in columns).
    for page, text in zip(pdf_doc.pages, zh_manual_page_texts(), strict=True):
        drawn = text.replace("\t", " ")
        for line in page.text.split("\n"):
            assert line in drawn, f"page {page.number}: {line!r}"
    terms = {
        2: ["http://192.168.10.1", "PPPoE", "DHCP"],
        3: ["WPA2-PSK", "WPA3-SAE", "/etc/config/wireless", "SSID"],
        5: ["XR500_fw_v2.1.8.bin", "SHA-256", "/tmp"],
        6: ["RESET", "firstboot", "reboot"],
        7: ["E17", "E42", "E63", "E88"],
        9: ["support@xinghe.example", "serial number"],
    }
    for number, words in terms.items():
        for word in words:
            assert word in pdf_doc.pages[number - 1].text, (number, word)


def test_pdf_running_header_and_page_footer_are_removed(pdf_doc):
    for page in pdf_doc.pages:
        text = squash(page.text)
        assert squash(ZH_MANUAL_HEADER) not in text and "文档编号" not in text
        assert f"第{page.number}页" not in text


def test_pdf_sections_come_from_the_chinese_outline(pdf_doc):
    # a page's section is the deepest outline entry in force at it, as for English PDFs
    assert [p.section for p in pdf_doc.pages] == [
        "第1章 产品简介 > 1.2 接口与指示灯",
        "第2章 安装与连接",
        "第3章 无线设置 > 3.2 命令行配置（高级用户）",
        "第4章 访客网络与家长控制 > 4.2 家长控制",
        "第5章 固件升级",
        "第6章 恢复出厂设置",
        "第7章 故障排除与错误代码",
        "第8章 技术规格",
        "Appendix A Support and Warranty (English)",
    ]
    for page, blocks in zip(pdf_doc.pages, ZH_MANUAL, strict=True):
        assert page.text.split("\n")[0] == blocks[0][2]  # the chapter heading opens the page


def test_missing_font_is_named_with_its_package(tmp_path, monkeypatch):
    monkeypatch.setattr(fixtures, "CJK_FONT_DIR", tmp_path / "no-fonts")
    with pytest.raises(MissingFontError, match="apt-get install fonts-noto-cjk"):
        make_pdf(tmp_path / "m.pdf", ["第1章 概述"], cjk=True)


def test_a_page_too_long_for_the_paper_is_refused(tmp_path):
    with pytest.raises(ValueError, match="page 2 does not fit"):
        make_pdf(tmp_path / "m.pdf", ["短页。", "很长的一页。" * 900], cjk=True)


# --- DOCX ----------------------------------------------------------------------------------------


def test_docx_pages_sections_and_table(docx_doc):
    assert docx_doc.kind == "docx" and docx_doc.title == ZH_MANUAL_TITLE
    assert docx_doc.page_count == 9
    assert [(p.section, p.number) for p in docx_doc.pages] == [
        (ZH_MANUAL_TITLE, 1),
        ("第1章 产品简介", 1),
        ("第1章 产品简介 > 1.1 包装清单", 1),
        ("第1章 产品简介 > 1.2 接口与指示灯", 1),
        ("第2章 安装与连接", 2),
        ("第3章 无线设置 > 3.1 修改无线名称和密码", 3),
        ("第3章 无线设置 > 3.2 命令行配置（高级用户）", 3),
        ("第4章 访客网络与家长控制 > 4.1 访客网络", 4),
        ("第4章 访客网络与家长控制 > 4.2 家长控制", 4),
        ("第5章 固件升级", 5),
        ("第6章 恢复出厂设置", 6),
        ("第7章 故障排除与错误代码", 7),
        ("第8章 技术规格", 8),
        ("Appendix A Support and Warranty (English)", 9),
    ]
    assert docx_doc.pages[0].text == ZH_MANUAL_TITLE
    spec = docx_doc.pages[12].text
    assert "项目 | 参数\n尺寸 | 220 × 150 × 40 mm\n重量 | 480 g" in spec
    assert "保修期 | 自购买之日起 2 年" in spec


def test_docx_text_is_the_manual_verbatim_page_by_page(docx_doc):
    texts = page_texts(docx_doc)
    assert sorted(texts) == list(PAGES)
    for number, text in zip(PAGES, zh_manual_page_texts(), strict=True):
        expected = text.replace("\t", " | ")
        if number == 1:
            expected = f"{ZH_MANUAL_TITLE}\n{expected}"
        # paragraphs are separated by blank lines in DOCX pages, by line breaks in the PDF
        assert re.sub(r"\n+", "\n", texts[number]) == expected, f"page {number}"


# --- the questions -------------------------------------------------------------------------------


def test_question_list_shape():
    answerable = [q for q in ZH_QUESTIONS if q.page is not None]
    unanswerable = [q for q in ZH_QUESTIONS if q.page is None]
    assert all(isinstance(q, tuple) and len(q) == 3 for q in ZH_QUESTIONS)
    assert {q.page for q in answerable} == set(PAGES)  # every page answers something
    assert 2 <= len(unanswerable) <= 3
    mixed = [q for q in answerable if re.search(r"[A-Za-z]", q.question)]
    assert len(mixed) >= 4  # Chinese questions with English terms in them
    assert all(re.search(r"[\u4e00-\u9fff]", q.question) for q in ZH_QUESTIONS)


@pytest.mark.parametrize("kind", ["pdf", "docx"])
def test_each_question_is_answered_on_its_page_only(kind, request):
    doc = request.getfixturevalue(f"{kind}_doc")
    pages = page_texts(doc)
    for q in ZH_QUESTIONS:
        if q.page is None:
            assert all(q.evidence.lower() not in text.lower() for text in pages.values()), q
            continue
        found = [n for n, text in pages.items() if squash(q.evidence) in squash(text)]
        assert found == [q.page], q


# --- the demo sample -----------------------------------------------------------------------------


def test_chinese_sample_manual_parses_with_pages_and_sections():
    doc = parse_file(SAMPLE, **LIMITS)
    assert doc.title == "青松 LP-2200 激光打印机用户手册"
    assert doc.page_count == 5 and [p.number for p in doc.pages] == [1, 2, 3, 4, 5]
    assert [p.section.split(" > ")[0] for p in doc.pages] == [
        "第1章 安装",
        "第2章 连接电脑和网络",
        "第3章 日常打印",
        "第4章 更换耗材",
        "第5章 故障排除",
    ]
    text = {p.number: squash(p.text) for p in doc.pages}
    assert squash("粉盒 TN-22 可打印约 1500 页") in text[4]
    assert "J01" in text[5] and "LP-2200" not in text[5]
    assert SAMPLE.stat().st_size < 300_000
