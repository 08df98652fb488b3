"""Chunking: page boundaries, token budget, overlap, offsets — with a whitespace token counter
(pure logic) and with the real model tokenizer."""

from __future__ import annotations

import pytest

from folio.types import Page
from ingest.chunk import chunk_page, chunk_pages, embedding_text, segments


def words(texts: list[str]) -> list[int]:
    return [len(t.split()) for t in texts]


def sentence(i: int, n: int = 10) -> str:
    return " ".join(f"W{i}x{j}" for j in range(n - 1)) + f" end{i}."


def test_segments_cut_lines_and_sentences():
    text = "First line\nSecond sentence. Third one here.\n\nLast"
    spans = [text[a:b] for a, b in segments(text)]
    assert spans == ["First line", "Second sentence.", "Third one here.", "Last"]


def test_chunks_respect_budget_and_overlap():
    text = " ".join(sentence(i) for i in range(30))  # 300 words, 10 per sentence
    page = Page(text=text, number=4, label="iv", section="Intro")
    chunks = chunk_page(
        page, doc_id="d", first_ord=0, count_tokens=words, max_tokens=50, overlap=10
    )
    assert len(chunks) > 1
    for c in chunks:
        assert c.tokens <= 50
        assert text[c.char_start : c.char_end] == c.text
        assert (c.page_start, c.label_start, c.section) == (4, "iv", "Intro")
    # consecutive chunks share their boundary sentence (the overlap)
    for a, b in zip(chunks, chunks[1:], strict=False):
        assert b.char_start < a.char_end
    # every sentence lands in some chunk
    for i in range(30):
        assert any(f"end{i}." in c.text for c in chunks)


def test_contents_and_index_lines_are_not_indexed_even_between_kept_lines():
    page = Page(
        text="Environment variable index\nB\nBLAS_LIBS . . . . . . . . 48\nD\n"
        "DESTDIR . . . . . . . . . 8, 39\nLANGUAGE. . . . . . . 35, 36\n"
        "2.7 Other Options . . . . . . . xii\nR_HOME is where R lives.",
        number=85,
    )
    chunks = chunk_page(page, doc_id="d", first_ord=0, count_tokens=words, max_tokens=50)
    text = " ".join(c.text for c in chunks)
    assert ". . ." not in text and "DESTDIR" not in text and "BLAS_LIBS" not in text
    assert "R_HOME is where R lives." in text
    assert all(c.tokens >= len(c.text.split()) for c in chunks)  # the budget counts all text


def test_pages_are_hard_boundaries_and_ords_are_consecutive():
    pages = [Page(text=sentence(i, 5), number=i + 1) for i in range(5)]
    chunks = list(chunk_pages(pages, doc_id="doc", count_tokens=words, max_tokens=200))
    assert [c.page_start for c in chunks] == [1, 2, 3, 4, 5]
    assert [c.ord for c in chunks] == list(range(5))
    assert len({c.id for c in chunks}) == 5


def test_long_sentence_is_split_under_budget():
    text = " ".join(f"tok{i}" for i in range(500))
    chunks = chunk_page(
        Page(text=text), doc_id="d", first_ord=0, count_tokens=words, max_tokens=100, overlap=0
    )
    assert all(c.tokens <= 100 for c in chunks)
    assert " ".join(c.text for c in chunks).split() == text.split()


def test_empty_page_gives_no_chunks():
    assert chunk_page(Page(text=" \n\n "), doc_id="d", first_ord=0, count_tokens=words) == []


def test_embedding_text_carries_title_and_section():
    c = chunk_page(
        Page(text="Reset the unit.", section="Maintenance > Reset"),
        doc_id="d", first_ord=0, count_tokens=words,
    )[0]  # fmt: skip
    assert embedding_text(c, "Pump Manual").startswith("Pump Manual > Maintenance > Reset\n")


@pytest.fixture(scope="module")
def tokenizer_count():
    from folio.embedding import Embedder

    return Embedder("all-MiniLM-L6-v2").count_tokens


def test_real_tokenizer_budget(tokenizer_count):
    text = "\n".join(
        f"Step {i}: configure the R_LIBS_USER variable for the interpreter." for i in range(80)
    )
    chunks = chunk_page(
        Page(text=text, number=1), doc_id="d", first_ord=0,
        count_tokens=tokenizer_count, max_tokens=120, overlap=20,
    )  # fmt: skip
    assert len(chunks) > 3
    for c in chunks:
        assert tokenizer_count([c.text])[0] <= 120 + 5  # joins may merge a token or two


# --- headings (ingest.layout finds them in PDFs; the chunker starts chunks at them) -----------


def manual_page(**kw) -> Page:
    text = "\n".join(
        [
            "Pairing",
            *(sentence(i) for i in range(4)),
            "Pairing a second",
            "device",
            *(sentence(i) for i in range(4, 8)),
            "Reconnecting",
            sentence(8),
            "Clearing the pairing list",
            *(sentence(i) for i in range(9, 13)),
        ]
    )
    heads = ("Pairing", "Pairing a second device", "Reconnecting", "Clearing the pairing list")
    return Page(text=text, number=5, headings=heads, **kw)


def chunks_of(page: Page, **kw) -> list:
    return chunk_page(page, doc_id="d", first_ord=0, count_tokens=words, **kw)


def test_heading_spans_match_whole_lines_in_order_and_across_wraps():
    from ingest.chunk import heading_spans

    text = "Pairing\nbody about pairing\nPairing a second\ndevice\nmore\nPairing"
    found = heading_spans(text, ["Pairing", "Pairing a second device", "Missing"])
    assert [(text[a:b], h) for a, b, h in found] == [
        ("Pairing", "Pairing"),
        ("Pairing a second\ndevice", "Pairing a second device"),
    ]
    assert heading_spans("Pairing is easy", ["Pairing"]) == []  # not alone on its line


def test_chunks_start_at_headings_without_overlap_across_them():
    chunks = chunks_of(manual_page(), max_tokens=60, overlap=10)
    starts = [c.text.split("\n")[0] for c in chunks]
    assert starts == ["Pairing", "Pairing a second", "Reconnecting"]
    # "Reconnecting" holds one sentence (11 tokens): it stays with the next section
    assert "Clearing the pairing list" in chunks[2].text
    assert [c.section for c in chunks] == ["Pairing", "Pairing a second device", "Reconnecting"]
    for a, b in zip(chunks, chunks[1:], strict=False):
        assert b.char_start >= a.char_end  # nothing carried across a heading


def test_a_heading_never_ends_a_chunk():
    text = "\n".join([sentence(0), sentence(1), sentence(2), "Cleaning", sentence(3)])
    page = Page(text=text, number=1, headings=("Cleaning",))
    chunks = chunks_of(page, max_tokens=31, overlap=10)
    assert all(not c.text.endswith("Cleaning") for c in chunks)
    assert any(c.text.startswith("Cleaning\n") for c in chunks)


def test_section_is_the_outline_path_then_the_heading_in_force():
    from ingest.chunk import section_path

    assert section_path("", "Reconnecting") == "Reconnecting"
    assert section_path("2 Install > 2.4 Installation", "2.4 Installation") == (
        "2 Install > 2.4 Installation"
    )
    assert section_path("2 Install", "2.4.1 Options") == "2 Install > 2.4.1 Options"
    assert section_path("Intro", None) == "Intro"


def test_the_last_heading_of_a_page_names_the_top_of_the_next():
    first = Page(text="Troubleshooting\n" + sentence(0), number=9, headings=("Troubleshooting",))
    second = Page(text=sentence(1), number=10)
    new_chapter = Page(text=sentence(2), number=11, section="Appendix")
    chunks = list(
        chunk_pages([first, second, new_chapter], doc_id="d", count_tokens=words, max_tokens=50)
    )
    assert [c.section for c in chunks] == ["Troubleshooting", "Troubleshooting", "Appendix"]


def test_pages_without_headings_chunk_as_before():
    text = " ".join(sentence(i) for i in range(30))
    plain = chunks_of(Page(text=text, number=1), max_tokens=50, overlap=10)
    headed = chunks_of(Page(text=text, number=1, headings=("Absent heading",)), max_tokens=50,
                       overlap=10)  # fmt: skip
    assert [(c.char_start, c.char_end) for c in plain] == [
        (c.char_start, c.char_end) for c in headed
    ]


def test_headings_survive_the_spool_as_a_tuple():
    import json
    from dataclasses import asdict

    page = Page(**json.loads(json.dumps(asdict(Page(text="x", headings=("A", "B"))))))
    assert page.headings == ("A", "B")
