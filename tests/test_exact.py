"""Exact text finds its page: pasted sentences, error messages, identifiers (issue 13).

A generated manual where the same words appear scattered on one page and as a sentence on
another, two near-identical procedure pages that differ in one line, and identifiers that an
ordinary tokenizer would split (`R_DISABLE_HTTPD`, `--no-site-file`, `0x80070005`).
"""

from __future__ import annotations

import pytest

from folio import text as lang
from folio.evaluate import quote_questions
from folio.settings import Settings
from ingest.pipeline import ingest_paths
from retrieval.answerable import answerable
from retrieval.search import exact_matches, search
from services.build import open_index
from tests.fixtures import make_pdf, make_zh_manual_pdf

SENTENCE = "the controller restarts the backup service when the disk quota is exceeded"
PAGES = [
    "Backup appliance BX-9. Administration guide.",
    # the sentence's words, scattered, repeated: BM25 alone likes this page
    "Quota and disk notes. The backup service has a quota. The controller checks the disk. "
    "When a service restarts, the disk quota is checked again; the controller is exceeded by "
    "nothing. Backup, backup, quota, disk, controller, restarts, service, exceeded.",
    f"Failure handling. If logging is enabled, {SENTENCE}. Check the log afterwards.",
    "Replacing a disk, step 3: remove the caddy, insert the new disk, wait for the green LED "
    "and press OK on the front panel.",
    "Replacing a disk, step 3: remove the caddy, insert the new disk, wait for the amber LED "
    "and press OK on the front panel.",
    "Environment. Set R_DISABLE_HTTPD to 1 to turn the web console off. Start the shell with "
    "--no-site-file to skip site defaults. Error 0x80070005 means access denied.",
    "Web server settings. The httpd daemon serves the console. The site file holds defaults.",
]


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("exact")
    make_pdf(tmp / "bx9.pdf", PAGES, title="BX-9 Administration Guide")
    make_zh_manual_pdf(tmp / "xr500.pdf")
    settings = Settings(data_dir=tmp / "index")
    index, embedder = open_index(settings)
    results = ingest_paths([tmp / "bx9.pdf", tmp / "xr500.pdf"], settings, index=index,
                           embedder=embedder)  # fmt: skip
    assert [r.status for r in results] == ["ingested", "ingested"]
    return settings, index, embedder


def _top(env, query: str, mode: str = "hybrid"):
    settings, index, embedder = env
    hits = search(index, embedder, settings, query, k=3, mode=mode)
    return hits, hits.passages[0]


def test_a_pasted_sentence_ranks_its_page_above_the_scattered_words(env):
    _, top = _top(env, SENTENCE)
    assert (top.doc_name, top.page) == ("bx9.pdf", 3)
    settings, index, embedder = env
    # BM25 alone prefers the page of scattered words: the phrase signal is what decides
    plain = index.bm25(SENTENCE, 3)
    assert index.chunks([plain[0][0]])[plain[0][0]][0].page_start == 2


def test_a_paraphrase_is_no_quote(env):
    settings, index, _ = env
    assert exact_matches(index, "what happens if my disk runs out of space?") == []


def test_near_identical_pages_are_told_apart_by_the_line_that_differs(env):
    for colour, page in (("green", 4), ("amber", 5)):
        _, top = _top(env, f"wait for the {colour} LED and press OK on the front panel")
        assert top.page == page, colour


@pytest.mark.parametrize("identifier", ["R_DISABLE_HTTPD", "--no-site-file", "0x80070005"])
def test_identifiers_match_whole_before_their_parts(env, identifier):
    hits, top = _top(env, f"what is {identifier}?", mode="bm25")
    assert top.page == 6, [(p.page, p.score) for p in hits.passages]


def test_identifier_is_indexed_whole_and_by_parts():
    assert lang.index_terms("R_DISABLE_HTTPD") == ["r", "disabl", "httpd", "r_disable_httpd"]
    assert lang.index_terms("--no-site-file")[-1] == "no_site_file"


def test_a_pasted_chinese_sentence_finds_its_page(env):
    hits, top = _top(env, "按住背面的 RESET 孔 8 秒")
    assert (top.doc_name, top.page) == ("xr500.pdf", 6)
    settings = env[0]
    assert answerable(hits, settings).answerable


def test_quote_questions_turn_evidence_into_known_item_queries():
    qs = [
        {"id": "a", "question": "q?", "doc": "m.pdf", "pages": [3], "evidence": "Hold RESET",
         "extra_evidence": [[4, "then release"]]},
        {"id": "b", "question": "absent?", "doc": None, "pages": [], "evidence": ""},
        {"id": "c", "question": "docx", "doc": "h.docx", "evidence": "Leave goes to HR"},
    ]  # fmt: skip
    quotes = quote_questions(qs)
    assert [(q["question"], q["pages"]) for q in quotes] == [
        ("Hold RESET", [3]), ("then release", [4]), ("Leave goes to HR", []),
    ]  # fmt: skip
    assert all(q["doc"] for q in quotes)
