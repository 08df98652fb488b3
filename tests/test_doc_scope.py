"""Asking within one manual or a few: the document filter inside each retriever.

The library is built so that the asked manual's best passage ranks below the first 40 candidates
of both retrievers (sixty pages of three other manuals answer the question better), which is
where the filter used to apply: after the candidates, so it came back empty.
"""

from __future__ import annotations

import pytest

from folio.index import MAX_DOC_IDS, TooManyDocuments, doc_filter
from folio.settings import Settings
from ingest.pipeline import ingest_paths
from retrieval.search import CANDIDATES, exact_matches, search
from services.build import open_index
from tests.fixtures import make_pdf

QUESTION = "How do I reset the filter indicator light?"
BOILERPLATE = "Disconnect the power plug before cleaning or servicing the appliance."
PRODUCTS = [
    ("Kelvin", "range hood", "KH"),
    ("Brisa", "air purifier", "BP"),
    ("Vapor", "humidifier", "VH"),
]


ROOMS = (
    "kitchen pantry bakery cafe office studio garage cellar attic lobby classroom clinic hotel "
    "nursery workshop library dormitory laboratory canteen greenhouse"
).split()


def other_pages(name: str, kind: str, code: str) -> list[str]:
    """Twenty pages that each answer QUESTION squarely (the competition). Their first and last
    lines differ from page to page, or ingest would drop them as running headers and footers."""
    return [
        f"{name} {kind} {code}, {room} edition.\n"
        f"Owners in the {room} ask about the front panel.\n"
        f"The {room} model has the panel of all the others.\n"
        "Filter indicator light: to reset the filter indicator light, hold the FILTER button "
        f"for {2 + n % 4} seconds until the light goes out. {BOILERPLATE} Reset the filter "
        "light after every filter change.\n"
        f"Printed for the {room} range.\n"
        f"Keep this page with the {room} papers.\n"
        f"End of the {room} notes."
        for n, room in enumerate(ROOMS)
    ]


FAN_PAGES = [
    "Zephyr Z3 desk fan. Contents of the box: the fan, the base, the remote control.",
    "Assembly. Push the column into the base until it clicks, then tighten the thumb screw.",
    "Speeds. The fan has three speeds and an oscillation mode selected on the control panel.",
    # The fan's only passage about a filter: weaker than any of the sixty above, for both sides.
    "Cleaning and care. The rear grille holds a washable dust filter; rinse it in warm water "
    "once a month and let it dry completely before refitting the grille. Wipe the blades with "
    "a damp cloth and never use solvents, which cloud the plastic of the front guard and make "
    f"the blades brittle over the years of use that the fan is designed for. {BOILERPLATE} "
    "Store the fan in its box over the winter, away from radiators and direct sunlight, and "
    "check the mains cable for cuts and kinks before the first use of the season.",
    "Warranty. The Zephyr Z3 is guaranteed for two years from the date of purchase.",
]
FAN_FILTER_PAGE = 4


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("scope")
    settings = Settings(data_dir=tmp / "index")
    index, embedder = open_index(settings)
    ids = {}
    for name, kind, code in PRODUCTS:
        path = make_pdf(tmp / f"{name.lower()}.pdf", other_pages(name, kind, code), title=name)
        ingest_paths([path], settings, index=index, embedder=embedder, collection="kitchen")
    fan = make_pdf(tmp / "zephyr.pdf", FAN_PAGES, title="Zephyr Z3 Desk Fan")
    ingest_paths([fan], settings, index=index, embedder=embedder, collection="fans")
    ids = {d.name: d.id for d in index.documents()}
    return settings, index, embedder, ids


def _docs(hits) -> set[str]:
    return {p.doc_name for p in hits.passages}


def test_the_fan_ranks_below_the_candidates_of_an_unfiltered_search(env):
    """The premise: filtering after the top 40 per retriever leaves nothing of the fan."""
    settings, index, embedder, ids = env
    fan = ids["zephyr.pdf"]
    dense = index.dense(embedder.embed_query(QUESTION), CANDIDATES)
    lexical = index.bm25(QUESTION, CANDIDATES)
    assert len(dense) == len(lexical) == CANDIDATES
    assert not [c for c, _ in dense + lexical if c.startswith(fan)]
    hits = search(index, embedder, settings, QUESTION, k=10)
    assert "zephyr.pdf" not in _docs(hits)


@pytest.mark.parametrize("mode", ["hybrid", "dense", "bm25"])
def test_doc_ids_return_that_manuals_passages(env, mode):
    settings, index, embedder, ids = env
    hits = search(index, embedder, settings, QUESTION, doc_ids=[ids["zephyr.pdf"]], mode=mode)
    assert hits.passages and _docs(hits) == {"zephyr.pdf"}
    assert hits.passages[0].page == FAN_FILTER_PAGE
    if mode == "bm25":  # only the filter page shares a word with the question
        assert [p.page for p in hits.passages] == [FAN_FILTER_PAGE]


def test_the_retrievers_filter_inside_not_after(env):
    settings, index, embedder, ids = env
    fan = ids["zephyr.pdf"]
    dense = index.dense(embedder.embed_query(QUESTION), CANDIDATES, doc_ids=[fan])
    assert len(dense) == len(FAN_PAGES) and all(c.startswith(fan) for c, _ in dense)
    lexical = index.bm25(QUESTION, CANDIDATES, doc_ids=[fan])
    assert lexical and all(c.startswith(fan) for c, _ in lexical)
    # a few manuals: each one's chunks, and no others
    two = [fan, ids["brisa.pdf"]]
    lexical = index.bm25(QUESTION, CANDIDATES, doc_ids=two)
    assert {c.rsplit("-", 1)[0] for c, _ in lexical} == set(two)


def test_collection_and_doc_ids_both_hold(env):
    settings, index, embedder, ids = env
    fan = ids["zephyr.pdf"]
    hits = search(index, embedder, settings, QUESTION, collections=["fans"], doc_ids=[fan])
    assert _docs(hits) == {"zephyr.pdf"} and hits.passages[0].page == FAN_FILTER_PAGE
    # the fan is not in `kitchen`: nothing, rather than the kitchen manuals or the fan
    hits = search(index, embedder, settings, QUESTION, collections=["kitchen"], doc_ids=[fan])
    assert hits.passages == []
    for mode in ("dense", "bm25"):
        hits = search(
            index, embedder, settings, QUESTION,
            collections=["kitchen"], doc_ids=[fan, ids["vapor.pdf"]], mode=mode,
        )  # fmt: skip
        assert _docs(hits) == {"vapor.pdf"}
    hits = search(index, embedder, settings, QUESTION, doc_ids=[fan, ids["kelvin.pdf"]], k=30)
    assert _docs(hits) == {"zephyr.pdf", "kelvin.pdf"}


def test_an_exact_quote_is_found_in_the_chosen_manual(env):
    settings, index, embedder, ids = env
    fan = ids["zephyr.pdf"]
    # sixty pages of other manuals hold the same sentence and rank before the fan's longer
    # page: the candidates for a quote (the best 24) hold none of the fan's
    assert not [c for c, _ in exact_matches(index, BOILERPLATE) if c.startswith(fan)]
    found = exact_matches(index, BOILERPLATE, doc_ids=[fan])
    assert len(found) == 1 and found[0][0].startswith(fan)
    hits = search(index, embedder, settings, BOILERPLATE, doc_ids=[fan])
    assert hits.passages[0].page == FAN_FILTER_PAGE


def test_many_or_unknown_ids(env):
    settings, index, embedder, ids = env
    fan = ids["zephyr.pdf"]
    many = [f"{i:016x}" for i in range(MAX_DOC_IDS - 1)] + [fan]
    for mode in ("hybrid", "dense", "bm25"):
        hits = search(index, embedder, settings, QUESTION, doc_ids=many, mode=mode)
        assert _docs(hits) == {"zephyr.pdf"}
    assert search(index, embedder, settings, QUESTION, doc_ids=["0" * 16]).passages == []
    with pytest.raises(TooManyDocuments, match=f"at most {MAX_DOC_IDS}"):
        search(index, embedder, settings, QUESTION, doc_ids=[*many, "f" * 16])
    # blanks and repeats do not count; an empty list is no restriction
    assert doc_filter([fan, "", fan]) == [fan] and doc_filter([]) is None
    assert doc_filter([fan] * (MAX_DOC_IDS + 5)) == [fan]


def test_a_name_only_another_scope_holds_is_unknown_within_this_one(env):
    """Asked within the fans, "Brisa" (an air purifier in the kitchen collection) is unknown and
    the question is refused before the LLM; asked everywhere, it is known."""
    from retrieval.answerable import answerable

    settings, index, embedder, ids = env
    question = "How do I clean the Brisa purifier filter?"
    everywhere = search(index, embedder, settings, question)
    assert "brisa" not in [t.lower() for t in everywhere.unknown_terms]
    by_collection = search(index, embedder, settings, question, collections=["fans"])
    by_document = search(index, embedder, settings, question, doc_ids=[ids["zephyr.pdf"]])
    for hits in (by_collection, by_document):
        assert "brisa" in [t.lower() for t in hits.unknown_terms]
        assert not answerable(hits, settings).answerable
    kitchen = search(index, embedder, settings, question, doc_ids=[ids["brisa.pdf"]])
    assert not kitchen.unknown_terms
