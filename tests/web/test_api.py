"""The HTTP API against a real index (generated PDFs, MiniLM, embedded Chroma), no LLM."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tests.fixtures import make_pdf
from tests.web.conftest import build_index, parse_sse, wait_job, web_settings
from web.app import create_app

LIMIT_MB = 1.0


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory, manuals: dict[str, Path]) -> Path:
    path = tmp_path_factory.mktemp("api") / "index"
    build_index(path, manuals)
    return path


@pytest.fixture(scope="module")
def client(data_dir: Path) -> Iterator[TestClient]:
    app = create_app(web_settings(data_dir, max_file_mb=LIMIT_MB, max_question_chars=4000))
    with TestClient(app) as c:
        yield c


def _doc_id(client: TestClient, name: str) -> str:
    docs = client.get("/api/v1/documents").json()["documents"]
    return next(d["id"] for d in docs if d["file"] == name)


def _error(response, status: int, type_: str | None = None) -> str:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body["error"]) >= {"type", "message"}
    if type_:
        assert body["error"]["type"] == type_
    assert len(body["error"]["message"]) > 15
    return body["error"]["message"]


# --- status --------------------------------------------------------------------------------------


def test_health_is_200_without_engine(client: TestClient) -> None:
    body = client.get("/health").json()
    assert body["engine"] is False and body["engine_state"] == "off"
    assert body["index_ready"] is True
    assert body["documents"] >= 2 and body["chunks"] >= 6
    assert body["status"] == "degraded"


def test_health_reports_embedding_precision_and_threads(client: TestClient) -> None:
    from folio.precision import resolve

    body = client.get("/health").json()
    if body["embed_backend"] == "onnx":  # auto takes the export where it exists: fp32 there
        assert body["embed_precision"] == "fp32"
    else:
        assert body["embed_precision"] == resolve("auto")  # what this CPU supports natively
    assert body["embed_precision_note"].startswith("auto:")
    assert body["ingest_embed_backend"] in ("torch", "onnx")  # the ingest worker's, unloaded
    assert body["ingest_embed_precision"] in ("fp32", "bf16")
    assert (body["ingest_threads"], body["query_threads"]) == (1, 1)  # serve: one of each


def test_pages_and_static_assets(client: TestClient) -> None:
    for path in ("/", "/manuals"):
        page = client.get(path, headers={"accept": "text/html"})
        assert page.status_code == 200
        assert '<script src="/static/htmx.min.js"' in page.text
        assert "retrieval-only" in page.text  # the status line says there is no engine
        assert "Content-Security-Policy" in page.headers
    htmx = client.get("/static/htmx.min.js")
    assert htmx.status_code == 200 and "Zero-Clause BSD" in htmx.text[:200]
    assert client.get("/static/htmx.LICENSE.txt").status_code == 200
    docs = client.get("/docs")
    assert docs.status_code == 200 and "/static/swagger-ui-bundle.js" in docs.text
    spec = client.get("/openapi.json").json()
    for path in ("/api/v1/ask", "/api/v1/search", "/api/v1/documents", "/v1/chat/completions"):
        assert path in spec["paths"]
    missing = client.get("/nope", headers={"accept": "text/html"})
    assert missing.status_code == 404 and "Not found" in missing.text
    _error(client.get("/api/v1/nope"), 404, "not_found")


# --- search and ask ------------------------------------------------------------------------------


def test_search_returns_manual_and_page(client: TestClient) -> None:
    r = client.post("/api/v1/search", json={"query": "What does error E42 mean?", "k": 3})
    assert r.status_code == 200
    top = r.json()["passages"][0]
    assert top["doc"] == "aquila-pump.pdf" and top["page"] == 3
    assert top["title"] == "Aquila P-20 Pump Manual"
    assert top["url"] == f"/files/{top['doc_id']}#page=3"
    assert top["n"] == 1 and "overheated" in top["text"]
    assert r.json()["timings"]["total_ms"] > 0


def test_search_respects_collections(client: TestClient) -> None:
    r = client.post("/api/v1/search", json={"query": "reset", "collections": ["network"]})
    assert {p["collection"] for p in r.json()["passages"]} == {"network"}


def test_ask_retrieval_only(client: TestClient) -> None:
    r = client.post(
        "/api/v1/ask", json={"question": "How do I prime the pump?", "retrieval_only": True}
    )
    assert r.status_code == 200
    body = r.json()
    assert body["mode"] == "retrieval-only" and body["answer"] == ""
    assert body["passages"][0]["page"] == 2 and "valve V3" in body["passages"][0]["text"]
    assert "Retrieval only" in body["notice"]
    assert body["id"] and body["timings"]["retrieval_ms"] > 0


def test_ask_without_engine_is_503_with_passages(client: TestClient) -> None:
    r = client.post("/api/v1/ask", json={"question": "How do I prime the pump?"})
    message = _error(r, 503, "engine_unavailable")
    assert "passages" in message
    assert r.json()["passages"][0]["page"] == 2
    assert r.headers["retry-after"]


def test_ask_stream_retrieval_only(client: TestClient) -> None:
    with client.stream(
        "POST",
        "/api/v1/ask?stream=true",
        json={"question": "How long should the motor cool after E42?", "retrieval_only": True},
    ) as r:
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("text/event-stream")
        events = parse_sse(r.iter_lines())
    kinds = [e for e, _ in events]
    assert kinds[0] == "passages" and kinds[-1] == "done"
    passages = json.loads(events[0][1])
    assert passages[0]["page"] == 3 and passages[0]["url"].endswith("#page=3")
    done = json.loads(events[-1][1])
    assert done["mode"] == "retrieval-only" and done["engine_failed"] is False


def test_unrelated_question_is_refused_not_answered(client: TestClient) -> None:
    r = client.post("/api/v1/ask", json={"question": "Who won the 1998 football world cup?"})
    assert r.status_code == 200
    body = r.json()
    assert body["refused"] is True and body["mode"] == "no-evidence"
    assert body["answer"] == "The manuals do not cover this."


@pytest.mark.parametrize(
    ("payload", "needle"),
    [
        ({"question": ""}, "empty"),
        ({"question": "   \n "}, "empty"),
        ({"question": "x" * 4001}, "limit is 4000"),
        ({}, "question"),
        ({"question": "ok?", "history": [{"role": "robot", "content": "hi"}]}, "role"),
    ],
)
def test_bad_questions_are_422_with_a_reason(client: TestClient, payload, needle) -> None:
    assert needle in _error(client.post("/api/v1/ask", json=payload), 422, "invalid_request")


def test_bad_search_is_422(client: TestClient) -> None:
    _error(client.post("/api/v1/search", json={"query": ""}), 422)
    _error(client.post("/api/v1/search", json={"query": "pump", "k": 0}), 422)
    _error(client.post("/api/v1/search", content=b"{not json", headers=_json()), 422)


def _json() -> dict:
    return {"content-type": "application/json"}


def test_feedback_is_stored(client: TestClient, data_dir: Path) -> None:
    answer = client.post(
        "/api/v1/ask", json={"question": "impeller replacement", "retrieval_only": True}
    ).json()
    r = client.post("/api/v1/feedback", json={"answer_id": answer["id"], "rating": "up"})
    assert r.status_code == 204
    _error(client.post("/api/v1/feedback", json={"answer_id": "nope", "rating": "up"}), 404)
    import sqlite3

    with sqlite3.connect(data_dir / "web.sqlite3") as db:
        assert db.execute(
            "SELECT rating FROM feedback WHERE answer_id=?", (answer["id"],)
        ).fetchone() == (1,)


# --- documents and jobs --------------------------------------------------------------------------


def test_upload_job_list_open_delete(client: TestClient, tmp_path: Path) -> None:
    pdf = make_pdf(
        tmp_path / "boiler.pdf",
        ["Boiler B9 overview.", "To bleed the radiators, turn the key a quarter turn."],
        title="Boiler B9 Manual",
    )
    r = client.post(
        "/api/v1/documents",
        files={"file": ("boiler.pdf", pdf.read_bytes(), "application/pdf")},
        data={"collection": "heating"},
    )
    assert r.status_code == 202, r.text
    job_id = r.json()["job_id"]
    assert r.headers["location"] == f"/api/v1/jobs/{job_id}"
    job = wait_job(client, job_id)
    assert job["status"] == "done", job
    assert job["pages_done"] == job["pages_total"] == 2
    docs = client.get("/api/v1/documents", params={"collection": "heating"}).json()["documents"]
    assert [(d["file"], d["pages"], d["status"]) for d in docs] == [("boiler.pdf", 2, "ready")]
    doc_id = docs[0]["id"]
    original = client.get(f"/files/{doc_id}")
    assert original.status_code == 200 and original.content == pdf.read_bytes()
    assert original.headers["content-type"] == "application/pdf"
    assert original.headers["content-disposition"].startswith("inline")
    hits = client.post(
        "/api/v1/search", json={"query": "bleed the radiators", "collections": ["heating"]}
    ).json()["passages"]
    assert hits[0]["page"] == 2

    manuals_page = client.get("/manuals").text
    assert "Boiler B9 Manual" in manuals_page and "boiler.pdf" in manuals_page

    assert client.delete(f"/api/v1/documents/{doc_id}").json()["deleted"] == doc_id
    assert client.get("/api/v1/documents", params={"collection": "heating"}).json() == {
        "documents": []
    }
    _error(client.get(f"/files/{doc_id}"), 404)
    _error(client.delete(f"/api/v1/documents/{doc_id}"), 404)
    assert (
        client.post(
            "/api/v1/search", json={"query": "bleed the radiators", "collections": ["heating"]}
        ).json()["passages"]
        == []
    )


def test_several_files_in_one_upload(client: TestClient, tmp_path: Path) -> None:
    files = [
        ("file", ("a.md", b"# Fan F1\n\nOil the fan bearing yearly.\n", "text/markdown")),
        ("file", ("b.txt", b"Heater H2: descale the element every spring.\n", "text/plain")),
    ]
    r = client.post("/api/v1/documents", params={"collection": "multi"}, files=files)
    assert r.status_code == 202, r.text
    jobs = r.json()["jobs"]
    assert [j["name"] for j in jobs] == ["a.md", "b.txt"]
    assert all(wait_job(client, j["id"])["status"] == "done" for j in jobs)
    docs = client.get("/api/v1/documents", params={"collection": "multi"}).json()["documents"]
    assert sorted(d["file"] for d in docs) == ["a.md", "b.txt"]
    for d in docs:
        client.delete(f"/api/v1/documents/{d['id']}")


def test_a_bad_file_in_a_multi_file_upload_is_named_and_the_rest_go_on(
    client: TestClient, data_dir: Path
) -> None:
    files = [
        ("file", ("fan.md", b"# Fan F3\n\nOil the fan bearing every March.\n", "text/markdown")),
        ("file", ("tool.pdf", b"\x7fELF\x02\x01\x01" + b"\0" * 200, "application/pdf")),
        ("file", ("blank.txt", b"", "text/plain")),
        ("file", ("heater.txt", b"Heater H4: descale the element in April.\n", "text/plain")),
    ]
    r = client.post("/api/v1/documents", params={"collection": "mixed"}, files=files)
    assert r.status_code == 202, r.text
    body = r.json()
    assert [j["name"] for j in body["jobs"]] == ["fan.md", "heater.txt"]
    rejected = {x["file"]: x for x in body["rejected"]}
    assert set(rejected) == {"tool.pdf", "blank.txt"}
    assert rejected["tool.pdf"]["type"] == "unsupported_media_type"
    assert "tool.pdf" in rejected["tool.pdf"]["message"]
    assert "executable" in rejected["tool.pdf"]["message"]
    assert rejected["blank.txt"]["type"] == "empty_file"
    assert "blank.txt is empty" in rejected["blank.txt"]["message"]
    assert all(wait_job(client, j["id"])["status"] == "done" for j in body["jobs"])
    docs = client.get("/api/v1/documents", params={"collection": "mixed"}).json()["documents"]
    assert sorted(d["file"] for d in docs) == ["fan.md", "heater.txt"]
    for d in docs:
        client.delete(f"/api/v1/documents/{d['id']}")
    assert not list((data_dir / "uploads").glob("incoming-*"))  # the bad files are not kept


def test_an_upload_of_only_bad_files_names_each(client: TestClient) -> None:
    files = [
        ("file", ("tool.pdf", b"\x7fELF\x02\x01\x01" + b"\0" * 200, "application/pdf")),
        ("file", ("blank.txt", b"", "text/plain")),
    ]
    message = _error(client.post("/api/v1/documents", files=files), 415)
    assert "tool.pdf" in message and "blank.txt is empty" in message


def test_reindex_keeps_the_document(client: TestClient) -> None:
    doc_id = _doc_id(client, "netgate-r7.pdf")
    r = client.post(f"/api/v1/documents/{doc_id}/reindex")
    assert r.status_code == 202
    assert wait_job(client, r.json()["id"])["status"] == "done"
    assert _doc_id(client, "netgate-r7.pdf") == doc_id


def _uploads_and_docs(client: TestClient, data_dir: Path) -> tuple[list, int]:
    leftovers = [p for p in (data_dir / "uploads").rglob("*") if p.is_file()]
    return leftovers, len(client.get("/api/v1/documents").json()["documents"])


def test_oversized_upload_is_413_by_content_length(client: TestClient, data_dir: Path) -> None:
    before = _uploads_and_docs(client, data_dir)[1]
    big = b"%PDF-1.4\n" + b"0" * int(LIMIT_MB * 1024 * 1024 * 2)
    r = client.post("/api/v1/documents", files={"file": ("big.pdf", big, "application/pdf")})
    assert "limit" in _error(r, 413, "too_large")
    assert _uploads_and_docs(client, data_dir) == ([], before)


def test_oversized_upload_is_413_while_streaming(client: TestClient, data_dir: Path) -> None:
    """No Content-Length (chunked): the bytes are counted as they arrive."""
    before = _uploads_and_docs(client, data_dir)[1]
    boundary = "folioboundary"

    def body() -> Iterator[bytes]:
        yield (
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="big.pdf"\r\n'
            "Content-Type: application/pdf\r\n\r\n%PDF-1.4\n"
        ).encode()
        for _ in range(40):
            yield b"1" * 65536  # 2.5 MB > 1 MB limit
        yield f"\r\n--{boundary}--\r\n".encode()

    r = client.post(
        "/api/v1/documents",
        content=body(),
        headers={"content-type": f"multipart/form-data; boundary={boundary}"},
    )
    assert "limit" in _error(r, 413, "too_large") or "larger" in r.json()["error"]["message"]
    assert _uploads_and_docs(client, data_dir) == ([], before)


@pytest.mark.parametrize(
    ("name", "content", "status", "needle"),
    [
        ("manual.pdf", b"\x89PNG\r\n\x1a\n" + b"\0" * 200, 415, "image (PNG)"),
        ("manual.pdf", b"\x7fELF\x02\x01\x01" + b"\0" * 200, 415, "executable"),
        ("manual.docx", b"PK\x05\x06" + b"\0" * 18, 415, "ZIP"),
        ("empty.pdf", b"", 400, "empty"),
    ],
)
def test_wrong_type_or_empty_upload(
    client: TestClient, data_dir: Path, name: str, content: bytes, status: int, needle: str
) -> None:
    before = _uploads_and_docs(client, data_dir)[1]
    r = client.post("/api/v1/documents", files={"file": (name, content, "application/pdf")})
    assert needle in _error(r, status)
    assert _uploads_and_docs(client, data_dir) == ([], before)


def test_upload_must_be_multipart_with_a_file(client: TestClient) -> None:
    _error(client.post("/api/v1/documents", json={"file": "x"}), 415, "unsupported_media_type")
    _error(client.post("/api/v1/documents", data={"collection": "x"}, files={}), 415)
    r = client.post("/api/v1/documents", files={"collection": (None, "default")})
    _error(r, 422, "no_file")
    r = client.post(
        "/api/v1/documents",
        params={"collection": "../etc"},
        files={"file": ("a.txt", b"hello", "text/plain")},
    )
    assert "invalid collection" in _error(r, 422)


def test_hostile_file_names_are_never_paths(
    client: TestClient, data_dir: Path, tmp_path: Path
) -> None:
    pdf = make_pdf(tmp_path / "x.pdf", ["Harmless page about the pressure gauge calibration."])
    boundary = "b0undary"
    raw_name = "../../../../evil\u202egnp\x00.pdf"
    body = (
        (
            f"--{boundary}\r\n"
            f'Content-Disposition: form-data; name="file"; filename="{raw_name}"\r\n'
            "Content-Type: application/pdf\r\n\r\n"
        ).encode()
        + pdf.read_bytes()
        + f"\r\n--{boundary}--\r\n".encode()
    )
    r = client.post(
        "/api/v1/documents",
        content=body,
        params={"collection": "hostile"},
        headers={"content-type": f"multipart/form-data; boundary={boundary}"},
    )
    assert r.status_code == 202, r.text
    job = wait_job(client, r.json()["job_id"])
    assert job["status"] == "done", job
    assert job["name"] == "evilgnp.pdf"
    assert not any(p.name.startswith("evil") for p in data_dir.parent.parent.rglob("evil*"))
    doc = client.get("/api/v1/documents", params={"collection": "hostile"}).json()["documents"][0]
    assert doc["file"] == "evilgnp.pdf"
    client.delete(f"/api/v1/documents/{doc['id']}")


def test_markup_in_manuals_and_questions_is_text(client: TestClient, tmp_path: Path) -> None:
    manual = tmp_path / "notes.txt"
    manual.write_text(
        "Valve safety <script>alert('owned')</script> <img src=x onerror=alert(2)>: close the "
        "bypass valve before servicing the compressor.\n",
        encoding="utf-8",
    )
    r = client.post(
        "/api/v1/documents",
        params={"collection": "markup"},
        files={"file": ("<img src=x onerror=alert(1)>.txt", manual.read_bytes(), "text/plain")},
    )
    job = wait_job(client, r.json()["job_id"])
    assert job["status"] == "done", job
    page = client.get("/manuals").text
    assert "<img src=x" not in page and "&lt;img src=x onerror=alert(1)&gt;.txt" in page
    hit = client.post(
        "/api/v1/search",
        json={"query": "bypass valve compressor <script>", "collections": ["markup"]},
    ).json()["passages"][0]
    panel = client.get(
        f"/ui/passage/{hit['chunk_id']}", params={"q": "<script> valve", "n": 1}
    ).text
    assert "<script>alert" not in panel and "<img src=x" not in panel
    assert "&lt;<mark>script</mark>&gt;alert" in panel  # escaped first, then highlighted
    assert "<mark>valve</mark>" in panel.lower()
    client.delete(f"/api/v1/documents/{hit['doc_id']}")


def test_passage_panel_highlights_and_links_the_page(client: TestClient) -> None:
    hit = client.post("/api/v1/search", json={"query": "impeller hours"}).json()["passages"][0]
    panel = client.get(f"/ui/passage/{hit['chunk_id']}", params={"q": "impeller hours", "n": 2})
    assert panel.status_code == 200
    assert "<mark>impeller</mark>" in panel.text
    assert f'href="/files/{hit["doc_id"]}#page=4"' in panel.text
    assert "Aquila P-20 Pump Manual" in panel.text and "p. 4" in panel.text
    _error(client.get("/ui/passage/nope"), 404)


def test_cross_site_writes_are_refused(client: TestClient) -> None:
    r = client.post(
        "/api/v1/ask",
        json={"question": "pump?", "retrieval_only": True},
        headers={"sec-fetch-site": "cross-site"},
    )
    _error(r, 403, "forbidden")


def test_restart_marks_running_jobs_interrupted(tmp_path: Path) -> None:
    from services.jobs import JobService
    from services.metrics import Metrics
    from services.store import Store

    settings = web_settings(tmp_path)
    store = Store(settings.web_db_path)
    for job_id, status in (("a", "running"), ("b", "done")):
        store.db.execute(
            "INSERT INTO jobs (id, kind, collection, name, status, created_at)"
            " VALUES (?, 'upload', 'default', 'x.pdf', ?, 1)",
            (job_id, status),
        )
    jobs = JobService(settings, store, Metrics())
    jobs.start()
    try:
        assert jobs.get("a").status == "interrupted"
        assert "server stopped" in jobs.get("a").describe()
        assert jobs.get("b").status == "done"
    finally:
        jobs.stop()


# --- OpenAI-compatible ---------------------------------------------------------------------------


def test_models_are_folio_and_one_per_collection(client: TestClient) -> None:
    body = client.get("/v1/models").json()
    collections = client.get("/api/v1/collections").json()["collections"]
    assert collections and body["object"] == "list"
    assert [m["id"] for m in body["data"]] == ["folio", *(f"folio-{c}" for c in collections)]


def test_chat_completions_shape(client: TestClient) -> None:
    messages = [
        {"role": "system", "content": "You are helpful."},
        {"role": "user", "content": "Hi"},
        {"role": "assistant", "content": "Hello"},
        {"role": "user", "content": "What is the capital of Peru?"},
    ]
    r = client.post("/v1/chat/completions", json={"model": "folio", "messages": messages})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["object"] == "chat.completion" and body["model"] == "folio"
    choice = body["choices"][0]
    assert choice["message"]["role"] == "assistant" and choice["finish_reason"] == "stop"
    assert choice["message"]["content"] == "The manuals do not cover this."
    assert body["citations"] == [] and body["folio"]["mode"] == "no-evidence"
    assert set(body["usage"]) == {"prompt_tokens", "completion_tokens", "total_tokens"}

    with client.stream(
        "POST", "/v1/chat/completions", json={"messages": messages, "stream": True}
    ) as s:
        events = parse_sse(s.iter_lines())
    data = [d for _, d in events]
    assert data[-1] == "[DONE]"
    chunks = [json.loads(d) for d in data[:-1]]
    assert all(c["object"] == "chat.completion.chunk" for c in chunks)
    assert chunks[0]["choices"][0]["delta"]["role"] == "assistant"
    text = "".join(c["choices"][0]["delta"].get("content", "") for c in chunks)
    assert text == "The manuals do not cover this."
    assert chunks[-1]["choices"][0]["finish_reason"] == "stop" and "citations" in chunks[-1]


def test_chat_completions_without_engine_is_503(client: TestClient) -> None:
    messages = [{"role": "user", "content": "How do I prime the pump?"}]
    _error(client.post("/v1/chat/completions", json={"messages": messages}), 503)
    bad = [{"role": "assistant", "content": "hi"}]
    _error(client.post("/v1/chat/completions", json={"messages": bad}), 422)


def test_metrics(client: TestClient) -> None:
    client.post("/api/v1/search", json={"query": "valve"})
    text = client.get("/metrics").text
    assert 'folio_http_requests_total{method="POST",route="/api/v1/search",status="200"}' in text
    assert 'folio_http_request_duration_seconds_bucket{le="0.1",method="POST"' in text
    assert "folio_ingest_pages_total" in text and "folio_engine_errors_total" in text
    assert "folio_documents " in text and "folio_engine_up 0.0" in text
