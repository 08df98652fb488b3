"""The index: vectors in Chroma, documents, chunks and BM25 (FTS5) in one SQLite registry.

Ingest writes through `Index`, retrieval reads through it. The visibility rule that makes a
document's ingest all-or-nothing lives here: a document version is searchable only once its
registry row is `ready`, which happens in one SQLite transaction after all of its vectors and
chunk rows are written. See docs/ARCHITECTURE.md.
"""

from __future__ import annotations

import hashlib
import json
import logging
import sqlite3
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from folio.bm25_memory import BM25Memory
from folio.doc_vectors import MAX_SCOPE, DocMatrix, DocVectors, nearest
from folio.settings import Settings
from folio.text import (
    detect_language,
    index_terms,
    index_text,
    instruction_like,
    is_han,
    query_terms,
    unique,
)
from folio.types import Chunk, DocStatus, chunk_doc_id

READY, PENDING, FAILED = DocStatus.READY.value, DocStatus.PENDING.value, DocStatus.FAILED.value

log = logging.getLogger("folio.index")

CHROMA_COLLECTION = "folio_chunks"
# Chroma's default ef_search (100) lost whole regions of the graph on the dev index: one query's
# true 10 nearest chunks were all missing (recall@10 0.97 overall, 0.0 for that query). 400 gave
# recall@10 1.0 on all dev questions for a fraction of a millisecond per query.
HNSW = {"space": "cosine", "ef_construction": 200, "ef_search": 400}
# A search may be restricted to at most this many documents. The ids go to SQLite as one JSON
# array (never one variable each) and to Chroma as one `$in` list; the cap keeps both small.
MAX_DOC_IDS = 100

# Numbered migrations of the registry; `PRAGMA user_version` records how many have run. An
# index made before versioning existed holds exactly what migration 1 creates (user_version 0).
MIGRATION_1 = """
CREATE TABLE IF NOT EXISTS documents (
    id TEXT PRIMARY KEY,
    collection TEXT NOT NULL,
    name TEXT NOT NULL,
    source TEXT,
    sha256 TEXT NOT NULL,
    title TEXT,
    kind TEXT,
    pages INTEGER,
    empty_pages INTEGER DEFAULT 0,
    chunks INTEGER DEFAULT 0,
    size INTEGER,
    status TEXT NOT NULL,
    error TEXT,
    stored_file TEXT,
    created_at REAL,
    updated_at REAL
);
CREATE INDEX IF NOT EXISTS documents_name ON documents(collection, name);
CREATE INDEX IF NOT EXISTS documents_sha ON documents(collection, sha256);
CREATE TABLE IF NOT EXISTS chunks (
    rowid INTEGER PRIMARY KEY,
    id TEXT UNIQUE NOT NULL,
    doc_id TEXT NOT NULL,
    ord INTEGER NOT NULL,
    text TEXT NOT NULL,
    page_start INTEGER,
    page_end INTEGER,
    label_start TEXT,
    label_end TEXT,
    section TEXT,
    char_start INTEGER,
    char_end INTEGER,
    tokens INTEGER
);
CREATE INDEX IF NOT EXISTS chunks_doc ON chunks(doc_id, ord);
CREATE VIRTUAL TABLE IF NOT EXISTS chunks_fts USING fts5(
    text, section, title, tokenize = 'porter unicode61 remove_diacritics 2'
);
CREATE VIRTUAL TABLE IF NOT EXISTS chunks_vocab USING fts5vocab(chunks_fts, 'row');
CREATE TABLE IF NOT EXISTS purge (doc_id TEXT PRIMARY KEY);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT);
"""

# Migration 2 (the language layer): FTS5 stores the text as `folio.text.index_text` analyses it
# (Chinese as bigrams, Latin words Snowball-stemmed, identifiers also whole with "_" between
# their parts), so its tokenizer only splits on spaces and keeps "_" inside a token. Rows of an
# older index (Porter stems over raw text) would never match the new query terms, so they are
# rebuilt from the chunk texts; vectors are untouched. Chunks also get their language.
MIGRATION_2_SQL = """
DROP TABLE IF EXISTS chunks_vocab;
DROP TABLE IF EXISTS chunks_fts;
CREATE VIRTUAL TABLE chunks_fts USING fts5(
    text, section, title, tokenize = "unicode61 remove_diacritics 2 tokenchars '_'"
);
CREATE VIRTUAL TABLE chunks_vocab USING fts5vocab(chunks_fts, 'row');
"""


def _migration_2(db: sqlite3.Connection) -> None:
    if "lang" not in {r[1] for r in db.execute("PRAGMA table_info(chunks)")}:
        db.execute("ALTER TABLE chunks ADD COLUMN lang TEXT")
    for stmt in MIGRATION_2_SQL.strip().split(";"):
        if stmt.strip():
            db.execute(stmt)
    rows = db.execute(
        "SELECT c.rowid, c.text, c.section, d.title FROM chunks c"
        " LEFT JOIN documents d ON d.id = c.doc_id"
    ).fetchall()
    if rows:
        log.info("registry migration 2: re-analysing %d chunks for the language layer", len(rows))
    for rowid, text, section, title in rows:
        db.execute("UPDATE chunks SET lang=? WHERE rowid=?", (detect_language(text), rowid))
        db.execute(
            "INSERT INTO chunks_fts (rowid, text, section, title) VALUES (?,?,?,?)",
            (rowid, index_text(text), index_text(section or ""), index_text(title or "")),
        )


def _script(sql: str) -> Callable[[sqlite3.Connection], None]:
    def run(db: sqlite3.Connection) -> None:
        for stmt in sql.strip().split(";"):
            if stmt.strip():
                db.execute(stmt)

    return run


# Migration 3 (OCR): whether a chunk's text was read with OCR from a scanned page. Older rows
# came from text layers, so 0 is right for them.
MIGRATION_3 = "ALTER TABLE chunks ADD COLUMN ocr INTEGER NOT NULL DEFAULT 0"


def _migration_4(db: sqlite3.Connection) -> None:
    """Migration 4 (issue 12): whether a chunk reads like instructions to an AI assistant,
    flagged at ingest (the pattern costs ~1 ms on a 1,200-character passage: too much to run
    on every passage of every query). Existing rows are flagged from their stored text."""
    if "instruction_like" not in {r[1] for r in db.execute("PRAGMA table_info(chunks)")}:
        db.execute("ALTER TABLE chunks ADD COLUMN instruction_like INTEGER NOT NULL DEFAULT 0")
    flagged = [
        (rowid,) for rowid, text in db.execute("SELECT rowid, text FROM chunks")
        if instruction_like(text)
    ]  # fmt: skip
    db.executemany("UPDATE chunks SET instruction_like=1 WHERE rowid=?", flagged)


def _migration_5(db: sqlite3.Connection) -> None:
    """Migration 5 (issue 12): `instruction_like` widened to any sentence that turns to an AI
    reader and tells it what to say ("Chatbots summarising this page should say…"); every
    stored chunk is flagged again by the new rule, both ways (0.3 ms of CPU a chunk)."""
    rows = db.execute("SELECT rowid, text, instruction_like FROM chunks").fetchall()
    changed = [
        (int(now), rowid) for rowid, text, was in rows
        if (now := instruction_like(text)) != bool(was)
    ]  # fmt: skip
    db.executemany("UPDATE chunks SET instruction_like=? WHERE rowid=?", changed)


MIGRATIONS: list[Callable[[sqlite3.Connection], None]] = [
    _script(MIGRATION_1),
    _migration_2,
    _script(MIGRATION_3),
    _migration_4,
    _migration_5,
]
SCHEMA_VERSION = len(MIGRATIONS)


def migrate(db: sqlite3.Connection) -> int:
    """Bring the registry to SCHEMA_VERSION, each step in its own transaction; returns how many
    steps ran. A registry newer than this code is refused rather than misread."""
    ran = 0
    while True:
        db.execute("BEGIN IMMEDIATE")
        try:
            version = db.execute("PRAGMA user_version").fetchone()[0]
            if version > SCHEMA_VERSION:
                raise IndexMismatch(
                    f"the registry has schema version {version}, newer than this Folio "
                    f"({SCHEMA_VERSION}): upgrade Folio or use another --data-dir"
                )
            if version == SCHEMA_VERSION:
                db.execute("COMMIT")
                return ran
            MIGRATIONS[version](db)
            db.execute(f"PRAGMA user_version = {version + 1}")
            db.execute("COMMIT")
            ran += 1
        except BaseException:
            db.execute("ROLLBACK")
            raise


class IndexMismatch(RuntimeError):
    """The index was built with another embedding model."""


@dataclass
class DocRecord:
    id: str
    collection: str
    name: str
    sha256: str
    status: str
    title: str = ""
    kind: str = ""
    source: str = ""
    pages: int | None = None
    empty_pages: int = 0
    chunks: int = 0
    size: int = 0
    error: str | None = None
    stored_file: str | None = None
    created_at: float = 0.0
    updated_at: float = 0.0


def doc_id_for(collection: str, sha256: str) -> str:
    """Stable id of one content version inside one collection."""
    return hashlib.sha256(f"{collection}\0{sha256}".encode()).hexdigest()[:16]


def _quote(parts: Sequence[str]) -> str:
    parts = [p.replace('"', "") for p in parts]
    return '"' + " ".join(p for p in parts if p) + '"' if any(parts) else ""


def _phrase(term: str) -> str:
    """A query term as one FTS5 phrase: the term itself, wherever its index terms are adjacent."""
    return _quote(index_terms(term))


# BM25 at scale: a question's everyday words ("set", "page", "manual") occur in a large share of
# the chunks, and FTS5 scores every row an OR query matches: at 100k chunks (the dev corpus
# cycled) a dev question matched a median 26,500 rows and took 31 ms of CPU. Terms in more than
# COMMON_SHARE of the chunks add little (IDF under log 19 = 2.9, against 6-8 for a rare word)
# and are left out unless they are among the KEEP_RAREST rarest of the question: 5,900 rows,
# 8.7 ms, and the same page-hit on dev (docs/ARCHITECTURE.md, "Speed"). Latin terms only.
COMMON_SHARE = 0.05
KEEP_RAREST = 3
QUOTE_PHRASES = 6  # phrases asked for exact-quote candidates (Index.phrase_matches)


def fts_phrases(
    text: str, doc_freq: Mapping[str, int] | None = None, chunks: int = 0
) -> list[list[str]]:
    """The phrases of a question's BM25 query (index terms): Latin
    words (and compounds, as phrases of their parts) whole, Chinese words by their bigrams.
    Given the index's document frequencies and chunk count, the common terms of a question
    without Chinese are left out (COMMON_SHARE, KEEP_RAREST). A Chinese question keeps every
    term: a bigram is mostly the word itself, and leaving out the common ones (安装, 系统) cost
    zh-dev page-hit@1 0.714 -> 0.619; its Latin words are names ("debian/rules", "Makefile"),
    and leaving out the common ones moved one answer from 5th to 6th place."""
    latin: list[list[str]] = []
    han: list[list[str]] = []
    for word in query_terms(text):
        analysed = index_terms(word)
        if is_han(word):
            han.extend([t] for t in analysed)
        else:
            latin.append(analysed)
            if len(analysed) > 1:  # an identifier: also as its whole token, a rare one
                latin.append(analysed[-1:])
    if doc_freq is not None and chunks and not han:
        latin = _without_common(latin, doc_freq, chunks)
    return [*latin, *han]


def fts_query(text: str, doc_freq: Mapping[str, int] | None = None, chunks: int = 0) -> str | None:
    """`fts_phrases` as an FTS5 OR query, each phrase quoted so no syntax leaks in."""
    return _or_query(fts_phrases(text, doc_freq, chunks))


def _or_query(phrases: Sequence[Sequence[str]]) -> str | None:
    terms = unique(t for t in (_quote(p) for p in phrases) if t)
    return " OR ".join(terms) if terms else None


def _without_common(
    phrases: list[list[str]], doc_freq: Mapping[str, int], chunks: int
) -> list[list[str]]:
    """The phrases whose rarest term is in at most COMMON_SHARE of the chunks, and the
    KEEP_RAREST rarest phrases whatever their share (a question of everyday words only)."""
    df = _phrase_freqs(phrases, doc_freq)
    rarest = set(sorted(range(len(phrases)), key=df.__getitem__)[:KEEP_RAREST])
    return [p for i, p in enumerate(phrases) if df[i] <= COMMON_SHARE * chunks or i in rarest]


def rarest_phrases(
    phrases: list[list[str]], doc_freq: Mapping[str, int], n: int
) -> list[list[str]]:
    """The `n` phrases found in the fewest chunks, in their order (a phrase is at most as
    frequent as its rarest term)."""
    df = _phrase_freqs(phrases, doc_freq)
    keep = set(sorted(range(len(phrases)), key=df.__getitem__)[:n])
    return [p for i, p in enumerate(phrases) if i in keep]


def _phrase_freqs(phrases: list[list[str]], doc_freq: Mapping[str, int]) -> list[int]:
    return [min((doc_freq.get(t, 0) for t in p), default=0) for p in phrases]


class Index:
    """Open with `Index(settings, model_name=..., dim=...)`; pass the embedder's identity so a
    mismatched index is refused before anything is written or searched."""

    def __init__(
        self,
        settings: Settings,
        *,
        model_name: str,
        dim: Callable[[], int] | None = None,
        doc_vectors: DocVectors | None = None,
        bm25_memory: BM25Memory | None = None,
    ) -> None:
        self.settings = settings
        self.doc_vectors = doc_vectors or DocVectors()
        self.bm25_memory = bm25_memory  # the server's (services.build); FTS5 ranks otherwise
        self.model_name = model_name
        self._dim = dim
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        self.db = sqlite3.connect(
            settings.registry_path, timeout=30, isolation_level=None, check_same_thread=False
        )
        self.db.row_factory = sqlite3.Row
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")
        migrate(self.db)
        self._check_model()
        self._chroma = None
        self._collection = None
        self._vocab: tuple[tuple[int, int] | None, dict[str, int], int] = (None, {}, 0)

    # --- model identity ----------------------------------------------------------------------

    def _check_model(self) -> None:
        row = self.db.execute("SELECT value FROM meta WHERE key='embedding_model'").fetchone()
        if row is None:
            self.db.execute("INSERT INTO meta VALUES ('embedding_model', ?)", (self.model_name,))
        elif row["value"] != self.model_name:
            built, asked = row["value"], self.model_name
            if built.removesuffix("-int8") == asked.removesuffix("-int8"):  # int8 or not
                fix = "FOLIO_EMBED_PRECISION=" + ("int8" if built.endswith("-int8") else "auto")
            else:
                fix = f"FOLIO_EMBEDDING_MODEL={built}"
            raise IndexMismatch(
                f"the index in {self.settings.data_dir} was built with embedding model "
                f"{built!r}, not {asked!r}. Either set {fix} or re-index into a new data dir: "
                f"folio --data-dir NEW_DIR ingest PATH..."
            )

    @property
    def collection(self):
        """The Chroma collection, opened lazily: unchanged re-ingest never pays for Chroma."""
        if self._collection is None:
            import chromadb
            from chromadb.config import Settings as ChromaSettings

            chroma_settings = ChromaSettings(anonymized_telemetry=False, allow_reset=False)
            if self.settings.chroma_server:
                self._chroma = _chroma_http_client(self.settings, chroma_settings)
            else:
                self._chroma = chromadb.PersistentClient(
                    path=str(self.settings.chroma_dir), settings=chroma_settings
                )
            meta = {"embedding_model": self.model_name}
            if self._dim is not None:
                meta["dim"] = self._dim()
            col = self._chroma.get_or_create_collection(
                CHROMA_COLLECTION,
                metadata=meta,
                configuration={"hnsw": dict(HNSW)},
                embedding_function=None,
            )
            hnsw = (col.configuration or {}).get("hnsw") or {}
            if hnsw.get("ef_search", 0) < HNSW["ef_search"]:
                col.modify(configuration={"hnsw": {"ef_search": HNSW["ef_search"]}})
            recorded = (col.metadata or {}).get("embedding_model")
            if recorded and recorded != self.model_name:
                raise IndexMismatch(
                    f"Chroma collection {CHROMA_COLLECTION} holds vectors of {recorded!r}, "
                    f"not {self.model_name!r}: re-index into a new data dir (--data-dir)."
                )
            self._collection = col
        return self._collection

    # --- registry reads ----------------------------------------------------------------------

    def documents(self, collection: str | None = None) -> list[DocRecord]:
        sql = "SELECT * FROM documents"
        args: tuple = ()
        if collection:
            sql += " WHERE collection = ?"
            args = (collection,)
        sql += " ORDER BY collection, name, updated_at"
        return [_doc(r) for r in self.db.execute(sql, args)]

    def document(self, doc_id: str) -> DocRecord | None:
        row = self.db.execute("SELECT * FROM documents WHERE id = ?", (doc_id,)).fetchone()
        return _doc(row) if row else None

    def find(self, ref: str, collection: str | None = None) -> list[DocRecord]:
        """Documents matching an id (or unique id prefix) or a file name."""
        sql = "SELECT * FROM documents WHERE (id LIKE ? OR name = ?)"
        args: list = [ref + "%", ref]
        if collection:
            sql += " AND collection = ?"
            args.append(collection)
        return [_doc(r) for r in self.db.execute(sql, args)]

    def ready_by_sha(self, collection: str, sha256: str) -> DocRecord | None:
        row = self.db.execute(
            f"SELECT * FROM documents WHERE collection=? AND sha256=? AND status='{READY}'",
            (collection, sha256),
        ).fetchone()
        return _doc(row) if row else None

    def stats(self) -> dict:
        row = self.db.execute(
            "SELECT COUNT(*) AS docs, COALESCE(SUM(chunks),0) AS chunks, "
            f"COALESCE(SUM(pages),0) AS pages FROM documents WHERE status='{READY}'"
        ).fetchone()
        return dict(row)

    def collections(self) -> list[str]:
        rows = self.db.execute(
            f"SELECT DISTINCT collection FROM documents WHERE status='{READY}' ORDER BY 1"
        )
        return [r[0] for r in rows]

    # --- writes: begin -> add_chunks* -> finish (or abort) ----------------------------------

    def begin(self, doc: DocRecord) -> None:
        """Register a pending version; leftovers of an interrupted attempt are cleared first."""
        self._clear_version(doc.id)
        now = time.time()
        doc.status, doc.created_at, doc.updated_at = DocStatus.PENDING, now, now
        with self._tx():
            self.db.execute("DELETE FROM documents WHERE id = ?", (doc.id,))
            self._insert_doc(doc)

    def add_chunks(
        self, doc: DocRecord, chunks: Sequence[Chunk], vectors: np.ndarray, *, title: str = ""
    ) -> None:
        """Vectors first, rows second: a row never points at a vector that is not there."""
        if not chunks:
            return
        self.collection.upsert(
            ids=[c.id for c in chunks],
            embeddings=vectors.tolist(),
            documents=[c.text for c in chunks],
            metadatas=[_chroma_meta(c, doc) for c in chunks],
        )
        title_text = index_text(title or doc.title)
        sections = {s: index_text(s) for s in {c.section for c in chunks}}
        rows = [(index_text(c.text), sections[c.section], title_text) for c in chunks]
        with self._tx():
            for c, analysed in zip(chunks, rows, strict=True):
                cur = self.db.execute(
                    "INSERT OR REPLACE INTO chunks (id, doc_id, ord, text, page_start, page_end,"
                    " label_start, label_end, section, char_start, char_end, tokens, lang, ocr,"
                    " instruction_like) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                    (
                        c.id, c.doc_id, c.ord, c.text, c.page_start, c.page_end, c.label_start,
                        c.label_end, c.section, c.char_start, c.char_end, c.tokens,
                        detect_language(c.text), int(c.ocr), int(instruction_like(c.text)),
                    ),
                )  # fmt: skip
                self.db.execute(
                    "INSERT INTO chunks_fts (rowid, text, section, title) VALUES (?,?,?,?)",
                    (cur.lastrowid, *analysed),
                )

    def finish(
        self, doc: DocRecord, *, pages: int | None, empty_pages: int, chunks: int
    ) -> list[str]:
        """Make the version visible and retire older versions of the same file, atomically.
        Returns the retired versions' stored originals (the caller decides about the files)."""
        rows = self.db.execute(
            "SELECT id, stored_file FROM documents WHERE collection=? AND name=? AND id != ?",
            (doc.collection, doc.name, doc.id),
        ).fetchall()
        old = [r["id"] for r in rows]
        with self._tx():
            self.db.execute(
                f"UPDATE documents SET status='{READY}', error=NULL, pages=?, empty_pages=?,"
                " chunks=?, updated_at=? WHERE id=?",
                (pages, empty_pages, chunks, time.time(), doc.id),
            )
            for old_id in old:
                self._delete_rows(old_id)
        doc.status, doc.pages, doc.empty_pages, doc.chunks = (
            DocStatus.READY,
            pages,
            empty_pages,
            chunks,
        )
        self.purge_vectors()
        return [r["stored_file"] for r in rows if r["stored_file"]]

    def fail(self, doc: DocRecord, error: str) -> None:
        """Record why a file failed; an earlier good version of it stays searchable."""
        with self._tx():
            self._delete_chunk_rows(doc.id)
            self.db.execute("DELETE FROM documents WHERE id=?", (doc.id,))
            if self.ready_by_sha(doc.collection, doc.sha256) is None:
                doc.status, doc.error, doc.updated_at = "failed", error, time.time()
                doc.created_at = doc.created_at or doc.updated_at
                self.db.execute(
                    f"DELETE FROM documents WHERE collection=? AND name=? AND status='{FAILED}'",
                    (doc.collection, doc.name),
                )
                self._insert_doc(doc)
            self.db.execute("INSERT OR IGNORE INTO purge VALUES (?)", (doc.id,))

    def delete(self, doc_id: str) -> bool:
        with self._tx():
            found = self._delete_rows(doc_id)
        self.purge_vectors()
        return found

    def put_vectors(self, rows: Sequence[tuple[Chunk, DocRecord]], vectors: np.ndarray) -> None:
        """Rewrite the vectors of chunks already in the registry (`folio check --repair`)."""
        if rows:
            self.collection.upsert(
                ids=[c.id for c, _ in rows],
                embeddings=vectors.tolist(),
                documents=[c.text for c, _ in rows],
                metadatas=[_chroma_meta(c, d) for c, d in rows],
            )

    def purge_vectors(self) -> None:
        """Delete vectors of retired versions; a crash before this only leaves invisible rows."""
        ids = [r[0] for r in self.db.execute("SELECT doc_id FROM purge")]
        if not ids:
            return
        for doc_id in ids:
            self.collection.delete(where={"doc_id": doc_id})
            self.db.execute("DELETE FROM purge WHERE doc_id=?", (doc_id,))

    def recover(self) -> list[str]:
        """Clear what interrupted ingests left behind (pending rows and their vectors)."""
        pending = [
            r[0] for r in self.db.execute(f"SELECT id FROM documents WHERE status='{PENDING}'")
        ]
        for doc_id in pending:
            self._clear_version(doc_id)
            self.db.execute("DELETE FROM documents WHERE id=?", (doc_id,))
        self.purge_vectors()
        return pending

    # --- reads for retrieval -----------------------------------------------------------------

    def dense(
        self,
        vector: np.ndarray,
        k: int,
        collections: Sequence[str] | None = None,
        doc_ids: Sequence[str] | None = None,
    ) -> list[tuple[str, float]]:
        """(chunk id, cosine similarity) of the nearest ready chunks, of these collections and
        documents only, whatever the rest of the library holds.

        When what is searched holds at most MAX_SCOPE chunks (chosen manuals, or a small
        library whole) the search is exact, over the vectors held in memory
        (`folio.doc_vectors`): on the dev library (3,736 chunks) the dense step took a median
        2.8 ms through Chroma's graph and 0.9 ms as one matrix product, the whole search p50
        18.7 -> 16.0 ms, p95 27.6 -> 21.6 ms (`bench_query.py`, back to back), with the same
        results on every dev and zh-dev question; and exact can only find more. Larger scopes
        go to Chroma, with its `where` for filters."""
        doc_ids = doc_filter(doc_ids)
        collection = self.collection  # opened (and checked) even when memory answers
        scope = self._ready_docs(doc_ids, collections)
        if sum(n for _, _, n in scope) <= MAX_SCOPE:
            mats = [self.doc_vectors.get(d, version, self._doc_matrix) for d, version, _ in scope]
            return nearest(np.asarray(vector, dtype=np.float32), mats, k)
        where = _where(collections, doc_ids)
        # Metadata is not fetched: the chunk id names its document, and decoding metadata
        # cost more than the nearest-neighbour search itself.
        res = collection.query(
            query_embeddings=[vector.tolist()], n_results=k, where=where, include=["distances"]
        )
        ids, dists = res["ids"][0], res["distances"][0]
        docs = [chunk_doc_id(cid) for cid in ids]
        ready = self._ready_ids(set(docs))
        return [
            (cid, 1.0 - float(d))
            for cid, d, doc in zip(ids, dists, docs, strict=True)
            if doc in ready
        ]

    def _ready_docs(
        self, doc_ids: Sequence[str] | None, collections: Sequence[str] | None
    ) -> list[tuple[str, str, int]]:
        """(id, version, chunks) of the ready documents among these (None: all), in these
        collections."""
        sql = f"SELECT id, updated_at, chunks FROM documents WHERE status='{READY}'"
        args: list[str] = []
        if doc_ids:
            sql += f" AND id IN ({','.join('?' * len(doc_ids))})"
            args += list(doc_ids)
        if collections:
            sql += f" AND collection IN ({','.join('?' * len(collections))})"
            args += list(collections)
        return [(r[0], f"{r[1]}:{r[2]}", int(r[2] or 0)) for r in self.db.execute(sql, args)]

    def _doc_matrix(self, doc_id: str) -> DocMatrix:
        """One document's stored vectors, L2-normalised, fetched from Chroma by chunk id."""
        wanted = [r[0] for r in self.db.execute("SELECT id FROM chunks WHERE doc_id=?", (doc_id,))]
        got = self.vectors(wanted)
        ids = [cid for cid in wanted if cid in got]
        if not ids:
            return DocMatrix([], np.zeros((0, 0), dtype=np.float32))
        matrix = np.stack([got[cid] for cid in ids])
        matrix /= np.maximum(np.linalg.norm(matrix, axis=1, keepdims=True), 1e-12)
        return DocMatrix(ids, matrix)

    def vectors(self, ids: Sequence[str]) -> dict[str, np.ndarray]:
        """The stored (L2-normalised) vectors of these chunks: a passage that BM25 alone found
        has no cosine from `dense`, and a client that wants one gets it from these."""
        if not ids:
            return {}
        out: dict[str, np.ndarray] = {}
        ids = list(ids)
        for start in range(0, len(ids), 2000):  # SQLite's variable limit, inside Chroma
            res = self.collection.get(ids=ids[start : start + 2000], include=["embeddings"])
            out.update(
                (cid, np.asarray(vec, dtype=np.float32))
                for cid, vec in zip(res["ids"], res["embeddings"], strict=True)
            )
        return out

    def bm25(
        self,
        query: str,
        k: int,
        collections: Sequence[str] | None = None,
        doc_ids: Sequence[str] | None = None,
    ) -> list[tuple[str, float]]:
        """(chunk id, BM25 score, higher is better) from FTS5.

        FTS5 ranks its matches first, alone (joining every match to the registry before ranking
        cost 10x at 100k chunks); visibility and collection filters apply to an over-fetched top
        list, with a full filtered query as the fallback when filters leave too few. A document
        filter goes inside the FTS query (`rowid IN` the documents' chunks), so only those
        documents' matches are ranked at all: a small manual's best chunk is found however many
        chunks of other manuals rank above it.

        The query leaves the library's common terms out (`fts_query`, COMMON_SHARE); when that
        finds fewer than k chunks (in a filtered search, the chosen manual may hold only a
        common word of the question) the whole query is asked.
        """
        # Within chosen documents the global frequencies would drop the very words that matter
        # there ("filter" is common in the kitchen manuals, rare in the fan's), and the scope
        # is small: nothing to prune.
        whole = fts_phrases(query)
        pruned = whole if doc_ids else fts_phrases(query, self.vocabulary(), self.chunk_count())
        rows = self._bm25(pruned, k, collections, doc_ids) if pruned else []
        if whole and whole != pruned and len(rows) < k:
            rows = self._bm25(whole, k, collections, doc_ids)
        return rows

    def _bm25(
        self,
        phrases: list[list[str]],
        k: int,
        collections: Sequence[str] | None,
        doc_ids: Sequence[str] | None,
    ) -> list[tuple[str, float]]:
        memory = self.bm25_memory
        if memory is not None and memory.ready(
            self.db, self.chunk_count(), self.settings.registry_path
        ):
            allowed = self._searchable_docs(collections, doc_filter(doc_ids))
            top = memory.top(phrases, k, self.vocabulary(), allowed)
            if top is not None:
                names = self._chunk_ids([r for r, _ in top])
                return [(names[r], s) for r, s in top if r in names]
        match = _or_query(phrases)
        if not match:
            return []
        rank = "bm25(chunks_fts, 1.0, 0.6, 0.3)"
        fetch = max(5 * k, 200)
        scope, scope_args = self._fts_doc_scope(doc_filter(doc_ids))
        inner = (
            f"SELECT rowid, -{rank} AS s FROM chunks_fts WHERE chunks_fts MATCH ?{scope}"
            f" ORDER BY {rank} LIMIT {fetch}"
        )
        sql = (
            f"SELECT c.id, f.s FROM ({inner}) f JOIN chunks c ON c.rowid = f.rowid"
            f" JOIN documents d ON d.id = c.doc_id WHERE d.status = '{READY}'"
        )
        args: list = [match, *scope_args]
        if collections:
            sql += f" AND d.collection IN ({','.join('?' * len(collections))})"
            args += list(collections)
        sql += " ORDER BY f.s DESC LIMIT ?"
        rows = self.db.execute(sql, [*args, k]).fetchall()
        if len(rows) < k:
            total = self.db.execute(
                f"SELECT COUNT(*) FROM ({inner})", [match, *scope_args]
            ).fetchone()[0]
            if total >= fetch:  # the filters dropped too much of the top list: rank them all
                full = sql.replace(f" ORDER BY {rank} LIMIT {fetch}", "")
                rows = self.db.execute(full, [*args, k]).fetchall()
        return [(r[0], float(r[1])) for r in rows]

    def _searchable_docs(
        self, collections: Sequence[str] | None, doc_ids: Sequence[str] | None
    ) -> set[str]:
        """Ids of the ready documents of these collections and documents (None: all)."""
        sql, args = f"SELECT id FROM documents WHERE status='{READY}'", []
        if collections:
            sql += f" AND collection IN ({','.join('?' * len(collections))})"
            args += list(collections)
        if doc_ids:
            sql += f" AND id IN ({','.join('?' * len(doc_ids))})"
            args += list(doc_ids)
        return {r[0] for r in self.db.execute(sql, args)}

    def _chunk_ids(self, rowids: Sequence[int]) -> dict[int, str]:
        if not rowids:
            return {}
        rows = self.db.execute(
            f"SELECT rowid, id FROM chunks WHERE rowid IN ({','.join('?' * len(rowids))})",
            list(rowids),
        )
        return dict(rows.fetchall())

    def phrase_matches(
        self,
        phrases: Sequence[str],
        k: int,
        collections: Sequence[str] | None = None,
        doc_ids: Sequence[str] | None = None,
    ) -> list[tuple[str, str]]:
        """(chunk id, chunk text) of the ready chunks holding the most of these phrases (runs of
        index terms), best BM25 first: the candidates for "the query quotes this chunk". A
        document filter applies inside the FTS query, as in `bm25`.

        Only the QUOTE_PHRASES rarest phrases are asked: FTS5's bm25() counts every phrase's
        rows over the whole index before it ranks, so a 20-phrase question cost a median 11 ms
        (p95 46 ms) of CPU at 100k chunks, against 1.3 ms (12 ms) for the 6 rarest. A chunk the
        question quotes holds all of its phrases, the rarest included."""
        picked = rarest_phrases([p.split() for p in phrases], self.vocabulary(), QUOTE_PHRASES)
        match = " OR ".join(q for q in (_quote(p) for p in picked) if q)
        if not match:
            return []
        scope, scope_args = self._fts_doc_scope(doc_filter(doc_ids))
        sql = (
            "SELECT c.id, c.text FROM (SELECT rowid, rank FROM chunks_fts WHERE chunks_fts MATCH ?"
            f"{scope} ORDER BY rank LIMIT ?) f JOIN chunks c ON c.rowid = f.rowid"
            f" JOIN documents d ON d.id = c.doc_id WHERE d.status = '{READY}'"
        )
        args: list = [match, *scope_args, 4 * k]
        if collections:
            sql += f" AND d.collection IN ({','.join('?' * len(collections))})"
            args += list(collections)
        sql += " ORDER BY f.rank LIMIT ?"
        return [(r[0], r[1]) for r in self.db.execute(sql, [*args, k])]

    def absent_terms(
        self,
        terms: Iterable[str],
        collections: Sequence[str] | None = None,
        doc_ids: Sequence[str] | None = None,
    ) -> list[str]:
        """The terms (as a question writes them) that occur in no indexed chunk (any status)
        of the scope asked: the whole index, some collections, or some documents. Asked within
        the HR handbook, a product name only the IT manual holds is as unknown as one no manual
        holds: the answer cannot come from where the asker looks."""
        scope, scope_args = self._fts_doc_scope(doc_filter(doc_ids))
        sql = f"SELECT rowid FROM chunks_fts WHERE chunks_fts MATCH ?{scope}"
        if collections:
            sql = (
                f"SELECT 1 FROM ({sql}) f JOIN chunks c ON c.rowid = f.rowid"
                " JOIN documents d ON d.id = c.doc_id"
                f" WHERE d.collection IN ({','.join('?' * len(collections))})"
            )
            scope_args = [*scope_args, *collections]
        out = []
        for term in terms:
            quoted = _phrase(term)
            if not quoted:
                continue
            row = self.db.execute(f"{sql} LIMIT 1", (quoted, *scope_args)).fetchone()
            if row is None:
                out.append(term)
        return out

    def known_terms(self, terms: Iterable[str]) -> set[str]:
        """Which of these index terms (lower case, stemmed as `folio.text.stem` does) occur in
        some indexed chunk. Typo tolerance asks this for ~1,000 spellings per unknown word:
        looked up one by one in FTS5's vocabulary that cost 16 ms a word on the dev index, so
        the vocabulary is held in memory, reloaded when this or another process writes."""
        vocab = self.vocabulary()
        return {t for t in terms if t in vocab}

    def vocabulary(self) -> dict[str, int]:
        """Every index term with the number of chunks that hold it (for IDF)."""
        return self._vocabulary()[1]

    def _vocabulary(self) -> tuple[tuple[int, int] | None, dict[str, int], int]:
        key = (self.db.execute("PRAGMA data_version").fetchone()[0], self.db.total_changes)
        if key != self._vocab[0]:
            rows = self.db.execute("SELECT term, doc FROM chunks_vocab").fetchall()
            n = self.db.execute("SELECT COUNT(*) FROM chunks_fts").fetchone()[0]
            self._vocab = (key, dict(rows), n)  # one assignment: threads never see a mix
        return self._vocab

    def get_meta(self, key: str) -> str | None:
        row = self.db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return row[0] if row else None

    def set_meta(self, key: str, value: str) -> None:
        self.db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, value))

    def chunk_count(self) -> int:
        """Rows of the lexical index (the N of IDF), cached with the vocabulary: counting
        100k rows per query cost milliseconds."""
        return self._vocabulary()[2]

    def chunks(self, ids: Iterable[str]) -> dict[str, tuple[Chunk, DocRecord]]:
        ids = list(ids)
        if not ids:
            return {}
        rows = self.db.execute(
            f"SELECT c.*, d.* , c.id AS chunk_id, d.id AS d_id FROM chunks c"
            f" JOIN documents d ON d.id = c.doc_id WHERE c.id IN ({','.join('?' * len(ids))})",
            ids,
        ).fetchall()
        out, docs = {}, {}
        for r in rows:  # ~80 rows of a handful of documents: one DocRecord per document
            doc = docs.get(r["d_id"]) or docs.setdefault(r["d_id"], _doc_from_join(r))
            out[r["chunk_id"]] = (_chunk(r), doc)
        return out

    def chunks_at(self, keys: Iterable[tuple[str, int]]) -> dict[tuple[str, int], Chunk]:
        """Chunks by (doc id, ord), in one query: neighbour expansion for a whole result list."""
        keys = sorted(set(keys))
        if not keys:
            return {}
        rows = self.db.execute(
            "WITH k(doc_id, ord) AS (VALUES "
            + ",".join("(?, ?)" for _ in keys)
            + ") SELECT c.* FROM chunks c JOIN k ON c.doc_id = k.doc_id AND c.ord = k.ord",
            [v for key in keys for v in key],
        )
        return {(r["doc_id"], r["ord"]): _chunk(r) for r in rows}

    def close(self) -> None:
        self.db.close()

    # --- internals ---------------------------------------------------------------------------

    def _tx(self):
        return _Transaction(self.db)

    def _fts_doc_scope(self, doc_ids: list[str] | None) -> tuple[str, list]:
        """The FTS5 WHERE clause (and its arguments) keeping these documents' chunks only.

        The documents' rowid range is a constraint FTS5 applies while reading its doclists; the
        exact membership test (`+rowid IN`) then runs per matching row. Without the `+` SQLite
        hands the IN list to FTS5 as one lookup per chunk, each restarting the match: 2.5 s for
        a 2,000-chunk manual at 100k chunks, against 3-8 ms this way (ranking all matches and
        filtering after: 35-50 ms). The ids travel as one JSON array, never one variable each.
        """
        if not doc_ids:
            return "", []
        ids = json.dumps(doc_ids)
        lo, hi = self.db.execute(
            "SELECT MIN(rowid), MAX(rowid) FROM chunks"
            " WHERE doc_id IN (SELECT value FROM json_each(?))",
            (ids,),
        ).fetchone()
        if lo is None:  # none of them has chunks: an empty range
            lo, hi = 1, 0
        return (
            " AND rowid BETWEEN ? AND ? AND +rowid IN (SELECT rowid FROM chunks"
            " WHERE doc_id IN (SELECT value FROM json_each(?)))",
            [lo, hi, ids],
        )

    def _ready_ids(self, ids: set[str]) -> set[str]:
        if not ids:
            return set()
        rows = self.db.execute(
            f"SELECT id FROM documents WHERE status='{READY}'"
            f" AND id IN ({','.join('?' * len(ids))})",
            list(ids),
        )
        return {r[0] for r in rows}

    def _insert_doc(self, d: DocRecord) -> None:
        self.db.execute(
            "INSERT INTO documents (id, collection, name, source, sha256, title, kind, pages,"
            " empty_pages, chunks, size, status, error, stored_file, created_at, updated_at)"
            " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            (
                d.id, d.collection, d.name, d.source, d.sha256, d.title, d.kind, d.pages,
                d.empty_pages, d.chunks, d.size, d.status, d.error, d.stored_file,
                d.created_at, d.updated_at,
            ),
        )  # fmt: skip

    def _delete_chunk_rows(self, doc_id: str) -> None:
        self.db.execute(
            "DELETE FROM chunks_fts WHERE rowid IN (SELECT rowid FROM chunks WHERE doc_id=?)",
            (doc_id,),
        )
        self.db.execute("DELETE FROM chunks WHERE doc_id=?", (doc_id,))

    def _delete_rows(self, doc_id: str) -> bool:
        self._delete_chunk_rows(doc_id)
        cur = self.db.execute("DELETE FROM documents WHERE id=?", (doc_id,))
        self.db.execute("INSERT OR IGNORE INTO purge VALUES (?)", (doc_id,))
        return cur.rowcount > 0

    def _clear_version(self, doc_id: str) -> None:
        with self._tx():
            self._delete_chunk_rows(doc_id)
        if self.collection.count():
            self.collection.delete(where={"doc_id": doc_id})


class _Transaction:
    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db

    def __enter__(self):
        self.db.execute("BEGIN IMMEDIATE")
        return self.db

    def __exit__(self, exc_type, exc, tb):
        self.db.execute("ROLLBACK" if exc_type else "COMMIT")
        return False


class TooManyDocuments(ValueError):
    """More than MAX_DOC_IDS documents in one search."""


def doc_filter(doc_ids: Sequence[str] | None) -> list[str] | None:
    """The document ids a search is restricted to, without blanks or repeats; None (no
    restriction) for none. More than MAX_DOC_IDS is refused, not cut: a silently shortened
    list would search other manuals than the caller chose."""
    ids = unique(d for d in (doc_ids or ()) if d)
    if len(ids) > MAX_DOC_IDS:
        raise TooManyDocuments(
            f"{len(ids)} documents given; a search can be restricted to at most {MAX_DOC_IDS}"
            " (choose fewer, or search a collection)"
        )
    return ids or None


def _where(collections: Sequence[str] | None, doc_ids: Sequence[str] | None = None) -> dict | None:
    """Chroma's `where` for these collections and documents (both must hold)."""
    parts = [
        {key: values[0]} if len(values) == 1 else {key: {"$in": list(values)}}
        for key, values in (("collection", collections), ("doc_id", doc_ids))
        if values
    ]
    if not parts:
        return None
    return parts[0] if len(parts) == 1 else {"$and": parts}


def _chroma_http_client(settings: Settings, chroma_settings):
    """A client for FOLIO_CHROMA_SERVER, with its TLS CA and token header; one-line error if
    the server does not answer (down, wrong token, certificate not trusted)."""
    import chromadb

    from folio.chroma_server import (
        ChromaUnavailable,
        auth_headers,
        parse_chroma_server,
        ssl_verify,
    )

    address = parse_chroma_server(settings.chroma_server or "")
    token = settings.chroma_auth_token
    if address.ssl:
        chroma_settings.chroma_server_ssl_verify = ssl_verify(settings.chroma_ca_file)
    headers = auth_headers(settings.chroma_auth_header, token.get_secret_value() if token else None)
    try:
        client = chromadb.HttpClient(
            host=address.host, port=address.port, ssl=address.ssl, headers=headers,
            settings=chroma_settings,
        )  # fmt: skip
        client.heartbeat()
    except Exception as exc:  # noqa: BLE001 - httpx, TLS and Chroma's own errors alike
        reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise ChromaUnavailable(
            f"the Chroma server at {address.url} (FOLIO_CHROMA_SERVER) did not answer: {reason}"
        ) from exc
    return client


def _chroma_meta(c: Chunk, doc: DocRecord) -> dict:
    meta = {
        "doc_id": c.doc_id,
        "collection": doc.collection,
        "name": doc.name,
        "ord": c.ord,
        "section": c.section[:500],
    }
    if c.page_start is not None:
        meta["page"] = c.page_start
    if c.label_start:
        meta["page_label"] = c.label_start
    return meta


def _doc(row: sqlite3.Row) -> DocRecord:
    return DocRecord(**{k: row[k] for k in row.keys()})  # noqa: SIM118


def _doc_from_join(row: sqlite3.Row) -> DocRecord:
    return DocRecord(
        id=row["d_id"],
        collection=row["collection"],
        name=row["name"],
        sha256=row["sha256"],
        status=row["status"],
        title=row["title"] or "",
        kind=row["kind"] or "",
        source=row["source"] or "",
        pages=row["pages"],
        chunks=row["chunks"] or 0,
        stored_file=row["stored_file"],
    )


def _chunk(row: sqlite3.Row) -> Chunk:
    keys = row.keys()
    return Chunk(
        id=row["chunk_id"] if "chunk_id" in keys else row["id"],
        doc_id=row["doc_id"],
        ord=row["ord"],
        text=row["text"],
        page_start=row["page_start"],
        page_end=row["page_end"],
        label_start=row["label_start"],
        label_end=row["label_end"],
        section=row["section"] or "",
        char_start=row["char_start"] or 0,
        char_end=row["char_end"] or 0,
        tokens=row["tokens"] or 0,
        ocr=bool(row["ocr"]) if "ocr" in keys else False,  # rows selected without the column
        instruction_like=bool(row["instruction_like"]) if "instruction_like" in keys else False,
    )


def stored_file_path(settings: Settings, sha256: str, suffix: str) -> Path:
    return settings.files_dir / f"{sha256}{suffix.lower()}"
