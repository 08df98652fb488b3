"""The fitted "do the manuals answer this?" decision: fitting, the cut, the stored model (pure,
plus one real index for the stored model)."""

from __future__ import annotations

import json
import random

import pytest

from folio.settings import Settings
from retrieval.answerable import META_KEY, answerable, model_for
from retrieval.calibrate import Example, choose_threshold, fit, leave_one_out, rates
from retrieval.search import Hits
from retrieval.signals import idf_cover


def _examples(n: int = 40, seed: int = 1) -> list[Example]:
    """Answerable questions have higher cosine and cover than unanswerable ones, with overlap."""
    rnd = random.Random(seed)
    out = []
    for i in range(n):
        ok = i % 3 != 0
        language = "zh" if i % 2 else "en"
        base = 0.65 if ok else 0.45
        out.append(Example({
            "cosine": base + rnd.gauss(0, 0.08), "cosine_gap": rnd.random() * 0.1,
            "idf_cover": (0.55 if ok else 0.25) + rnd.gauss(0, 0.12),
            "agreement": rnd.random(), "exact": 0.0, "cross_language": 0.0,
        }, ok, language))  # fmt: skip
    return out


def test_fit_learns_the_direction_of_the_signals():
    model = fit(_examples())
    assert model.weights["cosine"] > 0 and model.weights["idf_cover"] > 0
    hi = {"cosine": 0.8, "cosine_gap": 0.05, "idf_cover": 0.7, "agreement": 0.5}
    lo = {"cosine": 0.3, "cosine_gap": 0.05, "idf_cover": 0.1, "agreement": 0.5}
    assert model.probability(hi) > model.threshold > model.probability(lo)


def test_cut_keeps_false_refusals_within_the_limit_in_every_language():
    examples = _examples(90)
    model = fit(examples, max_false_refusals=0.05)
    decided = [model.probability({**e.signals, "zh": float(e.language == "zh")})
               >= model.threshold for e in examples]  # fmt: skip
    r = rates(examples, decided)
    assert r["false_en"] <= 0.05 and r["false_zh"] <= 0.05
    assert r["correct_all"] > 0.5  # and it still refuses most unanswerable ones


def test_choose_threshold_takes_the_strictest_language():
    examples = [Example({}, True, "en"), Example({}, True, "zh"), Example({}, False, "en")]
    assert choose_threshold(examples, [0.9, 0.2, 0.1], 0.0) < 0.2


def test_cross_language_passage_ignores_lexical_cover():
    model = fit(_examples())
    x = {"cosine": 0.6, "cosine_gap": 0.05, "idf_cover": 0.0, "agreement": 0.3}
    assert model.probability({**x, "cross_language": 1.0}) > model.probability(x)


def test_leave_one_out_needs_two_of_each_class():
    one_negative = [e for e in _examples(12) if e.answerable] + [_examples(12)[0]]
    assert leave_one_out(one_negative) == {}
    with pytest.raises(ValueError, match="answerable and unanswerable"):
        fit([e for e in _examples() if e.answerable])


def test_idf_cover_weighs_rare_terms_more():
    df = {"pump": 90, "prime": 2, "vent": 3}
    terms = {"pump", "prime", "vent"}
    rare = idf_cover(terms, ["Open the vent to prime it."], df, 100)
    common = idf_cover(terms, ["The pump manual."], df, 100)
    assert rare > 0.8 > 0.2 > common


def test_unknown_name_refuses_whatever_the_model_says():
    hits = Hits("How do I set up Kerberos?", passages=[object()], unknown_terms=["kerberos"],
                signals={"cosine": 0.9, "idf_cover": 0.9})  # fmt: skip
    assert not answerable(hits, Settings()).answerable


def test_a_model_stored_in_the_index_wins_over_the_shipped_one(tmp_path):
    from folio.index import Index

    index = Index(Settings(data_dir=tmp_path), model_name="m")
    assert model_for(index) is None
    stored = fit(_examples(), fitted_on="customer set")
    index.set_meta(META_KEY, json.dumps(stored.to_dict()))
    assert model_for(index).fitted_on == "customer set"
    assert model_for(index).weights == stored.weights


def _hits(query: str, cosine: float, **signals: float) -> Hits:
    return Hits(query, passages=[object()], dense_best=cosine,
                signals={"cosine": cosine, **signals})  # fmt: skip


def test_default_floor_applies_to_the_embedders_languages_only():
    settings = Settings()
    assert not answerable(_hits("How do I prime it?", 0.2, dense_blind=0.0), settings).answerable
    assert answerable(_hits("How do I prime it?", 0.5, dense_blind=0.0), settings).answerable
    # MiniLM's cosine for a Chinese question is no evidence: the floor does not apply
    assert answerable(_hits("怎样给水泵灌水？", 0.2, dense_blind=1.0), settings).answerable


def test_a_stored_model_decides_instead_of_the_floor():
    model = fit(_examples())
    hits = _hits("How do I prime it?", 0.2, cosine_gap=0.05, idf_cover=0.9, agreement=0.9)
    verdict = answerable(hits, Settings(), model)
    assert "p_answerable" in verdict.signals
    assert verdict.answerable == (model.probability(verdict.signals) >= model.threshold)
