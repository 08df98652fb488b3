"""The one settings object.

Every stage receives a `Settings` instance from its caller; nothing below the CLI or the web app
reads the environment. Sources, strongest first: constructor arguments, `FOLIO_*` environment
variables, a `.env` file, `folio.toml` (or the file named by `FOLIO_CONFIG`), defaults.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Annotated

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from folio.embed_backend import EmbedBackend
from folio.precision import Precision, cpu_count

DEFAULT_EMBEDDING_MODEL = "all-MiniLM-L6-v2"


def parse_rate(text: str) -> list:
    """`60/minute`, `10 per second`, `10/second;300/hour`: a one-line error otherwise."""
    from limits import parse_many  # the syntax is the `limits` library's

    try:
        items = parse_many(text)
    except ValueError:
        items = []
    if not items:
        raise ValueError(
            f"invalid rate limit {text!r}: write it like 60/minute, 10/second or "
            "'10/second;300/hour'"
        )
    return items


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="FOLIO_", env_file=".env", extra="ignore", validate_default=True
    )

    # --- storage -------------------------------------------------------------------------
    data_dir: Path = Field(Path("data/index"), description="Index, registry and stored files.")
    chroma_server: str | None = Field(
        None,
        description="A Chroma server: host (port 8000), host:port or http(s)://host[:port]; "
        "unset = embedded Chroma in data_dir.",
    )
    chroma_ca_file: Path | None = Field(
        None, description="CA bundle that signed an https:// Chroma server's certificate."
    )
    chroma_auth_token: SecretStr | None = Field(
        None, description="Token for a Chroma server behind an authenticating proxy."
    )
    chroma_auth_header: str = Field(
        "Authorization",
        description="Header carrying chroma_auth_token: Authorization (Bearer) or e.g. "
        "X-Chroma-Token (the bare token).",
    )
    default_collection: str = "default"

    # --- embedding and chunking ------------------------------------------------------------
    embedding_model: str = Field(
        DEFAULT_EMBEDDING_MODEL,
        description="Model name (resolved offline from installed packages) or a local path.",
    )
    embedding_device: str = "cpu"
    embedding_url: str | None = Field(
        None,
        description="OpenAI-compatible /v1 base URL of an embeddings server (e.g. "
        "http://gpu:8001/v1); it then serves embedding_model. Unset = the local model.",
    )
    embedding_api_key: SecretStr | None = Field(None, description="Bearer key for that server.")
    embedding_timeout_s: float = Field(60.0, gt=0, description="Per request to that server.")
    embedding_retries: int = Field(
        3, ge=0, description="Retries (exponential backoff) on connection errors, 5xx and 429."
    )
    embedding_tokenizer: Path | None = Field(
        None,
        description="tokenizer.json (or its directory) of the served model, for exact chunk "
        "token counts; unset = the packaged MiniLM tokenizer as an estimate.",
    )
    embedding_languages: list[str] | None = Field(
        None,
        description='Question languages the embedder was trained on, e.g. ["en"]; unset = '
        "English for the packaged MiniLM, every language for any other model. For other "
        "languages the answerability decision does not trust the cosine.",
    )
    embed_threads: int = Field(
        None, ge=1, description="Torch threads while ingesting; unset = every core this "
        "process may use (`folio serve` embeds uploads with one).",
    )  # fmt: skip
    embed_precision: Precision = Field(
        Precision.AUTO,
        description="Local embedder arithmetic: auto = bf16 where the CPU has it natively "
        "(AVX512_BF16 or AMX), else fp32; fp32 or bf16 to force one (folio/precision.py); "
        "int8 on ONNX Runtime only, opt-in, an index of its own (folio/embedding_onnx.py).",
    )
    embed_backend: EmbedBackend = Field(
        EmbedBackend.AUTO,
        description="Local embedder runtime: auto = the one measured fastest for the job (queries "
        "on ONNX Runtime, ingest on torch bf16 where the CPU has it; folio/embed_backend.py); "
        "torch or onnx to force one.",
    )
    embed_onnx: Path | None = Field(
        None,
        description="The embedding model's ONNX export (`folio embedder --export`); unset = "
        "onnx/model.onnx inside the model's directory.",
    )
    query_threads: int = Field(1, ge=1, description="Torch threads for query embedding.")
    embed_batch_size: int = Field(32, ge=1)
    # 128 beat 96 and 220 on page-hit@1 and MRR on the dev set (tests/bench notes, issue 3).
    chunk_tokens: int = Field(128, ge=32, le=512)
    chunk_overlap: int = Field(24, ge=0)
    chunk_at_headings: bool = Field(
        False,
        description="Start chunks at PDF headings told by type size (ingest/layout.py) and name "
        "their sections after them. Off by default: on the product-manual bench set it raised "
        "page-hit@1 on the half it was shaped on (0.704 -> 0.926) and lowered it on the held-out "
        "half (0.846 -> 0.731); docs/ARCHITECTURE.md, 'Consumer-manual layout'.",
    )

    # --- limits ------------------------------------------------------------------------------
    max_file_mb: float = Field(200.0, gt=0)
    max_pages: int = Field(5000, ge=1)
    parse_timeout_s: float = Field(300.0, gt=0, description="Per-file extraction time limit.")
    max_unzipped_mb: float = Field(500.0, gt=0, description="DOCX zip-bomb guard.")
    parse_memory_mb: int = Field(
        4096, ge=256, description="Address-space cap of the parser worker process."
    )
    ocr: bool = Field(
        True,
        description="Read scanned pages (PDF pages without a text layer, PNG/JPEG/TIFF files) "
        "with OCR, inside the parse time limit; False = refuse them ('needs OCR').",
    )

    # --- retrieval ----------------------------------------------------------------------------
    top_k: int = Field(6, ge=1, le=50)
    bm25_memory_max_chunks: int = Field(
        250_000,
        ge=0,
        description="The server ranks BM25 from postings in memory (~0.8 KB a chunk) up to this "
        "many chunks, from FTS5 above it (folio/bm25_memory.py); 0 turns the postings off.",
    )
    rrf_k: int = Field(
        10, ge=1, description="RRF constant; 10 beat the customary 60 on two index builds."
    )
    reranker_model: str | None = None
    min_relevance: float = Field(
        0.35,
        description="Best-passage cosine below which Folio says the manuals don't answer, for "
        "questions in the embedder's languages; `folio calibrate` replaces it with a fitted "
        "decision.",
    )
    prompt_passages: int | None = Field(
        None, ge=1, le=20, description="Passages given to the LLM (unset: 3 local, 6 remote)."
    )
    passage_chars: int | None = Field(
        None, ge=200, description="Per-passage character cap (unset: 900 local, 1600 remote)."
    )

    # --- LLM ----------------------------------------------------------------------------------
    llm_base_url: str | None = Field(
        None, description="OpenAI-compatible base URL (e.g. http://gpu:8000/v1); unset = local."
    )
    llm_model: str = "local"
    llm_api_key: SecretStr = SecretStr("none")
    llm_timeout_s: float = 300.0
    llm_max_tokens: int = 512
    llm_temperature: float = 0.0
    llm_top_p: float = 1.0
    llm_context_tokens: int | None = Field(
        None, description="Context window for prompt packing (unset: engine_ctx local, 16384)."
    )
    reasoning_effort: str | None = Field(None, description="low | medium | high (gpt-oss).")
    system_prompt: str | None = Field(None, description="Operator preamble; contract is fixed.")
    departments_file: Path | None = Field(
        None,
        description="TOML file: per collection, a model name on the LLM server and an extra "
        "system instruction (folio/departments.py); unset = none.",
    )

    # --- local engine (llama.cpp server through xllamacpp) -----------------------------------
    engine_model_path: Path | None = Field(
        None, description="Any GGUF file; unset = the default model in engine_dir."
    )
    engine_dir: Path = Field(
        Path("data/engine"), description="Where `folio engine --install` puts the default model."
    )
    engine_host: str = "127.0.0.1"
    engine_port: int = 8088
    engine_threads: int = 1
    engine_ctx: int = 2048

    # --- web ----------------------------------------------------------------------------------
    host: str = "127.0.0.1"
    port: int = 8000
    auth: bool | None = Field(None, description="None = on unless bound to loopback.")
    engine_autostart: bool = Field(
        True, description="`folio serve` connects (or starts) the LLM; False = retrieval-only."
    )
    auth_user: str | None = Field(None, description="One browser user (with auth_password_hash).")
    auth_password_hash: SecretStr | None = Field(
        None, description="scrypt hash from `folio keys hash-password`; never a plain password."
    )
    users_file: Path | None = Field(
        None,
        description="Lines `name:hash[:coll1,coll2]`; default data_dir/users.txt when it exists.",
    )
    session_secret_file: Path | None = Field(
        None,
        description="Key for session and proxy-user CSRF tokens; default data_dir/session.key "
        "(created, mode 600).",
    )
    session_hours: float = Field(
        12.0, gt=0, description="Browser session lifetime (sessions are kept server-side)."
    )
    cookie_secure: bool | None = Field(
        None, description="Secure cookies; None = when the request arrived over https."
    )
    trusted_user_header: str | None = Field(
        None, description="e.g. X-Forwarded-User, set by an authenticating proxy; off when unset."
    )
    trusted_proxies: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Addresses or networks of reverse proxies whose user header and "
        "X-Forwarded-* headers are believed; the client is the rightmost X-Forwarded-For hop "
        "that is not one of them. Empty (the default): the peer address is the client.",
    )
    trusted_user_collections: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Collections of a proxy (trusted-header) user who is not in the users file; "
        "empty = none, '*' = all.",
    )
    allowed_hosts: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Host names accepted in loopback mode besides localhost, 127.0.0.1, [::1] "
        "(any other Host gets 421: DNS rebinding).",
    )
    max_upload_files: int = Field(20, ge=1, description="Files per upload request.")
    max_question_chars: int = Field(4000, ge=10)
    max_api_body_kb: int = Field(
        1024, ge=16, description="Request body cap for /api/v1 (uploads: max_file_mb)."
    )
    max_openai_body_kb: int = Field(4096, ge=16, description="Request body cap for /v1.")
    max_form_body_kb: int = Field(64, ge=4, description="Request body cap for pages and forms.")
    max_pending_asks: int = Field(8, ge=1, description="LLM answers in flight before 429.")
    keepalive_timeout_s: float = Field(
        75.0,
        gt=0,
        description="Seconds an idle HTTP keep-alive connection stays open (nginx's default "
        "is 75). Longer than the idle expiry of HTTP clients (httpx, requests: 5 s) and of "
        "reverse proxies (nginx upstream: 60 s), so the client gives an idle connection up "
        "first: with uvicorn's default 5 s, clients reused connections the server was closing "
        "and got resets (tests/bench/bench_load.py: 21 in 5 min at 50 askers).",
    )
    max_queued_jobs: int = Field(100, ge=1, description="Waiting ingest jobs before 429.")

    # --- operations: audit log, limits per caller, blocked terms ------------------------------
    audit: bool = Field(True, description="Append-only audit log of logins, questions, changes.")
    audit_dir: Path | None = Field(None, description="Audit log folder; default data_dir/audit.")
    audit_max_mb: float = Field(
        50.0, gt=0, description="A log file is rotated at this size (and at each new day)."
    )
    audit_retention_days: int = Field(
        365, ge=1, description="Audit files older than this are deleted when a file rotates."
    )
    rate_limit: str | None = Field(
        None,
        description="Requests per caller (API key, user, or client address), e.g. 60/minute "
        "or '10/second;300/hour'; unset = unlimited. A key's own --rpm overrides it.",
    )
    tokens_per_day: int | None = Field(
        None,
        ge=1,
        description="LLM tokens (prompt + completion) per caller per day; unset = no cap.",
    )
    blocked_terms_file: Path | None = Field(
        None,
        description="Terms kept out of questions and answers: one a line, a plain term or "
        "re:REGEX; reloaded when the file changes.",
    )

    @field_validator("rate_limit")
    @classmethod
    def _rate(cls, value: str | None) -> str | None:
        if value:
            parse_rate(value)
        return value

    @field_validator("chroma_server")
    @classmethod
    def _chroma_address(cls, value: str | None) -> str | None:
        """Refuse an address Folio cannot use now, not at the first search."""
        if value is not None:
            from folio.chroma_server import parse_chroma_server

            parse_chroma_server(value)
        return value

    @field_validator("chroma_ca_file")
    @classmethod
    def _ca_file_exists(cls, value: Path | None) -> Path | None:
        if value is not None and not value.is_file():
            raise ValueError(f"{value} is not a file")
        return value

    @model_validator(mode="after")
    def _ca_needs_https(self) -> Settings:
        if self.chroma_ca_file is not None and not (self.chroma_server or "").startswith(
            "https://"
        ):
            raise ValueError("FOLIO_CHROMA_CA_FILE is set but FOLIO_CHROMA_SERVER is not https://")
        return self

    @field_validator("embed_threads", mode="before")
    @classmethod
    def _all_cores(cls, value: object) -> object:
        return cpu_count() if value is None or value == "" else value

    @field_validator("trusted_proxies", "trusted_user_collections", "allowed_hosts", mode="before")
    @classmethod
    def _comma_list(cls, value: object) -> object:
        """A list from the environment as `a,b` or as JSON `["a", "b"]`."""
        if isinstance(value, str):
            text = value.strip()
            if text.startswith("["):
                return json.loads(text)
            return [part.strip() for part in text.split(",") if part.strip()]
        return value

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        toml_file = Path(os.environ.get("FOLIO_CONFIG", "folio.toml"))
        return (
            init_settings,
            env_settings,
            dotenv_settings,
            TomlConfigSettingsSource(settings_cls, toml_file=toml_file),
        )

    @property
    def local_llm(self) -> bool:
        """No remote server configured: a CPU engine, so prompts must stay lean."""
        return not self.llm_base_url

    def prompt_budget(self) -> tuple[int, int, int]:
        """(passages, characters per passage, context tokens) for the configured engine."""
        local = self.local_llm
        return (
            self.prompt_passages or (3 if local else 6),
            self.passage_chars or (900 if local else 1600),
            self.llm_context_tokens or (self.engine_ctx if local else 16384),
        )

    @property
    def files_dir(self) -> Path:
        return self.data_dir / "files"

    @property
    def registry_path(self) -> Path:
        return self.data_dir / "registry.sqlite3"

    @property
    def chroma_dir(self) -> Path:
        return self.data_dir / "chroma"

    @property
    def audit_path(self) -> Path:
        return self.audit_dir or self.data_dir / "audit"

    @property
    def web_db_path(self) -> Path:
        """API keys, ingest jobs, answers and feedback of the web app."""
        return self.data_dir / "web.sqlite3"


def settings_error(exc: ValidationError) -> str:
    """A settings validation error as one line naming the FOLIO_* variables and the reasons:
    "FOLIO_EMBED_PRECISION: Input should be 'auto', 'fp32' or 'bf16' (got 'fp16')"."""
    parts = []
    for e in exc.errors():
        field = "_".join(str(p) for p in e.get("loc", ()))
        msg = str(e.get("msg", "invalid")).removeprefix("Value error, ")
        given = e.get("input")
        if field and isinstance(given, str | int | float) and repr(given) not in msg:
            msg += f" (got {given!r})"
        parts.append(f"FOLIO_{field.upper()}: {msg}" if field else msg)
    return "; ".join(parts) or str(exc)
