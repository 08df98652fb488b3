"""A remote LLM server that is not up yet (vLLM loading gpt-oss-20b): Folio serves, says "engine
starting", asks again with backoff, and answers with the LLM once the server is there."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tests.scripted_engine import ScriptedEngine
from tests.web.conftest import build_index, free_port, web_settings
from web.app import create_app


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory, manuals: dict[str, Path]) -> Path:
    path = tmp_path_factory.mktemp("wait") / "index"
    build_index(path, manuals)
    return path


def test_engine_starting_until_the_remote_server_answers_then_up(data_dir: Path) -> None:
    port = free_port()  # nothing listens there yet
    settings = web_settings(
        data_dir, engine_autostart=True, llm_base_url=f"http://127.0.0.1:{port}/pump-en/v1"
    )
    with TestClient(create_app(settings)) as client:
        time.sleep(1.5)
        health = client.get("/health").json()
        assert health["engine_state"] == "starting" and health["engine"] is False
        assert f"127.0.0.1:{port}" in health["engine_note"]
        page = client.get("/", headers={"accept": "text/html"})
        assert "engine starting" in page.text
        early = client.post("/api/v1/ask", json={"question": "How do I prime the pump?"})
        assert early.status_code == 503 and early.json()["passages"]

        engine = ScriptedEngine(port=port).start()
        try:
            deadline = time.monotonic() + 20
            while client.get("/health").json()["engine_state"] != "up":
                assert time.monotonic() < deadline, client.get("/health").json()
                time.sleep(0.2)
            answer = client.post("/api/v1/ask", json={"question": "How do I prime the pump?"})
            assert answer.status_code == 200, answer.text
            assert "valve V3" in answer.json()["answer"]
        finally:
            engine.stop()
