"""Why an answer is not a written answer: a code every client can branch on, and its English
wording for API clients (the web pages word the same code in the reader's language)."""

from __future__ import annotations

from enum import StrEnum


class Notice(StrEnum):
    NO_EVIDENCE = "no_evidence"
    RETRIEVAL_ONLY = "retrieval_only"
    ENGINE_STARTING = "engine_starting"
    ENGINE_DOWN = "engine_down"
    ENGINE_FAILED = "engine_failed"


NOTICES: dict[str, str] = {
    Notice.NO_EVIDENCE: "No passage in the manuals is relevant enough to answer this.",
    Notice.RETRIEVAL_ONLY: "Retrieval only: these are the best-matching passages; no "
    "answer was written.",
    Notice.ENGINE_STARTING: "The answer engine is still starting. Here are the "
    "best-matching passages instead of a written answer.",
    Notice.ENGINE_DOWN: "No answer engine is running ({detail}). Here are the "
    "best-matching passages instead of a written answer.",
    Notice.ENGINE_FAILED: "The answer engine failed: {detail}. Here are the best-matching "
    "passages instead of a written answer.",
}


def notice_text(code: Notice, detail: str | None = None) -> str:
    return NOTICES[code].format(detail=detail or "")
