"""Score runs on the product-manual set by half, and the page-level BM25 baseline.

The issue measured Folio on consumer manuals against plain BM25 over whole pages (one document
= one page) and found them level. This bench makes that baseline on any corpus: each page's
cleaned text (Folio's own parsers, so both sides read the same text) analysed as Folio analyses
chunks (`folio.text.index_text`), one FTS5 row a page, the question as Folio asks FTS5
(`folio.index.fts_query`, no pruning), ranked by `bm25()`.

Usage:
  python tests/bench/bench_product_manuals.py baseline CORPUS QUESTIONS --out RUN.jsonl
  python tests/bench/bench_product_manuals.py score QUESTIONS RUN.jsonl [RUN.jsonl ...]
      prints page-hit@1/@3/@5, MRR@10 and refusals for each `half` of the questions
      (`tune`, `held-out`) and for all of them, one line a run
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from folio.evaluate import read_questions, score_run  # noqa: E402
from folio.index import fts_query  # noqa: E402
from folio.text import index_text  # noqa: E402
from ingest.errors import IngestError  # noqa: E402
from ingest.parse import parse_file  # noqa: E402


def page_bm25_run(corpus: Path, questions: list[dict], k: int = 10) -> list[dict]:
    """One run line a question: the k best pages by BM25 over whole pages."""
    db = sqlite3.connect(":memory:")
    db.execute("CREATE VIRTUAL TABLE p USING fts5(text, tokenize=\"unicode61 tokenchars '_'\")")
    where: list[tuple[str, int, str]] = []
    for path in sorted(corpus.iterdir()):
        try:
            doc = parse_file(path, max_pages=5000, max_bytes=2**30, max_unzipped_bytes=2**31)
        except IngestError:
            continue
        for page in doc.pages:
            where.append((path.name, page.number, page.text))
            db.execute(
                "INSERT INTO p (rowid, text) VALUES (?, ?)", (len(where), index_text(page.text))
            )
    run = []
    for q in questions:
        match = fts_query(q["question"])
        rows = (
            db.execute(
                "SELECT rowid FROM p WHERE p MATCH ? ORDER BY bm25(p) LIMIT ?", (match, k)
            ).fetchall()
            if match
            else []
        )
        results = [
            {"doc": where[r - 1][0], "page": where[r - 1][1], "text": where[r - 1][2][:200]}
            for (r,) in rows
        ]
        run.append({"id": q["id"], "results": results})
    return run


def halves(questions: list[dict]) -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = {}
    for q in questions:
        out.setdefault(q.get("half", "all"), []).append(q)
    out["all"] = questions
    return out


def score_line(questions: list[dict], run: list[dict]) -> str:
    s = score_run(questions, run)
    line = (
        f"@1 {s.page_hit[1]:.3f}  @3 {s.page_hit[3]:.3f}  @5 {s.page_hit[5]:.3f}  "
        f"MRR {s.mrr:.3f}  (n={s.n_answerable})"
    )
    if s.correct_refusal_rate is not None:
        line += f"  refused {s.correct_refusal_rate:.2f} / false {s.false_refusal_rate:.2f}"
    return line


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    b = sub.add_parser("baseline")
    b.add_argument("corpus", type=Path)
    b.add_argument("questions", type=Path)
    b.add_argument("--out", type=Path, required=True)
    s = sub.add_parser("score")
    s.add_argument("questions", type=Path)
    s.add_argument("runs", type=Path, nargs="+")
    a = ap.parse_args()
    questions = read_questions(a.questions)
    if a.cmd == "baseline":
        run = page_bm25_run(a.corpus, questions)
        a.out.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in run))
        print(f"{len(run)} questions -> {a.out}")
        return 0
    for path in a.runs:
        run = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
        print(path)
        for half, qs in halves(questions).items():
            print(f"  {half:9} {score_line(qs, run)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
