"""The HTTP contract: request and response models, shown on /docs (OpenAPI)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

# Caps on what one request may ask for: past them a request is refused with 422 (never left to
# fail deeper down, e.g. as too many SQL variables). The body-size caps (web/limits.py) sit
# above these, so every request within them is also read whole.
MAX_LIST_ITEMS = 100  # collections per request
MAX_DOC_IDS = 100  # documents per request (retrieval refuses more: folio.index.MAX_DOC_IDS)
MAX_MESSAGE_CHARS = 20_000  # one history message
MAX_HISTORY_MESSAGES = 40
MAX_HISTORY_CHARS = 100_000  # all history messages together
MAX_CHAT_MESSAGES = 500  # /v1/chat/completions
MAX_CHAT_CHARS = 1_000_000  # their text together

CollectionName = Annotated[str, StringConstraints(max_length=64)]
DocId = Annotated[str, StringConstraints(max_length=128)]
Collections = Annotated[
    list[CollectionName] | None,
    Field(None, max_length=MAX_LIST_ITEMS, description="Only these collections (at most 100)."),
]
DocIds = Annotated[
    list[DocId] | None,
    Field(None, max_length=MAX_DOC_IDS, description="Only these documents (at most 100)."),
]


class ErrorDetail(BaseModel):
    type: str = Field(description="Machine-readable kind, e.g. too_large, engine_unavailable.")
    message: str = Field(description="What went wrong and what to do about it.")


class ErrorBody(BaseModel):
    error: ErrorDetail


class ChatMessage(BaseModel):
    role: Literal["user", "assistant"]
    content: str = Field(max_length=MAX_MESSAGE_CHARS)


class AskRequest(BaseModel):
    question: str = Field(description="1 to 4000 characters (FOLIO_MAX_QUESTION_CHARS).")
    collections: Collections
    doc_ids: DocIds
    history: list[ChatMessage] = Field(
        default_factory=list,
        max_length=MAX_HISTORY_MESSAGES,
        description="Earlier turns, oldest first: at most 40 messages, 100,000 characters.",
    )
    retrieval_only: bool = Field(False, description="Skip the LLM: passages only, never 503.")

    @model_validator(mode="after")
    def _history_size(self) -> AskRequest:
        total = sum(len(m.content) for m in self.history)
        if total > MAX_HISTORY_CHARS:
            raise ValueError(
                f"the history holds {total} characters; the limit is {MAX_HISTORY_CHARS}: "
                "send only the last few turns"
            )
        return self


class SearchRequest(BaseModel):
    query: str = Field(description="1 to 4000 characters.")
    k: int | None = Field(None, ge=1, le=50, description="Number of passages (default top_k).")
    collections: Collections
    doc_ids: DocIds
    mode: Literal["hybrid", "dense", "bm25"] = "hybrid"


class PassageOut(BaseModel):
    n: int = Field(description="1-based rank; [n] markers in an answer point here.")
    doc: str = Field(description="File name.")
    doc_id: str
    title: str
    collection: str
    page: int | None = Field(description="Physical page (PDF) or the page recorded in the file.")
    page_label: str | None = Field(description="The page number printed on the page, if any.")
    locator: str = Field(description="Human citation, e.g. 'p. 7 (PDF page 12)'.")
    section: str
    score: float
    chunk_id: str
    text: str
    url: str = Field(description="Opens the original file at this page.")
    instruction_like: bool = Field(
        False,
        description="The passage holds text addressed to an AI assistant (a possible prompt "
        "injection), flagged at ingest; it is quoted to the model as data only.",
    )


class CitationOut(BaseModel):
    n: int
    doc: str
    doc_id: str
    title: str
    page: int | None
    label: str | None
    locator: str
    passage: str
    chunk_id: str
    url: str
    supported: bool = Field(description="The cited passage supports the sentence.")
    added_by_folio: bool = Field(description="Folio added this citation the model left out.")
    instruction_like: bool = Field(
        False, description="The cited passage holds text addressed to an AI assistant."
    )


class AskResponse(BaseModel):
    id: str = Field(description="Answer id, for POST /api/v1/feedback.")
    question: str
    answer: str
    citations: list[CitationOut]
    refused: bool = Field(description="The manuals do not cover the question.")
    mode: str = Field(
        description="llm | unsupported (no sentence is supported by a passage it cites; the "
        "answer text starts with a notice saying so) | retrieval-only | no-evidence"
    )
    notice: str | None = Field(None, description="Why the answer is limited, in words.")
    notice_code: str | None = Field(
        None,
        description="The notice as a code (no_evidence | retrieval_only | engine_starting | "
        "engine_down | engine_failed), for clients that word it themselves.",
    )
    notice_detail: str | None = Field(
        None, description="The reason inside the notice (engine_down, engine_failed), or null."
    )
    reasoning: str = ""
    search_query: str = ""
    unsupported: list[str] = Field(default_factory=list)
    timings: dict[str, float]
    usage: dict[str, int] | None = None
    relevance: dict[str, float] = Field(
        default_factory=dict, description="Signals behind the answerable/refused decision."
    )
    model: str | None = Field(
        None, description="The model on the LLM server that wrote the answer (null: none did)."
    )
    passages: list[PassageOut]


class EngineDownBody(BaseModel):
    """503 from /api/v1/ask: no answer, but the passages that were found."""

    error: ErrorDetail
    id: str
    question: str
    mode: str
    passages: list[PassageOut]
    timings: dict[str, float]


class SearchResponse(BaseModel):
    query: str
    passages: list[PassageOut]
    timings: dict[str, float]


class DocumentOut(BaseModel):
    id: str
    title: str
    file: str
    collection: str
    kind: str
    pages: int | None
    chunks: int
    size: int
    status: str = Field(description="ready | pending | failed")
    error: str | None
    created_at: float
    updated_at: float
    url: str | None = Field(description="The original file, when stored.")


class DocumentList(BaseModel):
    documents: list[DocumentOut]


class JobOut(BaseModel):
    id: str
    kind: str
    collection: str
    name: str
    status: str = Field(description="queued | running | done | failed | interrupted")
    phase: str
    pages_done: int
    pages_total: int | None
    chunks_done: int
    doc_id: str | None
    title: str | None
    error: str | None
    detail: str | None
    description: str = Field(description="The state in words.")
    created_at: float
    started_at: float | None
    finished_at: float | None
    url: str


class RejectedFile(BaseModel):
    file: str
    type: str = Field(description="empty_file | unsupported_media_type")
    message: str = Field(description="Why the file is not indexed, naming it.")


class UploadResponse(BaseModel):
    job_id: str = Field(description="The first (often only) job.")
    jobs: list[JobOut]
    rejected: list[RejectedFile] = Field(
        default_factory=list,
        description="Files of this upload that are not indexed, each with the reason; the "
        "others were accepted. An upload with no good file is refused as a whole (400/415).",
    )


class FeedbackRequest(BaseModel):
    answer_id: str = Field(max_length=64)
    rating: Literal["up", "down"]
    comment: str | None = Field(None, max_length=2000)


class Health(BaseModel):
    status: str = Field(description="ok, or degraded when answers are retrieval-only.")
    index_ready: bool
    documents: int
    chunks: int
    engine: bool = Field(description="The LLM answers right now.")
    engine_state: str = Field(description="off | starting | up | down")
    model: str | None
    engine_note: str
    jobs_queued: int
    auth: bool
    embed_backend: str = Field(
        "torch", description="torch or onnx (local embedder runtime), remote (a server)."
    )
    embed_precision: str = Field(
        description="fp32, bf16 or int8 (local embedder), remote (a server)."
    )
    embed_precision_note: str = Field("", description="Why: e.g. auto on a CPU with avx512_bf16.")
    ingest_embed_backend: str | None = Field(
        None, description="The runtime the ingest worker embeds on (auto: torch with native bf16)."
    )
    ingest_embed_precision: str | None = Field(None, description="Its precision: fp32 or bf16.")
    ingest_threads: int | None = Field(None, description="Torch threads embedding uploads.")
    query_threads: int | None = Field(None, description="Torch threads per query embedding.")


class OpenAIMessage(BaseModel):
    model_config = ConfigDict(extra="allow")
    role: str
    content: str | list[dict[str, Any]] | None = None


class ChatCompletionRequest(BaseModel):
    """The OpenAI chat request; sampling options are accepted and ignored (Folio's are fixed
    by the server's settings)."""

    model_config = ConfigDict(extra="allow")
    model: str | None = "folio"
    messages: list[OpenAIMessage] = Field(min_length=1, max_length=MAX_CHAT_MESSAGES)
    stream: bool = False
    collections: Collections
    doc_ids: DocIds  # Folio's extension (OpenAI clients send it as an extra body field)

    @model_validator(mode="after")
    def _messages_size(self) -> ChatCompletionRequest:
        total = 0
        for m in self.messages:
            if isinstance(m.content, str):
                total += len(m.content)
            elif m.content:
                total += sum(len(str(p.get("text", ""))) for p in m.content)
        if total > MAX_CHAT_CHARS:
            raise ValueError(
                f"the messages hold {total} characters; the limit is {MAX_CHAT_CHARS}: "
                "send only the last few turns"
            )
        return self


class ModelOut(BaseModel):
    """An OpenAI model object: `folio`, or `folio-<collection>` for one collection."""

    id: str
    object: Literal["model"] = "model"
    created: int = 0
    owned_by: str = "folio"
    description: str = Field(description="What the model searches.")


class ModelList(BaseModel):
    object: Literal["list"] = "list"
    data: list[ModelOut]


class CollectionList(BaseModel):
    collections: list[str]


class Deleted(BaseModel):
    deleted: str = Field(description="The document's id.")
    file: str


class JobList(BaseModel):
    jobs: list[JobOut]


class CompletionMessage(BaseModel):
    role: Literal["assistant"] = "assistant"
    content: str = Field(description="The answer, then a 'Sources:' list of its citations.")


class CompletionChoice(BaseModel):
    index: int
    message: CompletionMessage
    finish_reason: str


class CompletionUsage(BaseModel):
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int


class ChatCompletion(BaseModel):
    """The OpenAI chat completion, plus Folio's `citations` and `folio` (answer id, mode,
    refused, notice, timings, the LLM model that wrote it)."""

    id: str
    object: Literal["chat.completion"] = "chat.completion"
    created: int
    model: str = Field(description="The model asked for: folio or folio-<collection>.")
    choices: list[CompletionChoice]
    usage: CompletionUsage
    citations: list[CitationOut]
    folio: dict[str, Any]
