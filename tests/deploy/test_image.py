"""The image, as a site runs it: no network at all (`--network none`), read-only root, one data
volume. It must become healthy, take a PDF, find its page, answer retrieval-only, start its
local engine from the model baked outside the volume, and run as an unprivileged user.

Prints the cold start to /health and the first retrieval-only answer (targets: 90 s, 5 s).
The image has no torch: it embeds on ONNX Runtime, reads scans with OCR and answers with the
local engine from the CLI, all with no network.
"""

from __future__ import annotations

import json
import time
import uuid
from pathlib import Path

import pytest

from tests.deploy.conftest import docker
from tests.fixtures import make_pdf, make_scanned_text_pdf

pytestmark = pytest.mark.deploy

PAGES = [
    "Contents: mounting, wiring, alarms.",
    "Mounting. Fix the Vela controller to a DIN rail with the clip at the bottom.",
    "Alarms. Alarm A17 means the supply voltage fell below 18 volts for two seconds.",
]
# Runs inside the container (its venv has httpx): upload, wait, search, ask retrieval-only.
DRIVE = r"""
import json, sys, time, httpx
base, key = "http://127.0.0.1:8000", sys.argv[1]
h = {"Authorization": f"Bearer {key}"}
out = {}
with open("/in/vela.pdf", "rb") as f:
    r = httpx.post(base + "/api/v1/documents", files={"file": ("vela.pdf", f, "application/pdf")},
                   headers=h, timeout=60)
r.raise_for_status()
job = r.json()["job_id"]
t = time.monotonic()
while True:
    j = httpx.get(f"{base}/api/v1/jobs/{job}", headers=h, timeout=10).json()
    if j["status"] not in ("queued", "running"):
        break
    time.sleep(0.2)
out["job"], out["ingest_s"] = j["status"], time.monotonic() - t
t = time.monotonic()
r = httpx.post(base + "/api/v1/search", json={"query": "what does alarm A17 mean", "k": 3},
               headers=h, timeout=60)
out["search_s"], out["search"] = time.monotonic() - t, r.json()["passages"][:1]
t = time.monotonic()
r = httpx.post(base + "/api/v1/ask", json={"question": "What does alarm A17 mean?",
               "retrieval_only": True}, headers=h, timeout=60)
out["ask_s"], out["ask"] = time.monotonic() - t, r.json()
print(json.dumps(out))
"""


def _health(name: str) -> dict | None:
    probe = docker(
        "exec", name, "python3", "-c",
        "import urllib.request; print(urllib.request.urlopen('http://127.0.0.1:8000/health', "
        "timeout=2).read().decode())",
        check=False, timeout=30,
    )  # fmt: skip
    return json.loads(probe.stdout) if probe.returncode == 0 else None


def test_image_runs_with_no_network_ingests_searches_and_answers(image: str, tmp_path: Path):
    inbox = tmp_path / "in"
    inbox.mkdir(mode=0o755)
    inbox.chmod(0o755)
    make_pdf(inbox / "vela.pdf", PAGES, title="Vela Controller Manual").chmod(0o644)
    (inbox / "drive.py").write_text(DRIVE)
    (inbox / "drive.py").chmod(0o644)
    name = f"folio-test-{uuid.uuid4().hex[:8]}"
    volume = f"{name}-data"
    started = time.monotonic()
    docker(
        "run", "-d", "--name", name, "--network", "none", "--read-only", "--tmpfs", "/tmp",
        "-v", f"{volume}:/app/data", "-v", f"{inbox}:/in:ro", image,
    )  # fmt: skip
    try:
        health = None
        while health is None:
            assert time.monotonic() - started < 300, docker("logs", name, check=False).stderr
            state = docker("inspect", "-f", "{{.State.Running}}", name).stdout.strip()
            assert state == "true", docker("logs", name, check=False).stderr
            health = _health(name)
            if health is None:
                time.sleep(0.5)
        ready_s = time.monotonic() - started
        assert health["index_ready"] is True and health["auth"] is True

        logs = docker("logs", name).stderr
        assert "no user exists" in " ".join(logs.split()), logs  # auth on, nobody to log in

        key = docker("exec", name, "folio", "keys", "create", "--name", "test").stdout.split()[-1]
        drive = docker("exec", name, "python3", "/in/drive.py", key, timeout=600)
        out = json.loads(drive.stdout.strip().splitlines()[-1])
        assert out["job"] == "done", out
        assert out["search"] and out["search"][0]["page"] == 3, out
        assert out["ask"]["mode"] == "retrieval-only" and not out["ask"]["refused"], out
        assert out["ask"]["passages"][0]["page"] == 3, out

        uid = docker("exec", name, "id", "-u").stdout.strip()
        assert uid == "10001"
        touch = docker("exec", name, "touch", "/app/x", check=False)
        assert touch.returncode != 0, "the root filesystem is writable"

        engine_up = None
        while time.monotonic() - started < 600:
            health = _health(name) or {}
            if health.get("engine_state") in ("up", "down", "off"):
                engine_up = time.monotonic() - started
                break
            time.sleep(2)
        assert health.get("engine_state") == "up", health
        print(
            f"\ncold start to /health: {ready_s:.1f} s; first retrieval-only answer "
            f"{out['ask_s']:.2f} s (search {out['search_s']:.2f} s, "
            f"ingest {out['ingest_s']:.1f} s); local engine up {engine_up:.0f} s after start"
        )
        assert ready_s <= 90, f"cold start {ready_s:.1f} s"
        assert out["ask_s"] <= 5, f"first answer {out['ask_s']:.2f} s"
    finally:
        docker("rm", "-fv", name, check=False)
        docker("volume", "rm", "-f", volume, check=False)


def test_healthcheck_reports_healthy(image: str):
    name = f"folio-test-{uuid.uuid4().hex[:8]}"
    docker("run", "-d", "--name", name, "--network", "none", "--read-only", "--tmpfs", "/tmp",
           "-e", "FOLIO_ENGINE_AUTOSTART=false", image)  # fmt: skip
    try:
        deadline = time.monotonic() + 180
        status = ""
        while time.monotonic() < deadline:
            status = docker("inspect", "-f", "{{.State.Health.Status}}", name).stdout.strip()
            if status in ("healthy", "unhealthy"):
                break
            time.sleep(2)
        assert status == "healthy", docker("logs", name, check=False).stderr
    finally:
        docker("rm", "-fv", name, check=False)


def test_image_without_torch_reads_a_scan_embeds_on_onnx_and_answers_with_its_engine(
    image: str, tmp_path: Path
):
    inbox = tmp_path / "in"
    inbox.mkdir(mode=0o755)
    inbox.chmod(0o755)
    make_scanned_text_pdf(inbox / "scan.pdf", PAGES, header="Vela Controller Manual").chmod(0o644)
    script = (
        "python3 -c 'import torch' 2>/dev/null && echo TORCH-PRESENT; "
        "folio --data-dir /tmp/idx embedder && "
        "folio --data-dir /tmp/idx ingest /in/scan.pdf && "
        "folio --data-dir /tmp/idx ask --json 'What does alarm A17 mean?'"
    )
    run = docker(
        "run", "--rm", "--network", "none", "--read-only", "--tmpfs", "/tmp",
        "-v", f"{inbox}:/in:ro", image, "sh", "-c", script, check=False, timeout=900,
    )  # fmt: skip
    said = " ".join(run.stderr.split())
    assert "TORCH-PRESENT" not in run.stdout
    assert "on ONNX Runtime (auto: torch is not installed)" in said, run.stderr
    assert "1 ingested" in run.stdout, run.stdout
    answer = json.loads(run.stdout[run.stdout.index("{") :])
    assert run.returncode == 0, (run.returncode, answer)
    assert answer["mode"] == "llm" and not answer.get("error"), answer
    best = answer["passages"][0]
    assert best["page"] == 3 and best["ocr"] is True, best  # the page's words came from OCR
    assert "18" in answer["text"], answer["text"]
