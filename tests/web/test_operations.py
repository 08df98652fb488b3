"""Running Folio for a company, over HTTP: limits per caller (429 + Retry-After + which limit),
the blocked-term filter (400 naming no term; answers masked in every stream), and the audit log
lines the service layer writes for asks, searches, refusals and logins. Real app, real index, a
scripted OpenAI-compatible engine (tests/scripted_engine.py) so answers are known."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from services.audit import read, verify
from services.keys import create_key
from services.store import Store
from tests.scripted_engine import ScriptedEngine
from tests.web.conftest import build_index, parse_sse, web_settings
from web.app import create_app

QUESTION = "How do I prime the pump with valve V3?"


@pytest.fixture(scope="module")
def engine() -> Iterator[ScriptedEngine]:
    eng = ScriptedEngine().start()
    yield eng
    eng.stop()


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory, manuals: dict[str, Path]) -> Path:
    path = tmp_path_factory.mktemp("operations") / "index"
    build_index(path, manuals)
    return path


def _client(data_dir: Path, engine: ScriptedEngine | None = None, **kw) -> TestClient:
    if engine is not None:
        kw.update(engine_autostart=True, llm_base_url=engine.url("pump-en"), llm_model="scripted")
    return TestClient(create_app(web_settings(data_dir, **kw)))


def _wait_engine(client: TestClient) -> None:
    deadline = time.monotonic() + 30
    while client.get("/health").json()["engine_state"] != "up":
        assert time.monotonic() < deadline, "the app did not connect to the scripted engine"
        time.sleep(0.05)


def _audit(data_dir: Path, action: str) -> list[dict]:
    return [r for r in read(data_dir / "audit") if r["action"] == action]


def test_global_rate_limit_gives_429_with_retry_after_and_which_limit(data_dir: Path) -> None:
    with _client(data_dir, rate_limit="3/minute") as client:
        codes = [
            client.post("/api/v1/search", json={"query": "prime the pump"}).status_code
            for _ in range(3)
        ]
        r = client.post("/api/v1/search", json={"query": "prime the pump"})
        metrics = client.get("/metrics").text
    assert codes == [200, 200, 200]
    assert r.status_code == 429 and 1 <= int(r.headers["Retry-After"]) <= 60
    body = r.json()
    assert body["error"]["type"] == "rate_limited" and body["limit"] == "requests"
    assert "3 per 1 minute" in body["error"]["message"]
    assert 'folio_rate_limited_total{limit="requests"} 1.0' in metrics


def test_a_keys_own_limit_overrides_the_global_one(data_dir: Path) -> None:
    _, token = create_key(Store(data_dir / "web.sqlite3"), "tight-script", rate_limit="2/minute")
    _, other = create_key(Store(data_dir / "web.sqlite3"), "wiki")
    with _client(data_dir, auth=True, rate_limit="100/minute") as client:

        def search(t: str) -> int:
            headers = {"Authorization": f"Bearer {t}"}
            return client.post(
                "/api/v1/search", json={"query": "pump"}, headers=headers
            ).status_code

        assert [search(token) for _ in range(3)] == [200, 200, 429]
        assert [search(other) for _ in range(3)] == [200, 200, 200]
    limited = _audit(data_dir, "rate_limited")
    assert limited and limited[-1]["actor"] == "tight-script"


def test_a_blocked_question_is_refused_without_naming_the_term(
    data_dir: Path, tmp_path: Path
) -> None:
    terms = tmp_path / "blocked.txt"
    terms.write_text("valve\n", encoding="utf-8")
    with _client(data_dir, blocked_terms_file=terms) as client:
        ask = client.post("/api/v1/ask", json={"question": QUESTION, "retrieval_only": True})
        search = client.post("/api/v1/search", json={"query": "the V3 Valve"})
        fine = client.post("/api/v1/search", json={"query": "prime the pump"})
    for r in (ask, search):
        assert r.status_code == 400 and r.json()["error"]["type"] == "blocked_term"
        assert "valve" not in r.json()["error"]["message"].lower()
    assert fine.status_code == 200
    blocked = _audit(data_dir, "blocked")
    assert {b["what"] for b in blocked[-2:]} == {"question", "search"}


def test_a_blocked_term_in_the_answer_is_masked_in_every_stream(
    data_dir: Path, engine: ScriptedEngine, tmp_path: Path
) -> None:
    terms = tmp_path / "blocked.txt"
    terms.write_text("warranty\n", encoding="utf-8")
    raw = ScriptedEngine.text("pump-en")
    assert "warranty" in raw  # the script is worth testing
    with _client(data_dir, engine, blocked_terms_file=terms) as client:
        _wait_engine(client)
        plain = client.post("/api/v1/ask", json={"question": QUESTION}).json()
        with client.stream("POST", "/api/v1/ask?stream=true", json={"question": QUESTION}) as r:
            events = parse_sse(r.iter_lines())
        body = {
            "model": "folio",
            "stream": True,
            "messages": [{"role": "user", "content": QUESTION}],
        }
        with client.stream("POST", "/v1/chat/completions", json=body) as r:
            chunks = [d for _, d in parse_sse(r.iter_lines()) if d != "[DONE]"]
    assert "warranty" not in plain["answer"] and "***" in plain["answer"]
    pieces = [json.loads(d) for e, d in events if e == "token"]
    assert "".join(pieces) == plain["answer"]
    assert all("warranty" not in "".join(pieces[: i + 1]) for i in range(len(pieces)))
    deltas = "".join(
        (c["choices"][0].get("delta") or {}).get("content") or ""
        for c in map(json.loads, chunks) if c.get("choices")
    )  # fmt: skip
    assert "warranty" not in deltas and "***" in deltas


def test_the_daily_token_budget_ends_llm_answers(data_dir: Path, engine: ScriptedEngine) -> None:
    # The scripted engine reports 90 tokens an answer: two fit under 100, the third is refused.
    with _client(data_dir, engine, tokens_per_day=100) as client:
        _wait_engine(client)
        codes = [
            client.post("/api/v1/ask", json={"question": QUESTION}).status_code for _ in range(3)
        ]
        last = client.post("/api/v1/ask", json={"question": QUESTION})
        passages = client.post("/api/v1/ask", json={"question": QUESTION, "retrieval_only": True})
    assert codes[:2] == [200, 200] and codes[2] == 429 and last.status_code == 429
    assert last.json()["limit"] == "tokens" and "Retry-After" in last.headers
    assert passages.status_code == 200  # passages cost no tokens


def test_asks_searches_and_logins_are_audited_and_the_chain_holds(
    data_dir: Path, engine: ScriptedEngine
) -> None:
    from services.auth import hash_password

    users = data_dir / "users.txt"
    users.write_text(f"ann:{hash_password('correct horse')}\n")
    with _client(data_dir, engine, auth=True) as client:
        _wait_engine(client)
        client.post("/login", data={"username": "ann", "password": "wrong", "next": "/"})
        client.post("/login", data={"username": "ann", "password": "correct horse", "next": "/"})
    _, token = create_key(Store(data_dir / "web.sqlite3"), "audit-wiki")
    with _client(data_dir, engine, auth=True) as client:
        _wait_engine(client)
        headers = {"Authorization": f"Bearer {token}"}
        answer = client.post("/api/v1/ask", json={"question": QUESTION}, headers=headers).json()
        client.post("/api/v1/search", json={"query": "prime"}, headers=headers)
    users.unlink()
    ask = _audit(data_dir, "ask")[-1]
    assert ask["actor"] == "audit-wiki" and ask["kind"] == "key"
    assert ask["question"] == QUESTION and ask["model"] == "scripted"
    assert ask["cited"] == [{"doc": c["doc"], "page": c["page"]} for c in answer["citations"]]
    assert ask["refused"] is False and ask["usage"]["completion_tokens"] == 40
    assert _audit(data_dir, "search")[-1]["actor"] == "audit-wiki"
    assert _audit(data_dir, "login_failed")[-1]["actor"] == "ann"
    assert _audit(data_dir, "login")[-1]["actor"] == "ann"
    text = "".join(p.read_text() for p in (data_dir / "audit").glob("audit-*.jsonl"))
    assert "correct horse" not in text and token not in text
    assert verify(data_dir / "audit").ok


def test_dify_retrieval_is_limited_and_audited_like_any_api_call(data_dir: Path) -> None:
    body = {
        "knowledge_id": "default",
        "query": "How do I prime the pump?",
        "retrieval_setting": {"top_k": 3, "score_threshold": 0.0},
    }
    with _client(data_dir, rate_limit="2/minute") as client:
        codes = [client.post("/api/v1/dify/retrieval", json=body).status_code for _ in range(3)]
    assert codes == [200, 200, 429]
    line = _audit(data_dir, "search")[-1]
    assert line["via"] == "dify" and line["query"] == body["query"] and line["results"]


def test_chat_completions_take_doc_ids_like_the_ask_api(
    data_dir: Path, engine: ScriptedEngine
) -> None:
    def chat(question: str, **extra) -> dict:
        body = {"model": "folio", "messages": [{"role": "user", "content": question}], **extra}
        r = client.post("/v1/chat/completions", json=body)
        assert r.status_code == 200, r.text
        return r.json()["choices"][0]["message"]["content"]

    with _client(data_dir, engine) as client:
        _wait_engine(client)
        docs = client.get("/api/v1/documents").json()["documents"]
        router = next(d["id"] for d in docs if d["file"].startswith("netgate"))
        scoped = chat("How do I reset the router to factory settings?", doc_ids=[router])
        everywhere = chat(QUESTION)
        pump_in_router = chat(QUESTION, doc_ids=[router])
        too_many = client.post(
            "/v1/chat/completions",
            json={"messages": [{"role": "user", "content": QUESTION}], "doc_ids": ["x"] * 101},
        )
    sources = scoped.split("Sources:")[-1].lower()
    assert "netgate" in sources and "aquila" not in sources
    assert "aquila" in everywhere.split("Sources:")[-1].lower()
    # the pump's valve is named nowhere in the router guide: refused within it
    assert "Sources:" not in pump_in_router and "not cover" in pump_in_router
    assert too_many.status_code == 422
