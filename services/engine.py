"""The LLM behind the answers: connected in the background, watched, stopped on shutdown.

Starting the local CPU engine can take a minute, and a remote server can go away at any time.
The web app must not wait for either: it serves retrieval-only answers while the engine starts
or is down, and every page and /health says which of the two the user is getting.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from folio.settings import Settings
from generation.client import LLMClient
from services.build import LLMConnection, connect_llm

log = logging.getLogger("folio.web")

CHECK_EVERY_S = 15.0
# A remote server that does not answer yet (vLLM loads gpt-oss-20b for minutes) is asked again
# after 1, 2, 4 … seconds, at most this far apart.
READY_BACKOFF_MAX_S = 30.0


@dataclass
class EngineStatus:
    state: str  # off | starting | up | down
    model: str | None
    note: str
    checked_at: float

    @property
    def reachable(self) -> bool:
        return self.state == "up"

    def describe(self) -> str:
        """One line for people: what answers their questions right now."""
        if self.state == "up":
            return f"engine ready ({self.model})"
        if self.state == "starting":
            return "engine starting: answers show passages only until it is ready"
        if self.state == "off":
            return "retrieval-only: no answer engine configured"
        return "engine unreachable: answers show passages only"


class EngineService:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.conn: LLMConnection | None = None
        self.model: str | None = None  # shown to people: the model file, or the remote's name
        self.status = EngineStatus("off", None, "started with --no-engine", 0)
        self._tasks: list[asyncio.Task] = []

    @property
    def client(self) -> LLMClient | None:
        """The client to answer with; None while starting or when there is no engine."""
        return self.conn.client if self.conn is not None else None

    async def start(self) -> None:
        if not self.settings.engine_autostart:
            return
        self.status = EngineStatus("starting", None, "connecting to the LLM", time.time())
        self._tasks.append(asyncio.create_task(self._connect()))

    async def _connect(self) -> None:
        loop = asyncio.get_running_loop()
        pool = ThreadPoolExecutor(1, thread_name_prefix="folio-engine")
        try:  # its own thread: starting the local engine can block for minutes
            conn = await loop.run_in_executor(pool, connect_llm, self.settings)
        except Exception as exc:  # noqa: BLE001 - a broken engine leaves retrieval working
            log.warning("engine connect failed", extra={"error": str(exc)})
            self.status = EngineStatus("down", None, f"engine failed to start: {exc}", time.time())
            return
        finally:
            pool.shutdown(wait=False)
        if conn.client is not None and self.settings.llm_base_url:
            await self._wait_until_ready(conn.client)
        self.conn = conn
        if conn.client is None:
            self.status = EngineStatus("off", None, conn.note, time.time())
            log.warning("no LLM engine; answering retrieval-only", extra={"note": conn.note})
            return
        self.model = conn.client.model
        if conn.engine is not None or not self.settings.llm_base_url:  # ours: name its file
            from generation.models import default_model_path

            self.model = default_model_path(self.settings).stem
        self.status = EngineStatus("up", self.model, conn.note, time.time())
        log.info("LLM connected", extra={"note": conn.note, "model": self.model})
        self._tasks.append(asyncio.create_task(self._watch()))

    async def _wait_until_ready(self, client: LLMClient) -> None:
        """Until the remote server lists its models, the status stays "starting" (answers are
        retrieval-only) and the server is asked again with exponential backoff."""
        delay, tries = 1.0, 1
        while not await client.health(timeout=5.0):
            note = f"waiting for {self.settings.llm_base_url} (try {tries}, next in {delay:.0f} s)"
            self.status = EngineStatus("starting", None, note, time.time())
            if tries == 1:
                log.warning("LLM server not ready yet", extra={"url": self.settings.llm_base_url})
            await asyncio.sleep(delay)
            delay, tries = min(delay * 2, READY_BACKOFF_MAX_S), tries + 1

    async def _watch(self) -> None:
        while True:
            await asyncio.sleep(CHECK_EVERY_S)
            await self.check()

    async def check(self) -> EngineStatus:
        """Ask the server now (GET /models); updates and returns the status."""
        client = self.client
        if client is None:
            return self.status
        ok = await client.health(timeout=2.0)
        self._set(ok)
        return self.status

    def report(self, ok: bool, error: str | None = None) -> None:
        """What an answer just learned about the engine (cheaper than a health check)."""
        if self.client is not None:
            self._set(ok, error)

    def _set(self, ok: bool, error: str | None = None) -> None:
        note = self.conn.note if self.conn else ""
        if not ok and error:
            note = error
        self.status = EngineStatus("up" if ok else "down", self.model, note, time.time())

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._tasks.clear()
        if self.conn is not None:
            if self.conn.client is not None:
                await self.conn.client.aclose()
            await asyncio.to_thread(self.conn.close)
            self.conn = None
