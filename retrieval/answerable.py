"""Decide whether the retrieved passages can answer the question at all.

Saying "the manuals do not cover this" before calling the LLM saves a CPU engine minutes and
stops a model from stitching an answer out of unrelated passages. Three parts:

- a rule: a question naming something no manual contains (`retrieval.search.unknown_terms`:
  "Kerberos", "Nextcloud" in a Chinese question) is not answered;
- by default, a floor on the best cosine (`FOLIO_MIN_RELEVANCE`, 0.35), applied only to questions
  in a language the embedder was trained on (`folio.embedding.embedder_languages`);
- once `folio calibrate` has fitted a decision on the customer's own questions and corpus
  (`retrieval/calibrate.py`: a logistic model over `retrieval.signals`, cut so that at most 5% of
  answerable questions are refused in each language), that decision instead.

Why no fitted default: a model fitted on dev + zh-dev (and each set's questions asked of the
other library) looked good by leave-one-out (correct refusals 0.81, false 0.06), but the cosine
level it learnt belongs to those corpora: on the generated XR-500 manual it refused 8 of 18
answerable Chinese questions, and on the pump fixture a misspelt answerable English question
(`tests/bench/fit_answerability.py`; figures in docs/ARCHITECTURE.md). Fitted on a customer's own
corpus, the cosine level is theirs.

Near-miss questions (the right manual, a detail it never states) look answerable to every
retrieval signal; they are left to the LLM, whose contract tells it to say so, and Folio
recognises a refusal in either language (`generation/citations.py`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from folio.settings import Settings
from folio.text import detect_language
from retrieval.calibrate import Model
from retrieval.search import Hits

META_KEY = "answerability"


@dataclass
class Verdict:
    answerable: bool
    signals: dict[str, float] = field(default_factory=dict)


def model_for(index) -> Model | None:  # noqa: ANN001 - folio.index.Index; no import cycle
    """The decision `folio calibrate` fitted for this index, if any."""
    raw = index.get_meta(META_KEY)
    return Model.from_dict(json.loads(raw)) if raw else None


def answerable(hits: Hits, settings: Settings, model: Model | None = None) -> Verdict:
    signals = dict(hits.signals)
    signals["zh"] = float(detect_language(hits.query).value == "zh")
    if not hits.passages or hits.unknown_terms:
        return Verdict(False, signals)
    if model is not None:
        p = model.probability(signals)
        signals["p_answerable"] = round(p, 4)
        signals["threshold"] = model.threshold
        return Verdict(p >= model.threshold, signals)
    signals["threshold"] = settings.min_relevance
    if signals.get("dense_blind"):  # the embedder's cosine means nothing in this language
        return Verdict(True, signals)
    return Verdict(hits.dense_best >= settings.min_relevance, signals)
