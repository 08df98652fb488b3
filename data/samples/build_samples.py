"""Regenerate the sample manuals in this folder (fictional products, CC0).

    python data/samples/build_samples.py

The PDF has front matter labelled i-ii and body pages labelled 1.., a running header and footer,
so the README's main job shows page labels and header removal on a file anyone may share.
"""

from __future__ import annotations

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
        pdf.cell(0, 6, "Aquila AP-300 User Manual - AQ-300-UM rev. 4", new_x="LMARGIN", new_y="NEXT")
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
    writer._root_object[NameObject("/PageLabels")] = DictionaryObject(
        {NameObject("/Nums"): nums}
    )
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


if __name__ == "__main__":
    build_pdf(HERE / "aquila-ap300-manual.pdf")
    build_docx(HERE / "it-helpdesk-handbook.docx")
    print("wrote", *sorted(p.name for p in HERE.glob("*.pdf")), "and the DOCX")
