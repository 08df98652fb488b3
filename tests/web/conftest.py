"""Shared pieces for the web tests: generated manuals, a real index, a live server.

Everything is real: fpdf2 PDFs, the packaged MiniLM model, embedded Chroma, uvicorn on a
loopback port. Module-scoped fixtures keep the expensive parts (model load, ingest) to once per
test file.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import uvicorn

from folio.settings import Settings
from tests.fixtures import make_pdf
from web.app import server_options

PUMP_PAGES = [
    "Aquila P-20 pump. Safety first: disconnect the power before opening the housing.",
    "Priming the pump. Open valve V3, fill the housing with clean water, then close V3.",
    "Error E42 means the motor overheated. Switch the pump off and let it cool for 30 minutes "
    "before restarting it.",
    "Maintenance. Replace the impeller every 2000 hours of operation and check the seals.",
]
ROUTER_PAGES = [
    "Netgate R7 router. Factory reset: hold the reset button for 10 seconds until the LED "
    "blinks amber.",
    "Wireless setup. Open the admin page at 192.168.1.1 and choose a WPA3 passphrase.",
]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def web_settings(data_dir: Path, **kw: object) -> Settings:
    """Settings for a test server: no LLM unless asked, nothing from the environment that
    could point it at a real server."""
    base: dict = {
        "data_dir": data_dir,
        "engine_autostart": False,
        "llm_base_url": None,
        "auth": False,
        "users_file": data_dir / "users.txt",
        "allowed_hosts": ["testserver"],  # TestClient's Host, for loopback mode's Host check
    }
    return Settings(**{**base, **kw})  # type: ignore[arg-type]


@pytest.fixture(scope="session")
def manuals(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("manuals")
    return {
        "pump": make_pdf(root / "aquila-pump.pdf", PUMP_PAGES, title="Aquila P-20 Pump Manual"),
        "router": make_pdf(root / "netgate-r7.pdf", ROUTER_PAGES, title="Netgate R7 Router Guide"),
    }


def build_index(data_dir: Path, manuals: dict[str, Path]) -> None:
    """Ingest the pump manual into `default` and the router guide into `network`."""
    from ingest.pipeline import ingest_paths
    from services.build import open_index

    settings = web_settings(data_dir)
    index, embedder = open_index(settings)
    for path, collection in ((manuals["pump"], "default"), (manuals["router"], "network")):
        result = ingest_paths(
            [path], settings, index=index, embedder=embedder, collection=collection
        )
        assert result[0].status == "ingested", result[0].error
    index.close()


def wait_job(client, job_id: str, timeout: float = 120.0, headers: dict | None = None) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = client.get(f"/api/v1/jobs/{job_id}", headers=headers or {}).json()
        if job["status"] not in ("queued", "running"):
            return job
        time.sleep(0.25)
    raise AssertionError(f"job {job_id} did not finish in {timeout} s: {job}")


def parse_sse(lines: Iterator[str]) -> list[tuple[str, str]]:
    """(event, data) pairs from server-sent-event lines."""
    events, event, data = [], "message", []
    for line in lines:
        if not line:
            if data:
                events.append((event, "\n".join(data)))
            event, data = "message", []
        elif line.startswith("event:"):
            event = line[6:].strip()
        elif line.startswith("data:"):
            data.append(line[5:].removeprefix(" "))
    if data:
        events.append((event, "\n".join(data)))
    return events


@dataclass
class LiveServer:
    """uvicorn serving an app on a free loopback port, in a thread of this process."""

    app: object
    port: int = 0
    server: uvicorn.Server | None = None
    thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 60.0) -> LiveServer:
        self.port = self.port or free_port()
        rt = getattr(getattr(self.app, "state", None), "rt", None)  # a Folio app: its settings
        settings = rt.settings if rt is not None else Settings()
        options = {**server_options(settings), "host": "127.0.0.1", "port": self.port}
        config = uvicorn.Config(self.app, **options)  # as `folio serve`
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(self.url + "/health", timeout=2).status_code == 200:
                    return self
            time.sleep(0.1)
        raise RuntimeError("the test server did not start")

    def stop(self) -> None:
        if self.server is not None:
            self.server.should_exit = True
        if self.thread is not None:
            self.thread.join(30)
