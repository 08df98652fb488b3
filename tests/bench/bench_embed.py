"""Embedding speed per backend: torch fp32, torch bf16, ONNX Runtime fp32 (and any other export).

Reads chunks of an existing index (as the embedder sees them: title > section + text), embeds
them the way ingest does (`ingest.stages.embed_window`: windows of 256 sorted by token count,
batches of FOLIO_EMBED_BATCH_SIZE, FOLIO_EMBED_THREADS threads) and single queries (1 thread),
each variant in its own process so neither warms or slows the other:

    python tests/bench/bench_embed.py --data-dir runs/dev --chunks 800 --threads 2
    python tests/bench/bench_embed.py --data-dir runs/dev --variant onnx:int8 --variant onnx:PATH

Prints chunks/s (wall and per CPU-second of the process), query latency p50/p95, and the
cosine of each variant's vectors to torch fp32's.
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

VARIANTS = ["torch:fp32", "torch:bf16", "onnx", "onnx:int8"]
QUERIES = [
    "How do I change the paper size for all users?",
    "What does the nut upsmon SHUTDOWNCMD do?",
    "How can I plot data from a file with gnuplot?",
    "怎么在 Debian Edu 中添加用户？",
    "How do I print in grayscale with Gutenprint?",
]


def chunk_texts(data_dir: Path, n: int) -> list[str]:
    """The first n chunks of each document in turn, as `embedding_text` builds them."""
    from folio.types import Chunk
    from ingest.chunk import embedding_text

    db = sqlite3.connect(f"file:{data_dir / 'registry.sqlite3'}?mode=ro", uri=True)
    titles = dict(db.execute("SELECT id, title FROM documents"))
    rows = db.execute(
        "SELECT doc_id, text, section FROM chunks ORDER BY ord, doc_id LIMIT ?", (n,)
    ).fetchall()
    return [
        embedding_text(
            Chunk("", doc, 0, text, None, None, None, None, section or "", 0, 0),
            titles.get(doc) or "",
        )
        for doc, text, section in rows
    ]


def one(variant: str, texts: list[str], threads: int, batch: int, out: Path) -> dict:
    """Run one variant in this process; vectors go to `out` (.npy)."""
    import resource

    from folio.embedding import open_embedder
    from folio.settings import Settings
    from ingest.stages import embed_window

    backend, _, rest = variant.partition(":")
    fields: dict = {"embed_backend": backend, "embed_threads": threads, "embed_batch_size": batch}
    if backend == "torch" or rest in ("fp32", "int8"):
        fields["embed_precision"] = rest or "fp32"
    elif rest:
        fields["embed_onnx"] = Path(rest)
    settings = Settings(**fields)
    embedder = open_embedder(settings)
    embedder.embed(texts[:32], batch_size=batch, threads=threads)  # load and warm up
    cpu0, t0 = time.process_time(), time.perf_counter()
    vecs = np.concatenate(
        [
            embed_window(embedder, [_Stub(t) for t in texts[i : i + 256]], "", settings)
            for i in range(0, len(texts), 256)
        ]
    )
    wall, cpu = time.perf_counter() - t0, time.process_time() - cpu0
    lat = []
    for _ in range(4):
        for q in QUERIES:
            s = time.perf_counter()
            embedder.embed_query(q, threads=1)
            lat.append((time.perf_counter() - s) * 1000)
    np.save(out, vecs)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {
        "variant": variant,
        "chunks": len(texts),
        "wall_s": round(wall, 2),
        "cpu_s": round(cpu, 2),
        "chunks_per_s": round(len(texts) / wall, 1),
        "chunks_per_cpu_s": round(len(texts) / cpu, 1),
        "query_ms_p50": round(statistics.median(lat), 1),
        "query_ms_p95": round(sorted(lat)[int(0.95 * (len(lat) - 1))], 1),
        "peak_rss_mib": round(rss),
    }


class _Stub:
    """What `embed_window` reads of a chunk when the title is empty: its text, no section."""

    section = ""

    def __init__(self, text: str) -> None:
        self.text = text


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data-dir", type=Path, required=True)
    ap.add_argument("--chunks", type=int, default=800)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--variant", action="append", help=f"default: {' '.join(VARIANTS)}")
    ap.add_argument("--one", help=argparse.SUPPRESS)  # internal: run this variant here
    ap.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args()
    texts = chunk_texts(args.data_dir, args.chunks)
    if args.one:
        print(json.dumps(one(args.one, texts, args.threads, args.batch, args.out)))
        return
    variants = args.variant or VARIANTS
    if "torch:fp32" not in variants:
        variants = ["torch:fp32", *variants]
    with tempfile.TemporaryDirectory() as tmp:
        results, vectors = [], {}
        for v in variants:
            out = Path(tmp) / f"{len(results)}.npy"
            cmd = [sys.executable, __file__, "--data-dir", str(args.data_dir), "--one", v]
            cmd += ["--chunks", str(args.chunks), "--threads", str(args.threads)]
            cmd += ["--batch", str(args.batch), "--out", str(out)]
            line = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
            results.append(json.loads(line.strip().splitlines()[-1]))
            vectors[v] = np.load(out)
    base = vectors["torch:fp32"]
    for r in results:
        cos = (vectors[r["variant"]] * base).sum(axis=1)
        r["cosine_to_torch_fp32_min"] = round(float(cos.min()), 5)
        r["cosine_to_torch_fp32_mean"] = round(float(cos.mean()), 5)
        print(json.dumps(r))


if __name__ == "__main__":
    main()
