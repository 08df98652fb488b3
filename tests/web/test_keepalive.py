"""An idle keep-alive connection outlives the clients' idle expiry (5 s for httpx and requests).

With uvicorn's default 5 s the server closed idle connections just as busy clients reused them:
resets before any response under load (tests/bench/bench_load.py). One raw socket, two requests
6 s apart, against uvicorn started with `folio serve`'s options (`web.app.server_options`).
"""

from __future__ import annotations

import socket
import time

from tests.web.conftest import LiveServer, web_settings
from web.app import create_app

REQUEST = b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"


def read_response(sock: socket.socket) -> bytes:
    """One HTTP/1.1 response (headers and a Content-Length body); b"" if the server closed."""
    data = b""
    while b"\r\n\r\n" not in data:
        got = sock.recv(65536)
        if not got:
            return data
        data += got
    head, _, body = data.partition(b"\r\n\r\n")
    length = next(
        int(line.split(b":", 1)[1]) for line in head.split(b"\r\n")
        if line.lower().startswith(b"content-length:")
    )  # fmt: skip
    while len(body) < length:
        body += sock.recv(65536)
    return head


def two_requests_apart(url_port: int, idle_s: float) -> tuple[bytes, bytes]:
    with socket.create_connection(("127.0.0.1", url_port), timeout=30) as sock:
        sock.sendall(REQUEST)
        first = read_response(sock)
        time.sleep(idle_s)
        try:
            sock.sendall(REQUEST)
            second = read_response(sock)
        except (ConnectionResetError, BrokenPipeError):
            second = b""
    return first, second


def test_an_idle_connection_is_still_served_after_6_seconds(tmp_path):
    settings = web_settings(tmp_path / "index")
    assert settings.keepalive_timeout_s > 6
    live = LiveServer(create_app(settings)).start()
    try:
        first, second = two_requests_apart(live.port, 6.0)
    finally:
        live.stop()
    assert first.startswith(b"HTTP/1.1 200")
    assert second.startswith(b"HTTP/1.1 200")  # same socket, no reset


def test_a_shorter_keepalive_timeout_closes_the_idle_connection(tmp_path):
    # the control: the setting is what keeps the connection, not the test's socket
    settings = web_settings(tmp_path / "index", keepalive_timeout_s=1.0)
    live = LiveServer(create_app(settings)).start()
    try:
        first, second = two_requests_apart(live.port, 3.0)
    finally:
        live.stop()
    assert first.startswith(b"HTTP/1.1 200")
    assert second == b""
