"""Access control: API keys (via the real `folio keys` CLI), browser login, CSRF, proxy header,
and collection scoping, against a real index."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from cli.main import app as cli
from services.auth import hash_password, is_loopback, parse_users, verify_password
from tests.web.conftest import build_index, web_settings
from web.app import create_app

PASSWORD = "correct horse battery"


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory, manuals: dict[str, Path]) -> Path:
    path = tmp_path_factory.mktemp("auth") / "index"
    build_index(path, manuals)
    (path / "users.txt").write_text(
        f"# name:hash[:collections]\nbob:{hash_password(PASSWORD)}:network\n", encoding="utf-8"
    )
    return path


def _cli(data_dir: Path, *args: str) -> str:
    result = CliRunner().invoke(cli, ["--data-dir", str(data_dir), *args])
    assert result.exit_code == 0, result.output
    return result.stdout


@pytest.fixture(scope="module")
def keys(data_dir: Path) -> dict[str, str]:
    return {
        "all": _cli(data_dir, "keys", "create", "--name", "ops").strip().splitlines()[-1],
        "network": _cli(data_dir, "keys", "create", "--name", "wiki", "--collections", "network")
        .strip()
        .splitlines()[-1],
        "reader": _cli(data_dir, "keys", "create", "--name", "reader", "--read-only")
        .strip()
        .splitlines()[-1],
    }


@pytest.fixture(scope="module")
def client(data_dir: Path, keys: dict[str, str]) -> Iterator[TestClient]:
    settings = web_settings(
        data_dir,
        auth=True,
        auth_user="alice",
        auth_password_hash=hash_password(PASSWORD),
        trusted_user_header="X-Forwarded-User",
        trusted_proxies=["testclient", "127.0.0.1"],
    )
    with TestClient(create_app(settings)) as c:
        yield c


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_keys_are_stored_hashed_and_listed(data_dir: Path, keys: dict[str, str]) -> None:
    assert all(k.startswith("folio_") and len(k) > 40 for k in keys.values())
    raw = (data_dir / "web.sqlite3").read_bytes()
    assert keys["all"].encode() not in raw
    listing = _cli(data_dir, "keys", "list")
    assert "wiki" in listing and "network" in listing and "read-only" in listing
    again = CliRunner().invoke(
        cli, ["--data-dir", str(data_dir), "keys", "create", "--name", "wiki"]
    )
    assert again.exit_code == 1


def test_everything_but_health_needs_credentials(client: TestClient) -> None:
    assert client.get("/health").status_code == 200
    for method, path in (
        ("GET", "/api/v1/documents"),
        ("POST", "/api/v1/search"),
        ("POST", "/api/v1/ask"),
        ("GET", "/v1/models"),
        ("POST", "/v1/chat/completions"),
    ):
        r = client.request(method, path, json={})
        assert r.status_code == 401, path
        assert r.json()["error"]["type"] == "unauthorized"
        assert "folio keys create" in r.json()["error"]["message"]
        assert r.headers["www-authenticate"].startswith("Bearer")
    r = client.get("/api/v1/documents", headers=bearer("folio_not-a-real-key"))
    assert r.status_code == 401 and "not valid" in r.json()["error"]["message"]
    assert (
        client.get("/api/v1/documents", headers={"Authorization": "Basic eDp5"}).status_code == 401
    )
    page = client.get("/manuals", headers={"accept": "text/html"}, follow_redirects=False)
    assert page.status_code == 303 and page.headers["location"] == "/login?next=/manuals"


def test_key_with_all_collections(client: TestClient, keys: dict[str, str]) -> None:
    docs = client.get("/api/v1/documents", headers=bearer(keys["all"])).json()["documents"]
    assert {d["collection"] for d in docs} == {"default", "network"}
    assert client.get("/v1/models", headers=bearer(keys["all"])).status_code == 200


def test_key_restricted_to_a_collection(client: TestClient, keys: dict[str, str]) -> None:
    h = bearer(keys["network"])
    docs = client.get("/api/v1/documents", headers=h).json()["documents"]
    assert {d["collection"] for d in docs} == {"network"}
    hits = client.post("/api/v1/search", json={"query": "error E42 overheated"}, headers=h)
    assert {p["collection"] for p in hits.json()["passages"]} <= {"network"}
    r = client.post("/api/v1/search", json={"query": "pump", "collections": ["default"]}, headers=h)
    assert r.status_code == 403 and "network" in r.json()["error"]["message"]
    r = client.post(
        "/api/v1/ask",
        json={"question": "pump?", "collections": ["default"], "retrieval_only": True},
        headers=h,
    )
    assert r.status_code == 403
    pump = next(
        d["id"]
        for d in client.get("/api/v1/documents", headers=bearer(keys["all"])).json()["documents"]
        if d["collection"] == "default"
    )
    assert client.get(f"/files/{pump}", headers=h).status_code == 404
    assert client.delete(f"/api/v1/documents/{pump}", headers=h).status_code == 404
    r = client.post(
        "/api/v1/documents",
        params={"collection": "default"},
        files={"file": ("a.txt", b"hello there", "text/plain")},
        headers=h,
    )
    assert r.status_code == 403
    assert client.get("/api/v1/collections", headers=h).json() == {"collections": ["network"]}


def test_read_only_key_cannot_write(client: TestClient, keys: dict[str, str]) -> None:
    h = bearer(keys["reader"])
    r = client.post(
        "/api/v1/documents", files={"file": ("a.txt", b"hello there", "text/plain")}, headers=h
    )
    assert r.status_code == 403 and "read-only" in r.json()["error"]["message"]
    r = client.post("/api/v1/search", json={"query": "router reset"}, headers=h)
    assert r.status_code == 200


def test_revoked_key_is_refused(client: TestClient, data_dir: Path) -> None:
    token = _cli(data_dir, "keys", "create", "--name", "temp").strip().splitlines()[-1]
    assert client.get("/api/v1/documents", headers=bearer(token)).status_code == 200
    _cli(data_dir, "keys", "revoke", "temp")
    assert client.get("/api/v1/documents", headers=bearer(token)).status_code == 401


def test_browser_login_session_and_csrf(client: TestClient) -> None:
    client.cookies.clear()
    page = client.get("/", headers={"accept": "text/html"}, follow_redirects=False)
    assert page.status_code == 303
    form = client.get("/login?next=/manuals")
    assert form.status_code == 200 and 'name="password"' in form.text
    bad = client.post("/login", data={"username": "alice", "password": "nope", "next": "/"})
    assert bad.status_code == 401 and "Wrong user name or password" in bad.text
    ok = client.post(
        "/login",
        data={"username": "alice", "password": PASSWORD, "next": "//evil.example/"},
        follow_redirects=False,
    )
    assert ok.status_code == 303 and ok.headers["location"] == "/"
    cookie = ok.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=lax" in cookie and "secure" not in cookie
    home = client.get("/")
    assert home.status_code == 200 and "alice" in home.text
    csrf = home.text.split('data-csrf="')[1].split('"')[0]
    body = {"question": "How do I prime the pump?", "retrieval_only": True}
    r = client.post("/api/v1/ask", json=body)
    assert r.status_code == 403 and r.json()["error"]["type"] == "csrf"
    r = client.post("/api/v1/ask", json=body, headers={"X-CSRF-Token": csrf})
    assert r.status_code == 200 and r.json()["passages"]
    out = client.post("/logout", data={"csrf_token": csrf}, follow_redirects=False)
    assert out.status_code == 303
    client.cookies.clear()
    assert client.get("/api/v1/documents").status_code == 401


def test_user_from_users_file_is_scoped(client: TestClient) -> None:
    client.cookies.clear()
    client.post("/login", data={"username": "bob", "password": PASSWORD}, follow_redirects=False)
    docs = client.get("/api/v1/documents").json()["documents"]
    assert {d["collection"] for d in docs} == {"network"}
    client.cookies.clear()


def test_secure_cookie_behind_https_proxy(client: TestClient) -> None:
    client.cookies.clear()
    ok = client.post(
        "/login",
        data={"username": "alice", "password": PASSWORD},
        headers={"X-Forwarded-Proto": "https"},
        follow_redirects=False,
    )
    assert "secure" in ok.headers["set-cookie"].lower()
    client.cookies.clear()


def test_trusted_proxy_header(client: TestClient) -> None:
    client.cookies.clear()
    r = client.get("/api/v1/documents", headers={"X-Forwarded-User": "bob"})
    assert r.status_code == 200
    assert {d["collection"] for d in r.json()["documents"]} == {"network"}
    # In no users file and no FOLIO_TRUSTED_USER_COLLECTIONS: no collection at all.
    carol = {"X-Forwarded-User": "carol"}
    r = client.get("/api/v1/documents", headers=carol)
    assert r.status_code == 200 and r.json()["documents"] == []
    assert client.get("/api/v1/collections", headers=carol).json() == {"collections": []}
    page = client.get("/", headers={**carol, "accept": "text/html"})
    csrf = page.text.split('data-csrf="')[1].split('"')[0]
    for path, body in (
        ("/api/v1/search", {"query": "router reset"}),
        ("/api/v1/ask", {"question": "router reset?", "retrieval_only": True}),
    ):
        r = client.post(path, json=body, headers={**carol, "X-CSRF-Token": csrf})
        assert r.status_code == 403 and "may not search any collection" in r.text
    r = client.post(
        "/api/v1/documents",
        files={"file": ("a.txt", b"hello there", "text/plain")},
        headers={**carol, "X-CSRF-Token": csrf},
    )
    assert r.status_code == 403


def test_proxy_users_need_the_csrf_token(client: TestClient) -> None:
    client.cookies.clear()
    bob = {"X-Forwarded-User": "bob"}
    r = client.post("/api/v1/search", json={"query": "router reset"}, headers=bob)
    assert r.status_code == 403 and r.json()["error"]["type"] == "csrf"
    page = client.get("/", headers={**bob, "accept": "text/html"})
    csrf = page.text.split('data-csrf="')[1].split('"')[0]
    r = client.post(
        "/api/v1/search", json={"query": "router reset"}, headers={**bob, "X-CSRF-Token": csrf}
    )
    assert r.status_code == 200 and r.json()["passages"]
    carol = client.get("/", headers={"X-Forwarded-User": "carol", "accept": "text/html"})
    assert csrf not in carol.text  # a token per user
    r = client.post("/ui/jobs/dismiss", headers=bob)
    assert r.status_code == 403
    r = client.post("/ui/jobs/dismiss", headers={**bob, "X-CSRF-Token": csrf})
    assert r.status_code == 204


@pytest.mark.parametrize(
    ("granted", "seen"), [(["network"], {"network"}), (["*"], {"default", "network"})]
)
def test_proxy_user_default_collections(data_dir: Path, granted: list[str], seen: set[str]) -> None:
    settings = web_settings(
        data_dir, auth=True, trusted_user_header="X-Forwarded-User",
        trusted_proxies=["testclient"], trusted_user_collections=granted,
    )  # fmt: skip
    with TestClient(create_app(settings)) as c:
        r = c.get("/api/v1/documents", headers={"X-Forwarded-User": "carol"})
        assert {d["collection"] for d in r.json()["documents"]} == seen
        r = c.get("/api/v1/documents", headers={"X-Forwarded-User": "bob"})
        assert {d["collection"] for d in r.json()["documents"]} == {"network"}  # the users file


def test_proxy_header_from_an_untrusted_peer_is_ignored(data_dir: Path) -> None:
    settings = web_settings(data_dir, auth=True, trusted_user_header="X-Forwarded-User")
    with TestClient(create_app(settings)) as c:  # no trusted proxies: the default
        assert c.get("/api/v1/documents", headers={"X-Forwarded-User": "bob"}).status_code == 401


def test_failed_logins_are_throttled(client: TestClient) -> None:
    client.cookies.clear()
    headers = {"X-Forwarded-For": "203.0.113.9"}
    for _ in range(5):
        r = client.post("/login", data={"username": "x", "password": "y"}, headers=headers)
        assert r.status_code == 401
    r = client.post("/login", data={"username": "alice", "password": PASSWORD}, headers=headers)
    assert r.status_code == 429 and r.headers["retry-after"]


def test_password_hashing_and_users_file() -> None:
    stored = hash_password("s3cret-pass")
    assert stored.startswith("scrypt$") and "s3cret" not in stored
    assert verify_password("s3cret-pass", stored) and not verify_password("other", stored)
    assert not verify_password("x", "plain-text")
    users, errors = parse_users(f"a:{stored}\nb:{stored}:x, y\nbroken line\n")
    assert users["a"].collections is None and users["b"].collections == {"x", "y"}
    assert errors == ["line 3: expected name:scrypt$...[:collections]"]


def test_auth_default_depends_on_the_bind_address() -> None:
    from services.auth import auth_enabled

    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost")
    assert not is_loopback("0.0.0.0") and not is_loopback("10.1.2.3")
    assert auth_enabled(web_settings(Path("/tmp/x"), auth=None, host="0.0.0.0"))
    assert not auth_enabled(web_settings(Path("/tmp/x"), auth=None, host="127.0.0.1"))
