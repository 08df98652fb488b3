"""The long-lived objects of one running app, built from the one `Settings` object.

Routers reach them through `request.app.state.rt`; nothing here reads the environment.
"""

from __future__ import annotations

import asyncio
import gc
import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from folio.departments import NONE, Departments, load_departments
from folio.embed_backend import Workload
from folio.embedding import open_embedder
from folio.settings import Settings
from services.audit import Action, AuditLog
from services.auth import LoginThrottle, Principal, Sessions, Users, auth_enabled
from services.batching import BatchingEmbedder
from services.build import IndexPool, index_factory, open_reranker
from services.engine import EngineService
from services.errors import ServiceError
from services.jobs import JobService
from services.keys import KeyVerifier
from services.library import Library
from services.metrics import Metrics
from services.quotas import Quotas
from services.store import Store
from services.terms import BlockedTerms

if TYPE_CHECKING:
    from retrieval.rerank import Reranker

log = logging.getLogger("folio.web")

# Searches in flight. More threads than cores, so that concurrent queries reach the batching
# embedder together (one model call for all of them) instead of queueing before it.
QUERY_THREADS = 8


def server_settings(settings: Settings) -> Settings:
    """One torch thread for ingest and one for queries: the worker's embedder and the query
    embedder then share two cores instead of fighting over them."""
    return settings.model_copy(update={"embed_threads": 1, "query_threads": 1})


@dataclass
class Runtime:
    settings: Settings
    store: Store
    metrics: Metrics
    embedder: BatchingEmbedder
    pool: IndexPool
    library: Library
    jobs: JobService
    engine: EngineService
    keys: KeyVerifier
    users: Users
    sessions: Sessions
    auth: bool
    reranker: Reranker | None = None
    audit: AuditLog | None = None
    quotas: Quotas | None = None
    terms: BlockedTerms | None = None
    throttle: LoginThrottle = field(default_factory=LoginThrottle)
    last_answer: dict[str, dict] = field(default_factory=dict)  # per principal name
    pending_asks: int = 0
    executor: ThreadPoolExecutor | None = None
    departments: Departments = NONE
    stopping: bool = False

    @classmethod
    def build(cls, settings: Settings) -> Runtime:
        settings = server_settings(settings)
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        departments = load_departments(settings.departments_file)  # a bad file stops start-up
        embedder = BatchingEmbedder(open_embedder(settings, Workload.QUERY))
        pool = IndexPool(index_factory(settings, embedder))
        pool.get()  # refuse a mismatched index now, and open Chroma before any thread races
        store = Store(settings.web_db_path)
        metrics = Metrics()
        users = Users(settings)
        audit = AuditLog.from_settings(settings)
        rt = cls(
            settings=settings,
            store=store,
            metrics=metrics,
            embedder=embedder,
            pool=pool,
            library=Library(settings, pool, audit),
            jobs=JobService(settings, store, metrics, audit),
            engine=EngineService(settings),
            keys=KeyVerifier(store),
            users=users,
            sessions=Sessions(settings, store, users),
            auth=auth_enabled(settings),
            reranker=open_reranker(settings),
            audit=audit,
            quotas=Quotas.from_settings(settings),
            terms=BlockedTerms(settings.blocked_terms_file),
            departments=departments,
        )

        metrics.gauge("folio_documents", "Searchable documents", lambda: rt.stats()["docs"])
        metrics.gauge("folio_chunks", "Searchable chunks", lambda: rt.stats()["chunks"])
        metrics.gauge("folio_engine_up", "1 when the LLM answers", lambda: rt.engine_up())
        metrics.gauge("folio_jobs_queued", "Ingest jobs waiting", lambda: rt.jobs.queued_count())
        return rt

    def count_request(self, principal: Principal) -> None:
        """One API request against the caller's rate limit: 429, audited and counted, when
        the window is full."""
        try:
            self.quotas.hit(principal.caller, principal.rate_limit)
        except ServiceError as exc:
            self.metrics.limited.labels(exc.extra.get("limit", "requests")).inc()
            self.audit.record(
                Action.RATE_LIMITED, principal.name, kind=principal.kind,
                client=principal.address, limit=exc.extra.get("rate"),
            )  # fmt: skip
            raise

    def stats(self) -> dict:
        return self.library.stats()

    def engine_up(self) -> float:
        return 1.0 if self.engine.status.reachable else 0.0

    async def start(self) -> None:
        """Warm what the first question needs, start the worker and the engine connection."""
        loop = asyncio.get_running_loop()
        self.executor = ThreadPoolExecutor(QUERY_THREADS, thread_name_prefix="folio-query")
        loop.set_default_executor(self.executor)  # Answerer's asyncio.to_thread lands here
        self.jobs.start()
        await self.engine.start()
        if self.auth and not self.users.all():
            log.warning(
                "auth is on but no users are configured: the browser cannot log in. "
                "Create a password hash with `folio keys hash-password` and set "
                "FOLIO_AUTH_USER and FOLIO_AUTH_PASSWORD_HASH (or a users file)."
            )
        loop.run_in_executor(None, self.warm)

    def warm(self) -> None:
        """Load the query model, Chroma (and a small library's vectors), the Chinese dictionary
        and the lexical postings before the first user pays; then freeze what is loaded out of
        the garbage collector's sight.

        Python's full (generation 2) collection walks every tracked object, and a warm server
        holds ~270,000 of them (torch, transformers, Chroma, jieba's dictionary) that live as
        long as the process: each full collection took ~400 ms with the GIL held, a few times
        a minute under load: the ~0.5 s p99 of every `bench_http.py` run, and everyone queued
        behind it. After `gc.freeze()` a full collection walks only what came later (16 ms),
        and 20 clients back to back went from 85 to 164-169 req/s, search p95 288 -> 142-146
        ms (docs/ARCHITECTURE.md, "Many clients"). Frozen objects are still freed by
        reference counting when dropped; `stop` unfreezes them, so an app built and stopped
        in a longer process (the tests) leaves no cycles behind."""
        from folio.embedding import planned
        from folio.text import warm_up

        try:
            warm_up()
            vector = self.embedder.embed_query("warm up", threads=1)
            planned(self.settings, Workload.INGEST)  # /health's plan: its CPU probe imports torch
            index = self.pool.get()
            index.dense(vector, 1)  # a small library's vectors into memory (folio.doc_vectors)
            index.bm25("warm up", 1)  # starts loading the lexical postings (folio.bm25_memory)
        except Exception:  # noqa: BLE001 - warming is best effort
            log.exception("warm-up failed")
        if not self.stopping:  # a short-lived app may stop before its warm-up ends
            gc.collect()
            gc.freeze()

    async def stop(self) -> None:
        self.stopping = True
        gc.unfreeze()
        await self.engine.stop()
        await asyncio.to_thread(self.jobs.stop)
        if self.executor is not None:
            self.executor.shutdown(wait=False, cancel_futures=True)
        self.embedder.close()
        self.pool.close()
        self.store.close()
