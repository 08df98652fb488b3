"""A small set of consumer product manuals, printed to PDF by headless Chromium.

Folio was tuned on Debian books: long prose sections, one column, an outline. Consumer manuals
look different: a heading every few lines, two or three columns, specification and
troubleshooting tables, figure captions, numbered steps, warning boxes, and a running header
and page footer on every page. This script writes three such manuals from HTML + CSS (real
multi-column text, real tables, headers and footers drawn by Chromium's print engine):

- `aerosound-h7.pdf`: a wireless noise-cancelling headset (English, 12 pages)
- `brewtide-cm350.pdf`: an espresso machine (English, 10 pages)
- `xinghuan-s3.pdf`: a smart watch (Simplified Chinese, 11 pages)

The questions are in `product_manuals_questions.jsonl` (the shape of the shared dev sets, so
`folio eval` and `score.py --format debian` read them). Their `half` field splits them in two:
`tune` (looked at while improving Folio) and `held-out` (only scored). The script checks that
every evidence quote is on its page in the PDF text PDFium extracts, so a page that overflowed
its sheet fails the build instead of silently moving answers.

Usage: python tests/bench/product_manuals.py OUT_DIR
Needs Playwright and Chromium at /usr/bin/chromium (as the browser tests).
"""

from __future__ import annotations

import html
import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
QUESTIONS = Path(__file__).with_name("product_manuals_questions.jsonl")
CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]  # fmt: skip

# --- a tiny page language ------------------------------------------------------------------------
# A page is a list of blocks; ("cols", n, [blocks]) flows its blocks in n columns.


def _e(text: str) -> str:
    return html.escape(text)


def _block(b: tuple) -> str:
    kind = b[0]
    if kind == "h1":
        return f"<h1>{_e(b[1])}</h1>"
    if kind == "h2":
        return f"<h2>{_e(b[1])}</h2>"
    if kind == "h3":
        return f"<h3>{_e(b[1])}</h3>"
    if kind == "p":
        return f"<p>{_e(b[1])}</p>"
    if kind == "steps":
        return "<ol>" + "".join(f"<li>{_e(s)}</li>" for s in b[1]) + "</ol>"
    if kind == "ul":
        return "<ul>" + "".join(f"<li>{_e(s)}</li>" for s in b[1]) + "</ul>"
    if kind == "table":
        head, rows = b[1], b[2]
        caption = f"<caption>{_e(b[3])}</caption>" if len(b) > 3 else ""
        th = "".join(f"<th>{_e(c)}</th>" for c in head)
        body = "".join("<tr>" + "".join(f"<td>{_e(c)}</td>" for c in r) + "</tr>" for r in rows)
        return f"<table>{caption}<thead><tr>{th}</tr></thead><tbody>{body}</tbody></table>"
    if kind == "fig":  # a drawing with numbered callouts, and its caption
        caption, callouts = b[1], b[2]
        marks = "".join(
            f'<text x="{20 + 28 * i}" y="{30 + 14 * (i % 3)}" font-size="9">{i + 1}</text>'
            for i in range(len(callouts))
        )
        svg = (
            '<svg width="100%" height="70" viewBox="0 0 200 70">'
            '<rect x="5" y="5" width="190" height="60" rx="12" fill="#eee" stroke="#777"/>'
            f"{marks}</svg>"
        )
        legend = "".join(f"<li>{_e(c)}</li>" for c in callouts)
        legend_html = f'<ol class="legend">{legend}</ol>' if callouts else ""
        return f"<figure>{svg}<figcaption>{_e(caption)}</figcaption>{legend_html}</figure>"
    if kind == "warn":
        return f'<div class="warn"><b>{_e(b[1])}</b> {_e(b[2])}</div>'
    if kind == "note":
        return f'<div class="note"><b>{_e(b[1])}</b> {_e(b[2])}</div>'
    if kind == "cols":
        inner = "".join(_block(x) for x in b[2])
        return f'<div class="cols" style="column-count:{b[1]}">{inner}</div>'
    raise ValueError(kind)


CSS = """
@page { size: A5; margin: 16mm 11mm 15mm 11mm; }
body { font-family: %(font)s; font-size: 8.6pt; line-height: 1.3; margin: 0; }
.page { break-after: page; }
.page:last-child { break-after: auto; }
h1 { font-size: 15pt; margin: 0 0 3mm; }
h2 { font-size: 11pt; margin: 3mm 0 1.5mm; border-bottom: 0.4pt solid #999; }
h3 { font-size: 9.2pt; margin: 2.2mm 0 1mm; }
p { margin: 0 0 1.6mm; }
ol, ul { margin: 0 0 1.6mm; padding-left: 5mm; }
.cols { column-gap: 6mm; }
.cols h2, .cols h3 { break-after: avoid; }
table { border-collapse: collapse; width: 100%%; margin: 1mm 0 2mm; font-size: 8pt; }
caption { text-align: left; font-weight: bold; font-size: 8pt; padding-bottom: 1mm; }
th, td { border: 0.4pt solid #888; padding: 0.8mm 1.2mm; text-align: left; vertical-align: top; }
th { background: #e4e4e4; }
figure { margin: 1mm 0 2mm; break-inside: avoid; }
figcaption { font-style: italic; font-size: 7.8pt; margin-top: 0.8mm; }
.legend { font-size: 7.8pt; columns: 2; }
.warn { border: 1pt solid #c00; padding: 1.5mm; margin: 1.5mm 0; break-inside: avoid; }
.note { border-left: 2pt solid #06c; padding: 0.5mm 2mm; margin: 1.5mm 0; break-inside: avoid; }
"""


def page_html(pages: list[list[tuple]], font: str, lang: str) -> str:
    body = "".join(
        '<div class="page">' + "".join(_block(b) for b in page) + "</div>" for page in pages
    )
    return (
        f'<!doctype html><html lang="{lang}"><head><meta charset="utf-8">'
        f"<style>{CSS % {'font': font}}</style></head><body>{body}</body></html>"
    )


# --- the manuals ---------------------------------------------------------------------------------

H7 = [
    [  # 1 cover
        ("h1", "AeroSound H7"),
        ("p", "Wireless Noise-Cancelling Headset"),
        ("p", "User Manual · Model AS-H7 · Version 1.2"),
        ("fig", "AeroSound H7 headset, folded", []),
        (
            "p",
            "Read this manual and the safety instructions before using the headset. "
            "Keep it for future reference.",
        ),
    ],
    [  # 2 contents + safety
        ("h2", "Contents"),
        (
            "ul",
            [
                "Safety instructions",
                "In the box",
                "Getting to know your headset",
                "Charging",
                "Pairing",
                "Controls",
                "Noise control",
                "AeroSound app",
                "Care and storage",
                "Troubleshooting",
                "Specifications",
                "Warranty",
            ],
        ),
        ("h2", "Safety instructions"),
        (
            "cols",
            2,
            [
                (
                    "warn",
                    "WARNING:",
                    "To prevent possible hearing damage, do not listen at high "
                    "volume levels for long periods. Set the volume to a safe level before "
                    "putting the headset on.",
                ),
                (
                    "p",
                    "Do not use the headset while driving, cycling or operating machinery, or "
                    "wherever not hearing your surroundings could put you or others in danger.",
                ),
                (
                    "p",
                    "Keep the headset and its small parts, such as the ear tips and the "
                    "airplane adapter, away from children under 3 years.",
                ),
                (
                    "warn",
                    "CAUTION:",
                    "The headset contains a built-in lithium-ion battery. Do not "
                    "expose it to temperatures above 45 °C, for example on a car dashboard in "
                    "direct sunlight.",
                ),
                (
                    "p",
                    "Do not attempt to open the ear cups or replace the battery yourself. Only "
                    "an authorised AeroSound service centre may replace the battery.",
                ),
                (
                    "p",
                    "If you feel discomfort, a rash or irritation of the skin where the ear "
                    "cushions touch, stop using the headset and consult a doctor.",
                ),
            ],
        ),
    ],
    [  # 3 in the box + overview
        ("h2", "In the box"),
        (
            "cols",
            2,
            [
                (
                    "ul",
                    [
                        "AeroSound H7 headset",
                        "Carrying case",
                        "USB-C charging cable (1.2 m)",
                        "3.5 mm audio cable (1.5 m)",
                        "Airplane adapter",
                        "Quick start guide",
                    ],
                ),
                (
                    "note",
                    "Note:",
                    "A wall charger is not included. Use any USB charger rated "
                    "5 V ⎓ 1 A or higher.",
                ),
            ],
        ),
        ("h2", "Getting to know your headset"),
        (
            "fig",
            "Figure 1  Controls on the right ear cup",
            [
                "Power / multifunction button",
                "Volume +",
                "Volume −",
                "Noise control (NC) button",
                "Status LED",
                "USB-C charging port",
                "3.5 mm audio jack",
                "Talk microphone",
            ],
        ),
        (
            "p",
            "The left ear cup carries no buttons. It holds the touch sensor that pauses "
            "playback when you lift the ear cup off your ear (wear detection).",
        ),
        ("fig", "Figure 2  Wear detection sensor inside the left ear cup", []),
    ],
    [  # 4 charging
        ("h2", "Charging"),
        ("p", "Charge the headset fully before first use. A full charge takes about 2 hours."),
        (
            "steps",
            [
                "Connect the small end of the USB-C cable to the charging port on the "
                "right ear cup.",
                "Connect the other end to a USB charger or a computer.",
                "The status LED shows the charge level (see the table below). When the LED "
                "turns solid green, charging is complete.",
                "Disconnect the cable.",
            ],
        ),
        ("h3", "Fast charging"),
        ("p", "A 10-minute charge gives about 5 hours of playback with noise cancelling on."),
        (
            "table",
            ["Status LED", "Meaning"],
            [
                ["Red, pulsing", "Charging, battery below 20 %"],
                ["Amber, pulsing", "Charging, battery 20-99 %"],
                ["Green, solid", "Fully charged"],
                ["Red, flashing twice every 10 s", "Battery low, about 30 minutes left"],
                ["Red and green, alternating", "Charging error: battery temperature out of range"],
            ],
            "Table 1  Charging status LED",
        ),
        (
            "warn",
            "CAUTION:",
            "Charge only at room temperatures between 5 °C and 35 °C. The "
            "headset cannot be used while it is charging.",
        ),
        ("h3", "Checking the battery level"),
        (
            "p",
            "Press the power button briefly while the headset is on: a voice prompt "
            "announces the remaining battery in steps of 10 percent.",
        ),
    ],
    [  # 5 pairing
        ("h2", "Pairing"),
        (
            "cols",
            2,
            [
                ("h3", "Pairing with a phone for the first time"),
                (
                    "steps",
                    [
                        "Make sure the headset is off.",
                        "Press and hold the power button for 5 seconds until the status LED "
                        'flashes blue and red and you hear "Pairing".',
                        'On your phone, turn on Bluetooth and select "AeroSound H7" in the '
                        "list of devices.",
                        "When connected, the LED turns solid blue for 3 seconds.",
                    ],
                ),
                ("note", "Note:", "If your phone asks for a PIN code, enter 0000."),
                ("h3", "Pairing a second device"),
                (
                    "p",
                    "The H7 can be connected to two devices at once (multipoint), for example "
                    "a laptop and a phone. Audio plays from the device that started playback "
                    "last.",
                ),
                (
                    "steps",
                    [
                        "With the headset on and connected to the first device, press and hold "
                        "the power button and Volume + together for 3 seconds.",
                        'Select "AeroSound H7" on the second device.',
                    ],
                ),
                ("h3", "Reconnecting"),
                (
                    "p",
                    "When switched on, the headset reconnects to the last two devices it was "
                    "connected to. It remembers up to 8 paired devices; pairing a ninth device "
                    "replaces the one used least recently.",
                ),
                ("h3", "Clearing the pairing list"),
                (
                    "p",
                    "With the headset off, press and hold the power button and the NC button "
                    "together for 10 seconds until the LED flashes purple three times.",
                ),
            ],
        ),
    ],
    [  # 6 controls
        ("h2", "Controls"),
        ("p", "The buttons on the right ear cup control music, calls and voice assistants."),
        (
            "table",
            ["Function", "Action"],
            [
                ["Play / pause", "Press the power button once"],
                ["Next track", "Press the power button twice"],
                ["Previous track", "Press the power button three times"],
                ["Answer or end a call", "Press the power button once"],
                ["Reject a call", "Hold the power button for 2 seconds"],
                ["Mute the microphone during a call", "Press Volume + and Volume − together"],
                ["Start the voice assistant", "Hold the NC button for 2 seconds"],
                ["Switch off", "Hold the power button for 3 seconds"],
            ],
            "Table 2  Button functions",
        ),
        ("h3", "Voice prompts"),
        (
            "p",
            "Voice prompts announce power on, pairing, connection and battery level. To "
            "change the prompt language or turn prompts off, use the AeroSound app.",
        ),
        ("h3", "Auto power off"),
        (
            "p",
            "If the headset is not connected to any device for 15 minutes, it switches off "
            "to save battery. You can change this time, or disable it, in the app.",
        ),
    ],
    [  # 7 noise control
        ("h2", "Noise control"),
        (
            "p",
            "Press the NC button to cycle through the three modes. A voice prompt names the "
            "mode you select.",
        ),
        (
            "cols",
            2,
            [
                ("h3", "Noise cancelling"),
                (
                    "p",
                    "Microphones on both ear cups measure the ambient noise and cancel it. Best "
                    "for trains, aircraft and open-plan offices.",
                ),
                ("h3", "Ambient sound"),
                (
                    "p",
                    "The outer microphones pass outside sound through, so you can hear "
                    "announcements and traffic without taking the headset off.",
                ),
                ("h3", "Off"),
                ("p", "Noise control is off. This mode gives the longest battery life."),
                ("h3", "Quick listen"),
                (
                    "p",
                    "Cover the right ear cup with your palm to lower the music and hear the "
                    "people around you. Remove your hand to return to the previous mode.",
                ),
            ],
        ),
        ("fig", "Figure 3  Covering the ear cup for quick listen", []),
        (
            "note",
            "Note:",
            "In strong wind, noise cancelling can produce a rumbling sound. Switch "
            "on wind noise reduction in the app, or use ambient sound mode.",
        ),
        ("h3", "Adaptive mode"),
        (
            "p",
            "In the app you can let the headset choose the noise cancelling strength "
            "automatically from the noise level around you.",
        ),
    ],
    [  # 8 app + firmware
        ("h2", "AeroSound app"),
        (
            "p",
            "The free AeroSound app for iOS and Android adds an equaliser, wear detection "
            "settings, auto power off and firmware updates.",
        ),
        ("h3", "Equaliser presets"),
        (
            "table",
            ["Preset", "Sound"],
            [
                ["Balanced", "Default tuning"],
                ["Bass Boost", "Adds about 6 dB below 120 Hz"],
                ["Voice", "Raises the mid range for podcasts and audiobooks"],
                ["Custom", "Five bands you set yourself"],
            ],
            "Table 3  Equaliser presets",
        ),
        ("h3", "Updating the firmware"),
        (
            "steps",
            [
                "Charge the headset to at least 50 %.",
                "Open the AeroSound app while the headset is connected.",
                "Tap Settings > Firmware update > Download.",
                "Keep the phone within 1 m of the headset; the update takes about 15 minutes.",
                "The headset restarts when the update is complete.",
            ],
        ),
        (
            "warn",
            "CAUTION:",
            "Do not switch off the headset or close the app during a firmware update.",
        ),
        ("h3", "Resetting to factory settings"),
        (
            "p",
            "With the headset on, hold Volume − and the NC button together for 8 seconds "
            "until the LED flashes white. All settings return to the defaults; the pairing "
            "list is kept.",
        ),
    ],
    [  # 9 wired use + care
        ("h2", "Wired listening"),
        (
            "cols",
            2,
            [
                (
                    "p",
                    "Connect the 3.5 mm audio cable to the audio jack to listen without "
                    "Bluetooth, for example to an in-flight entertainment system.",
                ),
                (
                    "p",
                    "Noise cancelling still works when the headset is switched on. With the "
                    "headset switched off, it works as a passive headset and the battery is "
                    "not used.",
                ),
                ("fig", "Figure 4  Using the airplane adapter", []),
                ("p", "The airplane adapter fits the two-pin sockets used on many aircraft."),
                ("h2", "Care and storage"),
                ("h3", "Cleaning"),
                (
                    "p",
                    "Wipe the headset with a soft, dry cloth. Do not use alcohol, solvents or "
                    "spray cleaners. Ear cushions can be wiped with a slightly damp cloth.",
                ),
                ("h3", "Replacing the ear cushions"),
                (
                    "p",
                    "Twist the cushion anticlockwise and pull it off. Align the new cushion "
                    "with the mark at the top of the ear cup and twist it clockwise until it "
                    "clicks. Replacement cushions are sold as part number AS-EC7.",
                ),
                ("h3", "Storage"),
                (
                    "p",
                    "Fold the ear cups flat and keep the headset in its case. If you store it "
                    "for more than 3 months, charge the battery to about 50 % first and "
                    "recharge it every 6 months.",
                ),
                ("h3", "Water resistance"),
                (
                    "p",
                    "The headset is rated IPX4: it resists splashes and sweat. It is not "
                    "waterproof; do not wear it in the shower or while swimming.",
                ),
            ],
        ),
    ],
    [  # 10 troubleshooting
        ("h2", "Troubleshooting"),
        (
            "table",
            ["Problem", "Possible cause", "What to do"],
            [
                [
                    "The headset does not switch on",
                    "Battery empty",
                    "Charge for at least 15 minutes, then try again",
                ],
                [
                    "No sound from one side",
                    "Balance setting in the app",
                    "Reset the balance to the centre in the app's sound settings",
                ],
                [
                    "The phone does not find the headset",
                    "The headset is not in pairing mode",
                    "Switch it off, then hold the power button for 5 seconds",
                ],
                [
                    "Sound cuts out",
                    "Too far from the device or obstacles in between",
                    "Stay within 10 m of the device; keep the phone out of a back pocket",
                ],
                [
                    "Callers hear an echo",
                    "Volume too high on the phone",
                    "Lower the phone's call volume",
                ],
                [
                    "Music pauses by itself",
                    "Wear detection",
                    "Adjust the fit, or turn wear detection off in the app",
                ],
                ["Crackling with noise cancelling on", "Wind", "Turn on wind noise reduction"],
                [
                    "The headset does not charge",
                    "Temperature out of range",
                    "Let it warm up or cool down to room temperature",
                ],
            ],
            "Table 4  Troubleshooting",
        ),
        (
            "p",
            "If the problem persists, reset the headset to factory settings (see "
            "AeroSound app) or contact AeroSound customer service.",
        ),
        ("h3", "Restarting a frozen headset"),
        (
            "p",
            "If the headset stops responding, connect it to a charger and hold the power "
            "button for 15 seconds. This restarts it without deleting settings.",
        ),
    ],
    [  # 11 specifications
        ("h2", "Specifications"),
        (
            "table",
            ["Item", "Value"],
            [
                ["Model", "AS-H7"],
                ["Bluetooth version", "5.3"],
                ["Profiles", "A2DP, AVRCP, HFP, HSP"],
                ["Codecs", "SBC, AAC, LDAC"],
                ["Range", "Up to 10 m (33 ft)"],
                ["Driver", "40 mm dynamic"],
                ["Frequency response", "4 Hz - 40 kHz (wired), 20 Hz - 20 kHz (Bluetooth)"],
                ["Impedance", "32 Ω"],
                ["Playback time", "Up to 30 hours (noise cancelling on), 40 hours (off)"],
                ["Talk time", "Up to 24 hours"],
                ["Charging time", "About 2 hours"],
                ["Battery", "Lithium-ion, 700 mAh"],
                ["Weight", "254 g"],
                ["Operating temperature", "0 °C to 40 °C"],
                ["Water resistance", "IPX4"],
            ],
            "Table 5  Technical data",
        ),
        ("p", "Specifications are subject to change without notice."),
    ],
    [  # 12 warranty + regulatory
        ("h2", "Limited warranty"),
        (
            "cols",
            2,
            [
                (
                    "p",
                    "AeroSound warrants this product against defects in materials and "
                    "workmanship for 2 years from the date of purchase. The battery is covered "
                    "for 1 year or until its capacity falls below 70 %, whichever comes first.",
                ),
                (
                    "p",
                    "The warranty does not cover damage caused by accidents, misuse, water "
                    "immersion or repairs by anyone other than an authorised service centre, "
                    "nor normal wear of the ear cushions.",
                ),
                (
                    "p",
                    "To make a claim, contact the retailer or register the product at "
                    "aerosound.example/support with your proof of purchase.",
                ),
                ("h2", "Regulatory information"),
                (
                    "p",
                    "This device complies with part 15 of the FCC Rules. FCC ID: 2AXH7-AS. "
                    "Operation is subject to the condition that it does not cause harmful "
                    "interference.",
                ),
                ("h3", "Disposal"),
                (
                    "p",
                    "Do not dispose of the headset with household waste. Take it to a "
                    "collection point for electrical and electronic equipment; the battery "
                    "must be removed by a qualified service centre.",
                ),
            ],
        ),
    ],
]

CM350 = [
    [  # 1 cover + contents
        ("h1", "Brewtide CM-350"),
        ("p", "Pump Espresso Machine · Instructions for use"),
        ("fig", "Brewtide CM-350 with milk frother", []),
        ("h2", "Contents"),
        (
            "cols",
            2,
            [
                (
                    "ul",
                    [
                        "Important safeguards",
                        "Parts",
                        "Before first use",
                        "Making espresso",
                        "Frothing milk",
                        "Hot water",
                        "Programming cup volume",
                        "Cleaning",
                        "Descaling",
                        "Indicator lights",
                        "Troubleshooting",
                        "Technical data",
                    ],
                ),
            ],
        ),
    ],
    [  # 2 safeguards
        ("h2", "Important safeguards"),
        (
            "cols",
            2,
            [
                (
                    "warn",
                    "DANGER:",
                    "Never immerse the machine, the power cord or the plug in water "
                    "or any other liquid. Risk of electric shock.",
                ),
                (
                    "p",
                    "Connect the machine only to an earthed socket with a voltage of "
                    "220-240 V. Do not use extension cords.",
                ),
                (
                    "warn",
                    "WARNING:",
                    "Hot surfaces. The brewing head, the portafilter and the "
                    "steam wand stay hot for several minutes after use. Hold the portafilter "
                    "by its handle only.",
                ),
                (
                    "p",
                    "Never remove the portafilter while the machine is brewing: the coffee "
                    "puck is under pressure and hot water can spray out.",
                ),
                (
                    "p",
                    "Children from 8 years may use the machine under supervision. Cleaning "
                    "must not be done by children.",
                ),
                (
                    "p",
                    "Place the machine on a flat, stable surface at least 10 cm from the wall, "
                    "and away from the edge of the worktop.",
                ),
                (
                    "warn",
                    "CAUTION:",
                    "Do not operate the machine without water in the tank; the "
                    "pump can be damaged when it runs dry.",
                ),
                (
                    "p",
                    "Unplug the machine before cleaning and when it is not used for a long time.",
                ),
            ],
        ),
    ],
    [  # 3 parts
        ("h2", "Parts"),
        (
            "fig",
            "Figure 1  Front view",
            [
                "Control panel",
                "Cup warming plate",
                "Water tank (1.8 l, removable)",
                "Brewing head",
                "Portafilter",
                "Steam wand with frothing nozzle",
                "Drip tray with float",
                "Steam knob",
            ],
        ),
        (
            "fig",
            "Figure 2  Control panel",
            ["1-cup button", "2-cup button", "Steam button", "Power button", "Descale light"],
        ),
        (
            "p",
            "The portafilter comes with two filter baskets: the small one for one cup "
            "(about 8 g of ground coffee) and the large one for two cups (about 16 g).",
        ),
        (
            "p",
            "The red float in the drip tray rises when the tray is full. Empty the tray "
            "when you can see the float.",
        ),
    ],
    [  # 4 before first use
        ("h2", "Before first use"),
        (
            "steps",
            [
                "Remove all packaging, then rinse the water tank, the filter baskets and "
                "the portafilter in warm water.",
                "Fill the water tank with fresh cold water up to the MAX mark.",
                "Plug in the machine and press the power button. The 1-cup and 2-cup "
                "buttons flash while the machine heats up (about 40 seconds).",
                "Place a large container under the brewing head and the steam wand.",
                "Press the 2-cup button five times without coffee to rinse the system.",
                "Turn the steam knob open for 20 seconds to fill the steam circuit, then close it.",
            ],
        ),
        (
            "note",
            "Tip:",
            "Use filtered or bottled water with low mineral content to reduce "
            "scale. Do not use sparkling or distilled water.",
        ),
        ("h3", "Setting the water hardness"),
        (
            "p",
            "The descale reminder depends on the water hardness. Test the hardness with "
            "the strip supplied, then hold the Steam button and press the 1-cup button as "
            "many times as the strip shows red squares (1 to 4).",
        ),
        ("h3", "Energy saving"),
        (
            "p",
            "The machine switches off automatically after 25 minutes without use. To "
            "change this to 60 minutes, hold the 1-cup and 2-cup buttons together for "
            "5 seconds while the machine is off.",
        ),
    ],
    [  # 5 espresso
        ("h2", "Making espresso"),
        (
            "steps",
            [
                "Insert the filter basket (small for one cup, large for two) into the portafilter.",
                "Fill the basket with finely ground coffee and tamp it firmly with the "
                "tamper; the surface should be level, about 3 mm below the rim.",
                "Wipe loose grounds off the rim, insert the portafilter in the brewing head "
                "from below and turn it to the right until it is firmly locked.",
                "Place one or two preheated cups on the drip tray.",
                "Press the 1-cup or the 2-cup button. Brewing stops automatically.",
            ],
        ),
        (
            "table",
            ["Drink", "Basket", "Coffee", "Volume"],
            [
                ["Ristretto", "small", "8 g", "20 ml"],
                ["Espresso", "small", "8 g", "30 ml"],
                ["Doppio", "large", "16 g", "60 ml"],
                ["Lungo", "small", "8 g", "80 ml"],
            ],
            "Table 1  Recommended doses",
        ),
        ("h3", "Getting a better crema"),
        (
            "p",
            "If the espresso runs too fast and looks pale, grind finer or tamp harder. If "
            "it only drips, grind coarser. An ideal shot takes 25 to 30 seconds.",
        ),
        (
            "note",
            "Tip:",
            "Warm the cups on the cup warming plate or rinse them with hot water "
            "first: espresso cools quickly in a cold cup.",
        ),
    ],
    [  # 6 milk + hot water + programming
        ("h2", "Frothing milk"),
        (
            "cols",
            2,
            [
                (
                    "steps",
                    [
                        "Press the Steam button. Its light flashes while the machine heats up "
                        "and stays on when it is ready (about 30 seconds).",
                        "Fill a stainless-steel jug one third full with cold milk.",
                        "Hold the frothing nozzle just below the surface of the milk and open "
                        "the steam knob.",
                        "When the milk has doubled in volume, lower the nozzle deeper to heat "
                        "the milk to about 65 °C.",
                        "Close the steam knob, then remove the jug.",
                        "Wipe the steam wand with a damp cloth right away and open the knob "
                        "for 2 seconds to clear milk from the nozzle.",
                    ],
                ),
                (
                    "warn",
                    "WARNING:",
                    "Steam and hot milk can scald. Close the steam knob before you remove the jug.",
                ),
                ("h2", "Hot water"),
                (
                    "p",
                    "For tea or an Americano, place a cup under the steam wand, press the "
                    "1-cup and Steam buttons together and open the steam knob. Close the knob "
                    "to stop.",
                ),
                ("h2", "Programming cup volume"),
                (
                    "p",
                    "Hold the 1-cup or 2-cup button until brewing starts, and release it when "
                    "the cup holds the amount you want. The machine stores the new volume. "
                    "The maximum is 250 ml.",
                ),
                (
                    "p",
                    "To restore the factory volumes (30 ml and 60 ml), hold the power button "
                    "for 10 seconds while the machine is off.",
                ),
            ],
        ),
    ],
    [  # 7 cleaning
        ("h2", "Cleaning"),
        (
            "table",
            ["Part", "How often", "How"],
            [
                ["Drip tray and grid", "Daily", "Empty and rinse"],
                ["Portafilter and baskets", "After each use", "Rinse under hot water"],
                ["Steam wand", "After each use", "Wipe and purge for 2 seconds"],
                ["Water tank", "Weekly", "Rinse; dishwasher safe (top rack)"],
                ["Shower screen", "Monthly", "Unscrew and brush clean"],
                ["Housing", "As needed", "Damp cloth, no abrasives"],
            ],
            "Table 2  Cleaning schedule",
        ),
        ("h3", "Cleaning the shower screen"),
        (
            "steps",
            [
                "Unplug the machine and let it cool down.",
                "Undo the screw in the centre of the shower screen with a coin.",
                "Brush the screen under running water and put it back.",
            ],
        ),
        (
            "note",
            "Note:",
            "Only the water tank and the drip tray grid may go in the dishwasher. "
            "Wash the portafilter by hand; the dishwasher discolours its handle.",
        ),
        ("h3", "Frothing nozzle blocked"),
        (
            "p",
            "Pull the frothing nozzle off the steam wand and clear the small steam hole with "
            "a needle.",
        ),
    ],
    [  # 8 descaling
        ("h2", "Descaling"),
        (
            "p",
            "Scale builds up in the machine and slows the flow. When the descale light "
            "comes on, descale the machine. Depending on the water hardness this is every "
            "1 to 3 months.",
        ),
        (
            "warn",
            "CAUTION:",
            "Use only Brewtide descaler (part CM-DS2) or another liquid "
            "descaler for espresso machines. Never use vinegar: it damages the seals.",
        ),
        (
            "steps",
            [
                "Empty the water tank and fill it with 0.5 l of water and one sachet "
                "(125 ml) of descaler.",
                "Place a 1.5 l container under the brewing head and the steam wand.",
                "Hold the 2-cup and Steam buttons together for 5 seconds: the descale "
                "light flashes.",
                "The machine pumps the solution through the brewing head and the steam "
                "wand in intervals; this takes about 25 minutes.",
                "When the descale light flashes fast, rinse the tank, fill it with fresh "
                "water to MAX and press the 2-cup button to rinse.",
                "The descale light goes out when rinsing is complete.",
            ],
        ),
        (
            "p",
            "If you interrupt descaling, the cycle restarts from the beginning the next "
            "time you start it.",
        ),
    ],
    [  # 9 lights + troubleshooting
        ("h2", "Indicator lights"),
        (
            "table",
            ["Light", "Meaning"],
            [
                ["1-cup and 2-cup flashing slowly", "Heating up"],
                ["All lights flashing", "Water tank empty"],
                ["Descale light on", "Descaling needed"],
                ["Steam light flashing fast", "Machine too hot for coffee; purge steam first"],
                ["1-cup and Steam flashing alternately", "Fault: contact service"],
            ],
            "Table 3  Indicator lights",
        ),
        ("h2", "Troubleshooting"),
        (
            "table",
            ["Problem", "Solution"],
            [
                ["Coffee is not hot enough", "Preheat the cups and the portafilter"],
                ["Coffee runs too slowly", "Grind coarser, tamp less, or descale"],
                [
                    "Coffee runs out around the portafilter",
                    "Wipe the rim; lock the portafilter firmly; clean the brewing head gasket",
                ],
                ["Milk does not froth", "Use cold milk with at least 3 % fat; clean the nozzle"],
                [
                    "Pump is noisy and no water comes out",
                    "Fill the water tank; push it fully into place",
                ],
                ["Water under the machine", "Empty the drip tray"],
            ],
            "Table 4  Troubleshooting",
        ),
    ],
    [  # 10 technical data + warranty
        ("h2", "Technical data"),
        (
            "table",
            ["Item", "Value"],
            [
                ["Model", "CM-350"],
                ["Voltage", "220-240 V ~ 50/60 Hz"],
                ["Power", "1450 W"],
                ["Pump pressure", "15 bar"],
                ["Water tank", "1.8 l"],
                ["Heating system", "Thermoblock"],
                ["Dimensions (W × D × H)", "19 × 30 × 31 cm"],
                ["Weight", "4.6 kg"],
                ["Power cord length", "1 m"],
            ],
            "Table 5  Technical data",
        ),
        ("h2", "Warranty and service"),
        (
            "cols",
            2,
            [
                (
                    "p",
                    "The machine carries a 2-year warranty from the date of purchase. Damage "
                    "caused by scale is not covered: descale regularly.",
                ),
                (
                    "p",
                    "For spare parts (baskets, gaskets, the tamper) and repairs, contact "
                    "Brewtide service with the serial number on the label under the drip "
                    "tray.",
                ),
                ("h3", "Disposal"),
                (
                    "p",
                    "At the end of its life, take the machine to a collection point for "
                    "electrical appliances.",
                ),
            ],
        ),
    ],
]

S3 = [
    [  # 1 封面
        ("h1", "星环 S3 智能手表"),
        ("p", "用户手册 · 型号 XH-S3 · 版本 2.0"),
        ("fig", "星环 S3 智能手表", []),
        ("p", "使用本产品前请仔细阅读本手册，并妥善保管以备日后查阅。"),
    ],
    [  # 2 安全
        ("h2", "安全须知"),
        (
            "cols",
            2,
            [
                (
                    "warn",
                    "警告：",
                    "本产品内置锂电池，请勿拆解、挤压或投入火中，以免发生爆炸或起火。",
                ),
                (
                    "p",
                    "心率、血氧等测量结果仅供参考，不能作为医疗诊断依据。如身体不适，请及时就医。",
                ),
                ("p", "佩戴心脏起搏器或其他植入式医疗设备的用户，使用前请咨询医生。"),
                (
                    "warn",
                    "注意：",
                    "长时间佩戴过紧可能引起皮肤不适。如出现红肿、瘙痒，请停止佩戴并清洁表带与皮肤。",
                ),
                ("p", "请勿在温度高于 45 °C 或低于 -10 °C 的环境中使用或存放手表。"),
                ("p", "充电时请使用原装磁吸充电线，并远离易燃物品。"),
            ],
        ),
    ],
    [  # 3 包装 + 外观
        ("h2", "包装清单"),
        ("ul", ["星环 S3 手表 × 1", "磁吸充电线 × 1", "快速入门指南 × 1", "保修卡 × 1"]),
        ("h2", "外观说明"),
        (
            "fig",
            "图 1  手表正面与侧面按键",
            ["1.43 英寸 AMOLED 触摸屏", "上键（主页键）", "下键（运动键）", "麦克风孔"],
        ),
        ("fig", "图 2  手表背面", ["心率与血氧传感器", "充电触点", "表带快拆按钮"]),
        (
            "p",
            "按上键可返回表盘；在表盘界面按上键进入应用列表。按下键可快速打开运动菜单，"
            "也可在设置中改为打开其他应用。",
        ),
    ],
    [  # 4 开关机与充电
        ("h2", "开机与关机"),
        (
            "p",
            "首次使用前请先充电激活。长按上键 3 秒开机；开机状态下长按上键 3 秒，"
            "在弹出的菜单中选择“关机”。",
        ),
        ("h3", "强制重启"),
        ("p", "如果手表无响应，同时长按上键和下键 12 秒，手表将强制重启，数据不会丢失。"),
        ("h2", "充电"),
        (
            "steps",
            [
                "将磁吸充电线的 USB 端连接到 5 V ⎓ 1 A 的电源适配器。",
                "将手表背面的充电触点对准充电座，磁铁会自动吸合。",
                "屏幕显示充电图标和电量百分比。",
                "充满约需 90 分钟。",
            ],
        ),
        (
            "table",
            ["使用场景", "续航时间"],
            [
                ["典型使用", "约 14 天"],
                ["重度使用", "约 7 天"],
                ["常亮显示开启", "约 4 天"],
                ["持续 GPS 定位", "约 20 小时"],
                ["省电模式", "约 30 天"],
            ],
            "表 1  电池续航",
        ),
        ("warn", "注意：", "充电前请擦干手表背面的汗水和水渍，潮湿的触点可能被腐蚀。"),
    ],
    [  # 5 配对
        ("h2", "与手机配对"),
        (
            "cols",
            2,
            [
                (
                    "p",
                    "手表需要配合“星环运动”App 使用，"
                    "支持 Android 8.0 及以上和 iOS 13 及以上的手机。",
                ),
                (
                    "steps",
                    [
                        "在应用商店搜索并安装“星环运动”App。",
                        "打开手机蓝牙，登录 App 后点击“添加设备”。",
                        "选择“星环 S3”，手表屏幕上会显示一个六位配对码。",
                        "确认手机与手表上的配对码一致后，点击手表上的“√”。",
                        "配对完成后，App 会自动同步时间和语言。",
                    ],
                ),
                ("note", "提示：", "配对时手机与手表的距离请保持在 1 米以内。"),
                ("h3", "更换手机"),
                (
                    "p",
                    "手表同一时间只能绑定一部手机。更换手机前，请在旧手机的 App 中点击"
                    "“解除绑定”，然后在手表上恢复出厂设置，再用新手机配对。",
                ),
                ("h3", "消息通知"),
                (
                    "p",
                    "在 App 的“通知设置”中选择允许推送的应用。手表收到消息时会振动，"
                    "抬腕即可查看。消息最多保存 20 条。",
                ),
            ],
        ),
    ],
    [  # 6 健康
        ("h2", "健康监测"),
        (
            "cols",
            2,
            [
                ("h3", "心率"),
                (
                    "p",
                    "在 App 中开启“全天心率监测”后，手表每 10 分钟测量一次心率。当静息心率"
                    "连续 10 分钟高于设定阈值（默认 120 次/分）时，手表会振动提醒。",
                ),
                ("h3", "血氧饱和度"),
                (
                    "p",
                    "进入“血氧”应用后保持手臂静止，约 30 秒后显示结果。测量时请将手表佩戴在"
                    "腕骨上方一指处，不要过松。",
                ),
                ("h3", "睡眠"),
                (
                    "p",
                    "佩戴手表入睡即可自动记录睡眠，包括深睡、浅睡、快速眼动和清醒时段。"
                    "午睡需超过 20 分钟才会被记录。",
                ),
                ("h3", "压力"),
                ("p", "压力值根据心率变异性计算，范围为 1 到 100，数值越高表示压力越大。"),
            ],
        ),
        ("fig", "图 3  正确的佩戴位置：腕骨上方约一指宽", []),
        (
            "warn",
            "注意：",
            "以下情况可能导致测量不准确：纹身、手臂毛发浓密、佩戴过松、环境温度过低。",
        ),
    ],
    [  # 7 运动
        ("h2", "运动模式"),
        ("p", "手表支持 120 多种运动模式，其中跑步、步行、骑行、游泳等 12 种可自动识别。"),
        (
            "steps",
            [
                "按下键进入运动菜单。",
                "上下滑动选择运动类型，例如“户外跑步”。",
                "等待 GPS 定位成功（图标变为绿色）后点击“开始”。",
                "运动结束时按下键暂停，再点击“■”结束并保存记录。",
            ],
        ),
        (
            "table",
            ["运动类型", "GPS", "自动识别"],
            [
                ["户外跑步", "支持", "支持"],
                ["室内跑步", "不支持", "支持"],
                ["户外骑行", "支持", "支持"],
                ["泳池游泳", "不支持", "支持"],
                ["登山", "支持", "不支持"],
                ["跳绳", "不支持", "不支持"],
            ],
            "表 2  常用运动模式",
        ),
        ("note", "提示：", "首次户外定位可能需要 1 分钟左右，请在空旷处等待。"),
    ],
    [  # 8 防水
        ("h2", "防水说明"),
        ("p", "手表的防水等级为 5 ATM，可在泳池或浅海游泳时佩戴。"),
        (
            "warn",
            "警告：",
            "请勿在洗热水澡、蒸桑拿、潜水或进行高速水上运动时佩戴手表。"
            "防水性能会随时间下降，且不在保修范围内。",
        ),
        ("h3", "游泳后"),
        (
            "p",
            "游泳后请用清水冲洗手表并擦干。开启“排水”功能，手表会振动发声将扬声器孔内的积水排出。",
        ),
        ("h3", "屏幕锁定"),
        ("p", "进入游泳模式时屏幕会自动锁定，防止误触。结束游泳后长按上键 2 秒解锁。"),
        ("h2", "支付与门禁"),
        (
            "cols",
            2,
            [
                ("p", "在 App 中开通 NFC 交通卡后，将手表靠近闸机读卡区即可刷卡乘车。"),
                (
                    "p",
                    "门禁卡模拟仅支持未加密的门禁卡。在 App 中选择“门禁卡 > 添加”，"
                    "按提示将门禁卡贴近手表背面读取。",
                ),
            ],
        ),
    ],
    [  # 9 设置 + 维护
        ("h2", "常用设置"),
        (
            "table",
            ["设置项", "操作路径"],
            [
                ["抬腕亮屏", "设置 > 显示 > 抬腕亮屏"],
                ["常亮显示", "设置 > 显示 > 常亮显示"],
                ["勿扰模式", "从表盘下滑 > 月亮图标"],
                ["省电模式", "设置 > 电池 > 省电模式"],
                ["更换表盘", "长按表盘 2 秒，左右滑动选择"],
                ["恢复出厂设置", "设置 > 系统 > 恢复出厂设置"],
            ],
            "表 3  常用设置",
        ),
        ("h2", "保养与清洁"),
        (
            "cols",
            2,
            [
                ("p", "请定期用柔软的湿布清洁手表和表带，不要使用肥皂、洗洁精或酒精。"),
                ("p", "硅胶表带宽度为 22 毫米，可更换为任何标准 22 毫米快拆表带。"),
                ("h3", "更换表带"),
                (
                    "steps",
                    [
                        "将表带快拆按钮向内拨动。",
                        "取下旧表带。",
                        "将新表带的一端插入表耳孔，拨动快拆按钮装入另一端。",
                    ],
                ),
            ],
        ),
    ],
    [  # 10 故障排除
        ("h2", "常见问题"),
        (
            "table",
            ["问题", "解决方法"],
            [
                ["手表无法开机", "连接充电线充电 10 分钟以上后再开机"],
                ["无法收到消息", "检查手机是否允许“星环运动”在后台运行，并开启通知权限"],
                ["蓝牙经常断开", "关闭手机的省电模式，并将 App 加入电池优化白名单"],
                ["步数不准确", "在 App 中设置正确的身高和佩戴手（左手或右手）"],
                ["GPS 定位慢", "在开阔处等待，并在 App 中更新星历数据"],
                ["充电无反应", "清洁充电触点，确认手表放置到位"],
            ],
            "表 4  故障排除",
        ),
        ("h3", "固件升级"),
        (
            "p",
            "手表连接 App 后，进入“设备 > 固件升级”检查新版本。升级时电量需高于 30%，"
            "升级过程约 10 分钟，请勿关闭 App。",
        ),
    ],
    [  # 11 规格 + 保修
        ("h2", "技术规格"),
        (
            "table",
            ["项目", "参数"],
            [
                ["型号", "XH-S3"],
                ["屏幕", "1.43 英寸 AMOLED，466 × 466 像素"],
                ["蓝牙", "BLE 5.2"],
                ["电池容量", "410 mAh"],
                ["防水等级", "5 ATM"],
                ["定位", "GPS、北斗、GLONASS、伽利略"],
                ["传感器", "加速度计、陀螺仪、光学心率、气压计"],
                ["重量", "约 36 克（不含表带）"],
                ["工作温度", "-10 °C 至 45 °C"],
            ],
            "表 5  技术规格",
        ),
        ("h2", "保修说明"),
        (
            "p",
            "自购买之日起，手表主机保修 1 年，充电线保修 3 个月。表带、表壳划痕等正常磨损"
            "不在保修范围内。申请保修时请出示购买凭证。",
        ),
    ],
]

MANUALS = {
    "aerosound-h7.pdf": (H7, "AeroSound H7 User Manual", "en", "'DejaVu Sans', sans-serif"),
    "brewtide-cm350.pdf": (CM350, "Brewtide CM-350 Instructions", "en", "'DejaVu Serif', serif"),
    "xinghuan-s3.pdf": (S3, "星环 S3 智能手表 用户手册", "zh-CN", "'Noto Sans CJK SC', sans-serif"),
}


def _header(title: str) -> str:
    return (
        '<div style="font-size:7px;width:100%;margin:0 11mm;display:flex;'
        f'justify-content:space-between;color:#555"><span>{_e(title)}</span>'
        "<span>Rev. 2026-03</span></div>"
    )


def _footer(lang: str) -> str:
    label = (
        "第 <span class='pageNumber'></span> 页"
        if lang.startswith("zh")
        else ("<span class='pageNumber'></span> / <span class='totalPages'></span>")
    )
    return f'<div style="font-size:7px;width:100%;text-align:center;color:#555">{label}</div>'


def build(out: Path) -> list[Path]:
    """Print every manual to `out`; returns the paths."""
    from playwright.sync_api import sync_playwright

    out.mkdir(parents=True, exist_ok=True)
    written = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS, headless=True)
        try:
            for name, (pages, title, lang, font) in MANUALS.items():
                page = browser.new_page()
                page.set_content(page_html(pages, font, lang))
                path = out / name
                page.pdf(
                    path=str(path), format="A5", display_header_footer=True,
                    header_template=_header(title), footer_template=_footer(lang),
                    margin={"top": "16mm", "bottom": "15mm", "left": "11mm", "right": "11mm"},
                )  # fmt: skip
                page.close()
                written.append(path)
        finally:
            browser.close()
    return written


def _squash(text: str) -> str:
    """Compare text without spaces and line breaks (PDF lines break anywhere)."""
    return re.sub(r"\s+", "", text).lower()


def check(out: Path, questions: list[dict]) -> list[str]:
    """Problems: a manual printed on more or fewer sheets than it has pages, or an evidence
    quote that is not on the page the question names."""
    import pypdfium2 as pdfium

    problems = []
    texts: dict[str, list[str]] = {}
    for name, (pages, *_rest) in MANUALS.items():
        doc = pdfium.PdfDocument(str(out / name))
        texts[name] = [_squash(doc[i].get_textpage().get_text_bounded()) for i in range(len(doc))]
        if len(doc) != len(pages):
            problems.append(f"{name}: {len(doc)} sheets for {len(pages)} pages")
    for q in questions:
        if q["doc"] is None:
            continue
        quotes = [(q["pages"][0], q["evidence"])] + [tuple(e) for e in q.get("extra_evidence", [])]
        for page, quote in quotes:
            pages = texts[q["doc"]]
            if page > len(pages) or _squash(quote) not in pages[page - 1]:
                problems.append(f"{q['id']}: evidence not on page {page} of {q['doc']}")
    return problems


def main() -> int:
    if len(sys.argv) != 2:
        print(__doc__)
        return 2
    out = Path(sys.argv[1])
    build(out)
    questions = [json.loads(line) for line in QUESTIONS.read_text().splitlines() if line.strip()]
    problems = check(out, questions)
    for p in problems:
        print("problem:", p)
    total = sum(len(m[0]) for m in MANUALS.values())
    print(f"{len(MANUALS)} manuals, {total} pages, {len(questions)} questions -> {out}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
