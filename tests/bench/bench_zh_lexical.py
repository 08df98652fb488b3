"""How to cut Chinese for BM25: jieba (search or precise mode), character bigrams, FTS5 trigrams.

Reads the chunks of an existing index (build one with `folio --data-dir D ingest .corpus/zh-dev`),
builds one in-memory FTS5 table per option and scores BM25 alone on a question set:

    python tests/bench/bench_zh_lexical.py --data-dir runs/zh ../shared/eval/zh-dev/questions.jsonl

Prints page-hit@1/@5 and MRR@10 over the answerable questions, the analysis time and the number
of distinct index terms for each option. Latin text is analysed the same way in every option
(`folio.text`), so only the Chinese cut differs.
"""

from __future__ import annotations

import argparse
import json
import re
import sqlite3
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from folio import text as lang  # noqa: E402


def bigrams(run: str) -> list[str]:
    return [run] if len(run) == 1 else [run[i : i + 2] for i in range(len(run) - 1)]


def analyse(text: str, han) -> list[str]:
    out: list[str] = []
    for tok, is_han in lang.tokens(text):
        if is_han:
            out.extend(han(tok))
        else:
            out.extend(lang.stem(p) for p in re.split(r"[.\-/_]", tok.lower()) if p)
    return out


def jieba_search(run: str) -> list[str]:
    import jieba

    return list(jieba.cut_for_search(run))


OPTIONS = {
    "jieba search mode": jieba_search,
    "jieba precise mode": lambda r: lang.han_words(r),
    "character bigrams (Folio)": lang.han_index_terms,
    "unigrams + bigrams": lambda r: list(r) + bigrams(r),
}


def query_for(question: str, option: str) -> str:
    if option == "fts5 trigram":
        terms = [t for t in lang.query_terms(question)]
        return " OR ".join('"' + t.replace('"', "") + '"' for t in terms if len(t) >= 3)
    han = OPTIONS[option]
    terms: list[str] = []
    for term in lang.query_terms(question):
        parts = analyse(term, han)
        if lang.is_han(term) and option != "jieba search mode":
            terms.extend(f'"{p}"' for p in parts)
        elif parts:
            terms.append('"' + " ".join(parts) + '"')
    return " OR ".join(dict.fromkeys(terms))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("questions", type=Path)
    ap.add_argument("--data-dir", type=Path, required=True)
    args = ap.parse_args()
    src = sqlite3.connect(args.data_dir / "registry.sqlite3")
    rows = src.execute(
        "SELECT c.rowid, c.text, c.page_start, d.name FROM chunks c"
        " JOIN documents d ON d.id = c.doc_id WHERE d.status = 'ready'"
    ).fetchall()
    where = {r[0]: (r[3], r[2]) for r in rows}
    qs = [json.loads(x) for x in args.questions.read_text(encoding="utf-8").splitlines() if x]
    qs = [q for q in qs if q.get("doc") and q.get("pages")]
    lang.warm_up()
    print(f"{len(rows)} chunks, {len(qs)} answerable questions with pages")
    print(f"{'option':<26} {'hit@1':>6} {'hit@5':>6} {'MRR':>6} {'analyse s':>10} {'terms':>8}")
    for option in [*OPTIONS, "fts5 trigram"]:
        db = sqlite3.connect(":memory:")
        t0 = time.perf_counter()
        if option == "fts5 trigram":
            db.execute("CREATE VIRTUAL TABLE f USING fts5(text, tokenize='trigram')")
            data = [(r[0], r[1]) for r in rows]
        else:
            db.execute("CREATE VIRTUAL TABLE f USING fts5(text, tokenize='unicode61')")
            data = [(r[0], " ".join(analyse(r[1], OPTIONS[option]))) for r in rows]
        elapsed = time.perf_counter() - t0
        db.executemany("INSERT INTO f(rowid, text) VALUES (?, ?)", data)
        db.execute("CREATE VIRTUAL TABLE v USING fts5vocab(f, 'row')")
        n_terms = db.execute("SELECT COUNT(*) FROM v").fetchone()[0]
        hit1 = hit5 = mrr = 0.0
        for q in qs:
            match = query_for(q["question"], option)
            ranked = []
            if match:
                for (rowid,) in db.execute(
                    "SELECT rowid FROM f WHERE f MATCH ? ORDER BY rank LIMIT 50", (match,)
                ):
                    page = where[rowid]
                    if page not in ranked:
                        ranked.append(page)
            ranks = [i for i, (doc, page) in enumerate(ranked[:10], 1)
                     if doc == q["doc"] and page in q["pages"]]  # fmt: skip
            r = ranks[0] if ranks else None
            hit1 += r == 1
            hit5 += r is not None and r <= 5
            mrr += 1 / r if r else 0
        n = len(qs)
        print(
            f"{option:<26} {hit1 / n:6.3f} {hit5 / n:6.3f} {mrr / n:6.3f} {elapsed:10.2f} "
            f"{n_terms:8d}"
        )


if __name__ == "__main__":
    main()
