"""The server's leftovers: a `folio serve` killed mid-upload, and originals of replaced or
deleted manuals. A real server process, real uploads, real index."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
from fastapi.testclient import TestClient

from folio.leftovers import owner_alive
from tests.fixtures import make_pdf
from tests.web.conftest import free_port, wait_job, web_settings
from web.app import create_app

ROOT = Path(__file__).resolve().parents[2]


def _serve(data_dir: Path, port: int) -> subprocess.Popen:
    env = {**os.environ, "FOLIO_DATA_DIR": str(data_dir), "FOLIO_AUTH": "false",
           "FOLIO_ENGINE_AUTOSTART": "false"}  # fmt: skip
    env.pop("FOLIO_LLM_BASE_URL", None)
    return subprocess.Popen(
        [sys.executable, "-m", "cli", "serve", "--port", str(port), "--no-engine"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip


def _wait_up(url: str, proc: subprocess.Popen, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, "folio serve exited"
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(url + "/health", timeout=2).status_code == 200:
                return
        time.sleep(0.2)
    raise AssertionError("folio serve did not come up")


def test_a_server_killed_mid_upload_leaves_nothing_after_its_next_start(tmp_path):
    data = tmp_path / "index"
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    proc = _serve(data, port)
    sending = threading.Event()
    try:
        _wait_up(url, proc)
        boundary = "b0undary"

        def body() -> Iterator[bytes]:
            yield (
                f'--{boundary}\r\nContent-Disposition: form-data; name="file"; '
                'filename="slow.pdf"\r\nContent-Type: application/pdf\r\n\r\n%PDF-1.4\n'
            ).encode()
            sending.set()
            for _ in range(600):  # never finishes before the kill
                yield b"0" * 1024
                time.sleep(0.05)

        def upload() -> None:
            with contextlib.suppress(httpx.HTTPError):
                httpx.post(
                    url + "/api/v1/documents", content=body(), timeout=60,
                    headers={"content-type": f"multipart/form-data; boundary={boundary}"},
                )  # fmt: skip

        thread = threading.Thread(target=upload, daemon=True)
        thread.start()
        deadline = time.monotonic() + 60
        while not list((data / "uploads").glob("incoming-*")):
            assert time.monotonic() < deadline, "the upload never reached the server"
            time.sleep(0.05)
        (incoming,) = (data / "uploads").glob("incoming-*")
        while owner_alive(incoming) is None:  # the owner file follows the folder's creation
            assert time.monotonic() < deadline, "the upload folder never named its owner"
            time.sleep(0.01)
        assert owner_alive(incoming) is True
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    assert incoming.is_dir() and owner_alive(incoming) is False

    with TestClient(create_app(web_settings(data))) as client:
        assert client.get("/health").status_code == 200
        assert not incoming.exists()


def test_replacing_and_deleting_through_the_web_removes_the_old_originals(tmp_path):
    data = tmp_path / "index"
    files = data / "files"
    v1 = make_pdf(tmp_path / "v1.pdf", ["Boiler B9.", "Bleed the radiators yearly."])
    v2 = make_pdf(tmp_path / "v2.pdf", ["Boiler B9.", "Bleed the radiators twice a year."])
    with TestClient(create_app(web_settings(data))) as client:
        for version in (v1, v2):
            r = client.post(
                "/api/v1/documents",
                files={"file": ("boiler.pdf", version.read_bytes(), "application/pdf")},
            )
            assert r.status_code == 202, r.text
            assert wait_job(client, r.json()["job_id"])["status"] == "done"
        (doc,) = client.get("/api/v1/documents").json()["documents"]
        assert [p.read_bytes() for p in files.iterdir()] == [v2.read_bytes()]
        assert client.delete(f"/api/v1/documents/{doc['id']}").status_code == 200
        assert list(files.iterdir()) == []
