"""A server with auth on and no user says how to create one; `folio users add` creates the first
admin, and the running app lets that user log in without a restart."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from cli.main import app as cli
from services.auth import parse_users, verify_password
from tests.web.conftest import free_port, web_settings
from web.app import create_app

ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "first admin password"


def _add(data_dir: Path, *args: str, password: str = PASSWORD):
    return CliRunner().invoke(
        cli, ["--data-dir", str(data_dir), "users", "add", *args, "--password-stdin"],
        input=password + "\n",
    )  # fmt: skip


def test_serve_with_auth_on_and_no_user_prints_how_to_create_one(tmp_path: Path) -> None:
    port = free_port()
    env = {
        **os.environ, "PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1", "FOLIO_AUTH": "true",
        "FOLIO_DATA_DIR": str(tmp_path / "index"),
    }  # fmt: skip
    proc = subprocess.Popen(
        [sys.executable, "-m", "cli", "serve", "--no-engine", "--port", str(port)],
        cwd=ROOT, env=env, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.3)
    finally:
        proc.terminate()
        _, stderr = proc.communicate(timeout=30)
    said = " ".join(stderr.split())
    assert "no user exists" in said and "folio users add NAME --admin" in said, stderr


def test_users_add_creates_an_admin_who_can_log_in_to_the_running_app(tmp_path: Path) -> None:
    data_dir = tmp_path / "index"
    settings = web_settings(data_dir, auth=True)
    with TestClient(create_app(settings)) as client:
        refused = client.post("/login", data={"username": "root", "password": PASSWORD})
        assert refused.status_code == 401

        result = _add(data_dir, "root", "--admin")
        assert result.exit_code == 0, result.output
        users, errors = parse_users((data_dir / "users.txt").read_text(encoding="utf-8"))
        assert errors == [] and users["root"].collections is None
        assert verify_password(PASSWORD, users["root"].password_hash)
        assert (data_dir / "users.txt").stat().st_mode & 0o777 == 0o600

        ok = client.post(
            "/login", data={"username": "root", "password": PASSWORD}, follow_redirects=False
        )
        assert ok.status_code == 303
        assert client.get("/api/v1/documents").status_code == 200


def test_users_add_refuses_duplicates_short_passwords_and_bad_names(tmp_path: Path) -> None:
    assert _add(tmp_path, "ann", "--admin").exit_code == 0
    again = _add(tmp_path, "ann", "--admin")
    assert again.exit_code == 1 and "exists" in again.output
    assert _add(tmp_path, "ann", "--admin", "--replace", password="another one!").exit_code == 0
    users, _ = parse_users((tmp_path / "users.txt").read_text(encoding="utf-8"))
    assert list(users) == ["ann"] and verify_password("another one!", users["ann"].password_hash)
    short = _add(tmp_path, "bo", "--admin", password="short")
    assert short.exit_code == 1 and "at least 8" in short.output
    bad = _add(tmp_path, "a:b", "--admin")
    assert bad.exit_code == 1 and "user name" in bad.output
    scoped = _add(tmp_path, "cy", "--collections", "hr,support")
    assert scoped.exit_code == 0
    users, _ = parse_users((tmp_path / "users.txt").read_text(encoding="utf-8"))
    assert users["cy"].collections == frozenset({"hr", "support"})
    neither = _add(tmp_path, "dee")
    assert neither.exit_code == 1 and "--admin or --collections" in neither.output
