"""deploy/compose.yaml, profile `cpu`: Folio with its local engine and a Chroma server, brought up
with docker compose (or Debian's docker-compose 1.29); a PDF uploaded over HTTP is answered by
the LLM with a citation of its page, the vectors living in the Chroma container."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import time
import uuid
from pathlib import Path

import httpx
import pytest

from tests.deploy.conftest import docker
from tests.egress import ask, upload_and_wait, wait_healthy
from tests.fixtures import make_pdf

pytestmark = pytest.mark.deploy

ROOT = Path(__file__).resolve().parents[2]
PAGES = [
    "Contents: mounting, wiring, alarms.",
    "Mounting. Fix the Vela controller to a DIN rail with the clip at the bottom.",
    "Alarms. Alarm A17 means the supply voltage fell below 18 volts for two seconds. "
    "Check the power supply and restart the controller.",
]


def _compose_command() -> list[str] | None:
    if docker("compose", "version", check=False).returncode == 0:
        return ["docker", "compose"]
    if shutil.which("docker-compose"):
        return ["docker-compose"]
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_cpu_profile_answers_a_question_from_an_uploaded_pdf(image: str, tmp_path: Path):
    compose = _compose_command()
    if compose is None:
        pytest.skip("neither `docker compose` nor docker-compose is installed")
    project = tmp_path / "stack"
    project.mkdir()
    shutil.copy(ROOT / "deploy" / "compose.yaml", project / "compose.yaml")
    port = _free_port()
    env = (ROOT / "deploy" / ".env.example").read_text()
    (project / ".env").write_text(env + f"\nFOLIO_PUBLISH=127.0.0.1:{port}\nFOLIO_IMAGE={image}\n")
    name = f"foliotest{uuid.uuid4().hex[:6]}"
    cmd = [*compose, "-p", name, "-f", str(project / "compose.yaml"), "--profile", "cpu"]

    def run(*args: str, timeout: float = 600) -> subprocess.CompletedProcess:
        return subprocess.run(
            [*cmd, *args], cwd=project, capture_output=True, text=True, timeout=timeout
        )

    started = time.monotonic()
    up = run("up", "-d")
    try:
        assert up.returncode == 0, up.stderr
        base = f"http://127.0.0.1:{port}"
        health = wait_healthy(base, 300)
        assert health["auth"] is True
        made = run("exec", "-T", "folio-cpu", "folio", "keys", "create", "--name", "test")
        assert made.returncode == 0, made.stderr
        headers = {"Authorization": f"Bearer {made.stdout.split()[-1]}"}
        pdf = make_pdf(tmp_path / "vela.pdf", PAGES, title="Vela Controller Manual")
        job = upload_and_wait(base, pdf, headers=headers)
        assert job["status"] == "done", job
        deadline = time.monotonic() + 600
        while httpx.get(base + "/health", timeout=5).json()["engine_state"] != "up":
            assert time.monotonic() < deadline, httpx.get(base + "/health").json()
            time.sleep(2)
        engine_s = time.monotonic() - started
        t = time.monotonic()
        answer = ask(base, "What does alarm A17 mean?", retrieval_only=False, headers=headers)
        answer_s = time.monotonic() - t
        assert answer["mode"] == "llm", answer
        assert answer["answer"].strip()
        assert any(c["page"] == 3 for c in answer["citations"]), answer
        chroma = run("exec", "-T", "chroma", "python3", "-c",
                     "import chromadb; c = chromadb.HttpClient(host='127.0.0.1', port=8000); "
                     "print(c.get_collection('folio_chunks').count())")  # fmt: skip
        assert chroma.returncode == 0 and int(chroma.stdout.split()[-1]) >= 3, chroma.stderr
        print(
            f"\ncompose cpu: engine up {engine_s:.0f} s after `up`; LLM answer {answer_s:.1f} s: "
            + json.dumps(answer["answer"][:300])
        )
    finally:
        run("down", "-v", timeout=300)
