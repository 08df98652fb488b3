"""Headings told by type size (`ingest.layout`): pure functions over (line, size) pairs."""

from __future__ import annotations

from ingest.layout import body_size, headings, size_weights

BODY = 8.6


def page(*lines: tuple[str, float]) -> list[tuple[str, float]]:
    return list(lines)


def test_body_size_is_the_size_most_characters_are_set_in():
    weights = size_weights(page(("Pairing", 12.3), ("a long line of body text here", BODY)))
    assert body_size(weights) == BODY
    assert body_size(size_weights([])) == 0.0


def test_larger_lines_are_headings_and_body_lines_are_not():
    lines = page(
        ("Pairing", 14.7),
        ("Make sure the headset is off.", BODY),
        ("Reconnecting", 9.2),  # an h3 a little larger than the body (1.07x)
        ("When switched on, the headset", BODY),
        ("time", BODY),  # a short body line in a narrow column
    )
    assert headings(lines, BODY) == ["Pairing", "Reconnecting"]


def test_a_heading_wrapped_over_lines_is_one_heading():
    lines = page(
        ("Pairing with a phone for the first", 12.3),
        ("time", 12.3),
        ("1. Make sure the headset is off.", BODY),
    )
    assert headings(lines, BODY) == ["Pairing with a phone for the first time"]


def test_bold_at_body_size_captions_and_footers_are_not_headings():
    lines = page(
        ("Note: If your phone asks for a PIN", BODY),
        ("Figure 1 Controls on the right ear cup", 7.8),
        ("5 / 12", 7.0),
        ("12", 14.0),  # a large number without a letter (a callout) is no heading
        ("R", 14.0),  # nor an index's group letter
    )
    assert headings(lines, BODY) == []


def test_large_running_text_is_not_a_heading():
    blurb = [("Everything you need to know about your new espresso machine", 14.0)] * 4
    assert headings(page(*blurb), BODY) == []
    assert headings(page(("x" * 130, 14.0)), BODY) == []


def test_a_page_of_small_type_keeps_its_body_text_out_of_the_headings():
    """On a page of tables the small type outweighs the body text; the document's body size
    (not the page's) decides, so the page's paragraphs are not taken for headings."""
    table = [("Red, pulsing Charging, battery below 20 %", 8.0)] * 12
    lines = page(("Charging", 11.0), ("Charge the headset fully before first use.", BODY), *table)
    assert body_size(size_weights(lines)) == 8.0  # the page alone would misjudge
    assert headings(lines, BODY) == ["Charging"]


def test_chinese_headings():
    lines = page(("强制重启", 9.2), ("如果手表无响应，同时长按上键和下键 12 秒。", BODY))
    assert headings(lines, BODY) == ["强制重启"]


def test_bare_titles_compare_without_numbers_case_or_spaces():
    from ingest.layout import bare

    assert bare("2.4  Installation") == bare("Installation") == "installation"
    assert bare("C.3.1 Prerequisites") == "prerequisites"
    assert bare("4.1) Printer Installation") == "printer installation"
    assert bare("第3章 安装") == "安装"
    assert bare("Pairing a second device") == "pairing a second device"
    assert bare("Appendix C Platform notes") == bare("C Platform notes") == "platform notes"
    assert bare("C.3.11 Building for Intel on ‘arm64’") == bare("Building for Intel on arm64")


def test_a_heading_that_only_numbers_a_chapter_is_dropped():
    from ingest.layout import label

    lines = page(("Chapter 8", 20.0), ("Updating the package", 24.0), ("Body text.", BODY))
    assert headings(lines, BODY) == ["Updating the package"]
    assert all(label(h) for h in ["Chapter 8", "第 8 章", "Appendix B", "Part II", "附录 A"])
    assert not any(label(h) for h in ["Charging", "Section 3: Safety", "更新软件包", "A"])
