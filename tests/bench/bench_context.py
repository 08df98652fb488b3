"""What should a chunk's vector represent: the chunk under its title and section, or its text alone?

Builds the corpus twice (once per variant, in temporary directories), then scores the paraphrased
questions and the evidence quotes (`folio eval --quotes`) with dense retrieval alone and with the
full hybrid search:

    python tests/bench/bench_context.py ../shared/eval/dev/questions.jsonl .corpus/dev
    python tests/bench/bench_context.py ../shared/eval/zh-dev/questions.jsonl .corpus/zh-dev

Only the vectors differ: BM25 indexes the title and section in their own columns either way, and
the prompt shows them either way.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import ingest.pipeline as pipeline  # noqa: E402
from folio.evaluate import quote_questions, read_questions, score_run  # noqa: E402
from folio.settings import Settings  # noqa: E402
from retrieval.search import search  # noqa: E402
from services.answer import passage_dict  # noqa: E402
from services.build import open_index  # noqa: E402

VARIANTS = {
    "title > section + text": pipeline.embedding_text,
    "text alone": lambda chunk, title: chunk.text,
}


def run(index, embedder, settings, questions: list[dict], mode: str) -> list[dict]:
    rows = []
    for q in questions:
        hits = search(index, embedder, settings, q["question"], k=10, mode=mode)
        rows.append({"id": q["id"], "results": [passage_dict(p) for p in hits.passages]})
    return rows


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("questions", type=Path)
    ap.add_argument("corpus", type=Path)
    args = ap.parse_args()
    questions = read_questions(args.questions)
    sets = {"questions": questions, "quotes": quote_questions(questions)}
    print(f"{'vector':<24} {'set':<10} {'mode':<7} {'hit@1':>6} {'hit@5':>6} {'MRR':>6}")
    for name, fn in VARIANTS.items():
        tmp = Path(tempfile.mkdtemp(prefix="folio-ctx-"))
        try:
            pipeline.embedding_text = fn
            settings = Settings(data_dir=tmp)
            index, embedder = open_index(settings)
            pipeline.ingest_paths([args.corpus], settings, index=index, embedder=embedder)
            for set_name, qs in sets.items():
                for mode in ("dense", "hybrid"):
                    s = score_run(qs, run(index, embedder, settings, qs, mode))
                    print(
                        f"{name:<24} {set_name:<10} {mode:<7} {s.page_hit[1]:6.3f} "
                        f"{s.page_hit[5]:6.3f} {s.mrr:6.3f}",
                        flush=True,
                    )
            index.close()
        finally:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
