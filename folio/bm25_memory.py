"""FTS5's BM25, computed from postings held in memory, for the long-lived server.

FTS5 scores every row an OR query matches, and its `bm25()` first counts each phrase's rows over
the whole table: at 100,000 chunks a dev question matched ~15,000 rows and cost a median 18.9 ms
of CPU (p95 30 ms), the largest part of a search (docs/ARCHITECTURE.md, "Lexical search at
scale"). The same scores from posting arrays held in memory are a few numpy operations per
query term. They are FTS5's own: the same tokens (the table's text, split as its `unicode61`
tokenizer does), the same column weights, k1 = 1.2, b = 0.75, IDF = ln((N - n + 0.5) /
(n + 0.5)) floored at 1e-6, document length over all columns (`tests/test_bm25_memory.py`
compares the two on every query). Only the server builds it (`services.build.index_factory`):
loading costs ~0.2 s for the 3,736 dev chunks, more than a one-off CLI search saves.

The postings live in segments, one per load: new chunks arrive as a new segment, removed ones
are masked, and the segments are merged when there are many or much is masked. Memory is
~8 bytes a posting (~0.8 KB a chunk); above `FOLIO_BM25_MEMORY_MAX_CHUNKS` (MAX_ROWS, 250,000:
~200 MB) the FTS5 path is used instead, and a site with the memory raises it.
"""

from __future__ import annotations

import logging
import re
import sqlite3
import threading
import unicodedata
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

K1, B = 1.2, 0.75
WEIGHTS = (1.0, 0.6, 0.3)  # text, section, title: the columns of chunks_fts, in order
MAX_ROWS = 250_000
MAX_SEGMENTS = 8
_TOKEN = re.compile(r"\w+")

log = logging.getLogger("folio.bm25")


def fts_tokens(text: str) -> list[str]:
    """The tokens FTS5's `unicode61 remove_diacritics 2 tokenchars '_'` makes of a text: runs
    of letters, digits and "_", case-folded, accents removed."""
    if not text:
        return []
    if not text.isascii():
        text = "".join(
            c for c in unicodedata.normalize("NFD", text) if not unicodedata.combining(c)
        )
    return _TOKEN.findall(text.lower())


@dataclass
class Segment:
    rowids: np.ndarray  # int64, ascending
    docs: np.ndarray  # int32 index into BM25Memory.doc_names, per row
    length: np.ndarray  # float64 tokens of the row over all columns
    alive: np.ndarray  # bool, False once the row left the table
    spans: dict[str, tuple[int, int]]  # term -> [start, end) in rows/freqs
    rows: np.ndarray  # int32 local row of each posting
    freqs: np.ndarray  # float64 column-weighted count of the term in that row

    @property
    def tokens(self) -> float:
        return float(self.length[self.alive].sum())


@dataclass
class _State:
    segments: list[Segment] = field(default_factory=list)
    max_rowid: int = 0
    rows: int = 0  # alive rows
    key: tuple = ()  # BM25Memory._key when loaded


class BM25Memory:
    """Postings of one index's FTS table; shared by the server's threads."""

    def __init__(self, max_rows: int = MAX_ROWS) -> None:
        self.max_rows = max_rows
        self.doc_names: list[str] = []
        self._doc_index: dict[str, int] = {}
        self._state = _State()
        self._lock = threading.Lock()  # starts the builder thread
        self._sync_lock = threading.Lock()  # one load at a time
        self._builder: threading.Thread | None = None
        self.loads = 0  # segments built, for tests

    # --- keeping up with the table -----------------------------------------------------------

    def ready(self, db: sqlite3.Connection, rows: int, path: Path) -> bool:
        """Whether the postings match the table (`rows` rows) now. If not, they are brought up
        to date in a thread of their own (with its own connection to `path`) and the caller
        asks FTS5 meanwhile, which gives the same scores: loading 100,000 chunks took 18 s
        (load average 6), and no search waits for it."""
        if rows > self.max_rows:
            return False
        if self._current(db, rows):
            return True
        with self._lock:
            if self._builder is None or not self._builder.is_alive():
                self._builder = threading.Thread(
                    target=self._sync_from, args=(path,), name="folio-bm25-postings", daemon=True
                )
                self._builder.start()
        return False

    def _sync_from(self, path: Path) -> None:
        try:  # read-only: a registry removed meanwhile is not created again, empty
            db = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=30)
        except sqlite3.Error:
            log.warning("lexical postings: cannot open %s; FTS5 ranks meanwhile", path)
            return
        try:
            rows = db.execute("SELECT COUNT(*) FROM chunks_fts").fetchone()[0]
            self.sync(db, rows)
        except sqlite3.Error:
            log.exception("loading the lexical postings failed; FTS5 ranks meanwhile")
        finally:
            db.close()

    def _key(self, db: sqlite3.Connection, rows: int) -> tuple:
        """What changes whenever the table's rows do: their number and highest rowid, and the
        registry's documents (a removed manual's rowids may be reused by the next one)."""
        top = db.execute("SELECT rowid FROM chunks_fts ORDER BY rowid DESC LIMIT 1").fetchone()
        docs = db.execute("SELECT COUNT(*), MAX(updated_at) FROM documents").fetchone()
        return (rows, top[0] if top else 0, *docs)

    def _current(self, db: sqlite3.Connection, rows: int) -> bool:
        return self._state.key == self._key(db, rows)

    def sync(self, db: sqlite3.Connection, rows: int) -> bool:
        """Bring the postings up to date with the table, which holds `rows` rows, in this
        thread; False when the table is too large to hold (the caller uses FTS5)."""
        if rows > self.max_rows:
            return False
        with self._sync_lock:
            began = not db.in_transaction
            if began:
                db.execute("BEGIN")  # one snapshot of the registry for the whole load
            try:
                key = self._key(db, rows)
                state = self._state
                if state.key != key:
                    state = self._load(db, state)  # rows added since
                    if state.rows != rows or state.max_rowid != key[1]:
                        state = self._without_removed_rows(db, state)
                    if (
                        state is None
                        or len(state.segments) > MAX_SEGMENTS
                        or (state.rows < 0.8 * sum(len(s.rowids) for s in state.segments))
                    ):
                        state = self._load(db, _State())  # all alive rows, one segment
                    self._state = replace(state, key=key)
            finally:
                if began:
                    db.execute("COMMIT")
        return True

    def _load(self, db: sqlite3.Connection, state: _State) -> _State:
        """`state` plus a segment of the rows added since it was loaded."""
        since = state.max_rowid
        docs = dict(db.execute("SELECT rowid, doc_id FROM chunks WHERE rowid > ?", (since,)))
        cur = db.execute(
            "SELECT rowid, text, section, title FROM chunks_fts WHERE rowid > ? ORDER BY rowid",
            (since,),
        )
        rowids: list[int] = []
        doc_of: list[int] = []
        lengths: list[int] = []
        postings: dict[str, tuple[list[int], list[float]]] = {}
        for rowid, *columns in cur:
            local = len(rowids)
            rowids.append(rowid)
            doc_of.append(self._doc(docs.get(rowid, "")))
            weighted: Counter[str] = Counter()
            n = 0
            for weight, text in zip(WEIGHTS, columns, strict=True):
                tokens = fts_tokens(text or "")
                n += len(tokens)
                for term, count in Counter(tokens).items():
                    weighted[term] += weight * count
            lengths.append(n)
            for term, f in weighted.items():
                hit = postings.get(term)
                if hit is None:
                    postings[term] = ([local], [f])
                else:
                    hit[0].append(local)
                    hit[1].append(f)
        if not rowids:
            return state
        spans: dict[str, tuple[int, int]] = {}
        all_rows: list[int] = []
        all_freqs: list[float] = []
        for term, (rs, fs) in postings.items():
            spans[term] = (len(all_rows), len(all_rows) + len(rs))
            all_rows.extend(rs)
            all_freqs.extend(fs)
        segment = Segment(
            rowids=np.asarray(rowids, dtype=np.int64),
            docs=np.asarray(doc_of, dtype=np.int32),
            length=np.asarray(lengths, dtype=np.float64),
            alive=np.ones(len(rowids), dtype=bool),
            spans=spans,
            rows=np.asarray(all_rows, dtype=np.int32),
            freqs=np.asarray(all_freqs, dtype=np.float64),
        )
        self.loads += 1
        return _State([*state.segments, segment], rowids[-1], state.rows + len(rowids))

    def _without_removed_rows(self, db: sqlite3.Connection, state: _State) -> _State | None:
        """`state` with the rows that left the table masked; None when that cannot be right
        (a rowid it holds now belongs to another document, or the table has rows it never
        loaded: a removed manual's rowids were reused), and everything is loaded again."""
        table = dict(db.execute("SELECT rowid, doc_id FROM chunks"))
        alive = 0
        for s in state.segments:
            names = [table.get(int(r)) for r in s.rowids]
            docs = [self.doc_names[d] for d in s.docs]
            if any(n is not None and n != d for n, d in zip(names, docs, strict=True)):
                return None
            s.alive &= np.fromiter((n is not None for n in names), dtype=bool, count=len(names))
            alive += int(s.alive.sum())
        if alive != len(table):
            return None
        return _State(state.segments, state.max_rowid, alive)

    def _doc(self, name: str) -> int:
        i = self._doc_index.get(name)
        if i is None:
            i = self._doc_index[name] = len(self.doc_names)
            self.doc_names.append(name)
        return i

    # --- ranking -----------------------------------------------------------------------------

    def top(
        self,
        phrases: Sequence[Sequence[str]],
        k: int,
        doc_freq: Mapping[str, int],
        allowed_docs: set[str],
    ) -> list[tuple[int, float]] | None:
        """(rowid, score) of the k best rows of the allowed documents for an OR of these
        phrases, as FTS5's bm25() with WEIGHTS scores them; None for a phrase this cannot score
        (FTS5 then answers). A phrase is an identifier's parts followed by the identifier
        (`folio.text.word_terms`), which occur together wherever the identifier does, so its
        rows and counts are the identifier's."""
        terms: list[str] = []
        for phrase in dict.fromkeys(tuple(p) for p in phrases):  # FTS5's OR query has each once
            if len(phrase) > 1 and "_" not in phrase[-1]:
                return None
            tokens = fts_tokens(phrase[-1]) if phrase else []
            if len(tokens) != 1:
                return None
            terms.append(tokens[0])
        state = self._state
        if not state.rows or not terms:
            return []
        allowed = np.zeros(len(self.doc_names) + 1, dtype=bool)
        for name in allowed_docs:
            i = self._doc_index.get(name)
            if i is not None:
                allowed[i] = True
        avgdl = sum(s.tokens for s in state.segments) / state.rows
        idf = {}
        for t in dict.fromkeys(terms):
            n = doc_freq.get(t, 0)
            idf[t] = max(float(np.log((state.rows - n + 0.5) / (n + 0.5))), 1e-6)
        found_ids: list[np.ndarray] = []
        found_scores: list[np.ndarray] = []
        for s in state.segments:
            score = np.zeros(len(s.rowids), dtype=np.float64)
            hit = np.zeros(len(s.rowids), dtype=bool)
            for t in terms:  # an identifier and its phrase both count, as in FTS5
                span = s.spans.get(t)
                if span is None:
                    continue
                rows, f = s.rows[span[0] : span[1]], s.freqs[span[0] : span[1]]
                norm = K1 * (1 - B + B * s.length[rows] / avgdl)
                score[rows] += idf[t] * (f * (K1 + 1.0)) / (f + norm)
                hit[rows] = True
            keep = np.flatnonzero(hit & s.alive & allowed[s.docs])
            found_ids.append(s.rowids[keep])
            found_scores.append(score[keep])
        ids = np.concatenate(found_ids) if found_ids else np.zeros(0, dtype=np.int64)
        scores = np.concatenate(found_scores) if found_scores else np.zeros(0)
        if len(ids) > k:  # the k best; among equal scores at the cut the lower rowids, as FTS5
            kth = np.partition(scores, len(scores) - k)[len(scores) - k]
            tied = np.flatnonzero(scores == kth)
            tied = tied[np.argsort(ids[tied], kind="stable")[: k - int((scores > kth).sum())]]
            pick = np.concatenate([np.flatnonzero(scores > kth), tied])
            ids, scores = ids[pick], scores[pick]
        order = np.lexsort((ids, -scores))
        return [(int(ids[i]), float(scores[i])) for i in order]
