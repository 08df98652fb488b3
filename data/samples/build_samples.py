"""Regenerate the sample manuals in this folder (fictional products, CC0).

    python data/samples/build_samples.py

The PDF has front matter labelled i-ii and body pages labelled 1.., a running header and footer,
so the README's main job shows page labels and header removal on a file anyone may share.

The Chinese PDF (a laser printer's manual, Simplified Chinese with English terms) shows the same
on Chinese text. It embeds a subset of Noto Sans CJK SC (face 2 of NotoSansCJK-*.ttc, Debian
package fonts-noto-cjk, installed by `make setup`): Noto fonts are under the SIL Open Font License
1.1, which allows embedding fonts in documents and distributing those documents under any terms
(the OFL does not apply to the document). fpdf2 subsets the font to the glyphs used (< 300 KB).
"""

from __future__ import annotations

import re
from pathlib import Path

HERE = Path(__file__).resolve().parent

PURIFIER = [
    (
        "Aquila AP-300 Air Purifier - User Manual",
        [
            "Document AQ-300-UM, revision 4. This manual covers the Aquila AP-300 air purifier "
            "with firmware 2.x. Keep it with the unit.",
            "Contents: Safety 1; Installation 2; Operation 3; Filter replacement 4; "
            "Troubleshooting and error codes 5; Specifications 6.",
        ],
    ),
    (
        "About this manual",
        [
            "Words in bold name the buttons on the control panel: POWER, MODE, TIMER and RESET. "
            "Warnings describe a risk of injury; cautions describe a risk of damage to the unit.",
        ],
    ),
    (
        "1 Safety",
        [
            "Warning: unplug the purifier before opening the front cover or replacing a filter.",
            "Do not operate the unit in rooms with flammable gases, in bathrooms, or within 30 cm "
            "of a curtain. Keep the air outlet free; do not sit on the unit.",
            "Only use the supplied 24 V power adapter (model PA-24). Using another adapter voids "
            "the warranty and may damage the fan controller.",
        ],
    ),
    (
        "2 Installation",
        [
            "Place the purifier on a flat, firm floor with at least 50 cm of free space on every "
            "side. Remove the plastic wrapping from the HEPA filter before first use.",
            "To connect the purifier to Wi-Fi, install the Aquila Home app, hold MODE and TIMER "
            "together for 5 seconds until the Wi-Fi symbol flashes, then follow the app. Only "
            "2.4 GHz networks are supported.",
        ],
    ),
    (
        "3 Operation",
        [
            "Press POWER to switch the unit on. Press MODE to cycle through Auto, Sleep, "
            "Low, Medium and Turbo. In Auto mode the fan speed follows the PM2.5 sensor.",
            "Sleep mode dims the display and limits the fan to 22 dB. The child lock is "
            "switched on and off by holding POWER for 3 seconds.",
            "The TIMER button sets an automatic switch-off after 2, 4 or 8 hours.",
        ],
    ),
    (
        "4 Filter replacement",
        [
            "Replace the HEPA filter (part number AQF-30) every 12 months, or when the filter "
            "indicator turns red. In dusty rooms replacement may be needed every 6 months.",
            "To replace the filter: 1. Switch the unit off and unplug it. 2. Press the two "
            "clips on the front cover and lift it off. 3. Pull the old filter out by its tab. "
            "4. Insert the new filter with the tab facing out. 5. Refit the cover.",
            "After replacing the filter, reset the filter indicator: plug the unit in, switch "
            "it on and hold RESET for 3 seconds until the indicator turns green.",
        ],
    ),
    (
        "5 Troubleshooting and error codes",
        [
            "E1 - fan blocked: switch off, unplug, remove foreign objects from the outlet.",
            "E2 - PM2.5 sensor dirty: clean the sensor window with a dry cotton swab.",
            "E3 - filter missing or wrongly inserted: refit the filter with the tab facing out.",
            "E4 - overheating: let the unit cool down for 30 minutes and keep 50 cm clearance.",
            "If an error persists after the remedy, contact Aquila service on 0800 555 0300.",
        ],
    ),
    (
        "6 Specifications",
        [
            "Clean air delivery rate (CADR): 300 m3/h. Recommended room size: up to 36 m2.",
            "Power consumption: 45 W in Turbo, 4 W in Sleep, under 0.5 W in standby.",
            "Noise: 22 dB (Sleep) to 58 dB (Turbo). Weight: 6.2 kg. Filter: H13 HEPA, AQF-30.",
        ],
    ),
]


def build_pdf(path: Path) -> None:
    from fpdf import FPDF
    from pypdf import PdfReader, PdfWriter
    from pypdf.generic import ArrayObject, DictionaryObject, NameObject, NumberObject

    pdf = FPDF(format="A4")
    pdf.set_auto_page_break(auto=False)
    pdf.set_title("Aquila AP-300 Air Purifier - User Manual")
    for i, (heading, paras) in enumerate(PURIFIER):
        pdf.add_page()
        pdf.set_font("Helvetica", size=8)
        pdf.cell(
            0, 6, "Aquila AP-300 User Manual - AQ-300-UM rev. 4", new_x="LMARGIN", new_y="NEXT"
        )
        pdf.ln(6)
        pdf.start_section(heading, level=0)
        pdf.set_font("Helvetica", "B", 15)
        pdf.cell(0, 10, heading, new_x="LMARGIN", new_y="NEXT")
        pdf.set_font("Helvetica", size=11)
        for para in paras:
            pdf.multi_cell(0, 6, para, new_x="LMARGIN", new_y="NEXT")
            pdf.ln(2)
        pdf.set_y(-20)
        pdf.set_font("Helvetica", size=8)
        label = ["i", "ii"][i] if i < 2 else str(i - 1)
        pdf.cell(0, 6, f"Page {label}", align="C")
    tmp = path.with_suffix(".tmp.pdf")
    pdf.output(str(tmp))
    writer = PdfWriter(clone_from=PdfReader(tmp))
    nums = ArrayObject(
        [
            NumberObject(0),
            DictionaryObject({NameObject("/S"): NameObject("/r")}),
            NumberObject(2),
            DictionaryObject({NameObject("/S"): NameObject("/D")}),
        ]
    )
    writer._root_object[NameObject("/PageLabels")] = DictionaryObject({NameObject("/Nums"): nums})
    with open(path, "wb") as f:
        writer.write(f)
    tmp.unlink()


def build_docx(path: Path) -> None:
    from docx import Document
    from docx.enum.text import WD_BREAK

    doc = Document()
    doc.core_properties.title = "IT Helpdesk Handbook"
    doc.add_heading("IT Helpdesk Handbook", level=0)
    doc.add_heading("Accounts", level=1)
    doc.add_heading("Password reset", level=2)
    doc.add_paragraph(
        "Staff reset their own password at the self-service portal with their badge number "
        "and a code sent to their work phone. Passwords expire every 180 days and must have "
        "at least 14 characters."
    )
    doc.add_heading("Locked accounts", level=2)
    doc.add_paragraph(
        "An account locks after 5 failed sign-ins and unlocks by itself after 15 minutes. "
        "The helpdesk can unlock it at once after checking the caller's badge number."
    )
    doc.add_paragraph().add_run().add_break(WD_BREAK.PAGE)
    doc.add_heading("Printers", level=1)
    doc.add_paragraph("Printer queues by floor:")
    table = doc.add_table(rows=1, cols=3)
    for cell, text in zip(table.rows[0].cells, ["Floor", "Queue", "Model"], strict=True):
        cell.text = text
    for row in [("1", "PRN-1-EAST", "Laser 4100"), ("2", "PRN-2-WEST", "Laser 5200")]:
        cells = table.add_row().cells
        for cell, text in zip(cells, row, strict=True):
            cell.text = text
    doc.add_paragraph(
        "A paper jam is cleared by opening door B, pulling the green lever and removing the "
        "sheet towards you. Toner is ordered through the facilities desk, extension 4410."
    )
    doc.save(str(path))


PRINTER_TITLE = "青松 LP-2200 激光打印机用户手册"
# (chapter, [(section heading or None, paragraphs)]): one chapter per page
PRINTER = [
    (
        "第1章 安装",
        [
            (
                "1.1 放置位置",
                [
                    "请把打印机放在平稳的桌面上，左右两侧和后方至少留出 15 厘米的空间，避免阳光直射"
                    "和潮湿的环境。打印机只能使用 220 V 交流电源。",
                ],
            ),
            (
                "1.2 安装硒鼓和粉盒",
                [
                    "1. 撕下机身上所有的橙色保护胶带。",
                    "2. 打开前盖，取出硒鼓组件，撕掉粉盒上的密封条后左右轻轻摇晃 5 至 6 次。",
                    "3. 把硒鼓组件沿导轨推回打印机，直到听到“咔嗒”一声，然后合上前盖。",
                ],
            ),
        ],
    ),
    (
        "第2章 连接电脑和网络",
        [
            (
                "2.1 Wi-Fi 连接",
                [
                    "按住控制面板上的 WPS 键 3 秒，Wi-Fi 指示灯开始闪烁蓝色后，在 2 分钟内按下"
                    "无线路由器的 WPS 按钮。连接成功后指示灯变为常亮。打印机只支持 2.4 GHz 网络。",
                ],
            ),
            (
                "2.2 安装驱动程序",
                [
                    "Windows 和 macOS 用户请从官方网站下载驱动程序 LP2200_Driver_v3.2.exe 或 "
                    "LP2200_Driver_v3.2.pkg。",
                    "Linux 用户无需安装驱动，可以通过 CUPS 使用 IPP Everywhere，例如执行 "
                    "lpadmin -p LP2200 -E -v ipp://打印机地址/ipp/print -m everywhere。",
                ],
            ),
        ],
    ),
    (
        "第3章 日常打印",
        [
            (
                None,
                [
                    "纸盒最多可放 250 张 80 g/m² 的普通纸，支持 A4、A5、B5 和 Letter 尺寸。手动进纸槽"
                    "每次只能放 1 张，适合信封和标签纸。",
                    "双面打印：在打印对话框中选择“双面（长边翻转）”。LP-2200 会自动翻转纸张，"
                    "不需要手动翻页。",
                    "省墨模式：在驱动程序的“高级”选项卡中勾选“省墨模式”，打印浓度会降低，"
                    "粉盒寿命约延长 30%。",
                ],
            ),
        ],
    ),
    (
        "第4章 更换耗材",
        [
            (
                None,
                [
                    "粉盒 TN-22 可打印约 1500 页（按 5% 覆盖率计算），硒鼓 DR-22 可打印约 12000 页。"
                    "控制面板显示“Toner Low”时，请准备新的粉盒。",
                    "更换粉盒：1. 打开前盖并取出硒鼓组件。2. 按下绿色锁定杆，把旧粉盒从硒鼓上取下。"
                    "3. 把新粉盒装入硒鼓，直到锁定杆自动弹起。4. 把硒鼓组件装回打印机。",
                    "更换硒鼓后，请在“设置 > 维护 > 重置硒鼓计数”中把计数器清零。",
                ],
            ),
        ],
    ),
    (
        "第5章 故障排除",
        [
            (
                None,
                [
                    "J01：纸盒卡纸。拉出纸盒，取出卡住的纸张，然后重新装入纸盒。",
                    "J02：机内卡纸。打开前盖，取出硒鼓组件，沿出纸方向慢慢拉出纸张。注意：定影器"
                    "温度很高，请等待 10 分钟后再操作。",
                    "E05：定影器故障。关闭电源，等待 30 分钟后重新开机；如果仍然显示 E05，请联系"
                    "青松售后服务热线 400-820-2200。",
                    "打印出的页面有竖条纹时，请清洁硒鼓上的电晕丝：把绿色滑块左右来回推动几次。",
                ],
            ),
        ],
    ),
]

# Chinese text breaks between any two Han characters; English words, commands and file names are
# kept whole on one line (fpdf2's own wrapping breaks only at spaces, or anywhere).
_CJK = "\u2e80-\u9fff\uf900-\ufaff\ufe30-\ufe4f\uff00-\uffef\u2018-\u201f"
_TOKEN = re.compile(rf"\s+|[{_CJK}]|[^\s{_CJK}]+")
_NO_LINE_START = set("，。、；：！？）》」』】”’")


def _wrap(pdf, text: str, width: float) -> list[str]:
    lines, line, space = [], "", False
    for token in _TOKEN.findall(text):
        if token.isspace():
            space = bool(line)
            continue
        candidate = f"{line} {token}" if space else line + token
        space = False
        if not line or token in _NO_LINE_START or pdf.get_string_width(candidate) <= width:
            line = candidate
        else:
            lines.append(line)
            line = token
    return [*lines, line] if line else lines


def _noto_cjk(weight: str) -> Path:
    path = Path(f"/usr/share/fonts/opentype/noto/NotoSansCJK-{weight}.ttc")
    if not path.is_file():
        raise SystemExit(
            f"{path} is missing: the Chinese sample needs the Debian package fonts-noto-cjk "
            "(make setup, or apt-get install fonts-noto-cjk)"
        )
    return path


def build_zh_pdf(path: Path) -> None:
    from fpdf import FPDF

    pdf = FPDF(format="A4")
    pdf.set_auto_page_break(auto=False)
    pdf.set_title(PRINTER_TITLE)
    pdf.set_lang("zh-CN")
    pdf.add_font("noto", "", _noto_cjk("Regular"), collection_font_number=2)  # 2 = SC
    pdf.add_font("noto", "B", _noto_cjk("Bold"), collection_font_number=2)
    width = pdf.epw
    for n, (chapter, sections) in enumerate(PRINTER, start=1):
        pdf.add_page()
        pdf.set_font("noto", size=8)
        pdf.cell(0, 6, f"{PRINTER_TITLE} · LP22-UM-CN 第 3 版", new_x="LMARGIN", new_y="NEXT")
        pdf.ln(6)
        pdf.start_section(chapter, level=0)
        pdf.set_font("noto", "B", 15)
        pdf.cell(0, 10, chapter, new_x="LMARGIN", new_y="NEXT")
        for heading, paras in sections:
            if heading:
                pdf.start_section(heading, level=1)
                pdf.ln(1)
                pdf.set_font("noto", "B", 12)
                pdf.cell(0, 8, heading, new_x="LMARGIN", new_y="NEXT")
            pdf.set_font("noto", size=11)
            for para in paras:
                for line in _wrap(pdf, para, width):
                    pdf.cell(0, 6.5, line, new_x="LMARGIN", new_y="NEXT")
                pdf.ln(2)
        pdf.set_y(-20)
        pdf.set_font("noto", size=8)
        pdf.cell(0, 6, f"第 {n} 页", align="C")
    pdf.output(str(path))


if __name__ == "__main__":
    build_pdf(HERE / "aquila-ap300-manual.pdf")
    build_docx(HERE / "it-helpdesk-handbook.docx")
    build_zh_pdf(HERE / "qingsong-lp2200-manual-zh.pdf")
    print("wrote", *sorted(p.name for p in HERE.glob("*.pdf")), "and the DOCX")
