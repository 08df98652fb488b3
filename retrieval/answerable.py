"""Decide whether the retrieved passages can answer the question at all.

Saying "the manuals do not cover this" before calling the LLM saves a CPU engine minutes and
stops a model from stitching an answer out of unrelated passages. The signal is the best cosine
similarity of a dense hit (the MiniLM score is comparable across queries, BM25's is not);
the threshold `min_relevance` is calibrated by `folio eval` on questions with known answers
and known non-answers.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from folio.settings import Settings
from retrieval.search import Hits


@dataclass
class Verdict:
    answerable: bool
    signals: dict[str, float] = field(default_factory=dict)


def answerable(hits: Hits, settings: Settings) -> Verdict:
    signals = {"dense_best": round(hits.dense_best, 4), "bm25_best": round(hits.bm25_best, 4)}
    if not hits.passages:
        return Verdict(False, signals)
    return Verdict(hits.dense_best >= settings.min_relevance, signals)
