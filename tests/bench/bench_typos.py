"""False refusals on misspelled questions (a benchmark, not a test).

    python tests/bench/bench_typos.py --data-dir DIR [--questions Q.jsonl] [--per-question 3]

Staff type fast. A question with one typo ("permissuons") must not be refused because the typo is
a word "no manual mentions". For every answerable question of the set, this makes N copies with
one random edit (swap, drop or change a letter) in a word of six letters or more, and prints how
many the answerability check refuses, with and without Folio's typo tolerance, and how many
unanswerable questions it still refuses. DIR is an index of the set's corpus (e.g. the one
`bench_ingest.py --keep DIR` builds).
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from folio.settings import Settings  # noqa: E402
from retrieval.answerable import answerable  # noqa: E402
from retrieval.search import rare_terms, search  # noqa: E402
from services.build import open_index  # noqa: E402

QUESTIONS = ROOT.parent / "shared" / "eval" / "dev" / "questions.jsonl"


def misspell(question: str, rnd: random.Random) -> tuple[str, str]:
    words = question.split()
    where = [i for i, w in enumerate(words) if w.isalpha() and len(w) >= 6]
    i = rnd.choice(where)
    w, j = words[i], rnd.randrange(1, len(words[i]) - 2)
    edit = rnd.choice(["swap", "drop", "change"])
    if edit == "swap":
        typo = w[:j] + w[j + 1] + w[j] + w[j + 2 :]
    elif edit == "drop":
        typo = w[:j] + w[j + 1 :]
    else:
        typo = w[:j] + rnd.choice("aeiou".replace(w[j].lower(), "")) + w[j + 1 :]
    return " ".join([*words[:i], typo, *words[i + 1 :]]), typo


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data-dir", required=True)
    ap.add_argument("--questions", default=str(QUESTIONS))
    ap.add_argument("--per-question", type=int, default=3)
    ap.add_argument("--seed", type=int, default=3)
    args = ap.parse_args()
    settings = Settings(data_dir=Path(args.data_dir))
    index, embedder = open_index(settings)
    rnd = random.Random(args.seed)
    rows = [json.loads(line) for line in Path(args.questions).read_text().splitlines() if line]

    total = tolerant = exact = 0
    still_refused = unanswerable = 0
    for row in rows:
        if row["kind"] == "unanswerable":
            unanswerable += 1
            hits = search(index, embedder, settings, row["question"])
            still_refused += not answerable(hits, settings).answerable
            continue
        for _ in range(args.per_question):
            question, typo = misspell(row["question"], rnd)
            hits = search(index, embedder, settings, question)
            total += 1
            if not answerable(hits, settings).answerable:
                tolerant += 1
                print(f"  refused: {typo!r} in {row['id']}")
            exact += bool(index.absent_terms(rare_terms(question)))
    print(f"misspelled answerable questions: {total}")
    print(f"  refused, exact-term check only   {exact:3d} ({exact / total:.0%})")
    print(f"  refused, with typo tolerance     {tolerant:3d} ({tolerant / total:.0%})")
    print(f"unanswerable questions still refused: {still_refused}/{unanswerable}")


if __name__ == "__main__":
    main()
