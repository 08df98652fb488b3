"""HTTP load benchmark: a real `folio serve` subprocess, N concurrent clients, then /health
latency while an ingest job runs.

    .venv/bin/python tests/bench/bench_http.py --duration 60 --clients 20

Phase 1 (load): each client loops POST /api/v1/search and POST /api/v1/ask (retrieval_only)
with questions from the dev set (or generated ones) for --duration seconds; prints throughput,
p50/p95/p99 per endpoint and errors. By default a client sends its next request the moment the
last one returns (saturation: latency is then the queue, 20 / throughput by Little's law);
--think S makes each client pause a random time (exponential, mean S seconds) between
requests, as people at a keyboard do, which measures latency at a load below saturation.
Phase 2 (ingest): uploads a generated --ingest-pages PDF and polls /health every 50 ms until
the job is done; prints /health p50/p95.
Targets: zero errors, search p95 <= 150 ms with 20 clients back to back (issue 14), /health
p95 <= 50 ms during ingest.
The clients run in this process, so they share the machine's cores with the server.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from tests.fixtures import make_pdf  # noqa: E402

DEV_CORPUS = [ROOT / ".corpus" / "dev", ROOT.parent / "shared" / "eval" / "dev"]
DEV_QUESTIONS = ROOT.parent / "shared" / "eval" / "dev" / "questions.jsonl"
WORDS = (
    "pump valve filter pressure sensor relay fuse motor bearing seal gasket impeller housing "
    "firmware router switch port cable reset alarm error code display menu button battery "
    "charger voltage current calibration gauge thermostat compressor condenser fan belt drive "
    "printer cartridge nozzle tray paper network address password backup restore install"
).split()


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    values = sorted(values)
    return values[min(len(values) - 1, int(round(q / 100 * (len(values) - 1))))]


def generated_pages(n: int, seed: int) -> list[str]:
    rnd = random.Random(seed)
    pages = []
    for i in range(n):
        sentences = []
        for _ in range(18):
            words = rnd.sample(WORDS, 9)
            sentences.append(f"Step {rnd.randint(1, 9)}: " + " ".join(words).capitalize() + ".")
        pages.append(f"Section {i + 1}. " + " ".join(sentences))
    return pages


def questions(limit: int = 200) -> list[str]:
    if DEV_QUESTIONS.is_file():
        rows = [json.loads(line) for line in DEV_QUESTIONS.read_text().splitlines() if line]
        qs = [r["question"] for r in rows]
    else:
        qs = []
    rnd = random.Random(7)
    while len(qs) < limit:
        qs.append(f"How do I check the {rnd.choice(WORDS)} and the {rnd.choice(WORDS)}?")
    return qs


def start_server(data_dir: Path, port: int, env: dict[str, str] | None = None) -> subprocess.Popen:
    """`folio serve --no-engine` on the index, auth off unless `env` says otherwise."""
    env = {**os.environ, "FOLIO_AUTH": "false", **(env or {})}
    env.pop("FOLIO_LLM_BASE_URL", None)
    cmd = [sys.executable, "-m", "cli", "--data-dir", str(data_dir), "serve", "--port", str(port)]
    proc = subprocess.Popen([*cmd, "--no-engine"], cwd=ROOT, env=env)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=2).status_code == 200:
                return proc
        except httpx.HTTPError:
            pass
        if proc.poll() is not None:
            raise SystemExit(f"server exited with {proc.returncode}")
        time.sleep(0.3)
    proc.kill()
    raise SystemExit("server did not start")


async def load(
    base: str, clients: int, duration: float, qs: list[str], unique: bool = True,
    think: float = 0.0,
) -> dict:  # fmt: skip
    results: dict[str, list[float]] = {"search": [], "ask": []}
    errors: list[str] = []
    stop = time.monotonic() + duration

    async def client(i: int) -> None:
        rnd = random.Random(i)
        async with httpx.AsyncClient(base_url=base, timeout=30) as http:
            n = 0
            while time.monotonic() < stop:
                q = rnd.choice(qs)
                if unique:  # defeat the query-vector cache: drop two random words
                    words = q.split()
                    for _ in range(2 if len(words) > 5 else 0):
                        words.pop(rnd.randrange(len(words)))
                    q = " ".join(words)
                kind = "search" if n % 2 == 0 else "ask"
                n += 1
                body = (
                    {"query": q, "k": 5}
                    if kind == "search"
                    else {"question": q, "retrieval_only": True}
                )
                t = time.perf_counter()
                try:
                    r = await http.post(f"/api/v1/{kind}", json=body)
                    ok = r.status_code == 200
                    if not ok:
                        errors.append(f"{kind} {r.status_code} {r.text[:120]}")
                except httpx.HTTPError as exc:
                    ok = False
                    errors.append(f"{kind} {type(exc).__name__}")
                if ok:
                    results[kind].append((time.perf_counter() - t) * 1000)
                if think:
                    await asyncio.sleep(rnd.expovariate(1 / think))

    started = time.perf_counter()
    await asyncio.gather(*(client(i) for i in range(clients)))
    return {"results": results, "errors": errors, "elapsed": time.perf_counter() - started}


def ingest_phase(base: str, pdf: Path) -> dict:
    health: list[float] = []
    with httpx.Client(base_url=base, timeout=30) as http:
        r = http.post("/api/v1/documents", files={"file": (pdf.name, pdf.read_bytes())})
        r.raise_for_status()
        job_id = r.json()["job_id"]
        t0 = time.perf_counter()
        last = 0.0
        while True:
            t = time.perf_counter()
            assert http.get("/health").status_code == 200
            health.append((time.perf_counter() - t) * 1000)
            if t - last > 0.5:
                last = t
                job = http.get(f"/api/v1/jobs/{job_id}").json()
                if job["status"] not in ("queued", "running"):
                    break
            time.sleep(0.05)
    return {"health": health, "job": job, "seconds": time.perf_counter() - t0}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--duration", type=float, default=60.0, help="seconds of load")
    ap.add_argument("--clients", type=int, default=20)
    ap.add_argument(
        "--think", type=float, default=0.0,
        help="mean pause (s) between a client's requests; 0 = back to back (saturation)",
    )  # fmt: skip
    ap.add_argument("--port", type=int, default=8765)
    ap.add_argument("--ingest-pages", type=int, default=120)
    ap.add_argument("--corpus", type=Path, default=None, help="folder of manuals to ingest first")
    ap.add_argument("--keep", action="store_true", help="keep the temporary data dir")
    ap.add_argument(
        "--data-dir", type=Path, default=None, help="an existing index to serve (no ingest)"
    )
    ap.add_argument(
        "--repeat-queries",
        action="store_true",
        help="reuse the question set verbatim (query-vector cache hits); default: every "
        "request's text is unique, so each one pays for its embedding",
    )
    args = ap.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="folio-bench-http-"))
    data_dir = args.data_dir or tmp / "index"
    if args.data_dir is None:
        corpus = args.corpus or next((p for p in DEV_CORPUS if any(p.glob("*.pdf"))), None)
        if corpus is None:
            corpus = tmp / "corpus"
            corpus.mkdir()
            make_pdf(corpus / "generated.pdf", generated_pages(60, seed=1), title="Generated")
        print(f"indexing {corpus} into {data_dir} …", flush=True)
        t = time.perf_counter()
        subprocess.run(
            [sys.executable, "-m", "cli", "--data-dir", str(data_dir), "ingest", str(corpus)],
            cwd=ROOT,
            check=False,
            stdout=subprocess.DEVNULL,
        )
        print(f"  indexed in {time.perf_counter() - t:.0f} s", flush=True)

    proc = start_server(data_dir, args.port)
    base = f"http://127.0.0.1:{args.port}"
    failed = False
    try:
        stats = httpx.get(base + "/health").json()
        print(f"server up: {stats['documents']} documents, {stats['chunks']} chunks")
        qs = questions()
        asyncio.run(load(base, 4, 5, qs))  # warm-up
        pause = f", think time {args.think:g} s" if args.think else ", back to back"
        print(f"load: {args.clients} clients for {args.duration:.0f} s{pause} …", flush=True)
        out = asyncio.run(
            load(
                base,
                args.clients,
                args.duration,
                qs,
                unique=not args.repeat_queries,
                think=args.think,
            )  # fmt: skip
        )
        total = sum(len(v) for v in out["results"].values())
        print(f"  throughput {total / out['elapsed']:.1f} req/s ({total} ok)")
        for kind, lat in out["results"].items():
            print(
                f"  {kind:6s} n={len(lat):5d}  {len(lat) / out['elapsed']:6.1f} req/s  "
                f"p50 {pct(lat, 50):6.1f} ms  p95 {pct(lat, 95):6.1f} ms  "
                f"p99 {pct(lat, 99):6.1f} ms  mean {statistics.fmean(lat or [0]):6.1f} ms"
            )
        print(
            f"  errors {len(out['errors'])}" + (f": {out['errors'][:3]}" if out["errors"] else "")
        )

        pdf = make_pdf(tmp / "ingest-bench.pdf", generated_pages(args.ingest_pages, seed=2))
        print(f"ingest: {args.ingest_pages}-page PDF while polling /health …", flush=True)
        ing = ingest_phase(base, pdf)
        if args.data_dir is not None and ing["job"].get("doc_id"):  # leave a kept index as it was
            httpx.delete(f"{base}/api/v1/documents/{ing['job']['doc_id']}", timeout=30)
        h = ing["health"]
        pages = ing["job"].get("pages_total") or args.ingest_pages
        print(
            f"  job {ing['job']['status']} in {ing['seconds']:.1f} s "
            f"({pages / ing['seconds']:.1f} pages/s); /health n={len(h)} "
            f"p50 {pct(h, 50):.1f} ms  p95 {pct(h, 95):.1f} ms  max {max(h):.1f} ms"
        )
        checks = {
            "zero errors": not out["errors"] and ing["job"]["status"] == "done",
            "search p95 <= 150 ms": pct(out["results"]["search"], 95) <= 150,
            "health p95 <= 50 ms during ingest": pct(h, 95) <= 50,
        }
        for name, ok in checks.items():
            print(f"  {'PASS' if ok else 'MISS'}  {name}")
        failed = not all(checks.values())
    finally:
        proc.terminate()
        proc.wait(30)
        if not args.keep and args.data_dir is None:
            shutil.rmtree(tmp, ignore_errors=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
