"""Decide whether the retrieved passages can answer the question at all.

Saying "the manuals do not cover this" before calling the LLM saves a CPU engine minutes and
stops a model from stitching an answer out of unrelated passages. The signal is the best cosine
similarity of a dense hit (the MiniLM score is comparable across queries, BM25's is not);
the threshold `min_relevance` is calibrated by `folio eval` on questions with known answers
and known non-answers. Near-miss questions (the right manual, a detail it never states) score as
high as answerable ones, so a second signal catches those that name something no manual
mentions (see `retrieval.search.unknown_terms`). What neither catches is left to the LLM, whose
contract tells it to refuse.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from folio.settings import Settings
from folio.text import detect_language
from retrieval.search import Hits


@dataclass
class Verdict:
    answerable: bool
    signals: dict[str, float] = field(default_factory=dict)


def threshold(question: str, settings: Settings) -> float:
    """The cosine threshold for the question's language: a model's cosines for questions in a
    language it was not trained on (Chinese for the default MiniLM) sit in another range."""
    language = detect_language(question)
    return settings.min_relevance_by_language.get(language.value, settings.min_relevance)


def answerable(hits: Hits, settings: Settings) -> Verdict:
    signals = {
        "dense_best": round(hits.dense_best, 4),
        "bm25_best": round(hits.bm25_best, 4),
        "unknown_terms": len(hits.unknown_terms),
        "threshold": threshold(hits.query, settings),
    }
    if not hits.passages or hits.unknown_terms:
        return Verdict(False, signals)
    return Verdict(hits.dense_best >= signals["threshold"], signals)
