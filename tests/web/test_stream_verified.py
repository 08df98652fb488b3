"""Streamed = verified, for every client that streams: `/api/v1/ask?stream=true`, the
OpenAI-compatible `/v1/chat/completions` with stream=true, and `folio ask` (the browser is in
test_browser.py). A scripted engine (tests/scripted_engine.py) writes answers that cite a
passage that does not exist, claim what no passage says, forget a citation, cut markers across
chunks, in English and in Chinese, and one through a server that strips harmony's special
tokens. For each: the streamed text adds up to exactly the non-streamed answer, no state of the
stream shows a marker the final check drops, and the citations are the same.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from tests.scripted_engine import ScriptedEngine
from tests.web.conftest import build_index, parse_sse, web_settings
from web.app import create_app

QUESTION = "How do I prime the pump with valve V3?"
SCENARIOS = ["pump-en", "pump-zh", "pump-harmony-stripped"]
REASONING = "The user asks how to prime. Passage 1 says open V3."


@pytest.fixture(scope="module")
def engine() -> Iterator[ScriptedEngine]:
    eng = ScriptedEngine().start()
    yield eng
    eng.stop()


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory, manuals: dict[str, Path]) -> Path:
    path = tmp_path_factory.mktemp("stream-verified") / "index"
    build_index(path, manuals)
    return path


@pytest.fixture(scope="module", params=SCENARIOS)
def scripted(request, engine: ScriptedEngine, data_dir: Path) -> Iterator[tuple[str, TestClient]]:
    scenario = request.param
    settings = web_settings(
        data_dir, engine_autostart=True, llm_base_url=engine.url(scenario),
        llm_model="scripted", prompt_passages=3,
    )  # fmt: skip
    with TestClient(create_app(settings)) as client:
        deadline = time.monotonic() + 30
        while client.get("/health").json()["engine_state"] != "up":
            assert time.monotonic() < deadline, "the app did not connect to the scripted engine"
            time.sleep(0.05)
        yield scenario, client


def _ask(client: TestClient) -> dict:
    r = client.post("/api/v1/ask", json={"question": QUESTION})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["mode"] == "llm" and not body["refused"], body
    return body


def _shown_states(pieces: list[str]) -> list[str]:
    """Every text a client displays while the answer streams."""
    return [("".join(pieces[: i + 1])) for i in range(len(pieces))]


def _assert_never_unverified(pieces: list[str], final: str, citations: list[dict]) -> None:
    cited = {c["n"] for c in citations}
    for shown in _shown_states(pieces):
        assert final.startswith(shown), (shown, final)
        assert not re.search(r"\[[\s\d,\-–]*$", shown), shown  # no half marker
        assert set(map(int, re.findall(r"\[(\d+)\]", shown))) <= cited, shown


def test_scripted_answer_needs_repairs(scripted: tuple[str, TestClient]) -> None:
    """The script is worth testing: the check drops, flags and adds for this generation."""
    scenario, client = scripted
    body = _ask(client)
    raw = ScriptedEngine.text(scenario)
    if scenario == "pump-harmony-stripped":
        assert body["reasoning"] == REASONING
        assert "analysis" not in body["answer"] and "assistantfinal" not in body["answer"]
        assert body["answer"] == "Open valve V3 and fill the housing with clean water [1]."
        return
    assert re.search(r"\[[79]\]", raw) and not re.search(r"\[[79]\]", body["answer"])
    assert body["answer"] != raw.strip()
    assert body["citations"] and all(1 <= c["n"] <= 3 for c in body["citations"])
    assert body["unsupported"] or not all(c["supported"] for c in body["citations"])
    if scenario == "pump-en":
        assert any(c["added_by_folio"] for c in body["citations"])
        assert "[1][7]" not in body["answer"] and "1. Open valve V3 [1]." in body["answer"]


def test_api_stream_is_the_checked_answer(scripted: tuple[str, TestClient]) -> None:
    scenario, client = scripted
    expected = _ask(client)
    with client.stream("POST", "/api/v1/ask?stream=true", json={"question": QUESTION}) as r:
        assert r.status_code == 200
        events = parse_sse(r.iter_lines())
    pieces = [json.loads(d) for e, d in events if e == "token"]
    done = json.loads(events[-1][1])
    assert events[-1][0] == "done" and done["mode"] == "llm"
    assert "".join(pieces) == done["answer"] == expected["answer"]
    assert done["citations"] == expected["citations"]
    assert done["unsupported"] == expected["unsupported"]
    _assert_never_unverified(pieces, expected["answer"], expected["citations"])
    reasoning = "".join(json.loads(d) for e, d in events if e == "reasoning")
    assert reasoning == done["reasoning"] == expected["reasoning"]
    if scenario != "pump-harmony-stripped":
        assert len(pieces) > 3  # streamed, not held to the end


def test_openai_stream_is_the_checked_answer(scripted: tuple[str, TestClient]) -> None:
    scenario, client = scripted
    expected = _ask(client)
    messages = [{"role": "user", "content": QUESTION}]
    r = client.post("/v1/chat/completions", json={"model": "folio", "messages": messages})
    assert r.status_code == 200, r.text
    whole = r.json()
    content = whole["choices"][0]["message"]["content"]
    assert content.startswith(expected["answer"])
    assert whole["citations"] == expected["citations"]
    with client.stream(
        "POST", "/v1/chat/completions", json={"messages": messages, "stream": True}
    ) as s:
        data = [d for _, d in parse_sse(s.iter_lines())]
    assert data[-1] == "[DONE]"
    chunks = [json.loads(d) for d in data[:-1]]
    deltas = [c["choices"][0]["delta"] for c in chunks]
    pieces = [d["content"] for d in deltas if d.get("content")]
    assert "".join(pieces) == content  # the answer, then its Sources list, exactly
    assert chunks[-1]["citations"] == whole["citations"]
    answer_pieces = pieces[:-1] if whole["citations"] else pieces  # the last one is Sources
    _assert_never_unverified(answer_pieces, expected["answer"], expected["citations"])
    reasoning = "".join(d.get("reasoning_content", "") for d in deltas)
    assert reasoning == expected["reasoning"]
    if scenario == "pump-harmony-stripped":
        assert reasoning == REASONING


def test_cli_prints_the_checked_answer_as_it_streams(
    engine: ScriptedEngine, tmp_path_factory: pytest.TempPathFactory, manuals: dict[str, Path]
) -> None:
    from cli.main import app as cli

    data_dir = tmp_path_factory.mktemp("stream-verified-cli") / "index"
    build_index(data_dir, manuals)
    for scenario in SCENARIOS:
        env = {"FOLIO_LLM_BASE_URL": engine.url(scenario), "FOLIO_LLM_MODEL": "scripted",
               "FOLIO_PROMPT_PASSAGES": "3", "COLUMNS": "60"}  # fmt: skip
        args = ["--data-dir", str(data_dir), "ask", QUESTION]
        whole = CliRunner().invoke(cli, [*args, "--json"], env=env)
        assert whole.exit_code == 0, whole.output
        answer = json.loads(whole.stdout)
        streamed = CliRunner().invoke(cli, [*args, "--show-reasoning"], env=env)
        assert streamed.exit_code == 0, streamed.output
        # the tokens as printed, then a blank line and the Sources: nothing else, no rewrap
        # at 60 columns, no "Checked answer:" correction
        text, _, sources = streamed.stdout.partition("\n\nSources\n")
        assert text == answer["text"], (scenario, streamed.stdout)
        listed = [int(n) for n in re.findall(r"^  \[(\d+)\]", sources, re.M)]
        assert listed == [c["n"] for c in answer["citations"]]
        assert not re.search(r"\[[79]\]", streamed.stdout)
        if scenario == "pump-harmony-stripped":
            assert answer["reasoning"] == REASONING
            assert "analysis" not in streamed.stdout
