"""The index's visibility rules, on real Chroma and real SQLite (vectors from the real model)."""

from __future__ import annotations

import numpy as np
import pytest

from folio.index import DocRecord, Index, IndexMismatch, doc_id_for, fts_query
from folio.settings import Settings
from folio.types import Chunk


@pytest.fixture()
def settings(tmp_path):
    return Settings(data_dir=tmp_path / "index")


@pytest.fixture(scope="module")
def embedder():
    from folio.embedding import Embedder

    return Embedder("all-MiniLM-L6-v2")


def _doc(name: str, sha: str, collection: str = "default") -> DocRecord:
    return DocRecord(
        id=doc_id_for(collection, sha), collection=collection, name=name, sha256=sha,
        status="pending", title=name,
    )  # fmt: skip


def _chunks(doc: DocRecord, texts: list[str]) -> list[Chunk]:
    return [
        Chunk(f"{doc.id}-{i:05d}", doc.id, i, t, i + 1, i + 1, None, None, "", 0, len(t))
        for i, t in enumerate(texts)
    ]


def _write(index: Index, embedder, doc: DocRecord, texts: list[str], finish: bool = True):
    index.begin(doc)
    chunks = _chunks(doc, texts)
    index.add_chunks(doc, chunks, embedder.embed(texts))
    if finish:
        index.finish(doc, pages=len(texts), empty_pages=0, chunks=len(texts))
    return chunks


def _visible(index: Index, embedder, query: str) -> set[str]:
    dense = {cid for cid, _ in index.dense(embedder.embed_query(query), 10)}
    lexical = {cid for cid, _ in index.bm25(query, 10)}
    return dense | lexical


def test_pending_document_is_invisible_until_finished(settings, embedder):
    index = Index(settings, model_name=embedder.name, dim=lambda: embedder.dim)
    doc = _doc("pump.pdf", "a" * 64)
    chunks = _write(index, embedder, doc, ["Prime the pump before first start."], finish=False)
    assert _visible(index, embedder, "prime the pump") == set()
    index.finish(doc, pages=1, empty_pages=0, chunks=1)
    assert chunks[0].id in _visible(index, embedder, "prime the pump")


def test_new_version_replaces_old_atomically(settings, embedder):
    index = Index(settings, model_name=embedder.name, dim=lambda: embedder.dim)
    old = _doc("pump.pdf", "a" * 64)
    _write(index, embedder, old, ["Torque the bolts to 40 Nm."])
    new = _doc("pump.pdf", "b" * 64)
    new_chunks = _write(index, embedder, new, ["Torque the bolts to 55 Nm."])
    docs = index.documents()
    assert [(d.name, d.sha256[0], d.status) for d in docs] == [("pump.pdf", "b", "ready")]
    assert _visible(index, embedder, "torque bolts") == {new_chunks[0].id}
    assert index.collection.get(where={"doc_id": old.id})["ids"] == []


def test_delete_removes_rows_vectors_and_fts(settings, embedder):
    index = Index(settings, model_name=embedder.name, dim=lambda: embedder.dim)
    doc = _doc("pump.pdf", "c" * 64)
    _write(index, embedder, doc, ["Drain the tank every winter."])
    assert index.delete(doc.id)
    assert index.documents() == []
    assert _visible(index, embedder, "drain tank winter") == set()
    assert index.collection.count() == 0


def test_recover_clears_interrupted_version(settings, embedder):
    index = Index(settings, model_name=embedder.name, dim=lambda: embedder.dim)
    doc = _doc("pump.pdf", "d" * 64)
    _write(index, embedder, doc, ["Half written."], finish=False)
    index.close()
    index = Index(settings, model_name=embedder.name, dim=lambda: embedder.dim)
    assert index.recover() == [doc.id]
    assert index.collection.count() == 0
    assert index.documents() == []


def test_collections_filter(settings, embedder):
    index = Index(settings, model_name=embedder.name, dim=lambda: embedder.dim)
    a = _write(index, embedder, _doc("a.pdf", "e" * 64, "sales"), ["Discount codes expire."])
    b = _write(index, embedder, _doc("b.pdf", "f" * 64, "support"), ["Discount codes renew."])
    vec = embedder.embed_query("discount codes")
    assert {c for c, _ in index.dense(vec, 10, ["sales"])} == {a[0].id}
    assert {c for c, _ in index.bm25("discount codes", 10, ["support"])} == {b[0].id}
    assert index.collections() == ["sales", "support"]


def test_other_model_is_refused_with_a_way_out(settings, embedder):
    Index(settings, model_name=embedder.name).close()
    with pytest.raises(IndexMismatch, match="--data-dir"):
        Index(settings, model_name="another-model")


def test_fts_query_drops_stopwords_and_quotes_terms():
    q = fts_query('How do I set "R_LIBS" for the r-devel build?')
    assert q is not None
    # identifiers: a phrase of their stemmed parts and whole token, and the whole token alone
    assert '"r lib r_libs"' in q and '"r_libs"' in q and '"r_devel"' in q and '"build"' in q
    assert '"how"' not in q and '"the"' not in q
    assert fts_query("the of and") is None


def test_vocabulary_follows_writes_from_this_and_other_connections(settings, embedder):
    a = Index(settings, model_name=embedder.name, dim=lambda: embedder.dim)
    b = Index(settings, model_name=embedder.name, dim=lambda: embedder.dim)
    assert a.known_terms(["zeolit"]) == set()
    doc = DocRecord(id="z1", collection="default", name="z.txt", sha256="z", status="pending")
    b.begin(doc)
    chunk = Chunk("z1-00000", "z1", 0, "Zeolite filters", 1, 1, None, None, "", 0, 15, 3)
    b.add_chunks(doc, [chunk], np.asarray(embedder.embed([chunk.text])))
    b.finish(doc, pages=1, empty_pages=0, chunks=1)
    assert a.known_terms(["zeolit", "filter"]) == {"zeolit", "filter"}
    b.delete("z1")
    assert a.known_terms(["zeolit"]) == set()
