"""Ingest benchmark on the development corpus (a benchmark, not a test).

    python tests/bench/bench_ingest.py [--corpus DIR] [--big-pages 2400] [--precision auto]
    python tests/bench/bench_ingest.py --compare auto,torch:fp32 [--rounds 2]

Prints: cold ingest wall time, pages/s and chunks/s, the split into extract / chunk / embed /
write, the time to embed the same chunks alone (the ceiling), peak RSS, an unchanged re-ingest
(in-process and as a fresh `folio ingest` process), a one-file change, and optionally the peak
RSS of ingesting a synthetic N-page PDF in its own process.

`--compare` instead runs only the cold ingest, once per variant listed and round, each in a
fresh process (its own model load, its own peak RSS), alternating the variants so a change in
the machine's load hits both, and prints each run and the speed-up of each variant over the
last one listed (medians over the rounds). A variant is `[BACKEND:]PRECISION`
(FOLIO_EMBED_BACKEND, FOLIO_EMBED_PRECISION): `auto` is the default install's choice,
`torch:fp32` the fp32 baseline issue 14 measures against (`fp32` alone runs on whichever
backend `auto` picks, ONNX Runtime where the export exists).
The corpus is fetched with ../shared/eval/dev/get_corpus.sh into .corpus/dev when missing.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from folio.embed_backend import Workload  # noqa: E402
from folio.settings import Settings  # noqa: E402
from ingest.chunk import embedding_text  # noqa: E402
from ingest.pipeline import ingest_paths  # noqa: E402
from services.build import open_index  # noqa: E402


class PeakRSS:
    """Samples this process tree's RSS every 50 ms (children include the parser worker)."""

    def __init__(self) -> None:
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        me = psutil.Process()
        while not self._stop.is_set():
            try:
                rss = me.memory_info().rss + sum(
                    c.memory_info().rss for c in me.children(recursive=True)
                )
            except psutil.Error:
                rss = 0
            self.peak = max(self.peak, rss)
            time.sleep(0.05)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()


def corpus_dir(arg: str | None) -> Path:
    if arg:
        return Path(arg)
    target = ROOT / ".corpus" / "dev"
    if not any(target.glob("*.pdf")):
        script = ROOT.parent / "shared" / "eval" / "dev" / "get_corpus.sh"
        subprocess.run(["bash", str(script), str(target)], check=True)
    return target


def mb(n: int) -> str:
    return f"{n / 2**20:.0f} MiB"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--corpus")
    ap.add_argument("--big-pages", type=int, default=0, help="also ingest an N-page PDF")
    ap.add_argument("--keep", help="build the index in this (new) directory and keep it")
    ap.add_argument("--precision", default="auto", help="FOLIO_EMBED_PRECISION for this run")
    ap.add_argument("--backend", default="auto", help="FOLIO_EMBED_BACKEND for this run")
    ap.add_argument("--compare", help="cold ingest only, e.g. auto,fp32 (speed-up vs the last)")
    ap.add_argument("--rounds", type=int, default=1, help="with --compare: runs of each")
    ap.add_argument("--cold-json", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    corpus = corpus_dir(args.corpus)
    if args.compare:
        compare(corpus, args.compare.split(","), args.rounds)
        return
    tmp = Path(tempfile.mkdtemp(prefix="folio-bench-"))
    try:
        data_dir = Path(args.keep) if args.keep else tmp / "index"
        if args.cold_json:
            print(
                json.dumps(
                    cold(
                        corpus,
                        Settings(
                            data_dir=data_dir,
                            embed_precision=args.precision,
                            embed_backend=args.backend,
                        ),
                    )
                )
            )
            return
        run(corpus, tmp, args.big_pages, data_dir, args.precision)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def cold(corpus: Path, settings: Settings) -> dict:
    """One cold ingest in this process: wall and CPU seconds, the split, peak RSS."""
    from folio.embedding import compute_plan

    index, embedder = open_index(settings, workload=Workload.INGEST)
    embedder.embed(["warm up"], threads=settings.embed_threads)
    cpu0 = _cpu_s()
    with PeakRSS() as rss:
        t = time.perf_counter()
        results = ingest_paths([corpus], settings, index=index, embedder=embedder)
        wall = time.perf_counter() - t
    return {
        **compute_plan(embedder, settings),
        "wall_s": wall,
        "cpu_s": _cpu_s() - cpu0,
        "pages": sum(r.pages or 0 for r in results),
        "chunks": sum(r.chunks for r in results),
        "failed": [r.name for r in results if r.status == "failed"],
        "split": {k: sum(r.timings.get(k, 0.0) for r in results) for k in results[0].timings},
        "peak_rss": rss.peak,
        "load": os.getloadavg()[0],
    }


def _cpu_s() -> float:
    """CPU seconds of this process and its finished children (the parser worker)."""
    me, kids = (
        resource.getrusage(resource.RUSAGE_SELF),
        resource.getrusage(resource.RUSAGE_CHILDREN),
    )
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def compare(corpus: Path, precisions: list[str], rounds: int) -> None:
    runs: dict[str, list[dict]] = {p: [] for p in precisions}
    for n in range(rounds):
        order = precisions if n % 2 == 0 else precisions[::-1]
        for precision in order:
            backend, _, prec = precision.rpartition(":")
            proc = subprocess.run(
                [sys.executable, __file__, "--corpus", str(corpus), "--cold-json",
                 "--precision", prec, "--backend", backend or "auto"],
                cwd=ROOT, check=True, capture_output=True, text=True,
            )  # fmt: skip
            r = json.loads(proc.stdout.strip().splitlines()[-1])
            runs[precision].append(r)
            split = "  ".join(f"{k} {v:.1f}" for k, v in r["split"].items())
            print(
                f"{precision:>10} -> {r['backend']}:{r['precision']:<5} {r['wall_s']:6.1f} s wall  "
                f"{r['cpu_s']:6.1f} CPU-s  {r['pages'] / r['wall_s']:5.1f} pages/s  "
                f"{r['chunks'] / r['wall_s']:5.1f} chunks/s  peak RSS {mb(r['peak_rss'])}  "
                f"load {r['load']:.1f}  [{split}]  threads {r.get('ingest_threads')}"
                + (f"  FAILED {r['failed']}" if r["failed"] else ""),
                flush=True,
            )
    base = precisions[-1]
    med = {p: statistics.median(r["wall_s"] for r in rs) for p, rs in runs.items()}
    cpu = {p: statistics.median(r["cpu_s"] for r in rs) for p, rs in runs.items()}
    for p in precisions[:-1]:
        print(
            f"cold ingest {p} vs {base}: {med[base] / med[p]:.2f}x faster wall "
            f"({med[p]:.1f} vs {med[base]:.1f} s), {cpu[base] / cpu[p]:.2f}x less CPU "
            f"(medians of {rounds}; target >= 1.8x)"
        )
    peak = max(r["peak_rss"] for rs in runs.values() for r in rs)
    print(f"peak RSS of any run {mb(peak)} (target <= 2 GiB)")


def run(corpus: Path, tmp: Path, big_pages: int, data_dir: Path, precision: str = "auto") -> None:
    settings = Settings(data_dir=data_dir, embed_precision=precision)
    index, embedder = open_index(settings, workload=Workload.INGEST)
    t = time.perf_counter()
    embedder.embed(["warm up"], threads=settings.embed_threads)
    load_s = time.perf_counter() - t

    with PeakRSS() as rss:
        t = time.perf_counter()
        results = ingest_paths([corpus], settings, index=index, embedder=embedder)
        cold_s = time.perf_counter() - t
    pages = sum(r.pages or 0 for r in results)
    chunks = sum(r.chunks for r in results)
    split = {k: sum(r.timings.get(k, 0.0) for r in results) for k in results[0].timings}
    failed = [r for r in results if r.status == "failed"]

    texts = []
    titles = {d.id: d.title for d in index.documents()}
    from folio.types import Chunk

    for row in index.db.execute("SELECT * FROM chunks ORDER BY doc_id, ord"):
        c = Chunk(**{k: row[k] for k in Chunk.__dataclass_fields__ if k in row.keys()})  # noqa: SIM118
        texts.append(embedding_text(c, titles.get(c.doc_id, "")))
    t = time.perf_counter()
    for i in range(0, len(texts), 128):
        embedder.embed(
            texts[i : i + 128], batch_size=settings.embed_batch_size, threads=settings.embed_threads
        )
    embed_only_s = time.perf_counter() - t

    t = time.perf_counter()
    again = ingest_paths([corpus], settings, index=index, embedder=embedder)
    unchanged_s = time.perf_counter() - t
    assert all(r.status == "unchanged" for r in again), again
    env = {**os.environ, "FOLIO_DATA_DIR": str(settings.data_dir)}
    t = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "cli", "ingest", str(corpus)], env=env, cwd=ROOT,
        check=True, capture_output=True,
    )  # fmt: skip
    unchanged_cli_s = time.perf_counter() - t

    copy = tmp / "copy"
    shutil.copytree(corpus, copy)
    victim = sorted(copy.glob("*.pdf"), key=lambda p: p.stat().st_size)[0]
    with open(victim, "ab") as f:
        f.write(b"\n%changed\n")
    t = time.perf_counter()
    changed = ingest_paths([copy], settings, index=index, embedder=embedder)
    changed_s = time.perf_counter() - t
    reembedded = {r.name: r.chunks for r in changed if r.status == "ingested"}

    print(f"corpus: {corpus} ({len(results)} files, {pages} pages, {chunks} chunks)")
    if failed:
        print("failed:", [(r.name, r.error) for r in failed])
    print(f"model load                 {load_s:7.1f} s")
    print(
        f"cold ingest                {cold_s:7.1f} s   {pages / cold_s:6.1f} pages/s"
        f"   {chunks / cold_s:6.1f} chunks/s"
    )
    print("  split (s)                " + "  ".join(f"{k} {v:.1f}" for k, v in split.items()))
    print(
        f"embed the same chunks only {embed_only_s:7.1f} s   {chunks / embed_only_s:6.1f} chunks/s"
    )
    print(f"cold / embed-only          {cold_s / embed_only_s:7.2f} x   (target <= 1.3)")
    print(f"peak RSS (with worker)     {mb(rss.peak):>9}        (target <= 2 GiB)")
    print(f"unchanged re-ingest        {unchanged_s * 1000:7.0f} ms in-process (target <= 2 s)")
    print(f"unchanged re-ingest (CLI)  {unchanged_cli_s * 1000:7.0f} ms incl. Python start-up")
    print(f"one file changed           {changed_s:7.1f} s   re-embedded only: {reembedded}")

    if big_pages:
        big_pdf(tmp, big_pages)


def big_pdf(tmp: Path, n: int) -> None:
    from tests.fixtures import make_pdf

    pages = [
        f"Chapter {i // 20}. Page {i}. "
        + " ".join(
            f"Procedure {i}.{s}: set parameter P{i}_{s} to {s * 7} and save." for s in range(12)
        )
        for i in range(n)
    ]
    path = make_pdf(tmp / "big.pdf", pages, title=f"Synthetic {n}-page manual")
    env = {**os.environ, "FOLIO_DATA_DIR": str(tmp / "big-index")}
    proc = psutil.Popen(
        [sys.executable, "-m", "cli", "ingest", str(path)], env=env, cwd=ROOT,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    peak = 0
    t = time.perf_counter()
    while proc.poll() is None:
        with contextlib.suppress(psutil.Error):
            peak = max(
                peak,
                proc.memory_info().rss
                + sum(c.memory_info().rss for c in proc.children(recursive=True)),
            )
        time.sleep(0.1)
    print(
        f"{n}-page PDF                {time.perf_counter() - t:7.1f} s   peak RSS {mb(peak)}"
        f"   exit {proc.returncode}"
    )


if __name__ == "__main__":
    main()
