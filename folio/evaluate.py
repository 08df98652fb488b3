"""`folio eval`: run a question set through Folio and score the run.

The run file has the shape the reference scorer (`shared/eval/score.py`) reads, so the two can be
compared line for line; `score_run` implements the same metrics for the console summary.
"""

from __future__ import annotations

import json
import re
import statistics
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

EVIDENCE_WORDS = 8


def read_questions(path: Path) -> list[dict]:
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def quote_questions(questions: list[dict]) -> list[dict]:
    """Known-item queries: each answerable question's evidence quotes (verbatim text of the page
    that answers it) asked as questions, expecting that page first. Staff paste what they see;
    a search engine given a page's exact words should return that page."""
    out: list[dict] = []
    for q in questions:
        if not q.get("doc") or not q.get("evidence"):
            continue
        pages = q.get("pages") or []
        quotes = [(pages[0] if pages else None, q["evidence"])]
        quotes += [(page, quote) for page, quote in q.get("extra_evidence") or []]
        for n, (page, quote) in enumerate(quotes):
            out.append({
                "id": f"{q['id']}#quote{n}", "question": quote, "doc": q["doc"],
                "pages": [page] if page is not None else [], "evidence": quote,
                "kind": "quote",
            })  # fmt: skip
    return out


def normalise(text: str | None) -> str:
    return " ".join(re.sub(r"[^\w\s]|_", " ", (text or "").lower()).split())


def _evidence_key(q: dict) -> str:
    return " ".join(normalise(q.get("evidence")).split()[:EVIDENCE_WORDS])


def _base(doc: str | None) -> str:
    return Path(doc).name if doc else ""


def page_hit(q: dict, result: dict) -> bool:
    if _base(result.get("doc")) != _base(q.get("doc")):
        return False
    pages = q.get("pages") or []
    if pages:
        return result.get("page") in pages
    key = _evidence_key(q)
    return bool(key) and key in normalise(result.get("text"))


def citation_ok(q: dict, c: dict) -> bool:
    if _base(c.get("doc")) != _base(q.get("doc")):
        return False
    pages = q.get("pages") or []
    return not pages or c.get("page") in pages


@dataclass
class Scores:
    n_answerable: int = 0
    n_unanswerable: int = 0
    page_hit: dict[int, float] = field(default_factory=dict)
    doc_hit: dict[int, float] = field(default_factory=dict)
    mrr: float = 0.0
    citation_precision: float | None = None
    citation_recall: float | None = None
    correct_refusal_rate: float | None = None
    false_refusal_rate: float | None = None
    latency_p50_ms: float | None = None
    latency_p95_ms: float | None = None
    engine_failures: int | None = None  # LLM runs: answers the engine did not write
    by_kind: dict[str, dict[str, float]] = field(default_factory=dict)


def _pct(values: list[float], q: float) -> float | None:
    if not values:
        return None
    values = sorted(values)
    pos = (len(values) - 1) * q
    lo, hi = int(pos), min(int(pos) + 1, len(values) - 1)
    return values[lo] + (values[hi] - values[lo]) * (pos - lo)


def score_run(questions: list[dict], run: Iterable[dict], ks=(1, 3, 5, 10)) -> Scores:
    rows = {r["id"]: r for r in run}
    answerable = [q for q in questions if q.get("doc")]
    unanswerable = [q for q in questions if not q.get("doc")]
    s = Scores(len(answerable), len(unanswerable))
    ranks = []
    for q in answerable:
        results = rows.get(q["id"], {}).get("results", [])
        rank = next((i for i, r in enumerate(results[:10], 1) if page_hit(q, r)), None)
        ranks.append((q, rank, results))
    for k in ks:
        s.page_hit[k] = _mean([r is not None and r <= k for _, r, _ in ranks])
        s.doc_hit[k] = _mean(
            [any(_base(x.get("doc")) == _base(q["doc"]) for x in res[:k]) for q, _, res in ranks]
        )
    s.mrr = _mean([1 / r if r else 0.0 for _, r, _ in ranks])
    kinds = sorted({q.get("kind", "") for q, _, _ in ranks})
    for kind in kinds:
        sel = [r for q, r, _ in ranks if q.get("kind", "") == kind]
        s.by_kind[kind] = {
            "n": len(sel),
            "hit@1": _mean([r == 1 for r in sel]),
            "hit@5": _mean([r is not None and r <= 5 for r in sel]),
        }
    if any("citations" in r for r in rows.values()):
        cited = correct = recalled = 0
        for q in answerable:
            cs = rows.get(q["id"], {}).get("citations") or []
            ok = [citation_ok(q, c) for c in cs]
            cited += len(cs)
            correct += sum(ok)
            recalled += any(ok)
        s.citation_precision = correct / cited if cited else 0.0
        s.citation_recall = recalled / len(answerable) if answerable else 0.0
    if any("mode" in r for r in rows.values()):
        s.engine_failures = sum(r.get("mode") == "retrieval-only" for r in rows.values())
    if any("refused" in r for r in rows.values()):
        s.correct_refusal_rate = _mean(
            [bool(rows.get(q["id"], {}).get("refused")) for q in unanswerable]
        )
        s.false_refusal_rate = _mean(
            [bool(rows.get(q["id"], {}).get("refused")) for q in answerable]
        )
    lat = [r["latency_ms"] for r in rows.values() if r.get("latency_ms") is not None]
    s.latency_p50_ms, s.latency_p95_ms = _pct(lat, 0.5), _pct(lat, 0.95)
    return s


def _mean(values: list) -> float:
    return float(statistics.fmean(values)) if values else 0.0


def format_scores(s: Scores) -> str:
    lines = [
        f"answerable {s.n_answerable}, unanswerable {s.n_unanswerable}",
        "page-hit  " + "  ".join(f"@{k} {v:.3f}" for k, v in s.page_hit.items()),
        "doc-hit   " + "  ".join(f"@{k} {v:.3f}" for k, v in s.doc_hit.items()),
        f"MRR@10    {s.mrr:.3f}",
    ]
    if s.citation_precision is not None:
        lines.append(
            f"citations precision {s.citation_precision:.3f}  recall {s.citation_recall:.3f}"
        )
    if s.correct_refusal_rate is not None:
        lines.append(
            f"refusals  correct {s.correct_refusal_rate:.3f}  false {s.false_refusal_rate:.3f}"
        )
    if s.engine_failures:
        lines.append(
            f"engine failures {s.engine_failures} (passages shown, neither answer nor refusal)"
        )
    if s.latency_p50_ms is not None:
        lines.append(f"latency   p50 {s.latency_p50_ms:.0f} ms  p95 {s.latency_p95_ms:.0f} ms")
    for kind, v in s.by_kind.items():
        lines.append(f"  {kind:<18} n={v['n']:<3} hit@1 {v['hit@1']:.2f}  hit@5 {v['hit@5']:.2f}")
    return "\n".join(lines)
