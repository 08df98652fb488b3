"""Decide whether the retrieved passages can answer the question at all.

Saying "the manuals do not cover this" before calling the LLM saves a CPU engine minutes and
stops a model from stitching an answer out of unrelated passages. Two parts:

- a rule: a question naming something no manual contains (`retrieval.search.unknown_terms`:
  "Kerberos", "Nextcloud" in a Chinese question) is not answered;
- a fitted decision: a logistic model over per-query signals (`retrieval.signals`: best cosine,
  how far it stands out, the share of the question's information the passages hold, whether
  dense and BM25 agree, exact quotes, the question's language), with the probability cut chosen
  so that at most 5% of answerable questions are refused in each language. The shipped model
  (`answerability.json`) was fitted on dev + zh-dev and on each set's questions asked of the other
  set's library (questions the library does not answer); `folio calibrate` refits it on a
  customer's own questions and stores it in the index (`meta.answerability`), where it wins.

Near-miss questions (the right manual, a detail it never states) look answerable to every
retrieval signal; they are left to the LLM, whose contract tells it to say so, and Folio
recognises a refusal in either language (`generation/citations.py`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

from folio.settings import Settings
from folio.text import detect_language
from retrieval.calibrate import Model
from retrieval.search import Hits

DEFAULT_MODEL_PATH = Path(__file__).with_name("answerability.json")
META_KEY = "answerability"


@dataclass
class Verdict:
    answerable: bool
    signals: dict[str, float] = field(default_factory=dict)


@cache
def default_model() -> Model:
    return Model.from_dict(json.loads(DEFAULT_MODEL_PATH.read_text(encoding="utf-8")))


def model_for(index) -> Model:  # noqa: ANN001 - folio.index.Index; avoids an import cycle
    """The model fitted for this index by `folio calibrate`, else the shipped one."""
    raw = index.get_meta(META_KEY)
    return Model.from_dict(json.loads(raw)) if raw else default_model()


def answerable(hits: Hits, settings: Settings, model: Model | None = None) -> Verdict:
    model = model or default_model()
    signals = dict(hits.signals)
    signals["zh"] = float(detect_language(hits.query).value == "zh")
    signals["p_answerable"] = round(model.probability(signals), 4)
    signals["threshold"] = model.threshold
    if not hits.passages or hits.unknown_terms:
        return Verdict(False, signals)
    if hits.dense_best < settings.min_relevance:
        return Verdict(False, signals)
    return Verdict(signals["p_answerable"] >= model.threshold, signals)
