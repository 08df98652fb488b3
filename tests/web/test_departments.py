"""Departments: a collection's own model on the LLM server and its own system instruction.

The departments file is checked with one-line errors; `/v1/models` offers `folio` and one
`folio-<collection>` per readable collection; a chat with `folio-network` searches only
`network` and the scripted OpenAI-compatible engine (tests/scripted_engine.py, a real HTTP
server) records that the request named the department's model and carried its instruction.
Real index (generated PDFs, MiniLM, Chroma), real app.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from folio.departments import SETTING, DepartmentsError, load_departments
from retrieval.prompt import CONTRACT, DEFAULT_PREAMBLE, system_message
from services.keys import create_key
from tests.scripted_engine import ScriptedEngine
from tests.web.conftest import build_index, parse_sse, web_settings
from web.app import create_app

NETWORK_MODEL = "netgate-lora"
INSTRUCTION = "You answer the network team. Name the LED colour when a passage gives one."
DEPARTMENTS = f'''
[network]
model = "{NETWORK_MODEL}"
instruction = """{INSTRUCTION}"""
description = "Router and switch manuals"
'''
ROUTER_ANSWER = ["Hold the reset button for 10 seconds until the LED ", "blinks amber [1]."]
ROUTER_Q = "How do I factory reset the Netgate R7 router?"
PUMP_Q = "How do I prime the pump with valve V3?"
ROOT = Path(__file__).resolve().parents[2]


# --- the file -------------------------------------------------------------------------------


def _load(tmp_path: Path, text: str):
    path = tmp_path / "departments.toml"
    path.write_text(text, encoding="utf-8")
    return load_departments(path), path


def test_departments_file_is_read(tmp_path: Path) -> None:
    depts, _ = _load(tmp_path, DEPARTMENTS + '\n[hr]\ninstruction = "Be formal."\n')
    net, hr = depts.get("network"), depts.get("hr")
    assert net is not None and net.model == NETWORK_MODEL and net.instruction == INSTRUCTION
    assert hr is not None and hr.model is None and hr.instruction == "Be formal."
    assert depts.for_scope(["network"]) == net
    assert depts.for_scope(["network", "hr"]) is None  # several collections: the default
    assert depts.for_scope(None) is None and depts.for_scope(["other"]) is None
    assert load_departments(None).get("network") is None


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("[hr\nmodel = 'x'", "not valid TOML"),
        ("[hr]\nmodle = 'x'", "[hr] has unknown key(s) modle"),
        ("hr = 'x'", "'hr' must be a table"),
        ("['h r']\nmodel = 'x'", "is not a collection name"),
        ("[hr]\nmodel = 3", "[hr] model must be a non-empty string"),
        ("[hr]\nmodel = 'two words'", "is not a model name"),
        ("[hr]\ninstruction = '" + "x" * 4001 + "'", "instruction is 4001 characters"),
        ("[hr]\ndescription = 'HR'", "[hr] sets neither model nor instruction"),
    ],
)
def test_a_bad_departments_file_is_one_line_naming_file_and_reason(
    tmp_path: Path, text: str, reason: str
) -> None:
    with pytest.raises(DepartmentsError) as exc:
        _load(tmp_path, text)
    message = str(exc.value)
    assert "\n" not in message
    assert message.startswith(f"{SETTING} {tmp_path / 'departments.toml'}: ")
    assert reason in message


def test_a_missing_departments_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(DepartmentsError, match=f"{SETTING} .*nowhere.toml: no such file"):
        load_departments(tmp_path / "nowhere.toml")


def test_cli_reports_a_bad_departments_file_in_one_line_and_exits_2(tmp_path: Path) -> None:
    bad = tmp_path / "departments.toml"
    bad.write_text("[hr]\nmodle = 'hr'\n", encoding="utf-8")
    env = {**os.environ, "FOLIO_DEPARTMENTS_FILE": str(bad),
           "FOLIO_LLM_BASE_URL": "http://127.0.0.1:9/v1", "PYTHONPATH": str(ROOT)}  # fmt: skip
    args = ["--data-dir", str(tmp_path / "index"), "ask", "-c", "hr", "anything?"]
    result = subprocess.run(
        [sys.executable, "-m", "cli", *args],
        env=env, capture_output=True, text=True, timeout=120, cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 2, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert "unknown key(s) modle" in lines[0] and SETTING in lines[0]


def test_the_app_does_not_start_with_a_bad_departments_file(tmp_path: Path) -> None:
    bad = tmp_path / "departments.toml"
    bad.write_text("[hr]\nmodel = ''\n", encoding="utf-8")
    with pytest.raises(DepartmentsError, match=r"\[hr\] model must be a non-empty string"):
        create_app(web_settings(tmp_path / "index", departments_file=bad))


def test_instruction_sits_between_preamble_and_contract() -> None:
    system = system_message(None, INSTRUCTION)
    assert system.index(DEFAULT_PREAMBLE) < system.index(INSTRUCTION) < system.index(CONTRACT)
    assert system.endswith(CONTRACT)
    assert system_message(None, None) == f"{DEFAULT_PREAMBLE}\n\n{CONTRACT}"


# --- the app --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def engine() -> Iterator[ScriptedEngine]:
    eng = ScriptedEngine({"router": ROUTER_ANSWER}).start()
    yield eng
    eng.stop()


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory, manuals: dict[str, Path]) -> Path:
    path = tmp_path_factory.mktemp("departments") / "index"
    build_index(path, manuals)  # pump → default, router → network
    (path.parent / "departments.toml").write_text(DEPARTMENTS, encoding="utf-8")
    return path


def _client(engine: ScriptedEngine, data_dir: Path, **kw: object) -> TestClient:
    settings = web_settings(
        data_dir, engine_autostart=True, llm_base_url=engine.url("router"),
        llm_model="scripted", departments_file=data_dir.parent / "departments.toml", **kw,
    )  # fmt: skip
    return TestClient(create_app(settings))


def _wait_engine(client: TestClient) -> None:
    deadline = time.monotonic() + 30
    while client.get("/health").json()["engine_state"] != "up":
        assert time.monotonic() < deadline, "the app did not connect to the scripted engine"
        time.sleep(0.05)


@pytest.fixture(scope="module")
def client(engine: ScriptedEngine, data_dir: Path) -> Iterator[TestClient]:
    with _client(engine, data_dir) as c:
        _wait_engine(c)
        yield c


def _chat(client: TestClient, model: str | None, question: str, **kw: object) -> dict:
    body: dict = {"messages": [{"role": "user", "content": question}], **kw}
    if model is not None:
        body["model"] = model
    r = client.post("/v1/chat/completions", json=body)
    assert r.status_code == 200, r.text
    return r.json()


def _last_request(engine: ScriptedEngine, before: int) -> dict:
    assert len(engine.requests) > before, "the engine was not asked"
    return engine.requests[-1]


def _system(request: dict) -> str:
    return next(m["content"] for m in request["messages"] if m["role"] == "system")


def test_models_lists_folio_and_one_model_per_collection(client: TestClient) -> None:
    r = client.get("/v1/models")
    assert r.status_code == 200, r.text
    data = r.json()["data"]
    assert [m["id"] for m in data] == ["folio", "folio-default", "folio-network"]
    assert all(m["object"] == "model" and m["owned_by"] == "folio" for m in data)
    described = {m["id"]: m["description"] for m in data}
    assert described["folio-network"] == "Router and switch manuals"
    one = client.get("/v1/models/folio-network")
    assert one.status_code == 200 and one.json()["id"] == "folio-network"
    missing = client.get("/v1/models/folio-nope")
    assert missing.status_code == 404
    error = missing.json()["error"]
    assert error["type"] == "model_not_found" and "folio-network" in error["message"]


def test_department_model_answers_with_its_model_instruction_and_collection(
    client: TestClient, engine: ScriptedEngine
) -> None:
    before = len(engine.requests)
    body = _chat(client, "folio-network", ROUTER_Q)
    request = _last_request(engine, before)
    assert request["model"] == NETWORK_MODEL
    assert INSTRUCTION in _system(request)
    assert body["model"] == "folio-network"
    assert body["folio"]["model"] == NETWORK_MODEL
    assert body["citations"] and {c["doc"] for c in body["citations"]} == {"netgate-r7.pdf"}
    user = next(m["content"] for m in request["messages"] if m["role"] == "user")
    assert "Netgate R7" in user and "Aquila" not in user  # only network's passages


def test_folio_and_a_collection_without_department_use_the_default_model(
    client: TestClient, engine: ScriptedEngine
) -> None:
    for model, expect_doc in ((None, None), ("folio", None), ("folio-default", "aquila-pump.pdf")):
        before = len(engine.requests)
        body = _chat(client, model, PUMP_Q)
        request = _last_request(engine, before)
        assert request["model"] == "scripted", model
        assert INSTRUCTION not in _system(request)
        assert body["model"] == (model or "folio")
        if expect_doc:
            user = next(m["content"] for m in request["messages"] if m["role"] == "user")
            assert "Aquila" in user and "Netgate" not in user


def test_department_model_streams_with_its_model(
    client: TestClient, engine: ScriptedEngine
) -> None:
    before = len(engine.requests)
    body = {"model": "folio-network", "stream": True,
            "messages": [{"role": "user", "content": ROUTER_Q}]}  # fmt: skip
    with client.stream("POST", "/v1/chat/completions", json=body) as s:
        assert s.status_code == 200
        data = [d for _, d in parse_sse(s.iter_lines())]
    assert data[-1] == "[DONE]"
    chunks = [json.loads(d) for d in data[:-1]]
    assert {c["model"] for c in chunks} == {"folio-network"}
    assert _last_request(engine, before)["model"] == NETWORK_MODEL


def test_api_ask_in_one_collection_uses_its_department(
    client: TestClient, engine: ScriptedEngine
) -> None:
    before = len(engine.requests)
    r = client.post("/api/v1/ask", json={"question": ROUTER_Q, "collections": ["network"]})
    assert r.status_code == 200, r.text
    assert r.json()["model"] == NETWORK_MODEL
    request = _last_request(engine, before)
    assert request["model"] == NETWORK_MODEL and INSTRUCTION in _system(request)


def test_unknown_model_and_conflicting_collections_are_errors(client: TestClient) -> None:
    messages = [{"role": "user", "content": ROUTER_Q}]
    r = client.post("/v1/chat/completions", json={"model": "gpt-4o", "messages": messages})
    assert r.status_code == 404 and r.json()["error"]["type"] == "model_not_found"
    assert "folio-network" in r.json()["error"]["message"]
    r = client.post(
        "/v1/chat/completions",
        json={"model": "folio-network", "messages": messages, "collections": ["default"]},
    )
    assert r.status_code == 422 and "searches collection 'network' only" in r.text


def test_a_key_sees_only_the_models_of_its_collections(
    engine: ScriptedEngine, data_dir: Path
) -> None:
    with _client(engine, data_dir, auth=True) as c:
        _, token = create_key(c.app.state.rt.store, "net-bot", collections=["network"])
        auth = {"Authorization": f"Bearer {token}"}
        ids = [m["id"] for m in c.get("/v1/models", headers=auth).json()["data"]]
        assert ids == ["folio", "folio-network"]
        assert c.get("/v1/models/folio-network", headers=auth).status_code == 200
        for hidden in ("folio-default", "folio-unknown"):
            r = c.get(f"/v1/models/{hidden}", headers=auth)
            assert r.status_code == 404, hidden
            assert r.json()["error"]["type"] == "model_not_found"
        messages = [{"role": "user", "content": PUMP_Q}]
        r = c.post(
            "/v1/chat/completions",
            headers=auth,
            json={"model": "folio-default", "messages": messages},
        )
        assert r.status_code == 404
        assert c.get("/v1/models").status_code == 401
