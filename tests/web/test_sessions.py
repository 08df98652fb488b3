"""Sessions that end: server-side session ids, ended by logout, by a password change and by the
user's removal; a new id at every login."""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from services.auth import SESSION_COOKIE, hash_password
from tests.web.conftest import web_settings
from web.app import create_app

ALICE_PW = "alice-pw-1234"
BOB_PW = "bob-pw-5678"


def _write_users(path: Path, text: str) -> None:
    """Rewrite the users file so that its mtime surely changes (it is re-read on change)."""
    before = path.stat().st_mtime if path.exists() else 0.0
    path.write_text(text, encoding="utf-8")
    stamp = max(time.time(), before + 1)
    os.utime(path, (stamp, stamp))


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("sessions") / "index"
    path.mkdir(parents=True)
    _write_users(path / "users.txt", f"bob:{hash_password(BOB_PW)}\n")
    return path


@pytest.fixture(scope="module")
def client(data_dir: Path) -> Iterator[TestClient]:
    settings = web_settings(
        data_dir, auth=True, auth_user="alice", auth_password_hash=hash_password(ALICE_PW)
    )
    with TestClient(create_app(settings)) as c:
        yield c


def login(client: TestClient, user: str, password: str, old: str | None = None) -> str:
    client.cookies.clear()
    headers = {"Cookie": f"{SESSION_COOKIE}={old}"} if old else {}
    r = client.post(
        "/login",
        data={"username": user, "password": password},
        headers=headers,
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text
    value = r.cookies[SESSION_COOKIE]
    client.cookies.clear()
    return value


def with_cookie(value: str, **extra: str) -> dict[str, str]:
    return {"Cookie": f"{SESSION_COOKIE}={value}", **extra}


def api_status(client: TestClient, value: str) -> int:
    client.cookies.clear()
    return client.get("/api/v1/documents", headers=with_cookie(value)).status_code


def csrf_of(client: TestClient, value: str) -> str:
    page = client.get("/", headers=with_cookie(value, accept="text/html"))
    assert page.status_code == 200
    return page.text.split('data-csrf="')[1].split('"')[0]


def test_old_cookie_after_logout_is_401_and_pages_go_to_login(client: TestClient) -> None:
    cookie = login(client, "alice", ALICE_PW)
    assert api_status(client, cookie) == 200
    csrf = csrf_of(client, cookie)
    out = client.post(
        "/logout", data={"csrf_token": csrf}, headers=with_cookie(cookie), follow_redirects=False
    )
    assert out.status_code == 303 and out.headers["location"] == "/login"
    # The browser would drop the cookie; someone who kept a copy finds it dead.
    r = client.get("/api/v1/documents", headers=with_cookie(cookie))
    assert r.status_code == 401 and r.json()["error"]["type"] == "unauthorized"
    r = client.post(
        "/api/v1/search",
        json={"query": "pump"},
        headers=with_cookie(cookie, **{"X-CSRF-Token": csrf}),
    )
    assert r.status_code == 401
    page = client.get("/manuals", headers=with_cookie(cookie, accept="text/html"),
                      follow_redirects=False)  # fmt: skip
    assert page.status_code == 303 and page.headers["location"] == "/login?next=/manuals"
    fragment = client.get("/ui/status", headers=with_cookie(cookie, **{"HX-Request": "true"}))
    assert fragment.status_code == 401 and fragment.headers["hx-redirect"] == "/login"


def test_login_rotates_the_session_id(client: TestClient) -> None:
    first = login(client, "alice", ALICE_PW)
    second = login(client, "alice", ALICE_PW, old=first)  # logging in again with `first`
    assert second != first
    assert api_status(client, first) == 401  # the id the login form was sent with ended
    assert api_status(client, second) == 200
    elsewhere = login(client, "alice", ALICE_PW)  # another browser: its own session
    assert api_status(client, elsewhere) == 200 and api_status(client, second) == 200


def test_password_change_ends_existing_sessions(client: TestClient, data_dir: Path) -> None:
    users = data_dir / "users.txt"
    cookie = login(client, "bob", BOB_PW)
    assert api_status(client, cookie) == 200
    _write_users(users, f"bob:{hash_password('a-new-password')}\n")
    try:
        assert api_status(client, cookie) == 401
        client.cookies.clear()
        old = client.post("/login", data={"username": "bob", "password": BOB_PW})
        assert old.status_code == 401
        fresh = login(client, "bob", "a-new-password")
        assert api_status(client, fresh) == 200
    finally:
        _write_users(users, f"bob:{hash_password(BOB_PW)}\n")


def test_removing_a_user_ends_their_sessions_for_good(client: TestClient, data_dir: Path) -> None:
    users = data_dir / "users.txt"
    line = users.read_text(encoding="utf-8")
    cookie = login(client, "bob", BOB_PW)
    assert api_status(client, cookie) == 200
    _write_users(users, "# nobody\n")
    assert api_status(client, cookie) == 401
    _write_users(users, line)  # back, with the very same password hash
    assert api_status(client, cookie) == 401  # the session was deleted, not suspended
    assert api_status(client, login(client, "bob", BOB_PW)) == 200


def test_sessions_are_stored_as_hashes_and_expire(client: TestClient, data_dir: Path) -> None:
    cookie = login(client, "alice", ALICE_PW)
    raw = (data_dir / "web.sqlite3").read_bytes()
    wal = data_dir / "web.sqlite3-wal"
    raw += wal.read_bytes() if wal.exists() else b""
    assert cookie.encode() not in raw
    rt = client.app.state.rt
    sid = hashlib.sha256(cookie.encode()).hexdigest()
    row = rt.store.db.execute("SELECT user, expires_at FROM sessions WHERE id=?", (sid,)).fetchone()
    assert row["user"] == "alice" and row["expires_at"] > time.time() + 11 * 3600
    rt.store.db.execute("UPDATE sessions SET expires_at=? WHERE id=?", (time.time() - 1, sid))
    assert api_status(client, cookie) == 401
    assert api_status(client, "forged-" + cookie) == 401
