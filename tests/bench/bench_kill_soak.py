"""Kill soak: `kill -9` of `folio ingest` and of `folio serve` during uploads, at random moments,
then `folio check` must be clean and every manual fully searchable or absent.

Six generated manuals (20-60 pages; every page holds a word no other page has). Each of --kills
rounds picks at random:
- `folio ingest` of a random subset of the manuals, killed with SIGKILL after 2-25 s; or
- `folio serve`, then 1-3 uploads sent at once, the server killed with SIGKILL 0.5-15 s into them.
Only the main process is killed, as `kill -9 PID` would: a parser worker it leaves behind is
counted. After the last kill the operator's next step is simulated: `folio serve` starts (which
removes dead processes' upload folders), one more manual is uploaded and indexed (the ingest
clears interrupted ingests and dead spool folders), and the server stops. Then, with nothing
repaired by hand:
- `folio check` (no --repair) must report no problem;
- every manual is either ready with all of its pages found by their own word (BM25, inside that
  document) and as many vectors as chunks, or absent: no row, no chunk, no FTS row, no vector.

Usage: python tests/bench/bench_kill_soak.py [--kills 20] [--seed 1]
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
import psutil

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from tests.fixtures import make_pdf  # noqa: E402

LETTERS = "abcdefghij"


def word(doc: int, page: int) -> str:
    """A word of letters only, unique to one page of one manual: doc 3, page 12 -> "qzdxbc"."""
    return (
        "qz"
        + "".join(LETTERS[int(d)] for d in str(doc))
        + "x"
        + "".join(LETTERS[int(d)] for d in str(page))
    )


def manual(path: Path, doc: int, pages: int) -> Path:
    texts = [
        f"Unit {doc} procedure {p}: the {word(doc, p)} setting is checked before the pump starts. "
        + "Open the vent, fill the casing, close the vent and record the pressure. " * 5
        for p in range(1, pages + 1)
    ]
    return make_pdf(path, texts, title=f"Soak manual {doc}")


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def env_for(data: Path, tmp: Path) -> dict[str, str]:
    env = {**os.environ, "FOLIO_DATA_DIR": str(data), "TMPDIR": str(tmp), "FOLIO_AUTH": "false",
           "FOLIO_ENGINE_AUTOSTART": "false", "FOLIO_EMBED_BATCH_SIZE": "8"}  # fmt: skip
    env.pop("FOLIO_LLM_BASE_URL", None)
    return env


def kill9(proc: subprocess.Popen) -> int:
    """SIGKILL the main process only; returns how many of its children outlive it."""
    try:
        children = psutil.Process(proc.pid).children(recursive=True)
    except psutil.Error:
        children = []
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    time.sleep(1)
    return sum(1 for c in children if c.is_running() and c.status() != psutil.STATUS_ZOMBIE)


def wait_up(url: str, proc: subprocess.Popen, timeout: float = 180) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and proc.poll() is None:
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(url + "/health", timeout=2).status_code == 200:
                return True
        time.sleep(0.3)
    return False


def upload(url: str, path: Path, out: list) -> None:
    try:
        files = {"file": (path.name, path.read_bytes(), "application/pdf")}
        r = httpx.post(url + "/api/v1/documents", timeout=120, files=files)
        out.append(r.status_code)
    except httpx.HTTPError as exc:
        out.append(type(exc).__name__)


def round_ingest(rng: random.Random, files: list[Path], env: dict) -> str:
    chosen = rng.sample(files, rng.randint(1, 3))
    delay = rng.uniform(2, 25)
    proc = subprocess.Popen([sys.executable, "-m", "cli", "ingest", *map(str, chosen)],
                            cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)  # fmt: skip
    try:
        proc.wait(delay)
        return f"ingest {len(chosen)} file(s): finished before the kill at {delay:.1f} s"
    except subprocess.TimeoutExpired:
        left = kill9(proc)
        return f"ingest {len(chosen)} file(s): killed at {delay:.1f} s, {left} child(ren) left"


def round_serve(rng: random.Random, files: list[Path], env: dict) -> str:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    proc = subprocess.Popen([sys.executable, "-m", "cli", "serve", "--port", str(port),
                             "--no-engine"], cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)  # fmt: skip
    if not wait_up(url, proc):
        kill9(proc)
        return "serve: did not come up"
    chosen = rng.sample(files, rng.randint(1, 3))
    statuses: list = []
    threads = [threading.Thread(target=upload, args=(url, f, statuses), daemon=True)
               for f in chosen]  # fmt: skip
    for t in threads:
        t.start()
    delay = rng.uniform(0.5, 15)
    time.sleep(delay)
    left = kill9(proc)
    for t in threads:
        t.join(10)
    return f"serve + {len(chosen)} upload(s) {statuses}: killed at {delay:.1f} s, {left} left"


def final_start(files: list[Path], env: dict) -> str:
    """The operator's next step: the server starts, one more manual is uploaded and indexed."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    proc = subprocess.Popen([sys.executable, "-m", "cli", "serve", "--port", str(port),
                             "--no-engine"], cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)  # fmt: skip
    try:
        assert wait_up(url, proc), "the server did not start after the soak"
        last = {"file": (files[0].name, files[0].read_bytes(), "application/pdf")}
        r = httpx.post(url + "/api/v1/documents", timeout=120, files=last)
        job = r.json()["job_id"]
        deadline = time.monotonic() + 900
        while time.monotonic() < deadline:
            status = httpx.get(f"{url}/api/v1/jobs/{job}", timeout=30).json()
            if status["status"] not in ("queued", "running"):
                return f"final upload: {status['status']} {status.get('error') or ''}"
            time.sleep(1)
        return "final upload: still running after 15 min"
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(60)


def found(index, doc: int, page: int, doc_id: str) -> bool:
    """The page's own word finds that page of that document (BM25 inside the document)."""
    hits = index.bm25(word(doc, page), 3, doc_ids=[doc_id])
    return any(index.chunks([cid])[cid][0].page_start == page for cid, _ in hits)


def verify(data: Path, files: dict[int, tuple[Path, int]]) -> dict:
    from folio.index import doc_id_for
    from folio.settings import Settings
    from services.build import open_index

    index, _ = open_index(Settings(data_dir=data))
    out = {"ready": [], "absent": [], "broken": []}
    for doc, (path, pages) in files.items():
        sha = hashlib.sha256(path.read_bytes()).hexdigest()
        doc_id = doc_id_for("default", sha)
        rec = index.document(doc_id)
        rows = index.db.execute("SELECT COUNT(*) FROM chunks WHERE doc_id=?", (doc_id,)).fetchone()[
            0
        ]
        vectors = len(index.collection.get(where={"doc_id": doc_id}, include=[])["ids"])
        if rec is not None and rec.status == "ready":
            missing = [p for p in range(1, pages + 1) if not found(index, doc, p, doc_id)]
            ok = not missing and rows == rec.chunks == vectors
            (out["ready"] if ok else out["broken"]).append(
                {"doc": doc, "chunks": rows, "vectors": vectors, "pages_not_found": missing}
            )
        else:
            hits = index.bm25(word(doc, 1), 3)
            clean = rows == 0 and vectors == 0 and not hits
            (out["absent"] if clean else out["broken"]).append(
                {"doc": doc, "status": rec.status if rec else None, "chunks": rows,
                 "vectors": vectors, "fts_hits": len(hits)})  # fmt: skip
    index.close()
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--kills", type=int, default=20)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    rng = random.Random(args.seed)
    work = Path(tempfile.mkdtemp(prefix="folio-soak-"))
    data, tmp = work / "index", work / "tmp"
    tmp.mkdir()
    files = {d: (manual(work / f"soak-{d}.pdf", d, n), n)
             for d, n in enumerate([20, 30, 40, 50, 60, 45], start=1)}  # fmt: skip
    paths = [p for p, _ in files.values()]
    env = env_for(data, tmp)
    t0 = time.monotonic()
    for k in range(1, args.kills + 1):
        what = round_ingest if rng.random() < 0.5 else round_serve
        print(f"{k:2}/{args.kills} {what(rng, paths, env)}", flush=True)
    print(final_start(paths, env), flush=True)
    check = subprocess.run([sys.executable, "-m", "cli", "check"], cwd=ROOT, env=env,
                           capture_output=True, text=True)  # fmt: skip
    print(f"folio check (no repair): exit {check.returncode}\n{check.stdout.strip()}")
    folders = [*tmp.glob("folio-spool-*"), *(data / "uploads").glob("incoming-*")]
    leftovers = sorted(str(p.relative_to(work)) for p in folders)
    result = verify(data, files)
    print(json.dumps({
        "kills": args.kills, "minutes": round((time.monotonic() - t0) / 60, 1),
        "check_clean": check.returncode == 0, "leftover_folders": leftovers,
        "ready_and_fully_searchable": [r["doc"] for r in result["ready"]],
        "absent_without_trace": [r["doc"] for r in result["absent"]],
        "broken": result["broken"], "load_average": round(os.getloadavg()[0], 1),
    }, indent=2))  # fmt: skip


if __name__ == "__main__":
    main()
