"""The pure clean-up functions: characters, hyphenation, whitespace, running headers/footers."""

from __future__ import annotations

from ingest.clean import (
    clean_page,
    clean_text,
    dehyphenate,
    edge_lines,
    fix_characters,
    hyphen_compounds,
    line_key,
    normalise_whitespace,
    running_lines,
    strip_running_lines,
)


def test_fix_characters_ligatures_spaces_and_invisible_marks():
    raw = "Con\ufb01gure the \ufb02ow\u00a0rate;\u00a0re\u00adset\u200b it\r\nnow\rthen"
    assert fix_characters(raw) == "Configure the flow rate; reset it\nnow\nthen"


def test_fix_characters_drops_control_bytes_but_keeps_tabs_and_newlines():
    assert fix_characters("a\x00b\x07c\td\ne\x0cf") == "abc\td\ne\nf"


def test_dehyphenate_joins_lowercase_line_end_hyphenation():
    assert dehyphenate("the configu-\nration file") == "the configuration file"
    assert dehyphenate("in-\n  cluding and ap-\npendix") == "including and appendix"


def test_dehyphenate_keeps_common_compounds_even_written_once():
    text = "on Debian-\nbased systems, a network-\nmounted home, pre-\ndefined and con-\nfigured"
    assert dehyphenate(text) == (
        "on Debian-based systems, a network-mounted home, predefined and configured"
    )


def test_dehyphenate_keeps_the_hyphen_of_compounds_the_text_writes_elsewhere():
    text = "a Debian-\nbased system; any Debian-based host; configu-\nration"
    assert dehyphenate(text) == "a Debian-based system; any Debian-based host; configuration"
    assert dehyphenate("the end-to-\nend check", {"to-end"}) == "the end-to-end check"
    # a rare compound written only once, across a line end, is still joined (a known limit)
    assert dehyphenate("a Debian-\nflavoured system", set()) == "a Debianflavoured system"


def test_hyphen_compounds_are_the_pairs_around_inline_hyphens():
    assert hyphen_compounds("End-to-end, x-2, and con-\nfig") == {"end-to", "to-end"}


def test_dehyphenate_keeps_hyphens_that_are_not_line_end_word_splits():
    for kept in ("UPS-\nBased", "x-\n2", "well-known", "item -\nnext", "pre-\nPost"):
        assert dehyphenate(kept) == kept


def test_normalise_whitespace_collapses_spaces_keeps_paragraphs():
    raw = "  one   two\t three  \nfour\n\n\n\n five \n"
    assert normalise_whitespace(raw) == "one two three\nfour\n\nfive"


def test_clean_text_combines_the_steps():
    assert clean_text("\ufb01rst  hyphen-\nated\u00a0word\n\n\n\nend") == (
        "first hyphenated word\n\nend"
    )


def test_line_key_ignores_page_numbers_case_and_spacing():
    assert line_key("Page 7") == line_key("page  8")
    assert line_key("Acme Manual vii") == line_key("Acme Manual 12")
    assert line_key("Chapter 2: Setup 16") == line_key("Chapter 3: Setup 17")
    assert line_key("Setup") != line_key("Install")


def test_edge_lines_are_first_and_last_three_non_empty_lines():
    lines = [f"line {i}" for i in range(10)]
    text = "\n\n".join(lines)
    assert edge_lines(text) == lines[:3] + lines[-3:]
    assert edge_lines("only\n\nthree\nlines") == ["only", "three", "lines"]


def _pages(n: int, *, header: str | None, footer: str | None) -> list[str]:
    pages = []
    for i in range(1, n + 1):
        body = [f"Body paragraph {chr(64 + i)} line {j} about widgets." for j in range(5)]
        lines = ([header.format(n=i)] if header else []) + body
        lines += [footer.format(n=i)] if footer else []
        pages.append("\n".join(lines))
    return pages


def test_running_header_and_page_footer_are_found():
    pages = _pages(6, header="Acme Widget Manual", footer="Page {n} of 6")
    running = running_lines([edge_lines(p) for p in pages])
    assert line_key("Acme Widget Manual") in running
    assert line_key("Page 1 of 6") in running
    assert not any("body paragraph" in key for key in running)


def test_no_running_lines_below_four_pages():
    pages = _pages(3, header="Acme Widget Manual", footer="Page {n}")
    assert running_lines([edge_lines(p) for p in pages]) == set()


def test_line_on_a_minority_of_pages_is_not_running():
    pages = _pages(8, header=None, footer=None)
    pages[1] = "Warning\n" + pages[1]
    pages[5] = "Warning\n" + pages[5]
    assert line_key("Warning") not in running_lines([edge_lines(p) for p in pages])


def test_alternating_left_and_right_headers_are_running():
    # "Acme Manual" heads the even pages only, not the opening page, so it is on fewer than
    # half of all pages; it is still on nearly every page of its side.
    pages = _pages(12, header=None, footer=None)
    pages = [
        ("Acme Manual\n" if i % 2 == 0 and i != 0 else "") + page for i, page in enumerate(pages)
    ]
    assert line_key("Acme Manual") in running_lines([edge_lines(p) for p in pages])


def test_chapter_running_head_carrying_the_page_number_is_running():
    # Chapter heads change every few pages, so no single one reaches half the pages, but each
    # carries the printed page number, which follows the physical page index.
    pages = _pages(12, header=None, footer=None)
    heads = ["Chapter 1: Setup {p}"] * 4 + ["Chapter 2: Usage {p}"] * 4 + ["Index {p}"] * 4
    pages = [heads[i].format(p=i + 5) + "\n" + page for i, page in enumerate(pages)]
    running = running_lines([edge_lines(p) for p in pages])
    assert line_key("Chapter 1: Setup 5") in running
    assert line_key("Chapter 2: Usage 9") in running


def test_numbered_lines_that_do_not_follow_the_page_are_kept():
    pages = _pages(12, header=None, footer=None)
    for step, index in enumerate((0, 3, 6, 9), start=1):
        pages[index] = f"Step {step}\n" + pages[index]
    assert line_key("Step 1") not in running_lines([edge_lines(p) for p in pages])


def test_clean_page_removes_running_lines_only_at_the_edges():
    running = {line_key("Acme Widget Manual"), line_key("Page 1")}
    body = ["body 0", "body 1", "body 2", "Acme Widget Manual", "body 3", "body 4", "body 5"]
    page = "\n".join(["Acme Widget Manual", *body, "Page 9"])
    # the 5th of 9 lines is not among the first or last three, so the quote there stays
    assert clean_page(page, running).splitlines() == body


def test_clean_page_without_running_lines_still_cleans():
    assert (
        clean_page("Acme  Manual\nthe con-\nfig\u00a0file", set()) == "Acme Manual\nthe config file"
    )


def test_strip_running_lines_end_to_end():
    pages = _pages(6, header="Acme Widget Manual", footer="Page {n}")
    cleaned = strip_running_lines(pages)
    for i, text in enumerate(cleaned, start=1):
        assert "Acme Widget Manual" not in text
        assert f"Page {i}" not in text
        assert f"Body paragraph {chr(64 + i)} line 0 about widgets." in text
        assert len(text.splitlines()) == 5


def test_templated_lines_with_unrelated_numbers_are_not_running():
    # every page is "Valve N: set to M bar" with M unrelated to the page: content, not a header
    pages = [f"Valve {i}: set to {(i * 37) % 11 + 2} bar" for i in range(1, 9)]
    assert running_lines([edge_lines(p) for p in pages]) == set()
    assert strip_running_lines(pages) == pages


def test_literal_hash_lines_do_not_confuse_number_matching():
    pages = _pages(6, header=None, footer="Page {n}")
    pages[0] += "\n# comment 5"
    pages[1] += "\n3 comment 5"
    assert line_key("Page 1") in running_lines([edge_lines(p) for p in pages])
