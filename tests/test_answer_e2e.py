"""End to end: a generated manual, the real index, the real CPU engine, `folio ask`.

The instruct model (Qwen2.5-Coder-1.5B, installed by `make setup`) answers a question whose
answer sits on a known page; the test checks the answer streams, and that its citations resolve
to that real page. A question about something absent is refused without calling the model; with
the engine stopped the command still shows the passages and says what went wrong.
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from folio.settings import Settings
from folio.wiring import open_index
from generation.answer import Answerer
from generation.client import LLMClient
from generation.engine import start_engine
from generation.models import default_model_path
from ingest.pipeline import ingest_paths
from tests.fixtures import make_pdf

pytestmark = pytest.mark.engine
pytest.importorskip("xllamacpp", reason="the local engine needs xllamacpp (pip install .[engine])")

ROOT = Path(__file__).resolve().parent.parent
QWEN = default_model_path(Settings(engine_dir=ROOT / "data" / "engine"))
PAGES = [
    "Orion P-7 centrifugal pump. Installation and operation manual.",
    "Safety. Disconnect power before opening the terminal box.",
    "Installation. Bolt the pump to a level concrete plinth using four M12 anchors.",
    "Priming. Before the first start, open the vent screw on top of the casing and fill the "
    "casing with clean water until water comes out of the vent. Then close the vent screw.",
    "Maintenance. Replace the shaft seal every 4000 operating hours.",
]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def manual_index(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("e2e")
    make_pdf(tmp / "orion.pdf", PAGES, title="Orion P-7 Pump Manual")
    settings = Settings(
        data_dir=tmp / "index", engine_port=_free_port(), llm_model="qwen",
        prompt_passages=2, passage_chars=500, llm_max_tokens=120, llm_context_tokens=2048,
    )  # fmt: skip
    index, embedder = open_index(settings)
    (result,) = ingest_paths([tmp / "orion.pdf"], settings, index=index, embedder=embedder)
    assert result.status == "ingested"
    return settings, index, embedder


@pytest.fixture(scope="module")
def qwen_engine(manual_index):
    if not QWEN.exists():
        pytest.skip(f"the instruct model is not installed at {QWEN}: run `make setup`")
    settings = manual_index[0]
    handle = start_engine(settings, QWEN, timeout_s=180)
    yield handle
    handle.stop()


def _env(settings: Settings, **extra: str) -> dict[str, str]:
    return {
        **os.environ,
        "FOLIO_DATA_DIR": str(settings.data_dir),
        "FOLIO_PROMPT_PASSAGES": "2",
        "FOLIO_PASSAGE_CHARS": "500",
        "FOLIO_LLM_MAX_TOKENS": "120",
        **extra,
    }


def test_answer_streams_and_cites_the_real_page(manual_index, qwen_engine):
    settings, index, embedder = manual_index
    client = LLMClient.from_settings(
        settings, base_url=qwen_engine.base_url, model=qwen_engine.model
    )
    answerer = Answerer(settings, index, embedder, client)

    async def run():
        events = [e async for e in answerer.stream("How do I prime the pump before first start?")]
        await client.aclose()
        return events

    events = asyncio.run(run())
    kinds = [e.type for e in events]
    assert kinds[0] == "passages" and kinds[-1] == "done"
    answer = events[-1].data
    # streamed, and the checked text: nothing shows until the first supported sentence ends
    # (generation/grounded.py), then the rest as it is written
    assert kinds.count("token") >= 1
    assert "".join(e.data for e in events if e.type == "token") == answer.text
    assert not answer.refused and answer.mode == "llm", answer
    assert "vent" in answer.text.lower()
    assert answer.citations, f"no citation survived checking: {answer.text!r}"
    assert {c.page for c in answer.citations} <= {1, 2, 3, 4, 5}
    assert any(c.page == 4 and c.supported for c in answer.citations)
    assert answer.timings["first_token_ms"] > 0 and answer.usage["completion_tokens"] > 0


def test_cli_ask_streams_answer_with_sources(manual_index, qwen_engine):
    settings = manual_index[0]
    env = _env(settings, FOLIO_LLM_BASE_URL=qwen_engine.base_url, FOLIO_LLM_MODEL=qwen_engine.model)
    proc = subprocess.run(
        [sys.executable, "-m", "folio", "ask", "--json", "How do I prime the pump?"],
        env=env, cwd=ROOT, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    answer = json.loads(proc.stdout)
    assert answer["mode"] == "llm" and answer["citations"]
    assert all(c["doc"] == "orion.pdf" and 1 <= c["page"] <= 5 for c in answer["citations"])


def test_absent_topic_is_refused_without_the_model(manual_index):
    settings = manual_index[0]
    proc = subprocess.run(
        [sys.executable, "-m", "folio", "ask", "--json",
         "How do I configure Kerberos single sign-on for the pump?"],
        env=_env(settings, FOLIO_LLM_BASE_URL="http://127.0.0.1:9/v1"),
        cwd=ROOT, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    answer = json.loads(proc.stdout)
    assert answer["refused"] and answer["mode"] == "no-evidence"
    assert answer["citations"] == []


def test_engine_down_gives_clear_error_and_passages(manual_index):
    settings = manual_index[0]
    dead = f"http://127.0.0.1:{_free_port()}/v1"
    proc = subprocess.run(
        [sys.executable, "-m", "folio", "ask", "How do I prime the pump?"],
        env=_env(settings, FOLIO_LLM_BASE_URL=dead), cwd=ROOT, capture_output=True, text=True,
        timeout=300,
    )  # fmt: skip
    assert proc.returncode == 3
    assert "engine error" in proc.stderr.lower()
    assert dead.removesuffix("/v1").split("//")[1] in proc.stderr  # says which server
    assert "Retrieval-only" in proc.stdout
    assert "PDF page 4" in proc.stdout or "p. 4" in proc.stdout
