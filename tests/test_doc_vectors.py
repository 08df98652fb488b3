"""Exact search within chosen manuals from vectors held in memory (folio/doc_vectors.py)."""

from __future__ import annotations

import numpy as np
import pytest

from folio.doc_vectors import DocMatrix, DocVectors, nearest
from folio.settings import Settings
from ingest.pipeline import ingest_paths
from services.build import index_factory, open_index
from tests.fixtures import make_pdf


def unit(rows: list[list[float]]) -> np.ndarray:
    m = np.asarray(rows, dtype=np.float32)
    return m / np.linalg.norm(m, axis=1, keepdims=True)


def test_nearest_ranks_rows_of_all_documents_by_cosine():
    a = DocMatrix(["a-0", "a-1"], unit([[1, 0], [0, 1]]))
    b = DocMatrix(["b-0"], unit([[1, 1]]))
    got = nearest(np.asarray([1.0, 0.0], dtype=np.float32), [a, b], k=2)
    assert [cid for cid, _ in got] == ["a-0", "b-0"]
    assert got[0][1] == pytest.approx(1.0) and got[1][1] == pytest.approx(2**-0.5)
    assert len(nearest(np.asarray([1.0, 0.0], dtype=np.float32), [a, b], k=10)) == 3
    assert nearest(np.asarray([1.0, 0.0], dtype=np.float32), [], k=5) == []


def matrix(doc: str, n: int) -> DocMatrix:
    return DocMatrix([f"{doc}-{i}" for i in range(n)], unit([[1, i + 1] for i in range(n)]))


def test_the_cache_holds_at_most_its_bound_and_drops_the_least_recently_used():
    cache = DocVectors(max_vectors=5)
    for doc in ("a", "b"):
        cache.get(doc, "v1", lambda d: matrix(d, 2))
    cache.get("a", "v1", lambda d: pytest.fail("a is cached"))
    cache.get("c", "v1", lambda d: matrix(d, 2))  # 6 > 5: b, least recently used, goes
    assert cache.held == 4 and cache.loads == 3
    cache.get("a", "v1", lambda d: pytest.fail("a is still cached"))
    cache.get("b", "v1", lambda d: matrix(d, 2))
    assert cache.loads == 4


def test_a_new_version_of_a_document_replaces_the_old_vectors():
    cache = DocVectors()
    cache.get("a", "v1", lambda d: matrix(d, 3))
    newer = cache.get("a", "v2", lambda d: matrix(d, 1))
    assert len(newer) == 1 and cache.held == 1


PAGES = [
    "Descaling. Fill the tank with descaler and run the descaling programme twice.",
    "Milk frother. Rinse the frother nozzle with hot water after every use.",
    "Grinder. Set the grind size with the dial before the beans go in.",
    "Water filter. Replace the water filter cartridge every two months.",
]


@pytest.fixture(scope="module")
def library(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("docvec")
    settings = Settings(data_dir=tmp / "index")
    index, embedder = open_index(settings)
    for name in ("brava", "corsa"):
        path = make_pdf(tmp / f"{name}.pdf", [f"{name.title()} espresso machine. {p}"
                                              for p in PAGES], title=name)  # fmt: skip
        ingest_paths([path], settings, index=index, embedder=embedder)
    ids = {d.name: d.id for d in index.documents()}
    return settings, index, embedder, ids


def test_search_within_a_document_finds_what_chromas_filtered_search_finds(library):
    settings, index, embedder, ids = library
    vector = embedder.embed_query("how often should the water filter be changed")
    doc = ids["brava.pdf"]
    exact = index.dense(vector, 10, doc_ids=[doc])
    res = index.collection.query(
        query_embeddings=[vector.tolist()], n_results=10, where={"doc_id": doc},
        include=["distances"],
    )  # fmt: skip
    chroma = list(zip(res["ids"][0], (1 - d for d in res["distances"][0]), strict=True))
    assert [c for c, _ in exact] == [c for c, _ in chroma]
    assert [s for _, s in exact] == pytest.approx([s for _, s in chroma], abs=1e-4)
    assert all(c.startswith(doc) for c, _ in exact)


def test_a_document_that_is_not_ready_or_not_in_the_collection_gives_nothing(library):
    settings, index, embedder, ids = library
    vector = embedder.embed_query("descaling programme")
    doc = ids["corsa.pdf"]
    assert index.dense(vector, 5, collections=["elsewhere"], doc_ids=[doc]) == []
    index.db.execute("UPDATE documents SET status='pending' WHERE id=?", (doc,))
    try:
        assert index.dense(vector, 5, doc_ids=[doc]) == []
    finally:
        index.db.execute("UPDATE documents SET status='ready' WHERE id=?", (doc,))
    assert index.dense(vector, 5, doc_ids=[doc])


def test_every_index_a_factory_makes_shares_one_cache(library):
    settings, index, embedder, ids = library
    make = index_factory(settings, embedder)
    first, second = make(), make()
    try:
        assert first.doc_vectors is second.doc_vectors
        vector = embedder.embed_query("grind size")
        first.dense(vector, 3, doc_ids=[ids["brava.pdf"]])
        second.dense(vector, 3, doc_ids=[ids["brava.pdf"]])
        assert first.doc_vectors.loads == 1
    finally:
        first.close()
        second.close()


def _chroma_nearest(index, vector, k):
    res = index.collection.query(
        query_embeddings=[vector.tolist()], n_results=k, include=["distances"]
    )
    return list(zip(res["ids"][0], (1 - d for d in res["distances"][0]), strict=True))


def test_a_small_library_is_searched_whole_from_memory_as_chroma_would(library):
    settings, index, embedder, ids = library
    vector = embedder.embed_query("how do I descale the machine")
    before = index.doc_vectors.loads
    exact = index.dense(vector, 8)
    chroma = _chroma_nearest(index, vector, 8)
    assert [c for c, _ in exact] == [c for c, _ in chroma]
    assert [s for _, s in exact] == pytest.approx([s for _, s in chroma], abs=1e-4)
    held = {key[0] for key in index.doc_vectors._docs}
    assert set(ids.values()) <= held  # both manuals' vectors are in memory
    assert index.doc_vectors.loads <= before + len(ids)
    pending = ids["corsa.pdf"]
    index.db.execute("UPDATE documents SET status='pending' WHERE id=?", (pending,))
    try:
        assert not any(c.startswith(pending) for c, _ in index.dense(vector, 8))
    finally:
        index.db.execute("UPDATE documents SET status='ready' WHERE id=?", (pending,))


def test_a_library_over_the_scope_limit_goes_to_chroma(library, monkeypatch):
    import folio.index

    settings, index, embedder, ids = library
    monkeypatch.setattr(folio.index, "MAX_SCOPE", 1)
    monkeypatch.setattr(index, "doc_vectors", DocVectors())  # empty: an exact search would load
    vector = embedder.embed_query("grind size dial")
    assert index.dense(vector, 5) == _chroma_nearest(index, vector, 5)
    assert index.doc_vectors.loads == 0
