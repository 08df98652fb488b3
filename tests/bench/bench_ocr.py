"""OCR throughput and memory on the 16-page scanned manual of the tests (tests/fixtures.py).

Builds the scan (English and Chinese pages printed with real fonts, turned into noisy, skewed
JPEG page images in a PDF without a text layer), then reads it with OCR as the parser worker
does (`parse_file(..., ocr=True)`) in a fresh process, --repeat times, and prints pages/s
(with and without the one-time model load), seconds per page, the peak RSS of that process and
how much of the printed text came back (characters matched, spaces and case ignored). With
--ingest it also times a whole `ingest_paths` (worker + embedding + index) of the scan.

The machine's load average is printed beside the figures: on a shared 2-core box other work
changes them a lot.

Usage: .venv/bin/python tests/bench/bench_ocr.py [--repeat 3] [--threads 2] [--ingest]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# Runs in a fresh interpreter, so the RSS is the worker's alone: imports, models, pages.
WORKER = r"""
import difflib, json, resource, sys, time
sys.path.insert(0, {root!r})
started = time.perf_counter()
from ingest import ocr
from ingest.parse import parse_file
from tests.fixtures import SCAN_MANUAL
ocr._ENGINE = ocr.Ocr({threads})
ocr.engine().rapid  # the one-time load, timed apart
loaded = time.perf_counter()
runs = []
for _ in range({repeat}):
    t = time.perf_counter()
    doc = parse_file({pdf!r}, max_pages=5000, max_bytes=1 << 30, max_unzipped_bytes=1 << 30,
                     ocr=True)
    runs.append(time.perf_counter() - t)
def squash(text):
    return "".join(text.split()).lower()
def matching(a, b):
    blocks = difflib.SequenceMatcher(None, a, b, autojunk=False).get_matching_blocks()
    return sum(block.size for block in blocks)
matched = sum(matching(squash(s), squash(p.text)) for s, p in zip(SCAN_MANUAL, doc.pages))
total = sum(len(squash(src)) for src in SCAN_MANUAL)
print(json.dumps({{
    "pages": doc.page_count, "ocr_pages": doc.ocr_pages, "load_s": loaded - started,
    "runs_s": runs, "rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    "chars_matched": matched / total,
}}))
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, default=3, help="OCR passes over the scan")
    parser.add_argument("--threads", type=int, default=None, help="onnxruntime threads")
    parser.add_argument("--ingest", action="store_true", help="also time a whole ingest")
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    from tests.fixtures import make_scanned_text_pdf

    with tempfile.TemporaryDirectory(prefix="folio-bench-ocr-") as tmp:
        pdf = make_scanned_text_pdf(Path(tmp) / "kestrel-k9-service.pdf")
        load_before = os.getloadavg()[0]
        code = WORKER.format(root=str(ROOT), threads=args.threads, repeat=args.repeat, pdf=str(pdf))
        run = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True
        )
        r = json.loads(run.stdout.strip().splitlines()[-1])
        best = min(r["runs_s"])
        pages = r["pages"]
        size = pdf.stat().st_size / 2**20
        runs = ", ".join(f"{s:.1f}" for s in r["runs_s"])
        with_load = pages / (best + r["load_s"])
        print(f"scan: {pages} pages ({r['ocr_pages']} read with OCR), {size:.1f} MB")
        print(f"OCR: {pages / best:.2f} pages/s ({best / pages:.2f} s/page; best of {runs} s), "
              f"{with_load:.2f} pages/s with the model load ({r['load_s']:.1f} s)")  # fmt: skip
        print(f"peak RSS of the OCR process: {r['rss_mib']:.0f} MiB")
        print(f"text recovered: {r['chars_matched']:.2%} of the printed characters")
        if args.ingest:
            ingest_whole(pdf, Path(tmp))
        print(f"load average: {load_before:.1f} before, {os.getloadavg()[0]:.1f} after "
              f"({os.cpu_count()} cores)")  # fmt: skip


def ingest_whole(pdf: Path, tmp: Path) -> None:
    import time

    from folio.settings import Settings
    from ingest.pipeline import ingest_paths
    from services.build import open_index

    settings = Settings(data_dir=tmp / "index")
    index, embedder = open_index(settings)
    embedder.embed(["warm up"])
    started = time.perf_counter()
    (result,) = ingest_paths([pdf], settings, index=index, embedder=embedder)
    seconds = time.perf_counter() - started
    print(f"whole ingest ({result.status}): {seconds:.1f} s, {result.pages / seconds:.2f} pages/s, "
          f"{result.chunks} chunks; extract {result.timings['extract']:.1f} s, "
          f"embed {result.timings['embed']:.1f} s")  # fmt: skip


if __name__ == "__main__":
    main()
