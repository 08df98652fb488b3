"""Hold under load: streaming askers against a real `folio serve` while manuals are ingested.

A scripted OpenAI-compatible engine (tests/scripted_engine.py, in its own process) streams a
fixed, cited answer in pieces with a pause between them, so the LLM is never the bottleneck and
every answer takes about the same time. `folio serve` runs as a real process on a fresh index
(two manuals). Then, for --minutes:
- --askers clients each ask `/api/v1/ask?stream=true` in a loop and read the stream to its end;
  a 429 (FOLIO_MAX_PENDING_ASKS answers in flight, the configured back-pressure) makes the
  client wait 0.5 s; anything else that is not a 200 whose stream ends with a `done` event is an
  error;
- an uploader posts a new 40-page manual whenever the previous one's ingest job has finished,
  so the server's ingest worker is busy the whole time;
- the server's RSS (main process) is sampled every 5 s.

Prints: answers/s, stream p50/p95, 429s, errors by kind, streams without a final event,
ingested manuals, the RSS at minute 1 vs the last minute (drift target: within 10%), and the
median RSS of every minute with the manuals indexed by then (a long run, --minutes 20, tells a
cache that fills and levels off from a leak that keeps climbing).

Usage: python tests/bench/bench_load.py [--askers 50] [--minutes 5] [--max-pending 8]
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import json
import math
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import psutil

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from tests.fixtures import make_pdf  # noqa: E402
from tests.web.conftest import PUMP_PAGES, ROUTER_PAGES  # noqa: E402

QUESTION = "How do I prime the pump with valve V3?"
ENGINE = r"""
import sys, time
sys.path.insert(0, {root!r})
from tests.scripted_engine import ScriptedEngine
eng = ScriptedEngine({{"load": {script!r}}}, delay_s={delay}).start()
print(eng.url("load"), flush=True)
while True:
    time.sleep(3600)
"""
SCRIPT = [
    "To prime the pump, open valve V3,",
    " fill the housing with clean",
    " water, then close V3 [1].",
    " If error E42 appears, switch the pump off",
    " and let it cool for 30 minutes [",
    "2].",
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def folio_env(data: Path, **extra: str) -> dict[str, str]:
    env = {**os.environ, "FOLIO_DATA_DIR": str(data), "FOLIO_AUTH": "false", **extra}
    env.pop("FOLIO_LLM_BASE_URL", None)
    env.update(extra)
    return env


def manual_pages(n: int, seed: int) -> list[str]:
    return [
        f"Model T-{seed} service step {p}: set valve {seed * 100 + p} to position {p % 7} and "
        f"check the pressure gauge reads {p % 5 + 1}.{p % 10} bar before continuing. " * 6
        for p in range(n)
    ]


class Stats:
    def __init__(self) -> None:
        self.ok = 0
        self.rate_limited = 0
        self.errors: collections.Counter[str] = collections.Counter()
        self.no_final = 0
        self.latencies: list[float] = []
        self.uploads = 0
        self.upload_errors: collections.Counter[str] = collections.Counter()
        self.ingested = 0
        self.ingested_at: list[float] = []  # seconds into the run, one per finished manual


async def asker(client: httpx.AsyncClient, stats: Stats, stop: float) -> None:
    while time.monotonic() < stop:
        t = time.perf_counter()
        try:
            async with client.stream(
                "POST", "/api/v1/ask?stream=true", json={"question": QUESTION}, timeout=120
            ) as r:
                if r.status_code == 429:
                    await r.aread()
                    stats.rate_limited += 1
                    await asyncio.sleep(0.5)
                    continue
                if r.status_code != 200:
                    await r.aread()
                    stats.errors[f"HTTP {r.status_code}"] += 1
                    continue
                last = None
                try:
                    async for line in r.aiter_lines():
                        if line.startswith("event:"):
                            last = line[6:].strip()
                            if last == "error":
                                stats.errors["error event"] += 1
                except httpx.HTTPError as exc:  # the stream broke after a 200
                    stats.errors[f"stream broken: {type(exc).__name__}"] += 1
                    continue
            if last == "done":
                stats.ok += 1
                stats.latencies.append(time.perf_counter() - t)
            else:
                stats.no_final += 1
        except httpx.HTTPError as exc:  # before any response
            stats.errors[f"no response: {type(exc).__name__}"] += 1


async def uploader(
    client: httpx.AsyncClient, stats: Stats, t0: float, stop: float, work: Path,
    upload_stop: float | None = None,
) -> None:  # fmt: skip
    n = 0
    upload_stop = stop if upload_stop is None else min(stop, upload_stop)
    while time.monotonic() < upload_stop:
        n += 1
        pdf = make_pdf(work / f"t{n}.pdf", manual_pages(40, n), title=f"Model T-{n} Manual")
        try:
            r = await client.post(
                "/api/v1/documents",
                files={"file": (pdf.name, pdf.read_bytes(), "application/pdf")},
                timeout=60,
            )
        except httpx.HTTPError as exc:
            stats.upload_errors[type(exc).__name__] += 1
            continue
        if r.status_code != 202:
            stats.upload_errors[f"HTTP {r.status_code}"] += 1
            await asyncio.sleep(1)
            continue
        stats.uploads += 1
        job = r.json()["job_id"]
        while time.monotonic() < stop + 120:
            await asyncio.sleep(1)
            try:
                status = (await client.get(f"/api/v1/jobs/{job}", timeout=30)).json()["status"]
            except (httpx.HTTPError, KeyError, ValueError) as exc:
                stats.upload_errors[f"job poll: {type(exc).__name__}"] += 1
                continue
            if status == "done":
                stats.ingested += 1
                stats.ingested_at.append(time.monotonic() - t0)
                break
            if status not in ("queued", "running"):
                stats.upload_errors[f"job {status}"] += 1
                break


async def sample_rss(pid: int, samples: list[tuple[float, int]], t0: float, stop: float) -> None:
    proc = psutil.Process(pid)
    while time.monotonic() < stop:
        samples.append((time.monotonic() - t0, proc.memory_info().rss))
        await asyncio.sleep(min(5.0, (stop - t0) / 30))


async def run(url: str, pid: int, args, work: Path) -> tuple[Stats, list[tuple[float, int]]]:
    stats = Stats()
    samples: list[tuple[float, int]] = []
    t0 = time.monotonic()
    stop = t0 + args.minutes * 60
    upload_stop = None if args.upload_minutes is None else t0 + args.upload_minutes * 60
    # httpx's default idle expiry (5 s): the server keeps an idle connection open for
    # FOLIO_KEEPALIVE_TIMEOUT_S (75 s), so the client always gives it up first. With uvicorn's
    # own 5 s, a client reusing a connection the server was closing got a reset: 21 in 5 min
    # with this expiry, 3 with an expiry of 2 s.
    limits = httpx.Limits(
        max_connections=args.askers + 10,
        keepalive_expiry=args.keepalive_expiry,
        max_keepalive_connections=0 if args.no_keepalive else None,
    )
    async with httpx.AsyncClient(base_url=url, limits=limits) as client:
        await asyncio.gather(
            sample_rss(pid, samples, t0, stop),
            uploader(client, stats, t0, stop, work, upload_stop),
            *(asker(client, stats, stop) for _ in range(args.askers)),
        )
    return stats, samples


def per_minute(samples: list[tuple[float, int]], seconds: float) -> list[float]:
    """Median RSS (MB) of each minute of the run: a leak keeps climbing, a bounded cache
    levels off once it is full."""
    out = []
    for m in range(math.ceil(seconds / 60)):
        inside = [rss for t, rss in samples if m * 60 <= t < (m + 1) * 60]
        if inside:
            out.append(round(statistics.median(inside) / 2**20, 1))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--askers", type=int, default=50)
    ap.add_argument("--minutes", type=float, default=5.0)
    ap.add_argument("--max-pending", type=int, default=8, help="FOLIO_MAX_PENDING_ASKS")
    ap.add_argument("--delay", type=float, default=0.1, help="engine pause between pieces (s)")
    ap.add_argument("--no-keepalive", action="store_true", help="a new connection per request")
    ap.add_argument("--upload-minutes", type=float, default=None,
                    help="stop uploading after this long (default: the whole run); the minutes "
                    "after show whether the ask path alone grows the RSS")  # fmt: skip
    ap.add_argument("--keepalive-expiry", type=float, default=5.0,
                    help="client idle expiry (s); httpx's default is 5")  # fmt: skip
    args = ap.parse_args()

    work = Path(tempfile.mkdtemp(prefix="folio-load-"))
    data = work / "index"
    pump = make_pdf(work / "aquila-pump.pdf", PUMP_PAGES, title="Aquila P-20 Pump Manual")
    router = make_pdf(work / "netgate-r7.pdf", ROUTER_PAGES, title="Netgate R7 Router Guide")
    subprocess.run([sys.executable, "-m", "cli", "ingest", str(pump), str(router)],
                   env=folio_env(data), cwd=ROOT, check=True, capture_output=True)  # fmt: skip
    engine = subprocess.Popen(
        [sys.executable, "-c", ENGINE.format(root=str(ROOT), script=SCRIPT, delay=args.delay)],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    engine_url = engine.stdout.readline().strip()
    port = free_port()
    env = folio_env(data, FOLIO_LLM_BASE_URL=engine_url, FOLIO_LLM_MODEL="scripted",
                    FOLIO_MAX_PENDING_ASKS=str(args.max_pending))  # fmt: skip
    server = subprocess.Popen(
        [sys.executable, "-m", "cli", "serve", "--port", str(port)],
        env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=open(work / "serve.log", "w"),  # noqa: SIM115
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 180
        while True:
            try:
                health = httpx.get(url + "/health", timeout=2).json()
                if health.get("engine_state") == "up":
                    break
            except (httpx.HTTPError, ValueError):
                pass
            if time.monotonic() > deadline or server.poll() is not None:
                raise SystemExit(f"folio serve did not come up; see {work / 'serve.log'}")
            time.sleep(0.5)
        print(f"{args.askers} streaming askers for {args.minutes:g} min against {url} "
              f"(FOLIO_MAX_PENDING_ASKS={args.max_pending}), ingesting meanwhile",
              flush=True)  # fmt: skip
        stats, samples = asyncio.run(run(url, server.pid, args, work))
        alive = server.poll() is None
    finally:
        server.terminate()
        engine.terminate()
        server.wait(30)
        engine.wait(30)

    seconds = args.minutes * 60
    lat = sorted(stats.latencies)
    p95 = lat[int(0.95 * (len(lat) - 1))] if lat else float("nan")
    window = min(60.0, seconds / 5)  # "minute 1" and "the last minute" of a 5-minute run
    minute1 = [rss for t, rss in samples if window / 2 <= t < 1.5 * window]
    last = [rss for t, rss in samples if t >= seconds - window]
    rss1 = statistics.median(minute1) if minute1 else float("nan")
    rss5 = statistics.median(last) if last else float("nan")
    print(json.dumps({
        "answers": stats.ok, "answers_per_s": round(stats.ok / seconds, 2),
        "stream_p50_s": round(statistics.median(lat), 2) if lat else None,
        "stream_p95_s": round(p95, 2), "rate_limited_429": stats.rate_limited,
        "errors": dict(stats.errors), "streams_without_final_event": stats.no_final,
        "uploads": stats.uploads, "manuals_ingested": stats.ingested,
        "upload_errors": dict(stats.upload_errors), "server_alive_at_end": alive,
        "rss_minute1_mb": round(rss1 / 2**20, 1), "rss_last_minute_mb": round(rss5 / 2**20, 1),
        "rss_drift_pct": round(100 * (rss5 - rss1) / rss1, 1),
        "rss_samples": len(samples),
        "rss_per_minute_mb": per_minute(samples, seconds),
        "manuals_ingested_by_minute": [sum(1 for t in stats.ingested_at if t < m * 60)
                                       for m in range(1, math.ceil(seconds / 60) + 1)],
        "rss_peak_mb": round(max(r for _, r in samples) / 2**20) if samples else None,
        "load_average": round(os.getloadavg()[0], 1),
    }, indent=2))  # fmt: skip


if __name__ == "__main__":
    main()
