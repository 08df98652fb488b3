"""Proxies and hosts: the client address behind (un)trusted proxies, the login throttle and its
log, loopback mode's Host check (DNS rebinding) and same-origin writes without Sec-Fetch-Site."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from folio.logs import JsonFormatter
from folio.settings import Settings
from services.auth import forwarded_client, hash_password
from tests.web.conftest import LiveServer, web_settings
from web.app import create_app

PASSWORD = "the-right-password"
WRONG = "wrong-password-123"


class Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.lines: list[dict] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(json.loads(JsonFormatter().format(record)))


@pytest.fixture
def auth_log() -> Iterator[Records]:
    handler = Records()
    logger = logging.getLogger("folio.web.auth")
    logger.addHandler(handler)
    level = logger.level
    logger.setLevel(logging.INFO)
    yield handler
    logger.removeHandler(handler)
    logger.setLevel(level)


def test_client_address_is_read_from_the_right() -> None:
    trusted = ["10.0.0.0/8", "127.0.0.1"]
    assert Settings(_env_file=None).trusted_proxies == []  # nobody is believed by default
    # An untrusted peer is the client, whatever it claims.
    assert forwarded_client("203.0.113.5", ["1.2.3.4"], trusted) == "203.0.113.5"
    assert forwarded_client("127.0.0.1", ["1.2.3.4"], []) == "127.0.0.1"
    # Behind a trusted proxy: the rightmost hop that is not a trusted proxy, never the leftmost.
    assert forwarded_client("127.0.0.1", ["1.2.3.4, 198.51.100.7"], trusted) == "198.51.100.7"
    chain = ["spoofed", "198.51.100.7, 10.1.1.1"]  # two headers; an inner trusted proxy
    assert forwarded_client("127.0.0.1", chain, trusted) == "198.51.100.7"
    assert forwarded_client("127.0.0.1", ["10.0.0.2, 10.0.0.3"], trusted) == "10.0.0.2"
    assert forwarded_client("127.0.0.1", [], trusted) == "127.0.0.1"
    assert forwarded_client("127.0.0.1", ["[2001:db8::1]:443"], trusted) == "2001:db8::1"
    assert forwarded_client("127.0.0.1", ["198.51.100.7:5555"], trusted) == "198.51.100.7"


def _login(url: str, xff: str, password: str = WRONG, **headers: str) -> httpx.Response:
    return httpx.post(
        url + "/login",
        data={"username": "alice", "password": password},
        headers={"X-Forwarded-For": xff, **headers},
        timeout=30,
    )


@pytest.fixture(scope="module")
def auth_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """Auth on, on loopback, no trusted proxy (the default)."""
    data_dir = tmp_path_factory.mktemp("proxies-auth") / "index"
    settings = web_settings(
        data_dir, auth=True, auth_user="alice", auth_password_hash=hash_password(PASSWORD)
    )
    assert settings.trusted_proxies == []
    live = LiveServer(create_app(settings)).start()
    yield live
    live.stop()


def test_rotating_forwarded_for_does_not_dodge_the_throttle(
    auth_server: LiveServer, auth_log: Records
) -> None:
    statuses = [_login(auth_server.url, f"198.51.100.{i}").status_code for i in range(1, 13)]
    first_429 = statuses.index(429) + 1
    print(f"\n12 wrong logins, rotating X-Forwarded-For, no trusted proxy: {statuses}")
    assert statuses[:5] == [401] * 5 and first_429 == 6
    assert set(statuses[5:]) == {429}
    assert _login(auth_server.url, "198.51.100.99", PASSWORD).status_code == 429
    failed = [r for r in auth_log.lines if r.get("event") == "login_failed"]
    assert len(failed) == 5
    assert all(r["user"] == "alice" and r["client"] == "127.0.0.1" for r in failed)
    assert [r["failures"] for r in failed] == [1, 2, 3, 4, 5]
    throttled = [r for r in auth_log.lines if r.get("event") == "login_throttled"]
    assert len(throttled) == 8 and throttled[0]["client"] == "127.0.0.1"
    text = json.dumps(auth_log.lines)
    assert WRONG not in text and PASSWORD not in text


def test_a_trusted_proxy_throttles_the_real_client(tmp_path_factory, auth_log: Records) -> None:
    data_dir = tmp_path_factory.mktemp("proxies-trusted") / "index"
    settings = web_settings(
        data_dir, auth=True, auth_user="alice", auth_password_hash=hash_password(PASSWORD),
        trusted_proxies=["testclient"],
    )  # fmt: skip
    with TestClient(create_app(settings)) as c:
        statuses = []
        for i in range(1, 13):  # the client rotates the leftmost hop; the proxy appends its own
            xff = f"10.9.9.{i}, 198.51.100.7"
            r = c.post(
                "/login",
                data={"username": "alice", "password": WRONG},
                headers={"X-Forwarded-For": xff},
            )
            statuses.append(r.status_code)
        assert statuses.index(429) + 1 == 6 and set(statuses[5:]) == {429}
        other = c.post(
            "/login",
            data={"username": "alice", "password": WRONG},
            headers={"X-Forwarded-For": "10.9.9.1, 198.51.100.8"},
        )
        assert other.status_code == 401  # another real client is not locked out
    clients = {r["client"] for r in auth_log.lines if r.get("event") == "login_failed"}
    assert clients == {"198.51.100.7", "198.51.100.8"}


def test_host_is_not_checked_when_auth_is_on(auth_server: LiveServer) -> None:
    r = httpx.get(auth_server.url + "/health", headers={"Host": "folio.example.com"})
    assert r.status_code == 200


# --- loopback mode -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def local(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """Auth unset, bound to loopback: auth off, the single local user."""
    data_dir = tmp_path_factory.mktemp("proxies-local") / "index"
    settings = web_settings(data_dir, auth=None, allowed_hosts=["folio.lan"])
    app = create_app(settings)
    assert app.state.rt.auth is False
    live = LiveServer(app).start()
    yield live
    live.stop()


def test_loopback_mode_answers_only_to_loopback_names(local: LiveServer) -> None:
    port = local.port
    for host in (f"rebind.example:{port}", "rebind.example", "192.168.1.10", "localhost.evil.io"):
        r = httpx.get(local.url + "/api/v1/documents", headers={"Host": host})
        assert r.status_code == 421, host
        error = r.json()["error"]
        assert error["type"] == "misdirected_request" and "FOLIO_ALLOWED_HOSTS" in error["message"]
        r = httpx.post(local.url + "/api/v1/search", json={"query": "x"}, headers={"Host": host})
        assert r.status_code == 421
    for host in (
        f"localhost:{port}", f"127.0.0.1:{port}", f"[::1]:{port}", "127.0.0.2", "LOCALHOST.",
        "folio.lan", f"folio.lan:{port}",
    ):  # fmt: skip
        r = httpx.get(local.url + "/api/v1/documents", headers={"Host": host})
        assert r.status_code == 200, host


def test_writes_need_a_same_origin_origin_without_sec_fetch_site(local: LiveServer) -> None:
    url, port = local.url, local.port

    def search(**headers: str) -> httpx.Response:
        return httpx.post(url + "/api/v1/search", json={"query": "pump"}, headers=headers)

    for headers in (
        {"Origin": "http://evil.example"},
        {"Origin": "null"},
        {"Origin": f"http://127.0.0.1:{port + 1}"},
        {"Origin": f"http://localhost:{port}"},  # Host is 127.0.0.1:port: another origin
        {"Referer": "http://evil.example/page.html"},
        {"Origin": "http://evil.example", "Referer": f"{url}/"},
    ):
        r = search(**headers)
        assert r.status_code == 403, headers
        assert r.json()["error"]["type"] == "forbidden"
    r = httpx.post(url + "/ui/jobs/dismiss", headers={"Origin": "http://evil.example"})
    assert r.status_code == 403
    assert search(**{"Sec-Fetch-Site": "cross-site"}).status_code == 403
    # Folio's own pages, browsers that send Sec-Fetch-Site, and clients that are no browser.
    assert search(Origin=url).status_code == 200
    assert search(Referer=f"{url}/manuals").status_code == 200
    assert search(Origin=f"http://localhost:{port}", Host=f"localhost:{port}").status_code == 200
    assert search(**{"Sec-Fetch-Site": "same-origin", "Origin": url}).status_code == 200
    assert search().status_code == 200  # curl
    assert httpx.get(
        url + "/api/v1/documents", headers={"Origin": "http://evil.example"}
    ).is_success


def test_settings_lists_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FOLIO_TRUSTED_PROXIES", "10.0.0.0/8, 192.168.1.2")
    monkeypatch.setenv("FOLIO_ALLOWED_HOSTS", '["folio.lan", "folio"]')
    monkeypatch.setenv("FOLIO_TRUSTED_USER_COLLECTIONS", "support")
    s = Settings(_env_file=None, data_dir=Path("/tmp/unused"))
    assert s.trusted_proxies == ["10.0.0.0/8", "192.168.1.2"]
    assert s.allowed_hosts == ["folio.lan", "folio"]
    assert s.trusted_user_collections == ["support"]
