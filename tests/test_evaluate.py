"""Scoring a run: an answer the engine did not write is counted apart, not as a refusal."""

from __future__ import annotations

from folio.evaluate import format_scores, score_run

QUESTIONS = [
    {"id": "a", "question": "q", "doc": "pump.pdf", "pages": [2]},
    {"id": "b", "question": "q", "doc": "pump.pdf", "pages": [3]},
    {"id": "u", "question": "q", "doc": None, "pages": []},
]


def _row(id_: str, mode: str, refused: bool) -> dict:
    page = {"a": 2, "b": 3}.get(id_, 1)
    results = [{"doc": "pump.pdf", "page": page}]
    return {"id": id_, "results": results, "citations": [], "refused": refused, "mode": mode}


def test_engine_failures_are_counted_and_are_not_false_refusals():
    run = [_row("a", "llm", False), _row("b", "retrieval-only", False), _row("u", "llm", True)]
    s = score_run(QUESTIONS, run)
    assert s.engine_failures == 1
    assert s.false_refusal_rate == 0.0 and s.correct_refusal_rate == 1.0
    assert "engine failures 1" in format_scores(s)


def test_a_retrieval_only_run_reports_no_engine_failures():
    run = [{"id": q["id"], "results": [], "refused": False} for q in QUESTIONS]
    s = score_run(QUESTIONS, run)
    assert s.engine_failures is None and "engine failures" not in format_scores(s)
