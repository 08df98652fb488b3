"""The answer pipeline: condense -> retrieve -> decide -> prompt -> stream -> check citations.

Callers (CLI, web, API) consume one stream of events, so every surface shows the same thing in
the same order: the passages first (a CPU engine may take a minute before its first token), then
the answer as it streams, checked sentence by sentence as it is written (`generation.verified`:
a marker the final check would drop is never shown), then the checked answer with its
citations, whose text the streamed tokens add up to. When the engine fails the
stream still ends with an answer object that carries the passages and the error: a
retrieval-only answer rather than nothing.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any

from folio import text as lang
from folio.departments import Department
from folio.embedding import Embedder
from folio.index import Index
from folio.settings import Settings
from folio.types import Passage
from generation.citations import check, content_words, strip_markers
from generation.client import LLMClient, LLMError
from generation.grounded import GroundedGate, evidence, mark_unsupported
from generation.verified import VerifiedStream
from retrieval.answerable import answerable, model_for
from retrieval.prompt import build_prompt, condense_messages, fallback_condense, refusal
from retrieval.rerank import Reranker
from retrieval.search import Hits, search

log = logging.getLogger("folio.answer")


class Mode(StrEnum):
    """How an answer came about; the API's `mode`."""

    LLM = "llm"  # the model's answer, checked
    UNSUPPORTED = "unsupported"  # no sentence of it supported (generation.grounded): a refusal
    RETRIEVAL_ONLY = "retrieval-only"  # passages only: asked so, or the engine failed
    NO_EVIDENCE = "no-evidence"  # refused before the model: the manuals do not cover it


@dataclass
class Citation:
    n: int
    doc: str
    doc_id: str
    title: str
    page: int | None
    label: str | None
    locator: str
    passage: str
    chunk_id: str
    supported: bool = True
    added_by_folio: bool = False
    ocr: bool = False  # the passage was read with OCR from a scanned page
    instruction_like: bool = False  # the passage holds text addressed to an AI assistant


@dataclass
class Answer:
    question: str
    text: str = ""
    citations: list[Citation] = field(default_factory=list)
    passages: list[Passage] = field(default_factory=list)
    refused: bool = False
    mode: Mode = Mode.LLM
    search_query: str = ""
    reasoning: str = ""
    unsupported: list[str] = field(default_factory=list)
    invalid_markers: list[int] = field(default_factory=list)
    error: str | None = None
    error_type: str | None = None
    timings: dict[str, float] = field(default_factory=dict)
    usage: dict[str, int] | None = None
    relevance: dict[str, float] = field(default_factory=dict)
    model: str | None = None  # the model on the LLM server that wrote it (None: no LLM)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["passages"] = [passage_dict(p) for p in self.passages]
        return d


def passage_dict(p: Passage) -> dict[str, Any]:
    return {
        "doc": p.doc_name,
        "doc_id": p.chunk.doc_id,
        "title": p.title,
        "collection": p.collection,
        "page": p.page,
        "page_label": p.page_label,
        "locator": p.locator(),
        "section": p.chunk.section,
        "score": round(p.score, 6),
        "chunk_id": p.chunk.id,
        "text": p.body,
        "ocr": p.chunk.ocr,
        "instruction_like": p.instruction_like,
    }


@dataclass
class Event:
    """type: passages | token | reasoning | status | done

    `token` carries checked answer text (`VerifiedStream`), not the model's raw output."""

    type: str
    data: Any = None


class Answerer:
    """Answers questions from one index through one LLM client (or none: retrieval-only)."""

    def __init__(
        self,
        settings: Settings,
        index: Index,
        embedder: Embedder,
        llm: LLMClient | None,
        reranker: Reranker | None = None,
    ) -> None:
        self.settings = settings
        self.index = index
        self.embedder = embedder
        self.llm = llm
        self.reranker = reranker

    def retrieve(
        self,
        query: str,
        *,
        collections: Sequence[str] | None = None,
        doc_ids: Sequence[str] | None = None,
        k: int | None = None,
    ) -> Hits:
        return search(
            self.index, self.embedder, self.settings, query,
            k=k, collections=collections, doc_ids=doc_ids, reranker=self.reranker,
        )  # fmt: skip

    async def stream(
        self,
        question: str,
        *,
        history: Sequence[dict] | None = None,
        collections: Sequence[str] | None = None,
        doc_ids: Sequence[str] | None = None,
        department: Department | None = None,
    ) -> AsyncIterator[Event]:
        """`department`: its model (if set) writes the answer, its instruction joins the system
        prompt; the caller decides which one applies (`Departments.for_scope`)."""
        t0 = time.perf_counter()
        answer = Answer(question=question)
        model = department.model if department is not None else None
        query = question
        if history:
            query = await self._condense(history, question, model)
        answer.search_query = query
        hits = await asyncio.to_thread(
            self.retrieve, query, collections=collections, doc_ids=doc_ids
        )
        answer.passages = hits.passages
        answer.timings["retrieval_ms"] = (time.perf_counter() - t0) * 1000
        verdict = answerable(hits, self.settings, model_for(self.index))
        answer.relevance = verdict.signals
        yield Event("passages", [passage_dict(p) for p in hits.passages])

        if not verdict.answerable:
            answer.text, answer.refused, answer.mode = refusal(question), True, Mode.NO_EVIDENCE
            answer.timings["total_ms"] = (time.perf_counter() - t0) * 1000
            yield Event("done", answer)
            return
        if self.llm is None:
            answer.mode = Mode.RETRIEVAL_ONLY
            answer.error = "No LLM engine is configured: showing the best passages instead."
            answer.error_type = "EngineUnavailable"
            answer.timings["total_ms"] = (time.perf_counter() - t0) * 1000
            yield Event("done", answer)
            return

        s = self.settings
        max_passages, passage_chars, context_tokens = s.prompt_budget()
        prompt = build_prompt(
            question if not history else query,
            hits.passages,
            context_tokens=context_tokens,
            answer_tokens=s.llm_max_tokens,
            max_passages=max_passages,
            passage_chars=passage_chars,
            preamble=s.system_prompt,
            instruction=department.instruction if department is not None else None,
        )
        answer.passages = prompt.passages
        answer.model = model or self.llm.model
        content: list[str] = []
        reasoning: list[str] = []
        from generation.client import StreamStats

        stats = StreamStats()
        verified = VerifiedStream([evidence(p) for p in prompt.passages])
        gate = GroundedGate(verified)
        t_llm = time.perf_counter()
        try:
            async for delta in self.llm.stream(prompt.messages, stats=stats, model=model):
                if delta.kind == "content":
                    content.append(delta.text)
                    if piece := gate.feed(verified.feed(delta.text)):
                        yield Event("token", piece)
                else:
                    reasoning.append(delta.text)
                    yield Event("reasoning", delta.text)
            if piece := gate.feed(verified.flush()):
                yield Event("token", piece)
        except LLMError as exc:
            log.warning("engine error", extra={"error": str(exc), "type": type(exc).__name__})
            answer.mode = Mode.RETRIEVAL_ONLY
            answer.error = str(exc)
            answer.error_type = type(exc).__name__
        if stats.first_token_s is not None:
            answer.timings["first_token_ms"] = stats.first_token_s * 1000 + (t_llm - t0) * 1000
        if stats.usage:
            answer.usage = {
                "prompt_tokens": stats.usage.prompt_tokens,
                "completion_tokens": stats.usage.completion_tokens,
            }
        answer.reasoning = "".join(reasoning)
        raw = "".join(content).strip()
        if answer.mode == Mode.LLM and not has_words(raw):
            no_answer(answer, raw)
            gate.discard()
        elif raw:
            finish(answer, raw)
        if piece := gate.close(answer.text):
            yield Event("token", piece)
        checked_stream = answer.mode in (Mode.LLM, Mode.UNSUPPORTED)
        if checked_stream and gate.text != answer.text:  # a verifier bug
            log.warning("streamed text differs from the checked answer", extra={"raw": raw})
        answer.timings["total_ms"] = (time.perf_counter() - t0) * 1000
        yield Event("done", answer)

    async def ask(self, question: str, **kwargs: Any) -> Answer:
        answer = None
        async for event in self.stream(question, **kwargs):
            if event.type == "done":
                answer = event.data
        assert answer is not None
        return answer

    async def _condense(
        self, history: Sequence[dict], question: str, model: str | None = None
    ) -> str:
        if self.llm is None:
            return fallback_condense(history, question)
        try:
            text, _, _ = await self.llm.complete(
                condense_messages(history, question), max_tokens=64, model=model
            )
        except LLMError:
            return fallback_condense(history, question)
        text = text.strip().strip('"').splitlines()[0] if text.strip() else ""
        return text or fallback_condense(history, question)


def has_words(raw: str) -> bool:
    """Whether a model's answer holds any words once its `[n]` markers are taken out."""
    return bool(lang.words(strip_markers(raw)))


def no_answer(answer: Answer, raw: str) -> None:
    """The model wrote nothing, or only markers ("[1]"): an engine failure, not a refusal.

    The local 1.5B model answered one answerable zh-dev question (zhdev-005) with just "[1]",
    every time; checked like an answer it had no supported sentence, so it was shown as "the
    manuals do not answer this" and counted as a false refusal, while passage [1] held the
    answer. A reasoning model that spends its whole budget thinking ends with no text at all.
    Either way the manuals were not found wanting: the asker gets the passages and a notice
    that the engine failed, as for any other engine error, and `refused` stays false."""
    answer.mode = Mode.RETRIEVAL_ONLY
    answer.text = ""
    answer.error_type = "EmptyAnswer"
    answer.error = "the model wrote no answer text" + (f", only the markers {raw}" if raw else "")


def finish(answer: Answer, raw: str) -> None:
    """Check the model's citations and turn the markers it kept into `Citation`s."""
    passages = answer.passages
    checked = check(raw, [evidence(p) for p in passages])
    answer.text = checked.text
    answer.refused = checked.refused
    answer.invalid_markers = checked.invalid
    # cited claims no passage supports, and uncited ones that state something (3+ content
    # words, as `check_sentence` decides): an obeyed injection's "recall ID RX-913" is one
    answer.unsupported = [
        s.text
        for s in checked.sentences
        if not s.supported
        and s.text.strip()
        and (s.cited or len(content_words(s.text)) >= 3)
        and not checked.refused
    ]
    added = {a for s in checked.sentences for a in s.added}
    supported = {c for s in checked.sentences if s.supported for c in s.cited + s.added}
    if checked.refused:
        answer.citations = []
        return
    if answer.mode == Mode.LLM and not any(
        s.supported and (s.cited or s.added) for s in checked.sentences
    ):
        answer.mode = Mode.UNSUPPORTED
        answer.refused = True
        answer.text = mark_unsupported(answer.text, answer.question)
    for n in checked.used:
        p = passages[n - 1]
        answer.citations.append(
            Citation(
                n=n,
                doc=p.doc_name,
                doc_id=p.chunk.doc_id,
                title=p.title,
                page=p.page,
                label=p.page_label,
                locator=p.locator(),
                passage=p.body,
                chunk_id=p.chunk.id,
                supported=n in supported,
                added_by_folio=n in added,
                ocr=p.chunk.ocr,
                instruction_like=p.instruction_like,
            )
        )
