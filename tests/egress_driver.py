"""Run Folio under strace inside a network namespace that has only loopback, and drive it.

    unshare -n python -m tests.egress_driver OUT_DIR PDF [--model GGUF]

`tests/test_egress.py` starts this. Inside the namespace any connect() to another host fails at
once (ENETUNREACH), so nothing leaves the machine even if Folio tried, and strace still records
the attempt. Traced: `folio serve` (start-up, the local engine it starts, upload → ingest
worker, search, ask through the LLM) and the CLI's `folio ingest`, `folio search` and
`folio ask`. The driver's own requests are not traced. Writes OUT_DIR/steps.json and one strace
log per traced command (OUT_DIR/strace-*.log).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

from tests import egress

ROOT = Path(__file__).resolve().parent.parent
STRACE = ["strace", "-f", "-qq", "--seccomp-bpf", "-e", "trace=connect,sendto,sendmsg",
          "-e", "signal=none"]  # fmt: skip
PORT = 8765


def traced(out: Path, name: str, args: list[str]) -> list[str]:
    return [*STRACE, "-o", str(out / f"strace-{name}.log"), sys.executable, "-m", "cli", *args]


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("out", type=Path)
    p.add_argument("pdf", type=Path)
    p.add_argument("--model", type=Path, help="GGUF for the local engine (default: none, ask is "
                   "retrieval-only)")  # fmt: skip
    p.add_argument("--scan", type=Path, help="a scanned PDF for `folio ingest` (OCR, whose "
                   "ONNX Runtime once resolved Microsoft's telemetry host)")  # fmt: skip
    a = p.parse_args()
    subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
    a.out.mkdir(parents=True, exist_ok=True)
    env = {
        **os.environ, "PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1",
        "FOLIO_DATA_DIR": str(a.out / "index"), "FOLIO_AUTH": "false", "FOLIO_LLM_MAX_TOKENS": "16",
        "FOLIO_ENGINE_PORT": "8089",
    }  # fmt: skip
    env.pop("FOLIO_LLM_BASE_URL", None)
    if a.model:
        env["FOLIO_ENGINE_MODEL_PATH"] = str(a.model)
        env["FOLIO_LLM_MODEL"] = "test"
    steps: dict[str, object] = {}
    base = f"http://127.0.0.1:{PORT}"
    serve_args = ["serve", "--port", str(PORT)] + ([] if a.model else ["--no-engine"])
    server = subprocess.Popen(
        traced(a.out, "serve", serve_args), env=env, cwd=ROOT,
        stdout=(a.out / "serve.out").open("wb"), stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        steps["health"] = egress.wait_healthy(base, 240, want_engine=bool(a.model))
        job = egress.upload_and_wait(base, a.pdf)
        steps["upload"] = job["status"]
        steps["search"] = egress.search(base, "what does alarm A17 mean")[:1]
        answer = egress.ask(base, "What does alarm A17 mean?", retrieval_only=not a.model)
        steps["ask"] = {"mode": answer["mode"], "citations": len(answer["citations"])}
        second = a.out / "second.pdf"
        second.write_bytes(a.pdf.read_bytes().replace(b"Vela", b"Lyra"))
        for name, args in (
            ("ingest", ["ingest", str(second), *([str(a.scan)] if a.scan else [])]),
            ("search", ["search", "alarm A17", "--json"]),
            (
                "ask",
                ["ask", "What does alarm A17 mean?"] + ([] if a.model else ["--retrieval-only"]),
            ),
        ):
            r = subprocess.run(
                traced(a.out, f"cli-{name}", args), env=env, cwd=ROOT, capture_output=True,
                text=True, timeout=600,
            )  # fmt: skip
            steps[f"cli-{name}"] = {
                "rc": r.returncode, "stderr": r.stderr[-500:], "stdout": r.stdout[-1500:],
            }  # fmt: skip
    finally:
        children = Path(f"/proc/{server.pid}/task/{server.pid}/children")
        pids = children.read_text().split() if children.exists() else []
        for pid in pids:  # folio itself: strace ends when it does
            os.kill(int(pid), signal.SIGTERM)
        try:
            server.wait(timeout=60)
        except subprocess.TimeoutExpired:
            server.kill()
        (a.out / "steps.json").write_text(json.dumps(steps, indent=2, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
