"""Retrieval latency benchmark (a benchmark, not a test).

    python tests/bench/bench_query.py [--data-dir DIR] [--scale 100000] [--repeat 3]

Measures query embedding + dense + BM25 + fusion + expansion for every question of the dev set
against an index of the dev corpus (built into a temporary directory unless --data-dir points at
one), then adds synthetic filler chunks (random unit vectors, text drawn from the corpus'
chunks' own text, cycled, so term frequencies stay those of real manuals) until the index holds
--scale chunks, and measures again.

At each point it also measures questions restricted to one real document (`doc_ids`): to the
manual that answers the question, and to another one (where that manual's best passages rank
far below the other manuals' and the filler's, the case a filter applied after the candidates
got wrong). Every restricted search must return passages, all of that document; the report also
counts how often the old filter (after the top 40 candidates per retriever) would have found
nothing.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from folio.bm25_memory import BM25Memory  # noqa: E402
from folio.index import DocRecord, doc_id_for  # noqa: E402
from folio.settings import Settings  # noqa: E402
from folio.text import warm_up  # noqa: E402
from folio.types import Chunk  # noqa: E402
from ingest.pipeline import ingest_paths  # noqa: E402
from retrieval.search import CANDIDATES, exact_matches, search  # noqa: E402
from services.build import open_index  # noqa: E402

QUESTIONS = ROOT.parent / "shared" / "eval" / "dev" / "questions.jsonl"


def pct(values: list[float], q: float) -> float:
    values = sorted(values)
    pos = (len(values) - 1) * q
    lo, hi = int(pos), min(int(pos) + 1, len(values) - 1)
    return values[lo] + (values[hi] - values[lo]) * (pos - lo)


def measure(index, embedder, settings, questions: list[str], repeat: int) -> dict:
    warm_up()  # jieba's dictionary, as `folio serve` does at start
    search(index, embedder, settings, "warm up the model and caches")
    totals, cpu, parts = [], [], {"embed_ms": [], "dense_ms": [], "bm25_ms": [], "fuse_ms": []}
    for _ in range(repeat):
        for q in questions:
            t, c = time.perf_counter(), time.thread_time()
            hits = search(index, embedder, settings, q)
            totals.append((time.perf_counter() - t) * 1000)
            cpu.append((time.thread_time() - c) * 1000)
            for k in parts:
                parts[k].append(hits.timings[k])
    out = {"n": len(totals), "p50": pct(totals, 0.5), "p95": pct(totals, 0.95)}
    # CPU time of the searching thread (the query embedding's single torch thread included):
    # on a shared machine wall time also counts the waits for a core.
    out.update(cpu_p50=pct(cpu, 0.5), cpu_p95=pct(cpu, 0.95))
    out.update({k: statistics.median(v) for k, v in parts.items()})
    return out


def measure_scoped(index, embedder, settings, items: list[tuple[str, str]], repeat: int) -> dict:
    """Latency and correctness of questions restricted to one document each: (question, doc id)
    pairs. `old_empty` counts the pairs whose document has no chunk among the unrestricted
    candidates (top CANDIDATES per retriever, exact-quote candidates), where the filter used to
    apply: those came back empty."""
    totals, cpu, empty, outside, old_empty = [], [], 0, 0, 0
    parts = {"embed_ms": [], "dense_ms": [], "bm25_ms": [], "fuse_ms": []}
    for _ in range(repeat):
        for q, doc in items:
            t, c = time.perf_counter(), time.thread_time()
            hits = search(index, embedder, settings, q, doc_ids=[doc])
            totals.append((time.perf_counter() - t) * 1000)
            cpu.append((time.thread_time() - c) * 1000)
            for k in parts:
                parts[k].append(hits.timings[k])
            empty += not hits.passages
            outside += sum(p.chunk.doc_id != doc for p in hits.passages)
    for q, doc in items:
        vector = embedder.embed_query(q, threads=settings.query_threads)
        candidates = [
            *index.dense(vector, CANDIDATES),
            *index.bm25(q, CANDIDATES),
            *exact_matches(index, q),
        ]
        old_empty += not any(cid.rsplit("-", 1)[0] == doc for cid, _ in candidates)
    return {
        "n": len(totals), "p50": pct(totals, 0.5), "p95": pct(totals, 0.95),
        "cpu_p50": pct(cpu, 0.5), "cpu_p95": pct(cpu, 0.95),
        "empty": empty, "outside": outside, "old_empty": old_empty, "pairs": len(items),
        **{k: statistics.median(v) for k, v in parts.items()},
    }  # fmt: skip


def scoped_items(index, records: list[dict]) -> dict[str, list[tuple[str, str]]]:
    """Each question with its own manual (when it has one) and with another real manual."""
    real = {d.name: d.id for d in index.documents() if d.collection != "filler"}
    names = sorted(real)
    own = [(r["question"], real[r["doc"]]) for r in records if r.get("doc") in real]
    other = []
    for i, r in enumerate(records):
        choices = [n for n in names if n != r.get("doc")]
        other.append((r["question"], real[choices[i % len(choices)]]))
    return {"its own manual": own, "another manual": other}


def report_scoped(label: str, r: dict) -> str:
    ok = "ok" if not r["empty"] and not r["outside"] else "FAILED"
    return (
        f"  doc_ids = {label}: {r['n']} queries  p50 {r['p50']:.1f} ms  p95 {r['p95']:.1f} ms "
        f"(CPU p50 {r['cpu_p50']:.1f}, p95 {r['cpu_p95']:.1f} ms)   "
        f"(median parts: embed {r['embed_ms']:.1f}, dense {r['dense_ms']:.1f}, "
        f"bm25 {r['bm25_ms']:.1f}, fuse+expand {r['fuse_ms']:.1f} ms)\n"
        f"    empty {r['empty']}, passages of other documents {r['outside']} ({ok}); "
        f"the old post-filter finds nothing for {r['old_empty']} of {r['pairs']}"
    )


def add_filler(index, embedder, target: int) -> int:
    texts = [t for (t,) in index.db.execute("SELECT text FROM chunks")]
    have = index.db.execute("SELECT COUNT(*) FROM chunks").fetchone()[0]
    need = target - have
    nrng = np.random.default_rng(7)
    per_doc = 5000
    made = 0
    while made < need:
        n = min(per_doc, need - made)
        sha = f"{made:064d}"
        doc = DocRecord(
            id=doc_id_for("filler", sha), collection="filler", name=f"filler-{made}.pdf",
            sha256=sha, status="pending", title="Filler",
        )  # fmt: skip
        index.begin(doc)
        for start in range(0, n, 1000):
            chunks = []
            for i in range(start, min(start + 1000, n)):
                text = texts[(made + i) % len(texts)]
                chunks.append(
                    Chunk(f"{doc.id}-{i:06d}", doc.id, i, text, i // 3 + 1, i // 3 + 1, None,
                          None, "", 0, len(text), 200)
                )  # fmt: skip
            vecs = nrng.standard_normal((len(chunks), embedder.dim)).astype(np.float32)
            vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
            index.add_chunks(doc, chunks, vecs)
        index.finish(doc, pages=n // 3, empty_pages=0, chunks=n)
        made += n
        print(f"  filler {have + made} chunks", flush=True)
    return have + made


def lexical(index, how: str) -> None:
    """Attach the server's in-memory BM25 and load it now (the server loads it in the
    background at start), or leave FTS5 to rank."""
    if how == "fts5":
        return
    index.bm25_memory = index.bm25_memory or BM25Memory(index.settings.bm25_memory_max_chunks)
    t = time.perf_counter()
    index.bm25_memory.sync(index.db, index.chunk_count())
    print(f"  lexical postings loaded in {time.perf_counter() - t:.1f} s", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data-dir")
    ap.add_argument("--corpus", default=str(ROOT / ".corpus" / "dev"))
    ap.add_argument("--questions", default=str(QUESTIONS), help="e.g. zh-dev's questions.jsonl")
    ap.add_argument("--scale", type=int, default=100_000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--keep", help="copy the scaled index here, to measure it again later")
    ap.add_argument(
        "--lexical", choices=["memory", "fts5"], default="memory",
        help="BM25 from postings in memory, as `folio serve` ranks, or FTS5, as the CLI does",
    )  # fmt: skip
    args = ap.parse_args()
    with open(args.questions, encoding="utf-8") as f:
        records = [json.loads(line) for line in f]
    questions = [r["question"] for r in records]
    tmp = Path(tempfile.mkdtemp(prefix="folio-qbench-"))
    try:
        if args.data_dir:
            data = tmp / "index"
            shutil.copytree(args.data_dir, data)
        else:
            data = tmp / "index"
        settings = Settings(data_dir=data)
        index, embedder = open_index(settings)
        if not args.data_dir:
            print("indexing the dev corpus …", flush=True)
            ingest_paths([Path(args.corpus)], settings, index=index, embedder=embedder)
        n = index.db.execute("SELECT COUNT(*) FROM chunks").fetchone()[0]
        lexical(index, args.lexical)
        r = measure(index, embedder, settings, questions, args.repeat)
        print(f"index, {n} chunks: {report(r)}")
        scoped = scoped_items(index, records)
        for label, items in scoped.items():
            r = measure_scoped(index, embedder, settings, items, args.repeat)
            print(report_scoped(label, r), flush=True)
        if args.scale > n:
            total = add_filler(index, embedder, args.scale)
            lexical(index, args.lexical)
            r = measure(index, embedder, settings, questions, args.repeat)
            print(f"scaled index, {total} chunks: {report(r)}")
            for label, items in scoped.items():
                r = measure_scoped(index, embedder, settings, items, args.repeat)
                print(report_scoped(label, r), flush=True)
        if args.keep:
            index.close()
            shutil.copytree(data, args.keep)
            print(f"kept the index in {args.keep}")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def report(r: dict) -> str:
    return (
        f"{r['n']} queries  p50 {r['p50']:.1f} ms  p95 {r['p95']:.1f} ms  (CPU p50 "
        f"{r['cpu_p50']:.1f}, p95 {r['cpu_p95']:.1f} ms)   (median parts: "
        f"embed {r['embed_ms']:.1f}, dense {r['dense_ms']:.1f}, bm25 {r['bm25_ms']:.1f}, "
        f"fuse+expand {r['fuse_ms']:.1f} ms)"
    )


if __name__ == "__main__":
    main()
