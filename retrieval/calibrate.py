"""Fit the "do the manuals answer this?" decision on questions with known answers.

A logistic regression over the per-query signals (`retrieval.signals`), standardised, with an L2
penalty (there are tens of questions, not thousands), fitted by Newton's method in numpy; then the
probability cut is chosen from the trade-off curve: the highest cut that refuses at most
`max_false_refusals` of the answerable questions **in each language** (a cut fitted to the sum
could refuse every Chinese question and still look fine overall). Leave-one-out figures are
reported next to the training ones, because the training figures of a model fitted on 100
questions flatter it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field

import numpy as np

from retrieval.signals import FEATURES

# `unknown` is a rule, not a weight (retrieval/answerable.py); `cross_language` and
# `dense_blind` only switch signals off; `zh` lets the rest weigh differently for Chinese.
MODEL_FEATURES = (
    *(f for f in FEATURES if f not in ("unknown", "cross_language", "dense_blind")), "zh",
)  # fmt: skip


@dataclass
class Model:
    """p(answerable) = sigmoid(bias + sum(weights[f] * (x[f] - mean[f]) / scale[f]))."""

    weights: dict[str, float]
    mean: dict[str, float]
    scale: dict[str, float]
    bias: float
    threshold: float
    fitted_on: str = ""
    curve: list[dict] = field(default_factory=list)

    def probability(self, x: dict[str, float]) -> float:
        x = _effective(x, self.mean)
        z = self.bias + sum(
            w * (x.get(f, 0.0) - self.mean[f]) / self.scale[f] for f, w in self.weights.items()
        )
        return 1.0 / (1.0 + math.exp(-max(-30.0, min(30.0, z))))

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> Model:
        return cls(**d)


@dataclass(frozen=True)
class Example:
    signals: dict[str, float]
    answerable: bool
    language: str  # "en" | "zh"


def _effective(x: dict[str, float], mean: dict[str, float]) -> dict[str, float]:
    """A signal that cannot mean anything for this query takes its mean (no evidence either
    way): the lexical cover across languages, the cosines when the embedder does not know the
    question's language."""
    if x.get("cross_language"):
        x = {**x, "idf_cover": mean["idf_cover"]}
    if x.get("dense_blind"):
        x = {**x, "cosine": mean["cosine"], "cosine_gap": mean["cosine_gap"]}
    return x


def _matrix(examples: Sequence[Example]) -> tuple[np.ndarray, dict[str, float]]:
    rows = [_signals(e) for e in examples]
    mean = {}
    for f in MODEL_FEATURES:  # each signal's mean over the queries where it means something
        off = "cross_language" if f == "idf_cover" else "dense_blind"
        usable = [r for r in rows if not r.get(off)] or rows
        mean[f] = float(np.mean([r.get(f, 0.0) for r in usable]))
    x = np.array(
        [[_effective(r, mean).get(f, 0.0) for f in MODEL_FEATURES] for r in rows], dtype=float
    )
    return x, mean


def _fit_logistic(x: np.ndarray, y: np.ndarray, l2: float, sample_w: np.ndarray) -> np.ndarray:
    xb = np.hstack([np.ones((len(x), 1)), x])
    beta = np.zeros(xb.shape[1])
    penalty = np.full(xb.shape[1], l2)
    penalty[0] = 0.0
    for _ in range(50):
        p = 1.0 / (1.0 + np.exp(-np.clip(xb @ beta, -30, 30)))
        grad = xb.T @ (sample_w * (p - y)) + penalty * beta
        hess = (xb * (sample_w * p * (1 - p))[:, None]).T @ xb + np.diag(penalty) + 1e-9
        step = np.linalg.solve(hess, grad)
        beta -= step
        if np.abs(step).max() < 1e-8:
            break
    return beta


def fit(
    examples: Sequence[Example],
    *,
    max_false_refusals: float = 0.05,
    l2: float = 1.0,
    fitted_on: str = "",
) -> Model:
    """Fit weights and choose the cut; classes are weighted to count equally."""
    if not any(e.answerable for e in examples) or all(e.answerable for e in examples):
        raise ValueError("calibration needs answerable and unanswerable questions")
    x, usable_mean = _matrix(examples)
    # centred on the means over the queries where each signal means something: the same values
    # `_effective` puts in for the others, at fitting and at inference alike
    mean = np.array([usable_mean[f] for f in MODEL_FEATURES])
    scale = x.std(axis=0)
    scale[scale == 0] = 1.0
    y = np.array([float(e.answerable) for e in examples])
    pos = y.sum()
    sample_w = np.where(y == 1, len(y) / (2 * pos), len(y) / (2 * (len(y) - pos)))
    beta = _fit_logistic((x - mean) / scale, y, l2, sample_w)
    model = Model(
        weights={f: round(float(b), 4) for f, b in zip(MODEL_FEATURES, beta[1:], strict=True)},
        mean={f: round(float(m), 4) for f, m in zip(MODEL_FEATURES, mean, strict=True)},
        scale={f: round(float(s), 4) for f, s in zip(MODEL_FEATURES, scale, strict=True)},
        bias=round(float(beta[0]), 4),
        threshold=0.5,
        fitted_on=fitted_on,
    )
    probs = [model.probability(_signals(e)) for e in examples]
    model.curve = tradeoff(examples, probs)
    model.threshold = choose_threshold(examples, probs, max_false_refusals)
    return model


def _signals(e: Example) -> dict[str, float]:
    return {**e.signals, "zh": float(e.language == "zh")}


def choose_threshold(
    examples: Sequence[Example], probs: Sequence[float], max_false_refusals: float
) -> float:
    """The highest cut that keeps false refusals within the limit in every language."""
    cut = 1.0
    for language in {e.language for e in examples}:
        ans = sorted(p for e, p in zip(examples, probs, strict=True)
                     if e.answerable and e.language == language)  # fmt: skip
        if ans:
            allowed = int(max_false_refusals * len(ans))
            cut = min(cut, ans[allowed])
    return round(max(0.0, cut - 1e-6), 6)


def tradeoff(examples: Sequence[Example], probs: Sequence[float]) -> list[dict]:
    """Correct and false refusal rates at a range of cuts (the curve the cut is chosen from)."""
    rows = []
    for cut in (0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8):
        rows.append({"cut": cut, **rates(examples, [p >= cut for p in probs])})
    return rows


def rates(examples: Sequence[Example], answered: Sequence[bool]) -> dict[str, float]:
    """Refusal rates overall and per language: correct = unanswerable refused, false =
    answerable refused."""
    out: dict[str, float] = {}
    groups = {"all": list(range(len(examples)))}
    for language in sorted({e.language for e in examples}):
        groups[language] = [i for i, e in enumerate(examples) if e.language == language]
    for name, idx in groups.items():
        ans = [i for i in idx if examples[i].answerable]
        una = [i for i in idx if not examples[i].answerable]
        if una:
            out[f"correct_{name}"] = round(sum(not answered[i] for i in una) / len(una), 3)
        if ans:
            out[f"false_{name}"] = round(sum(not answered[i] for i in ans) / len(ans), 3)
    return out


def leave_one_out(examples: Sequence[Example], **kw) -> dict[str, float]:
    """Refusal rates when each question is decided by a model fitted without it ({} when a
    class has fewer than two questions: leaving one out would leave none)."""
    positives = sum(e.answerable for e in examples)
    if min(positives, len(examples) - positives) < 2:
        return {}
    answered = []
    for i in range(len(examples)):
        rest = [e for j, e in enumerate(examples) if j != i]
        model = fit(rest, **kw)
        answered.append(model.probability(_signals(examples[i])) >= model.threshold)
    return rates(examples, answered)


def examples_from(index, embedder, settings, questions: Sequence[dict], *, library_answers=True):  # noqa: ANN001
    """Search every question and keep its signals, labelled answerable when it names a `doc`
    and `library_answers` (False: the questions belong to another library, so none is
    answerable here). Questions the unknown-term rule already refuses are left out: the model
    decides the rest."""
    from folio.text import detect_language
    from retrieval.search import search

    out = []
    for q in questions:
        hits = search(index, embedder, settings, q["question"])
        if not hits.passages or hits.unknown_terms:
            continue
        out.append(
            Example(
                dict(hits.signals),
                bool(q.get("doc")) and library_answers,
                detect_language(q["question"]).value,
            )
        )
    return out


def format_report(model: Model, loo: dict[str, float] | None = None) -> str:
    lines = ["cut    " + "  ".join(f"{k:>12}" for k in model.curve[0] if k != "cut")]
    for row in model.curve:
        lines.append(f"{row['cut']:<6} " + "  ".join(f"{v:12.3f}" for k, v in row.items()
                                                       if k != "cut"))  # fmt: skip
    lines.append(f"chosen cut {model.threshold:.3f} (weights {model.weights})")
    if loo:
        lines.append("leave-one-out: " + ", ".join(f"{k} {v:.3f}" for k, v in loo.items()))
    return "\n".join(lines)
