"""What the operations layer costs and whether its limits are exact, on a real `folio serve`.

    .venv/bin/python tests/bench/bench_operations.py [--data-dir runs/dev] [--duration 30]

Phase 1 (overhead): the same load as bench_http.py (N clients alternating search and
retrieval-only ask) against the same index twice: operations off (no audit, no limits, no
term list) and on (audit log, a rate limit too high to bite, a 200-line term list); prints
both throughputs and the ratio. Target: on is within 10% of off.
Phase 2 (limits): 20 clients share one API key created with `--rpm 60` and search as fast as
they can for --limit-seconds (default 60); prints how many got 200, how many 429 (each must
carry Retry-After) and anything else. Target: exactly 60 succeed in the 60 s, 0 other errors.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from tests.bench.bench_http import (  # noqa: E402
    generated_pages,
    load,
    questions,
    start_server,
)
from tests.fixtures import make_pdf  # noqa: E402


def stop(proc: subprocess.Popen) -> None:
    proc.terminate()
    proc.wait(30)


def throughput(data_dir: Path, port: int, env: dict, clients: int, duration: float) -> float:
    proc = start_server(data_dir, port, env)
    try:
        base = f"http://127.0.0.1:{port}"
        qs = questions()
        asyncio.run(load(base, 4, 5, qs))  # warm-up
        out = asyncio.run(load(base, clients, duration, qs))
        if out["errors"]:
            print(f"  errors: {len(out['errors'])}: {out['errors'][:3]}")
        return sum(len(v) for v in out["results"].values()) / out["elapsed"]
    finally:
        stop(proc)


async def hammer(base: str, token: str, clients: int, seconds: float) -> dict:
    ok: list[float] = []
    limited = 0
    other: list[str] = []
    no_retry_after = 0
    t0 = time.monotonic()
    end = t0 + seconds

    async def client(i: int) -> None:
        nonlocal limited, no_retry_after
        headers = {"Authorization": f"Bearer {token}"}
        async with httpx.AsyncClient(base_url=base, timeout=30, headers=headers) as http:
            while time.monotonic() < end:
                try:
                    r = await http.post("/api/v1/search", json={"query": f"pump valve {i}"})
                except httpx.HTTPError as exc:
                    other.append(type(exc).__name__)
                    continue
                if r.status_code == 200:
                    ok.append(time.monotonic() - t0)
                elif r.status_code == 429:
                    limited += 1
                    no_retry_after += "retry-after" not in r.headers
                    await asyncio.sleep(0.05)
                else:
                    other.append(f"{r.status_code} {r.text[:80]}")

    await asyncio.gather(*(client(i) for i in range(clients)))
    return {"ok": ok, "limited": limited, "other": other, "no_retry_after": no_retry_after}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data-dir", type=Path, default=None, help="an index to serve")
    ap.add_argument("--duration", type=float, default=30.0, help="seconds of load per run")
    ap.add_argument("--clients", type=int, default=20)
    ap.add_argument("--limit-seconds", type=float, default=60.0)
    ap.add_argument("--port", type=int, default=8766)
    args = ap.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="folio-bench-ops-"))
    data_dir = args.data_dir or tmp / "index"
    if args.data_dir is None:
        corpus = tmp / "corpus"
        corpus.mkdir()
        make_pdf(corpus / "generated.pdf", generated_pages(60, seed=1), title="Generated")
        subprocess.run(
            [sys.executable, "-m", "cli", "--data-dir", str(data_dir), "ingest", str(corpus)],
            cwd=ROOT, check=True, stdout=subprocess.DEVNULL,
        )  # fmt: skip
    audit_dir = tmp / "audit"
    terms = tmp / "blocked.txt"
    terms.write_text("\n".join(f"codename{i:03d}" for i in range(200)) + "\n")
    off = {"FOLIO_AUTH": "false", "FOLIO_AUDIT": "false"}
    on = {
        "FOLIO_AUTH": "false", "FOLIO_AUDIT_DIR": str(audit_dir),
        "FOLIO_RATE_LIMIT": "1000000/minute", "FOLIO_BLOCKED_TERMS_FILE": str(terms),
    }  # fmt: skip
    checks: dict[str, bool] = {}
    try:
        print(f"overhead: {args.clients} clients, {args.duration:.0f} s each, off then on …")
        t_off = throughput(data_dir, args.port, off, args.clients, args.duration)
        t_on = throughput(data_dir, args.port, on, args.clients, args.duration)
        lines = sum(1 for p in audit_dir.glob("audit-*.jsonl") for _ in p.open())
        print(f"  off {t_off:.1f} req/s, on {t_on:.1f} req/s ({t_on / t_off:.1%} of off); "
              f"{lines} audit lines written")  # fmt: skip
        checks["operations on within 10% of off"] = t_on >= 0.9 * t_off

        key = subprocess.run(
            [sys.executable, "-m", "cli", "--data-dir", str(data_dir), "keys", "create",
             "--name", f"bench-{int(time.time())}", "--rpm", "60"],
            cwd=ROOT, check=True, capture_output=True, text=True,
        ).stdout.strip()  # fmt: skip
        proc = start_server(
            data_dir, args.port, {"FOLIO_AUTH": "true", "FOLIO_AUDIT_DIR": str(audit_dir)}
        )
        try:
            print(f"limits: {args.clients} clients on one key (60/minute) for "
                  f"{args.limit_seconds:.0f} s …")  # fmt: skip
            out = asyncio.run(
                hammer(f"http://127.0.0.1:{args.port}", key, args.clients, args.limit_seconds)
            )
        finally:
            stop(proc)
        ok = out["ok"]
        busiest = max((sum(1 for t in ok if s <= t < s + 60) for s in ok), default=0)
        other = out["other"]
        print(f"  200: {len(ok)}  429: {out['limited']} (without Retry-After: "
              f"{out['no_retry_after']})  other: {len(other)} {other[:3]}")  # fmt: skip
        print(f"  most successes in any 60 s: {busiest}")
        expected = 60 * max(1, int(args.limit_seconds // 60))
        checks["exactly the allowed number succeed"] = len(ok) == expected and busiest <= 60
        checks["every 429 has Retry-After, no other errors"] = (
            out["no_retry_after"] == 0 and not out["other"]
        )
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    for name, passed in checks.items():
        print(f"  {'PASS' if passed else 'MISS'}  {name}")
    return 0 if all(checks.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
