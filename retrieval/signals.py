"""Per-query signals that say whether the retrieved passages answer the question at all.

Raw scores do not compare across queries (a BM25 score grows with the question's length, a
cosine sits in another range for a language the embedder was not trained on), so each signal is
normalised within its own query:

- `cosine`: the best dense cosine (MiniLM's is roughly comparable across English queries);
- `cosine_gap`: how far the best cosine stands above the median of the top ten: a passage that
  is about the question stands out, a library that is merely on-topic does not;
- `idf_cover`: the share of the question's information (IDF mass of its content terms, Chinese as
  bigrams) that the best of the top three passages contains;
- `agreement`: 1 / rank of the dense retriever's best chunk in the BM25 list (0 when BM25 does not
  have it): the two retrievers finding the same text is evidence that it is about the question;
- `exact`: the coverage of a quoted chunk (`retrieval.search.exact_matches`), 0 for no quote;
- `cross_language`: 1 when the best passage is in another language than the question (an English
  question over a Chinese manual): its words cannot be found in the passage, so the fitted
  decision ignores `idf_cover` then (`retrieval.calibrate`);
- `dense_blind`: 1 when the embedder was not trained on the question's language
  (`folio.embedding.embedder_languages`): the decision then ignores the cosines, which on a new
  Chinese manual refused 8 of 18 answerable questions when they were trusted;
- `unknown`: how many name terms of the question no manual contains.

`retrieval/answerable.py` combines them with weights fitted on questions with known answers.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Mapping, Sequence

from folio import text as lang
from folio.types import Passage

FEATURES = (
    "cosine", "cosine_gap", "idf_cover", "agreement", "exact", "cross_language", "dense_blind",
    "unknown",
)  # fmt: skip


def question_terms(question: str) -> set[str]:
    """The question's content terms in index form (stems, identifiers whole, Chinese bigrams)."""
    out: set[str] = set()
    for word in lang.query_terms(question):
        out.update(t for t in lang.index_terms(word) if not lang.is_stop_term(t))
    return out


def idf(doc_freq: int, n_chunks: int) -> float:
    return math.log(1.0 + (n_chunks - doc_freq + 0.5) / (doc_freq + 0.5))


def idf_cover(
    terms: set[str], passages: Sequence[str], doc_freq: Mapping[str, int], n_chunks: int
) -> float:
    """Best share, over the passages, of the terms' IDF mass that one passage holds."""
    if not terms or not passages:
        return 0.0
    weight = {t: idf(doc_freq.get(t, 0), n_chunks) for t in terms}
    total = sum(weight.values())
    best = 0.0
    for text in passages:
        have = set(lang.index_terms(text))
        best = max(best, sum(w for t, w in weight.items() if t in have) / total)
    return best


def compute(
    question: str,
    passages: Sequence[Passage],
    dense: Sequence[tuple[str, float]],
    lexical: Sequence[tuple[str, float]],
    exact: Sequence[tuple[str, float]],
    unknown: Sequence[str],
    doc_freq: Mapping[str, int],
    n_chunks: int,
    dense_languages: set[str] | None = None,
) -> dict[str, float]:
    cosines = sorted((c for _, c in dense), reverse=True)
    best = cosines[0] if cosines else 0.0
    gap = best - statistics.median(cosines[:10]) if cosines else 0.0
    lexical_rank = {cid: i for i, (cid, _) in enumerate(lexical, 1)}
    top_dense = dense[0][0] if dense else None
    agreement = 1.0 / lexical_rank[top_dense] if top_dense in lexical_rank else 0.0
    cover = idf_cover(question_terms(question), [p.body for p in passages[:3]], doc_freq, n_chunks)
    language = lang.detect_language(question)
    cross = bool(passages) and language != lang.detect_language(passages[0].body)
    blind = dense_languages is not None and language.value not in dense_languages
    return {
        "cosine": round(best, 4),
        "cosine_gap": round(gap, 4),
        "idf_cover": round(cover, 4),
        "agreement": round(agreement, 4),
        "exact": round(max((c for _, c in exact), default=0.0), 4),
        "cross_language": float(cross),
        "dense_blind": float(blind),
        "unknown": float(len(unknown)),
    }
