"""Bounded requests: body-size caps per route class, enforced while reading and before auth
(413), and caps on what a request may ask for (422, never 500)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import psutil
import pytest
from fastapi.testclient import TestClient

from tests.web.conftest import LiveServer, build_index, web_settings
from web.app import create_app
from web.schemas import MAX_HISTORY_CHARS

MB = 1 << 20


class CountingApp:
    """The real app, with the body bytes it was handed counted on the way in."""

    def __init__(self, app) -> None:
        self.app = app
        self.body_bytes = 0

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def counted():
            message = await receive()
            if message["type"] == "http.request":
                self.body_bytes += len(message.get("body", b""))
            return message

        await self.app(scope, counted, send)


class PeakRss:
    """The process's peak RSS while the block runs (the test server runs in this process)."""

    def __enter__(self) -> PeakRss:
        self.proc = psutil.Process()
        self.base = self.peak = self.proc.memory_info().rss
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def _sample(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self.proc.memory_info().rss)
            time.sleep(0.002)

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self.proc.memory_info().rss)

    @property
    def growth_mb(self) -> float:
        return (self.peak - self.base) / MB


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LiveServer, CountingApp]]:
    """Auth on, nobody logged in: every request here is unauthenticated."""
    data_dir = tmp_path_factory.mktemp("limits-live") / "index"
    app = CountingApp(create_app(web_settings(data_dir, auth=True)))
    server = LiveServer(app).start()
    app.app.state.rt.warm()  # the query model is loaded now, not while RSS is measured
    yield server, app
    server.stop()


def _huge_json(total: int, counter: list[int]) -> Iterator[bytes]:
    """A JSON body of `total` bytes, made as it is sent (the client holds 64 KB at a time)."""
    chunk = b"x" * 65536
    yield b'{"question": "'
    counter[0] = 14
    while counter[0] < total:
        counter[0] += len(chunk)
        yield chunk
    yield b'"}'


@pytest.mark.parametrize("declared", [False, True], ids=["chunked", "content-length"])
def test_300_mb_unauthenticated_body_is_refused_after_the_cap(live, declared: bool) -> None:
    server, app = live
    cap = server.app.app.state.rt.settings.max_api_body_kb * 1024
    total, sent = 300 * MB, [0]
    headers = {"content-type": "application/json"}
    if declared:
        headers["content-length"] = str(total + 2)
    app.body_bytes = 0
    started = time.perf_counter()
    with PeakRss() as rss:
        r = httpx.post(
            server.url + "/api/v1/ask", content=_huge_json(total, sent), headers=headers, timeout=60
        )
    elapsed = time.perf_counter() - started
    assert r.status_code == 413, r.text
    assert r.json()["error"]["type"] == "too_large"
    assert "FOLIO_MAX_API_BODY_KB" in r.json()["error"]["message"]
    assert r.headers["connection"] == "close"
    # The app was handed at most the cap and the one receive() message that passed it (uvicorn
    # hands over at most ~64 KB + one socket read): with a declared length, nothing at all.
    assert app.body_bytes <= cap + 512 * 1024
    if declared:
        assert app.body_bytes == 0
    # The server stopped reading: what the client got rid of is the cap plus socket buffers,
    # not 300 MB.
    assert sent[0] < 32 * MB, sent[0]
    assert rss.growth_mb < 50, rss.growth_mb
    print(
        f"\n413 ({'Content-Length' if declared else 'chunked'}): app read {app.body_bytes:,} "
        f"bytes (cap {cap:,}), client sent {sent[0]:,} of {total:,}, "
        f"RSS growth {rss.growth_mb:.1f} MB, {elapsed:.2f} s"
    )


def test_300_mb_unauthenticated_upload_is_refused_unread(live) -> None:
    """The upload route authenticates before it reads: a 401 without reading the body, and the
    connection is closed instead of the rest being read and dropped. Declared too large: 413."""
    server, app = live
    boundary = "b0undary"

    def body(counter: list[int]) -> Iterator[bytes]:
        yield (
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="x.pdf"\r\n'
            "Content-Type: application/pdf\r\n\r\n"
        ).encode()
        chunk = b"0" * 65536
        while counter[0] < 300 * MB:
            counter[0] += len(chunk)
            yield chunk

    ctype = {"content-type": f"multipart/form-data; boundary={boundary}"}
    for headers, status in ((ctype, 401), ({**ctype, "content-length": str(300 * MB)}, 413)):
        app.body_bytes, sent = 0, [0]
        with PeakRss() as rss:
            r = httpx.post(
                server.url + "/api/v1/documents", content=body(sent), headers=headers, timeout=60
            )
        assert r.status_code == status, r.text
        assert r.headers["connection"] == "close"
        assert app.body_bytes == 0 and sent[0] < 32 * MB, (app.body_bytes, sent[0])
        assert rss.growth_mb < 50
        print(
            f"\nupload {status}: app read {app.body_bytes:,} bytes, client sent {sent[0]:,}, "
            f"RSS growth {rss.growth_mb:.1f} MB"
        )


def test_the_server_still_answers_after_refusing(live) -> None:
    server, _ = live
    assert httpx.get(server.url + "/health", timeout=10).status_code == 200
    r = httpx.post(server.url + "/api/v1/ask", json={"question": "pump?"}, timeout=10)
    assert r.status_code == 401  # within the cap, auth decides


# --- per route class (the default caps) ----------------------------------------------------


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory, manuals: dict[str, Path]) -> Path:
    path = tmp_path_factory.mktemp("limits") / "index"
    build_index(path, manuals)
    return path


@pytest.fixture(scope="module")
def client(data_dir: Path) -> Iterator[TestClient]:
    with TestClient(create_app(web_settings(data_dir, max_file_mb=0.25))) as c:
        yield c


def _too_large(r: httpx.Response, setting: str) -> None:
    assert r.status_code == 413, r.text
    body = r.json()
    assert body["error"]["type"] == "too_large" and setting in body["error"]["message"]


@pytest.mark.parametrize(
    ("path", "cap_kb", "setting"),
    [
        ("/api/v1/search", 1024, "FOLIO_MAX_API_BODY_KB"),
        ("/api/v1/ask", 1024, "FOLIO_MAX_API_BODY_KB"),
        ("/api/v1/feedback", 1024, "FOLIO_MAX_API_BODY_KB"),
        ("/v1/chat/completions", 4096, "FOLIO_MAX_OPENAI_BODY_KB"),
        ("/login", 64, "FOLIO_MAX_FORM_BODY_KB"),
        ("/ui/jobs/dismiss", 64, "FOLIO_MAX_FORM_BODY_KB"),
    ],
)
def test_each_route_class_has_its_cap(
    client: TestClient, path: str, cap_kb: int, setting: str
) -> None:
    over = b"x" * (cap_kb * 1024 + 1)
    _too_large(client.post(path, content=over), setting)

    def chunks() -> Iterator[bytes]:  # no Content-Length: counted while read
        for _ in range(cap_kb + 1):
            yield b"y" * 1024

    ctype = "application/x-www-form-urlencoded" if path == "/login" else "application/json"
    r = client.post(path, content=chunks(), headers={"content-type": ctype})
    if path.startswith("/ui/"):
        assert r.status_code == 204  # a route that reads no body is not refused for one
    else:
        _too_large(r, setting)
    under = client.post(path, content=b"{}", headers={"content-type": "application/json"})
    assert under.status_code != 413


def test_upload_cap_is_the_file_limit(client: TestClient) -> None:
    big = b"%PDF-1.4\n" + b"0" * (2 * MB)
    r = client.post("/api/v1/documents", files={"file": ("big.pdf", big, "application/pdf")})
    _too_large(r, "FOLIO_MAX_FILE_MB")
    small = client.post(
        "/api/v1/documents", files={"file": ("notes.md", b"# Notes\n\nFine.\n", "text/markdown")}
    )
    assert small.status_code == 202, small.text


# --- what a request may ask for: 422 -------------------------------------------------------


def _invalid(r: httpx.Response, needle: str) -> None:
    assert r.status_code == 422, r.text
    error = r.json()["error"]
    assert error["type"] == "invalid_request" and needle in error["message"], error


def test_100000_collection_names_are_422_not_500(client: TestClient) -> None:
    many = ["a"] * 100_000  # 400 KB of JSON: inside the body caps
    for path, body in (
        ("/api/v1/search", {"query": "pump", "collections": many}),
        ("/api/v1/ask", {"question": "pump?", "collections": many, "retrieval_only": True}),
        (
            "/v1/chat/completions",
            {"messages": [{"role": "user", "content": "pump?"}], "collections": many},
        ),
    ):
        _invalid(client.post(path, json=body), "at most 100 items")


def test_caps_on_question_history_k_and_lists(client: TestClient) -> None:
    ask = {"question": "How do I prime the pump?", "retrieval_only": True}
    assert client.post("/api/v1/ask", json=ask).status_code == 200
    _invalid(client.post("/api/v1/ask", json={**ask, "question": "why " * 1001}), "limit is 4000")
    turn = {"role": "user", "content": "and then?"}
    _invalid(client.post("/api/v1/ask", json={**ask, "history": [turn] * 41}), "at most 40")
    long_turn = {"role": "assistant", "content": "z" * 20_000}
    r = client.post("/api/v1/ask", json={**ask, "history": [long_turn] * 5})
    assert r.status_code == 200  # 100,000 characters: the limit exactly
    r = client.post("/api/v1/ask", json={**ask, "history": [long_turn] * 5 + [turn]})
    _invalid(r, f"the limit is {MAX_HISTORY_CHARS}")
    _invalid(client.post("/api/v1/search", json={"query": "pump", "k": 51}), "k")
    _invalid(client.post("/api/v1/search", json={"query": "pump", "k": 0}), "k")
    ids = [f"{i:016x}" for i in range(101)]
    _invalid(client.post("/api/v1/search", json={"query": "pump", "doc_ids": ids}), "doc_ids")
    _invalid(
        client.post("/api/v1/search", json={"query": "pump", "collections": ["c" * 65]}),
        "collections",
    )
    chat = {"messages": [{"role": "user", "content": "hi"}] * 501}
    _invalid(client.post("/v1/chat/completions", json=chat), "at most 500")
