"""Fit "do the manuals answer this?" on dev + zh-dev and report how it would do.

    python tests/bench/fit_answerability.py --dev runs/dev --zh runs/zh

`runs/dev` and `runs/zh` are indexes of `.corpus/dev` and `.corpus/zh-dev`. Examples: each set's
questions on its own library (answerable unless `doc` is null) and on the other set's library
(none answerable there: the questions of a neighbouring domain that a library does not cover,
which is what most refused questions look like). Prints the trade-off curve the cut is chosen
from, leave-one-out rates, and the refusal rates on each set's own questions with the
unknown-term rule included; `--write` stores the model as the shipped default.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from folio.evaluate import read_questions  # noqa: E402
from folio.settings import Settings  # noqa: E402
from retrieval.answerable import answerable  # noqa: E402
from retrieval.calibrate import examples_from, fit, format_report, leave_one_out  # noqa: E402
from retrieval.search import search  # noqa: E402
from services.build import open_index  # noqa: E402

EVAL = ROOT.parent / "shared" / "eval"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--dev", type=Path, required=True)
    ap.add_argument("--zh", type=Path, required=True)
    args = ap.parse_args()
    sets = {
        "dev": (args.dev, read_questions(EVAL / "dev" / "questions.jsonl")),
        "zh-dev": (args.zh, read_questions(EVAL / "zh-dev" / "questions.jsonl")),
    }
    opened = {name: (Settings(data_dir=d), *open_index(Settings(data_dir=d)))
              for name, (d, _) in sets.items()}  # fmt: skip
    examples = []
    for name, (_, questions) in sets.items():
        for library, (settings, index, embedder) in opened.items():
            examples += examples_from(
                index, embedder, settings, questions, library_answers=library == name
            )
    print(f"{len(examples)} examples, {sum(e.answerable for e in examples)} answerable")
    model = fit(examples, fitted_on="dev + zh-dev (own and cross-library questions)")
    print(format_report(model, leave_one_out(examples)))
    for name, (_, questions) in sets.items():
        settings, index, embedder = opened[name]
        refused = {
            q["id"]: not answerable(search(index, embedder, settings, q["question"]),
                                    settings, model).answerable
            for q in questions
        }  # fmt: skip
        ans = [q["id"] for q in questions if q.get("doc")]
        una = [q["id"] for q in questions if not q.get("doc")]
        print(
            f"{name}: unanswerable refused {sum(refused[i] for i in una)}/{len(una)}, "
            f"false refusals {sum(refused[i] for i in ans)}/{len(ans)} "
            f"{[i for i in ans if refused[i]]} missed {[i for i in una if not refused[i]]}"
        )


if __name__ == "__main__":
    main()
