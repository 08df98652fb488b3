"""Hybrid search over the index: dense + BM25, fused, collapsed per page, expanded in context."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field

from folio import text as lang
from folio.embedding import Embedder, embedder_languages
from folio.index import DocRecord, Index, doc_filter
from folio.settings import Settings
from folio.types import Chunk, Passage
from retrieval import signals
from retrieval.fusion import near_duplicates, rrf
from retrieval.rerank import Reranker

CANDIDATES = 40  # per retriever; fusion then picks from at most 2x this
# A query "quotes" a chunk when the chunk holds at least EXACT_COVERAGE of the query's runs of
# QUOTE_RUN consecutive index terms (stopwords included: word order is what a paraphrase lacks).
QUOTE_RUN = 3
EXACT_COVERAGE = 0.5


@dataclass
class Hits:
    """Ranked passages plus the raw signals that decide whether the manuals answer at all."""

    query: str
    passages: list[Passage]
    dense_best: float = 0.0
    bm25_best: float = 0.0
    cosine: dict[str, float] = field(default_factory=dict)  # chunk id -> cosine
    unknown_terms: list[str] = field(default_factory=list)  # distinctive, absent from the index
    signals: dict[str, float] = field(default_factory=dict)  # retrieval.signals.compute
    timings: dict[str, float] = field(default_factory=dict)


def search(
    index: Index,
    embedder: Embedder,
    settings: Settings,
    query: str,
    *,
    k: int | None = None,
    collections: Sequence[str] | None = None,
    doc_ids: Sequence[str] | None = None,
    mode: str = "hybrid",
    expand: bool = True,
    reranker: Reranker | None = None,
) -> Hits:
    k = k or settings.top_k
    # Collections and documents filter inside each retriever (Chroma's `where`, the FTS5
    # query), so asking within one manual finds its passages on a library of any size.
    doc_ids = doc_filter(doc_ids)  # raises TooManyDocuments over MAX_DOC_IDS
    t0 = time.perf_counter()
    dense: list[tuple[str, float]] = []
    lexical: list[tuple[str, float]] = []
    if mode in ("hybrid", "dense"):
        vector = embedder.embed_query(query, threads=settings.query_threads)
        t_embed = time.perf_counter()
        dense = index.dense(vector, CANDIDATES, collections, doc_ids)
    else:
        t_embed = t0
    t_dense = time.perf_counter()
    exact: list[tuple[str, float]] = []
    if mode in ("hybrid", "bm25"):
        lexical = index.bm25(query, CANDIDATES, collections, doc_ids)
        exact = exact_matches(index, query, collections, doc_ids)
    t_bm25 = time.perf_counter()

    fused = rrf([[c for c, _ in dense], [c for c, _ in lexical]], k=settings.rrf_k)
    if exact:  # exact and near-exact matches first: best covered, then as the fusion ranks them
        place = {c: i for i, (c, _) in enumerate(fused)}
        exact.sort(key=lambda e: (-e[1], place.get(e[0], len(place))))
        first = {cid: 1.0 + cover for cid, cover in exact}
        fused = [*first.items(), *((c, s) for c, s in fused if c not in first)]
    rows = index.chunks(c for c, _ in fused[: 2 * CANDIDATES])
    cosine = dict(dense)
    passages = _collapse(fused, rows, doc_ids)
    dup = near_duplicates([p.chunk.text for p in passages[: 3 * k]])
    passages = [p for i, p in enumerate(passages) if i not in dup]
    if reranker is not None:
        passages = reranker.rerank(query, passages[: 3 * k], k)
    passages = passages[:k]
    if expand:
        near = index.chunks_at((p.chunk.doc_id, p.chunk.ord + d) for p in passages for d in (-1, 1))
        passages = [_expand(p, near) for p in passages]
    unknown = unknown_terms(index, query, collections, doc_ids) if passages else []
    relevance = signals.compute(
        query, passages, dense, lexical, exact, unknown, index.vocabulary(), index.chunk_count(),
        embedder_languages(settings),
    )  # fmt: skip
    t_end = time.perf_counter()
    return Hits(
        query=query,
        passages=passages,
        dense_best=max(cosine.values(), default=0.0),
        bm25_best=lexical[0][1] if lexical else 0.0,
        cosine=cosine,
        unknown_terms=unknown,
        signals=relevance,
        timings={
            "embed_ms": (t_embed - t0) * 1000,
            "dense_ms": (t_dense - t_embed) * 1000,
            "bm25_ms": (t_bm25 - t_dense) * 1000,
            "fuse_ms": (t_end - t_bm25) * 1000,
            "total_ms": (t_end - t0) * 1000,
        },
    )


def exact_matches(
    index: Index,
    query: str,
    collections: Sequence[str] | None = None,
    doc_ids: Sequence[str] | None = None,
) -> list[tuple[str, float]]:
    """(chunk id, coverage) of the chunks the query quotes, most covered first.

    Staff paste error messages, log lines and sentences they half remember. Ranking alone treats
    a page holding the whole sentence like one holding the same words scattered, so the chunks
    with the most of the query's word runs are fetched (an FTS5 OR of phrases) and the share of
    the runs each one holds decides: at EXACT_COVERAGE or more the query is a quote of it.
    Paraphrased questions share few runs with any chunk and are left to the fusion.
    """
    runs = lang.unique(lang.shingles(lang.index_terms(query), QUOTE_RUN))
    if len(runs) < 2:
        return []
    telling = [r for r in runs if not all(lang.is_stop_term(t) for t in r.split())]
    found = []
    for cid, text in index.phrase_matches(telling or runs, 6, collections, doc_ids):
        have = set(lang.shingles(lang.index_terms(text), QUOTE_RUN))
        cover = sum(r in have for r in runs) / len(runs)
        if cover >= EXACT_COVERAGE:
            found.append((cid, cover))
    return sorted(found, key=lambda x: -x[1])


def unknown_terms(
    index: Index,
    query: str,
    collections: Sequence[str] | None = None,
    doc_ids: Sequence[str] | None = None,
) -> list[str]:
    """Distinctive words of the question that no manual in the asked scope contains.

    A word that names something (`folio.text.name_terms`: "kerberos", "xlsx", or "Nextcloud" in
    a Chinese question) and appears in no chunk at all is strong evidence that the manuals do
    not cover the question, whatever the nearest passages look like. Compounds ("tls-secured")
    and common words are left out: a paraphrase may use words the manual does not.
    """
    candidates = rare_terms(query)
    if not candidates:
        return []
    absent = index.absent_terms(candidates, collections, doc_ids)
    if absent and (collections or doc_ids):
        # Spelt exactly as another scope's manual spells it: a name, not a typo to forgive.
        nowhere = set(index.absent_terms(absent))
        return [t for t in absent if t not in nowhere or not _is_typo(t, index)]
    return [t for t in absent if not _is_typo(t, index)]


def rare_terms(query: str) -> list[str]:
    """The question's words that name things (`folio.text.name_terms`)."""
    return lang.name_terms(query)


def _is_typo(word: str, index: Index) -> bool:
    """A typo must not make Folio refuse a question the manuals answer ("sorce", "Wendows")."""
    variants = typo_variants(word)
    if not variants:
        return False
    return bool(variants & lang.common_english_words() or index.known_terms(variants))


_SUFFIXES = ("ing", "ion", "ed", "es", "e", "s", "y")
_LETTERS = "abcdefghijklmnopqrstuvwxyz"


def typo_variants(word: str) -> set[str]:
    """Every spelling one edit (insertion, deletion, substitution, transposition) from `word`
    or from it without a common suffix, since the index holds stems ("sorce" → "sorc" →
    "sourc", the stem of "source").

    Words under five letters get none: "xlsx" is not a typo of "xls", and short names are where
    one letter makes another product. Chinese words get none either.
    """
    if len(word) < 5 or lang.is_han(word):
        return set()
    forms = {word} | {
        word[: -len(x)] for x in _SUFFIXES if word.endswith(x) and len(word) - len(x) >= 4
    }
    return set().union(*(one_edit(f) for f in forms)) - {word}


def one_edit(w: str) -> set[str]:
    splits = [(w[:i], w[i:]) for i in range(len(w) + 1)]
    return (
        {a + b[1:] for a, b in splits if b}
        | {a + b[1] + b[0] + b[2:] for a, b in splits if len(b) > 1}
        | {a + c + b[1:] for a, b in splits if b for c in _LETTERS}
        | {a + c + b for a, b in splits for c in _LETTERS}
    )


def _collapse(
    fused: list[tuple[str, float]],
    rows: dict[str, tuple[Chunk, DocRecord]],
    doc_ids: Sequence[str] | None,
) -> list[Passage]:
    """One passage per page (the citation unit): the best-ranked chunk of each page wins."""
    seen: set[tuple[str, object]] = set()
    out = []
    allowed = set(doc_ids) if doc_ids else None
    for cid, score in fused:
        if cid not in rows:
            continue
        chunk, doc = rows[cid]
        if allowed is not None and doc.id not in allowed:
            continue
        key = (doc.id, chunk.page_start if chunk.page_start is not None else chunk.ord)
        if key in seen:
            continue
        seen.add(key)
        out.append(Passage(chunk, doc.name, doc.title or doc.name, doc.collection, score))
    return out


def merge_spans(chunks: list[Chunk]) -> str:
    """Join consecutive chunks of one page without repeating their overlap.

    Offsets are only comparable within one extracted page text: a DOCX page holds one text per
    section run, each counted from 0, so chunks are joined by their offsets only where the
    overlap the offsets claim is really the end of the text so far (taking two section runs'
    offsets as one text cut the start off the second: "…手册" + "部说明"); others are joined
    whole. (PDF chunks of one page now carry different sections, their headings.)
    """
    chunks = sorted(chunks, key=lambda c: c.ord)
    text = chunks[0].text
    end = chunks[0].char_end
    for c in chunks[1:]:
        shared = end - c.char_start
        if 0 < shared <= len(c.text) and text.endswith(c.text[:shared]):
            text += c.text[shared:]
        else:
            text += "\n" + c.text
            end = 0
        end = max(end, c.char_end)
    return text


def neighbour_keys(chunk: Chunk) -> list[tuple[str, int]]:
    return [(chunk.doc_id, chunk.ord - 1), (chunk.doc_id, chunk.ord + 1)]


def expanded_text(chunk: Chunk, near: dict[tuple[str, int], Chunk], max_tokens: int = 360) -> str:
    """The chunk with its neighbours on the same page (or section), within a token budget, so a
    passage that starts mid-procedure carries its context."""
    picked = [chunk]
    budget = max_tokens - chunk.tokens
    for key in neighbour_keys(chunk):
        n = near.get(key)
        if n is None or n.page_start != chunk.page_start:
            continue
        if n.section != chunk.section and not chunk.page_start:
            continue
        if n.tokens <= budget:
            picked.append(n)
            budget -= n.tokens
    return merge_spans(picked) if len(picked) > 1 else chunk.text


def _expand(p: Passage, near: dict[tuple[str, int], Chunk]) -> Passage:
    text = expanded_text(p.chunk, near)
    if text == p.chunk.text:
        return p
    flagged = any(
        n.instruction_like and n.page_start == p.chunk.page_start
        for n in (near.get(k) for k in neighbour_keys(p.chunk))
        if n is not None
    )
    return Passage(
        p.chunk, p.doc_name, p.title, p.collection, p.score, text=text,
        neighbour_instruction_like=flagged,
    )  # fmt: skip
