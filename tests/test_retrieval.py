"""Hybrid retrieval on a real index built from generated manuals."""

from __future__ import annotations

import pytest

from folio.settings import Settings
from folio.text import is_common
from folio.types import Chunk
from ingest.pipeline import ingest_paths
from retrieval.answerable import answerable
from retrieval.search import search
from services.build import open_index
from tests.fixtures import make_docx, make_pdf

PUMP = [
    "Orion P-7 pump manual. Front matter.",
    "Installation. Bolt the pump to a level concrete plinth using four M12 anchors.",
    "Priming. Open the vent screw VS-2 and fill the casing with water until it overflows. "
    "Close the vent screw before starting the motor.",
    "Error codes. E17 means the thermal cut-out tripped: let the motor cool for 20 minutes.",
    "Maintenance. Replace the shaft seal every 4000 operating hours. Grease bearings monthly.",
]


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("retrieval")
    make_pdf(tmp / "pump.pdf", PUMP, title="Orion P-7 Pump Manual", labels=[(0, "/r"), (1, "/D")])
    make_docx(
        tmp / "hr.docx",
        [("heading", 1, "Leave"), ("para", "Annual leave requests go to the line manager.")],
        title="HR Handbook",
    )
    settings = Settings(data_dir=tmp / "index")
    index, embedder = open_index(settings)
    ingest_paths([tmp / "pump.pdf"], settings, index=index, embedder=embedder, collection="eng")
    ingest_paths([tmp / "hr.docx"], settings, index=index, embedder=embedder, collection="hr")
    return settings, index, embedder


def test_exact_code_found_by_lexical_side(env):
    settings, index, embedder = env
    hits = search(index, embedder, settings, "What does E17 mean?", k=3)
    top = hits.passages[0]
    assert (top.doc_name, top.page, top.page_label) == ("pump.pdf", 4, "3")


def test_paraphrase_found_by_dense_side(env):
    settings, index, embedder = env
    hits = search(index, embedder, settings, "how often must the seal on the shaft be swapped")
    assert hits.passages[0].page == 5


def test_collection_filter(env):
    settings, index, embedder = env
    hits = search(index, embedder, settings, "leave requests", collections=["eng"])
    assert all(p.collection == "eng" for p in hits.passages)
    hits = search(index, embedder, settings, "leave requests", collections=["hr"])
    assert hits.passages and hits.passages[0].doc_name == "hr.docx"
    assert hits.passages[0].page is None and hits.passages[0].chunk.section == "Leave"


def test_document_filter(env):
    settings, index, embedder = env
    pump_id = next(d.id for d in index.documents() if d.name == "pump.pdf")
    hits = search(index, embedder, settings, "manager", doc_ids=[pump_id])
    assert {p.doc_name for p in hits.passages} <= {"pump.pdf"}


def test_one_passage_per_page(env):
    settings, index, embedder = env
    hits = search(index, embedder, settings, "pump", k=10)
    keys = [(p.doc_name, p.page) for p in hits.passages]
    assert len(keys) == len(set(keys))


def test_unrelated_question_is_not_answerable(env):
    settings, index, embedder = env
    yes = search(index, embedder, settings, "How do I prime the pump?")
    no = search(index, embedder, settings, "What is the capital of Australia?")
    assert answerable(yes, settings).answerable
    assert not answerable(no, settings).answerable
    assert yes.dense_best > no.dense_best


def test_reranker_code_path_reorders_and_rescores(env, tmp_path):
    """No cross-encoder ships offline, so this loads the packaged MiniLM as a CrossEncoder (its
    classification head is untrained): it checks loading, scoring and re-ordering, not quality."""
    from folio.embedding import resolve_model_path
    from retrieval.rerank import Reranker

    settings, index, embedder = env
    reranker = Reranker(resolve_model_path("all-MiniLM-L6-v2"))
    plain = search(index, embedder, settings, "prime the pump", k=3)
    hits = search(index, embedder, settings, "prime the pump", k=3, reranker=reranker)
    assert len(hits.passages) == len(plain.passages) > 0
    scores = [p.score for p in hits.passages]
    assert scores == sorted(scores, reverse=True)
    assert {p.chunk.id for p in hits.passages} <= {
        p.chunk.id for p in search(index, embedder, settings, "prime the pump", k=9).passages
    }


def test_reranker_refuses_a_non_local_model():
    from retrieval.rerank import Reranker

    with pytest.raises(FileNotFoundError, match="never downloads"):
        Reranker("cross-encoder/ms-marco-MiniLM-L-6-v2")


def test_a_name_no_manual_mentions_is_not_answerable_but_a_typo_is(env):
    settings, index, embedder = env
    absent = search(index, embedder, settings, "Can the Orion pump report to a Modbus master?")
    assert absent.unknown_terms == ["modbus"]
    assert not answerable(absent, settings).answerable

    # "grese" is neither an everyday word nor in the index: without typo tolerance it would
    # count as a term no manual mentions, and Folio would refuse a question it can answer.
    assert not is_common("grese") and index.absent_terms(["grese"]) == ["grese"]
    typo = search(index, embedder, settings, "How often should I grese the bearings?")
    assert typo.unknown_terms == []
    assert answerable(typo, settings).answerable
    assert typo.passages[0].page == 5


def test_typo_variants_cover_one_edit_and_stems():
    from retrieval.search import typo_variants

    assert {"screw", "source"} <= typo_variants("scerw") | typo_variants("sorce")
    assert "permission" in typo_variants("permissuons")  # suffix stripped, then one edit
    assert "kerberos" not in typo_variants("kerberos")
    assert typo_variants("xlsx") == set()  # short names are never treated as typos


def test_expanding_across_sections_of_one_docx_page_keeps_both_texts_whole():
    from retrieval.search import merge_spans

    def chunk(ord_: int, text: str, section: str) -> Chunk:
        return Chunk(f"d-{ord_}", "d", ord_, text, 1, 1, None, None, section, 0, len(text), 5)

    title = chunk(0, "Router manual", "Router manual")
    safety = chunk(1, "Safety\n\nRead all instructions before use.", "Safety")
    assert (
        merge_spans([title, safety]) == "Router manual\nSafety\n\nRead all instructions before use."
    )


def test_expanding_chunks_of_two_headings_on_one_pdf_page_drops_their_overlap():
    from retrieval.search import merge_spans

    text = "Pairing\nHold the button.\nReconnecting\nIt reconnects."
    a = Chunk("d-0", "d", 0, text[:33], 5, 5, None, None, "Pairing", 0, 33, 5)
    b = Chunk("d-1", "d", 1, text[25:], 5, 5, None, None, "Reconnecting", 25, len(text), 5)
    assert merge_spans([a, b]) == text
