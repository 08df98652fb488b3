"""Generators for test input files: PDFs, DOCX files and hostile inputs with known content.

Tests assert against the text and structure they asked these functions to write, so every
generator takes the content as an argument instead of inventing it. PDFs are drawn with fpdf2
and post-processed with pypdf for the features fpdf2 does not write (page labels, outline
entries at given pages, encryption).

Chinese PDFs (`make_pdf(..., cjk=True)`) embed a subset of Noto Sans CJK SC from Debian's
`fonts-noto-cjk` (installed by `make setup`; SIL Open Font License 1.1, which allows embedding).
The Chinese router manual `ZH_MANUAL` and the questions about it, `ZH_QUESTIONS`, are at the end
of this module; `make_zh_manual_pdf` and `make_zh_manual_docx` write it as a PDF and a DOCX with
the same page numbers.
"""

from __future__ import annotations

import io
import re
import zipfile
from collections.abc import Sequence
from pathlib import Path
from typing import NamedTuple

from fpdf import FPDF
from pypdf import PdfReader, PdfWriter

# (first physical page index, style) where style is a PDF label style: "/D" decimal,
# "/r" lower roman, "/R" upper roman, "/a" lower letters, "/A" upper letters.
LabelRange = tuple[int, str]
# (title, physical page index, level) with level 1 for top-level entries.
OutlineEntry = tuple[str, int, int]


def _draw_pdf(pages: Sequence[str], header: str | None, footer: str | None) -> bytes:
    """Write one PDF page per string, left-aligned (justification changes word spacing)."""
    pdf = FPDF(format="A4")
    pdf.set_auto_page_break(False)
    pdf.set_font("Helvetica", size=11)
    for n, text in enumerate(pages, start=1):
        pdf.add_page()
        if header is not None:
            pdf.set_xy(15, 10)
            pdf.cell(0, 6, header.format(n=n))
        pdf.set_xy(15, 25)
        if text:
            pdf.multi_cell(180, 6, text, align="L")
        if footer is not None:
            pdf.set_xy(15, 280)
            pdf.cell(0, 6, footer.format(n=n))
    return bytes(pdf.output())


# --- Chinese PDFs ------------------------------------------------------------------------------

CJK_FONT_PACKAGE = "fonts-noto-cjk"
CJK_FONT_DIR = Path("/usr/share/fonts/opentype/noto")
CJK_FONT_FACE = 2  # faces of the Noto Sans CJK collections: JP, KR, SC (Simplified Chinese), ...


class MissingFontError(RuntimeError):
    """The CJK font the Chinese PDFs are drawn with is not installed."""


def cjk_font(*, bold: bool = False) -> Path:
    """The Noto Sans CJK collection file (face `CJK_FONT_FACE` is Simplified Chinese)."""
    path = CJK_FONT_DIR / f"NotoSansCJK-{'Bold' if bold else 'Regular'}.ttc"
    if not path.is_file():
        raise MissingFontError(
            f"Chinese test PDFs need the font Noto Sans CJK SC ({path}) from the Debian package "
            f"{CJK_FONT_PACKAGE}: `apt-get install {CJK_FONT_PACKAGE}` (`make setup` does it when "
            "it builds the venv)"
        )
    return path


# Han characters and full-width punctuation may break anywhere; runs of other characters
# (English words, commands, paths, codes) are kept whole on one line, as typesetters do.
_CJK_CHARS = "\u2e80-\u9fff\uf900-\ufaff\ufe30-\ufe4f\uff00-\uffef\u2018-\u201f"
_CJK_TOKEN = re.compile(rf"\s+|[{_CJK_CHARS}]|[^\s{_CJK_CHARS}]+")
_NO_LINE_START = set("，。、；：！？）》」』】〉”’")  # punctuation never starts a line
_NO_LINE_END = set("（《「『【〈“‘")  # ... nor ends one
_LEFT, _WIDTH, _TOP, _BOTTOM = 15, 180, 25, 272  # text area on A4, mm
_TAB_STOP = 45  # mm between the columns of a line holding tabs
# (size pt, line height mm) for body text and outline levels 1 and 2
_SIZES = {0: (11, 6.0), 1: (15, 9.0), 2: (12.5, 7.5)}


def _wrap_cjk(pdf: FPDF, text: str, width: float) -> list[str]:
    """Greedy line breaking: between Han characters or at spaces, never inside a Latin run."""
    lines: list[str] = []
    line, space = "", False
    for token in _CJK_TOKEN.findall(text):
        if token.isspace():
            space = bool(line)
            continue
        candidate = f"{line} {token}" if space else line + token
        space = False
        if not line or token in _NO_LINE_START or pdf.get_string_width(candidate) <= width:
            line = candidate
            continue
        carry = ""
        if line[-1] in _NO_LINE_END and len(line) > 1:
            line, carry = line[:-1], line[-1]
        lines.append(line)
        line = carry + token
    if line:
        lines.append(line)
    return lines


def _draw_cjk_pdf(
    pages: Sequence[str], header: str | None, footer: str | None, outline: Sequence[OutlineEntry]
) -> bytes:
    """One A4 page per string in Noto Sans CJK SC; each line of a string is a paragraph.

    Lines equal to an outline title of their page are drawn as headings (bold, larger); lines
    holding tabs are table rows, one column per tab stop. A page that does not fit raises
    ValueError rather than run off the paper.
    """
    pdf = FPDF(format="A4")
    pdf.set_auto_page_break(False)
    pdf.add_font("cjk", "", cjk_font(), collection_font_number=CJK_FONT_FACE)
    pdf.add_font("cjk", "B", cjk_font(bold=True), collection_font_number=CJK_FONT_FACE)
    headings = {(page, title): level for title, page, level in outline}
    for index, text in enumerate(pages):
        n = index + 1
        pdf.add_page()
        pdf.set_font("cjk", size=8)
        if header is not None:
            pdf.set_xy(_LEFT, 10)
            pdf.cell(0, 6, header.format(n=n))
        if footer is not None:
            pdf.set_xy(_LEFT, 280)
            pdf.cell(0, 6, footer.format(n=n))
        y = _TOP
        for paragraph in text.split("\n"):
            level = min(headings.get((index, paragraph), 0), 2)
            size, height = _SIZES[level]
            pdf.set_font("cjk", "B" if level else "", size)
            if "\t" in paragraph:
                rows = [paragraph.split("\t")]
            else:
                rows = [[line] for line in _wrap_cjk(pdf, paragraph, _WIDTH)]
            for cells in rows:
                for column, cell in enumerate(cells):
                    pdf.set_xy(_LEFT + column * _TAB_STOP, y)
                    pdf.cell(0, height, cell.strip())
                y += height
            y += 2 if paragraph.strip() else 0
            if y > _BOTTOM:
                raise ValueError(f"page {n} does not fit on one A4 page: {text[:40]!r}...")
    return bytes(pdf.output())


def make_pdf(
    path: Path,
    pages: Sequence[str],
    *,
    header: str | None = None,
    footer: str | None = None,
    labels: Sequence[LabelRange] | None = None,
    outline: Sequence[OutlineEntry] | None = None,
    title: str | None = None,
    password: str | None = None,
    cjk: bool = False,
) -> Path:
    """Write a PDF with `pages[i]` as the text of physical page i + 1.

    `header` and `footer` are drawn on every page; "{n}" in them becomes the page number.
    `password`: None = not encrypted; "" = encrypted with an empty user password (opens without
    asking, like many vendor manuals); anything else = that password is needed to open it.
    `cjk`: draw with Noto Sans CJK SC (Chinese, and Latin too) instead of Helvetica; see
    `_draw_cjk_pdf` for the layout. Raises MissingFontError when the font is not installed.
    """
    if cjk:
        data = _draw_cjk_pdf(pages, header, footer, outline or ())
    else:
        data = _draw_pdf(pages, header, footer)
    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(data)))
    if title is not None:
        writer.add_metadata({"/Title": title})
    for i, (first, style) in enumerate(labels or ()):
        last = labels[i + 1][0] - 1 if i + 1 < len(labels) else len(pages) - 1
        writer.set_page_label(first, last, style=style, start=1)
    parents: dict[int, object] = {}
    for text, page_index, level in outline or ():
        parent = parents.get(level - 1) if level > 1 else None
        parents[level] = writer.add_outline_item(title=text, page_number=page_index, parent=parent)
    if password is not None:
        writer.encrypt(user_password=password, owner_password="owner-secret", algorithm="AES-128")
    with open(path, "wb") as fh:
        writer.write(fh)
    return path


def make_encrypted_pdf(path: Path, pages: Sequence[str], password: str = "secret") -> Path:
    """A PDF that cannot be opened without `password`."""
    return make_pdf(path, pages, password=password)


def make_scanned_pdf(
    path: Path, n_pages: int = 3, *, image: bool = False, footer: str | None = None
) -> Path:
    """A PDF whose pages carry only drawings, as a scan without OCR has no text layer.

    `image`: each page also holds a (blank grey) picture, as a scanner writes it; `footer`: a
    typed line on every page ("{n}" becomes the page number), as some scanners stamp."""
    from PIL import Image

    pdf = FPDF(format="A4")
    pdf.set_auto_page_break(False)
    pdf.set_font("Helvetica", size=9)
    for n in range(1, n_pages + 1):
        pdf.add_page()
        pdf.set_fill_color(200, 200, 200)
        pdf.rect(20, 20, 170, 250, style="F")
        for y in range(40, 260, 8):
            pdf.line(30, y, 180, y)
        if image:
            buf = io.BytesIO()
            Image.new("L", (32, 32), 230).save(buf, format="PNG")
            pdf.image(buf, x=20, y=20, w=170, h=250)
        if footer is not None:
            pdf.set_xy(15, 280)
            pdf.cell(0, 6, footer.format(n=n))
    path.write_bytes(bytes(pdf.output()))
    return path


def make_truncated_pdf(path: Path, pages: Sequence[str] | None = None, keep: float = 0.5) -> Path:
    """A PDF cut off after `keep` of its bytes, like an interrupted download."""
    pages = pages or [f"Page {i} of a manual that was never fully downloaded." for i in range(8)]
    data = _draw_pdf(pages, None, None)
    path.write_bytes(data[: int(len(data) * keep)])
    return path


def make_docx(
    path: Path, blocks: Sequence[tuple], *, title: str | None = None, east_asia: str | None = None
) -> Path:
    """Write a DOCX from blocks, in order:

    ("title", text) | ("heading", level, text) | ("para", text) | ("table", [[cell, ...], ...])
    | ("page_break",) | ("rendered_page", text): a paragraph that Word's last layout put at the
    top of a new page (a `w:lastRenderedPageBreak` before its text, as Word saves it).

    `east_asia`: a language such as "zh-CN"; the default style then names it and an East Asian
    font (Noto Sans CJK SC), as Word does in files written with a Chinese input language.
    """
    from docx import Document
    from docx.oxml import OxmlElement
    from docx.oxml.ns import qn

    doc = Document()
    if title is not None:
        doc.core_properties.title = title
    if east_asia is not None:
        rpr = doc.styles["Normal"].element.get_or_add_rPr()
        rpr.get_or_add_rFonts().set(qn("w:eastAsia"), "Noto Sans CJK SC")
        lang = rpr.find(qn("w:lang"))
        if lang is None:
            lang = OxmlElement("w:lang")
            rpr.append(lang)
        lang.set(qn("w:eastAsia"), east_asia)
    for block in blocks:
        kind = block[0]
        if kind == "title":
            doc.add_heading(block[1], level=0)
        elif kind == "heading":
            doc.add_heading(block[2], level=block[1])
        elif kind == "para":
            doc.add_paragraph(block[1])
        elif kind == "table":
            rows = block[1]
            table = doc.add_table(rows=len(rows), cols=len(rows[0]))
            for r, row in enumerate(rows):
                for c, value in enumerate(row):
                    table.cell(r, c).text = value
        elif kind == "page_break":
            doc.add_page_break()
        elif kind == "rendered_page":
            paragraph = doc.add_paragraph()
            paragraph.add_run()._r.append(OxmlElement("w:lastRenderedPageBreak"))
            paragraph.add_run(block[1])
        else:
            raise ValueError(f"unknown block kind {kind!r}")
    doc.save(str(path))
    return path


_CONTENT_TYPES = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.'
    'relationships+xml"/>'
    '<Default Extension="xml" ContentType="application/xml"/>'
    '<Override PartName="/word/document.xml" ContentType="application/vnd.openxmlformats-'
    'officedocument.wordprocessingml.document.main+xml"/></Types>'
)
_RELS = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
    'relationships/officeDocument" Target="word/document.xml"/></Relationships>'
)
_DOCUMENT_HEAD = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    '<w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main">'
    "<w:body><w:p><w:r><w:t>Harmless looking text.</w:t></w:r></w:p></w:body></w:document>"
)


def make_zip_bomb_docx(path: Path, expanded_bytes: int = 64 << 20) -> Path:
    """A well-formed DOCX whose document.xml expands to `expanded_bytes` (trailing whitespace).

    The padding is streamed through the compressor 1 MiB at a time, so memory stays flat; it
    compresses about 1000:1 (64 MiB -> 64 KB, 0.5 s). The default stays under the usual size limit
    on purpose, so it exercises the compression-ratio guard; 1 GiB takes about 7 s to build.
    """
    chunk = b" " * (1 << 20)
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("[Content_Types].xml", _CONTENT_TYPES)
        zf.writestr("_rels/.rels", _RELS)
        with zf.open("word/document.xml", "w", force_zip64=True) as out:
            out.write(_DOCUMENT_HEAD.encode())
            left = expanded_bytes - len(_DOCUMENT_HEAD)
            while left > 0:
                out.write(chunk[: min(left, len(chunk))])
                left -= len(chunk)
    return path


def make_large_docx(path: Path, paragraphs: int, *, seed: int = 1) -> Path:
    """A DOCX of `paragraphs` one-word paragraphs of random letters: small on disk (random words
    keep the ratio under the zip-bomb guard's), millions of XML nodes once parsed. 600,000
    paragraphs are a 23 MB document.xml in a ~4 MB file that needs ~300 MB to parse."""
    import random
    import string

    rnd = random.Random(seed)
    head = _DOCUMENT_HEAD.split("<w:body>")[0] + "<w:body>"
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("[Content_Types].xml", _CONTENT_TYPES)
        zf.writestr("_rels/.rels", _RELS)
        with zf.open("word/document.xml", "w", force_zip64=True) as out:
            out.write(head.encode())
            for start in range(0, paragraphs, 10_000):
                words = (
                    "".join(rnd.choices(string.ascii_lowercase, k=6))
                    for _ in range(min(10_000, paragraphs - start))
                )
                out.write("".join(f"<w:p><w:r><w:t>{w}</w:t></w:r></w:p>" for w in words).encode())
            out.write(b"</w:body></w:document>")
    return path


def make_zero_page_pdf(path: Path) -> Path:
    """A well-formed PDF whose page tree is empty (PDFium refuses to load it)."""
    writer = PdfWriter()
    with open(path, "wb") as fh:
        writer.write(fh)
    return path


def make_elf(path: Path) -> Path:
    """Bytes that start like a Linux executable (ELF header) followed by binary junk."""
    path.write_bytes(b"\x7fELF\x02\x01\x01\x00" + bytes(range(256)) * 16)
    return path


def make_png(path: Path) -> Path:
    """A small valid PNG image (drawn with Pillow, which fpdf2 depends on)."""
    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (8, 8), (255, 0, 0)).save(buf, format="PNG")
    path.write_bytes(buf.getvalue())
    return path


# --- a Chinese manual --------------------------------------------------------------------------
# A fictional Wi-Fi router's manual in Simplified Chinese: eight chapters of one page each and an
# English appendix, with English terms, commands, paths and error codes inside Chinese sentences.
# Each page is a list of `make_docx` blocks ("heading", "para", "table"); every fact is on one
# page only, so a test can tell which page answers which question (`ZH_QUESTIONS`).

ZH_MANUAL_TITLE = "星河 XR-500 无线路由器用户手册"
ZH_MANUAL_HEADER = "星河 XR-500 无线路由器用户手册 · 文档编号 XR500-UM-CN 第 2.1 版"
ZH_MANUAL_FOOTER = "第 {n} 页"

ZH_MANUAL: list[list[tuple]] = [
    [
        ("heading", 1, "第1章 产品简介"),
        (
            "para",
            "星河 XR-500 是一款支持 Wi-Fi 6（802.11ax）的双频无线路由器，2.4 GHz 频段最高速率"
            "为 574 Mbps，5 GHz 频段最高速率为 2402 Mbps，适合 120 平方米以内的家庭使用。",
        ),
        ("heading", 2, "1.1 包装清单"),
        (
            "para",
            "包装盒内有：XR-500 路由器一台、12 V / 1.5 A 电源适配器一个、1.5 米超五类网线一根、"
            "快速安装指南一份。如有缺失，请联系购买门店。",
        ),
        ("heading", 2, "1.2 接口与指示灯"),
        (
            "para",
            "路由器背面有 1 个蓝色 WAN 口、3 个黄色 LAN 口、1 个 USB 3.0 接口和电源接口。",
        ),
        ("para", "正面的 SYS 指示灯常亮表示系统工作正常，缓慢闪烁绿色表示系统正在启动。"),
    ],
    [
        ("heading", 1, "第2章 安装与连接"),
        ("para", "首次使用前，请按以下步骤连接路由器："),
        ("para", "1. 关闭光猫的电源。"),
        ("para", "2. 用随附的网线连接光猫的 LAN 口和路由器的蓝色 WAN 口。"),
        ("para", "3. 接通路由器电源，等待约 2 分钟，直到 SYS 指示灯变为常亮。"),
        (
            "para",
            "4. 在电脑或手机的浏览器中访问 http://192.168.10.1，输入路由器底部标签上印的默认"
            "管理员密码。",
        ),
        (
            "para",
            "5. 按照设置向导选择上网方式：宽带拨号（PPPoE）、自动获取 IP 地址（DHCP）或静态 IP。",
        ),
        ("para", "提示：首次登录后系统会要求修改管理员密码，新密码至少 10 个字符。"),
    ],
    [
        ("heading", 1, "第3章 无线设置"),
        ("heading", 2, "3.1 修改无线名称和密码"),
        ("para", "1. 登录管理页面，进入“无线设置 > 基本设置”。"),
        (
            "para",
            "2. 在“无线名称（SSID）”中输入新名称。出厂时的名称为 XR500- 加上 MAC 地址的后四位。",
        ),
        (
            "para",
            "3. 将“加密方式”设为 WPA2-PSK 或 WPA3-SAE，然后输入 8 至 63 个字符的无线密码。",
        ),
        ("para", "4. 点击“保存”。无线网络约 30 秒后重新启动，已连接的设备需要重新连接。"),
        ("heading", 2, "3.2 命令行配置（高级用户）"),
        (
            "para",
            "通过 SSH 以 root 用户登录路由器后，可以直接编辑 /etc/config/wireless 文件，例如"
            "把 option channel 改为 36，然后执行 wifi reload 使设置生效，无需重启路由器。",
        ),
    ],
    [
        ("heading", 1, "第4章 访客网络与家长控制"),
        ("heading", 2, "4.1 访客网络"),
        (
            "para",
            "访客网络与主网络相互隔离，访客无法访问您的电脑、打印机或 NAS。访客网络最多允许 16 台"
            "设备同时连接，可以设置在 2 小时、8 小时或 24 小时后自动关闭。",
        ),
        ("heading", 2, "4.2 家长控制"),
        (
            "para",
            "在“家长控制”页面按 MAC 地址添加孩子的手机或平板电脑，再设置禁止上网的时间段，例如"
            "工作日 22:00 至次日 07:00。每台路由器最多可以添加 32 条规则。",
        ),
    ],
    [
        ("heading", 1, "第5章 固件升级"),
        (
            "para",
            "星河会不定期发布新固件，用于修复安全漏洞和增加新功能。当前版本显示在“系统状态”页面。",
        ),
        ("para", "1. 从官方网站下载固件文件，例如 XR500_fw_v2.1.8.bin，并核对其 SHA-256 校验值。"),
        ("para", "2. 进入“系统工具 > 固件升级”，选择该文件，然后点击“开始升级”。"),
        (
            "para",
            "3. 升级过程大约需要 3 分钟，期间 SYS 指示灯闪烁橙色。升级期间切勿断开电源，否则"
            "路由器可能无法再次启动。",
        ),
        (
            "para",
            "也可以在命令行中升级：把固件上传到 /tmp 目录后执行 "
            "sysupgrade -n /tmp/XR500_fw_v2.1.8.bin，其中 -n 表示不保留当前配置。",
        ),
    ],
    [
        ("heading", 1, "第6章 恢复出厂设置"),
        ("para", "恢复出厂设置会清除全部配置，包括无线密码、宽带账号和家长控制规则。"),
        (
            "para",
            "方法一：在路由器通电的状态下，用牙签或回形针按住背面的 RESET 孔 8 秒，直到所有指示灯"
            "同时闪烁后松开。",
        ),
        ("para", "方法二：登录管理页面，进入“系统工具 > 备份与恢复”，点击“恢复出厂设置”。"),
        ("para", "方法三：通过 SSH 登录后执行 firstboot -y && reboot 命令。"),
        ("para", "恢复完成后路由器会自动重启，大约 90 秒后即可重新运行设置向导。"),
    ],
    [
        ("heading", 1, "第7章 故障排除与错误代码"),
        ("para", "出现故障时，管理页面顶部和星河 App 中会显示错误代码。常见的错误代码如下："),
        (
            "para",
            "E17：宽带拨号（PPPoE）认证失败。请核对宽带账号和密码，仍然失败请联系网络运营商。",
        ),
        ("para", "E42：WAN 口未检测到网线。请检查网线两端是否插紧，或者换一根网线后重试。"),
        ("para", "E63：设备温度过高。请把路由器放在通风的地方，四周至少留出 10 厘米的空间。"),
        ("para", "E88：固件文件校验失败。请重新下载固件，不要使用第三方修改过的文件。"),
    ],
    [
        ("heading", 1, "第8章 技术规格"),
        (
            "table",
            [
                ["项目", "参数"],
                ["尺寸", "220 × 150 × 40 mm"],
                ["重量", "480 g"],
                ["电源", "12 V / 1.5 A，最大功耗 18 W"],
                ["工作温度", "0 °C 至 40 °C"],
                ["无线标准", "IEEE 802.11a/b/g/n/ac/ax"],
                ["保修期", "自购买之日起 2 年"],
            ],
        ),
        ("para", "以上参数可能随产品改进而变更，恕不另行通知。"),
    ],
    [
        ("heading", 1, "Appendix A Support and Warranty (English)"),
        (
            "para",
            "This appendix is for users outside mainland China. Xinghe Networks answers technical "
            "questions by email at support@xinghe.example and by phone at +86 21 5550 0199, "
            "Monday to Friday, 9:00 to 18:00 China Standard Time.",
        ),
        (
            "para",
            "Warranty claims need the serial number printed on the bottom label; it starts with "
            "XR5 followed by nine digits. Units damaged by lightning or opened by the owner are "
            "not covered.",
        ),
    ],
]


class ZhQuestion(NamedTuple):
    """A question about `ZH_MANUAL` and where it is answered.

    `page` is the physical page (PDF) and the page number (DOCX) that answers it, and `evidence`
    text on that page (and on no other) that answers it, whitespace aside. For a question the
    manual does not answer, `page` is None and `evidence` is the term it asks about, which the
    manual never mentions.
    """

    question: str
    page: int | None
    evidence: str


ZH_QUESTIONS: list[ZhQuestion] = [
    ZhQuestion("包装盒里附带了哪些配件？", 1, "12 V / 1.5 A 电源适配器一个"),
    ZhQuestion("这款路由器适合多大面积的房子？", 1, "适合 120 平方米以内的家庭使用"),
    ZhQuestion("路由器的管理页面地址是多少？", 2, "http://192.168.10.1"),
    ZhQuestion("第一次登录以后新的管理员密码有什么要求？", 2, "新密码至少 10 个字符"),
    ZhQuestion("怎么把 Wi-Fi 的加密方式改成 WPA3？", 3, "WPA3-SAE"),
    ZhQuestion(
        "修改 /etc/config/wireless 之后需要重启路由器吗？", 3, "执行 wifi reload 使设置生效"
    ),
    ZhQuestion("朋友来家里，访客 Wi-Fi 最多能连几台手机？", 4, "最多允许 16 台设备同时连接"),
    ZhQuestion("怎样限制孩子晚上上网？", 4, "工作日 22:00 至次日 07:00"),
    ZhQuestion("升级固件的时候能拔电源吗？", 5, "升级期间切勿断开电源"),
    ZhQuestion("sysupgrade 命令的 -n 参数是什么意思？", 5, "-n 表示不保留当前配置"),
    ZhQuestion("reset 孔要按住多长时间？", 6, "按住背面的 RESET 孔 8 秒"),
    ZhQuestion("忘记所有设置了，怎样让路由器回到刚买来的状态？", 6, "清除全部配置"),
    ZhQuestion("管理页面提示 E42 怎么办？", 7, "WAN 口未检测到网线"),
    ZhQuestion("PPPoE 拨号老是失败是什么原因？", 7, "E17：宽带拨号（PPPoE）认证失败"),
    ZhQuestion("这台路由器有多重？", 8, "480 g"),
    ZhQuestion("保修期是几年？", 8, "自购买之日起 2 年"),
    ZhQuestion("海外用户怎么联系技术支持？", 9, "support@xinghe.example"),
    ZhQuestion("保修时需要提供的序列号在哪里？", 9, "serial number printed on the bottom label"),
    ZhQuestion("如何在路由器上搭建 OpenVPN 服务器？", None, "OpenVPN"),
    ZhQuestion("XR-500 可以当 Zigbee 智能家居网关用吗？", None, "Zigbee"),
    ZhQuestion("怎样开启 IPv6？", None, "IPv6"),
]


def zh_manual_page_texts(manual: Sequence[Sequence[tuple]] = ZH_MANUAL) -> list[str]:
    """The text of each page of the manual as `make_zh_manual_pdf` draws it: one line per
    heading and paragraph, table rows as tab-separated cells."""
    texts = []
    for blocks in manual:
        lines = []
        for block in blocks:
            if block[0] == "table":
                lines.extend("\t".join(row) for row in block[1])
            else:
                lines.append(block[-1])
        texts.append("\n".join(lines))
    return texts


def make_zh_manual_pdf(
    path: Path, manual: Sequence[Sequence[tuple]] = ZH_MANUAL, *, title: str = ZH_MANUAL_TITLE
) -> Path:
    """The manual as a PDF: a page per entry, running header and footer, headings in the outline."""
    outline = [
        (block[2], index, block[1])
        for index, blocks in enumerate(manual)
        for block in blocks
        if block[0] == "heading"
    ]
    return make_pdf(
        path,
        zh_manual_page_texts(manual),
        header=ZH_MANUAL_HEADER,
        footer=ZH_MANUAL_FOOTER,
        outline=outline,
        title=title,
        cjk=True,
    )


def make_zh_manual_docx(
    path: Path, manual: Sequence[Sequence[tuple]] = ZH_MANUAL, *, title: str = ZH_MANUAL_TITLE
) -> Path:
    """The manual as a DOCX: a title, then each page's blocks, with page breaks between pages."""
    blocks: list[tuple] = [("title", title)]
    for index, page in enumerate(manual):
        if index:
            blocks.append(("page_break",))
        blocks.extend(page)
    return make_docx(path, blocks, title=title, east_asia="zh-CN")


# --- scans ---------------------------------------------------------------------------------------
# A fictional dehumidifier's service manual as a scanner would deliver it: pages printed with real
# fonts (English pages and Simplified Chinese ones, Noto Sans CJK SC), turned into grey images
# with paper tone, sensor noise and a slight skew, JPEG-compressed, and bound into a PDF that
# has no text layer at all. Every fact is on one page only (`SCAN_QUESTIONS`).

SCAN_HEADER = "Kestrel K-9 Dehumidifier - Service Manual"
SCAN_FOOTER = "Page {n}"
SCAN_MANUAL = [
    "Kestrel K-9 Dehumidifier\nService Manual\nDocument KS-K9-SM, revision 3\n"
    "For trained service technicians only.",
    "Safety\nDisconnect the mains plug before opening any panel. The compressor stays hot for "
    "twenty minutes after the unit stops. Never tilt the unit more than 45 degrees while it is "
    "running, or oil can enter the refrigerant circuit. Refrigerant R290 is flammable: keep "
    "sparks and open flames at least three metres away.",
    "Specifications\nRated capacity: 20 litres per day at 30 °C and 80 % relative humidity. "
    "Power supply: 220-240 V, 50 Hz. Rated input: 360 W. Water tank: 4.5 litres. Operating "
    "range: 5 °C to 35 °C. Net weight: 13.8 kg. Noise level: 39 dB(A) in quiet mode.",
    "安装位置\n请将除湿机放在平整、坚固的地面上，四周至少留出 20 厘米的空间，出风口不要对着墙壁。"
    "不要在浴室等可能溅水的地方使用。\n首次使用前，请让机器直立静置 2 小时，使压缩机油流回压缩机。",
    "Control panel\nThe POWER button switches the unit on and off. The MODE button cycles "
    "through Auto, Continuous, Laundry and Quiet. The HUMIDITY button sets the target from 35 % "
    "to 80 % in steps of 5 %. Hold TIMER for three seconds to set a delayed stop between 1 and "
    "24 hours.",
    "Continuous drainage\nRemove the rubber plug at the back and connect a 12 mm hose to the "
    "drain outlet. Lead the hose downwards to a floor drain without loops or kinks. The float "
    "switch is bypassed in this mode, so the tank-full lamp never lights.",
    "滤网清洁\n每运行两周，请取下进风口的滤网，用温水和中性洗涤剂清洗，晾干后再装回。"
    "滤网未装好时，面板显示 F3，压缩机不会启动。\n如果出风口有异味，请检查排水管是否堵塞，"
    "并用清水冲洗集水盘。",
    "Automatic defrost\nBelow 15 °C frost forms on the evaporator coil. The controller then "
    "stops the compressor and runs the fan alone for up to ten minutes; the DEFROST lamp is lit "
    "during this time. This is normal operation and not a fault.",
    "Error codes\nTo clear error E17, hold the DEFROST button for eight seconds until the amber "
    "lamp blinks twice. Error E21 means the water tank is full or the float switch is stuck; "
    "empty the tank and check that the float moves freely. Error E33 points to a failed "
    "humidity sensor: replace sensor board HS-2.",
    "Leak test\nA unit that runs but removes no water has usually lost refrigerant. Check the "
    "capillary joints with an electronic leak detector rated for R290. Do not recharge a leaking "
    "circuit: replace the sealed system as one assembly, part number K9-SYS-04.",
    "Fan motor\nThe fan motor is a 24 V DC brushless type. Measure the winding resistance "
    "between the red and black leads: a healthy motor reads 18 to 22 ohms. Replace the motor "
    "when the reading is open or below 10 ohms.",
    "压缩机检查\n用万用表测量压缩机三个端子之间的电阻：公共端与运行端之间约为 4 欧，公共端与启动端"
    "之间约为 6 欧。若任一读数为无穷大，说明绕组断路，需要更换压缩机。\n更换压缩机后必须抽真空 "
    "30 分钟。",
    "Main control board\nThe main board KB-7 carries the relay for the compressor and the 12 V "
    "supply for the display. If the display stays dark, check fuse F1 (3.15 A, slow-blow) near "
    "the mains terminal before replacing the board.",
    "Storage\nEmpty the tank and dry the unit in Continuous mode with the fan on high for one "
    "hour. Wrap the power cord and store the unit upright in a dry place. Do not stack other "
    "objects on top of it.",
    "保修与维修\n本机自购买之日起保修 2 年，压缩机保修 5 年。"
    "送修时请提供购买凭证和机身底部的序列号。\n人为损坏、私自拆机及使用非原装配件造成的故障不在保修范围内。",
    "Spare parts\nK9-FLT-01 air filter, pack of two. K9-TNK-02 water tank with float. HS-2 "
    "humidity sensor board. KB-7 main control board. K9-SYS-04 sealed refrigerant system. "
    "K9-FAN-03 fan motor, 24 V DC.",
]


class ScanQuestion(NamedTuple):
    question: str
    page: int  # physical page (1-based) that answers it
    words: str  # words of the answer as the page prints them


SCAN_QUESTIONS = [
    ScanQuestion(
        "How long do I hold the DEFROST button to clear error E17?",
        9,
        "hold the DEFROST button for eight seconds until the amber lamp blinks twice",
    ),
    ScanQuestion("What resistance should a healthy fan motor winding read?", 11, "18 to 22 ohms"),
    ScanQuestion("滤网多久清洗一次？", 7, "每运行两周"),
    ScanQuestion("怎么判断压缩机绕组断路？", 12, "说明绕组断路"),
]


def scan_images(
    pages: Sequence[str],
    *,
    header: str | None = SCAN_HEADER,
    footer: str | None = SCAN_FOOTER,
    dpi: int = 200,
    seed: int = 7,
):
    """The pages as a scanner returns them: grey PIL images at `dpi` (A4)."""
    import numpy as np
    import pypdfium2 as pdfium
    from PIL import Image

    printed = _draw_cjk_pdf(pages, header, footer, ())
    rng = np.random.default_rng(seed)
    doc = pdfium.PdfDocument(printed)
    images = []
    try:
        for index in range(len(doc)):
            page = doc[index]
            bitmap = page.render(scale=dpi / 72, grayscale=True)
            clean = bitmap.to_numpy().astype(np.float32)
            bitmap.close()
            page.close()
            toned = 18 + clean * (232 / 255) + rng.normal(0, 6, clean.shape)  # paper, ink, noise
            image = Image.fromarray(np.clip(toned, 0, 255).astype(np.uint8), "L")
            skew = (-1) ** index * 0.3  # degrees, as a page sits in the feeder
            images.append(image.rotate(skew, resample=Image.BICUBIC, fillcolor=240))
    finally:
        doc.close()
    return images


def make_scanned_text_pdf(path: Path, pages: Sequence[str] = SCAN_MANUAL, **scan) -> Path:
    """A scanned manual: one JPEG page image per string (see `scan_images`), no text layer."""
    pdf = FPDF(format="A4")
    pdf.set_auto_page_break(False)
    for image in scan_images(pages, **scan):
        buf = io.BytesIO()
        image.save(buf, format="JPEG", quality=80)
        pdf.add_page()
        pdf.image(buf, x=0, y=0, w=210, h=297)
    path.write_bytes(bytes(pdf.output()))
    return path


def make_scan_image(path: Path, pages: Sequence[str], fmt: str = "PNG", **scan) -> Path:
    """One scan as an image file: PNG or JPEG (first page only), or TIFF (a page per frame)."""
    images = scan_images(pages, **scan)
    if fmt == "TIFF":
        images[0].save(path, format="TIFF", save_all=True, append_images=images[1:])
    else:
        images[0].save(path, format=fmt)
    return path
