"""Compare PDF text extractors on the dev corpus: speed, empty pages, glued words.

Why: ingest/pdf.py extracts text with pypdfium2 rather than pypdf, the library the design first
named. This script keeps that choice checkable on real manuals. "Glued" tokens are words run
together by an extractor that lost the spaces on justified lines ("isfreesoftware"): tokens
missing from the words both extractors agree on that split into two or more of those words.
The last row times Folio's own parse_pdf (two text passes, pypdf structure, clean-up).

Usage: .venv/bin/python tests/bench/bench_extract.py [PDF or directory ...]
"""

from __future__ import annotations

import logging
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pypdfium2 as pdfium
from pypdf import PdfReader

ROOT = Path(__file__).resolve().parents[2]
LONG_TOKEN = 25
_EDGE_PUNCT = "\"'()[]{}<>.,;:!?*“”‘’«»"


def extract_pypdf(path: Path) -> list[str]:
    return [page.extract_text() or "" for page in PdfReader(path).pages]


def extract_pdfium(path: Path) -> list[str]:
    doc = pdfium.PdfDocument(str(path))
    try:
        texts = []
        for index in range(len(doc)):
            page = doc[index]
            textpage = page.get_textpage()
            texts.append(textpage.get_text_bounded())
            textpage.close()
            page.close()
        return texts
    finally:
        doc.close()


def extract_folio(path: Path) -> list[str]:
    sys.path.insert(0, str(ROOT))
    from ingest.pdf import parse_pdf

    return [page.text for page in parse_pdf(path, max_pages=100_000).pages]


EXTRACTORS: dict[str, Callable[[Path], list[str]]] = {
    "pypdf": extract_pypdf,
    "pypdfium2": extract_pdfium,
    "folio parse_pdf": extract_folio,
}


def tokens(texts: list[str]) -> list[str]:
    out = []
    for text in texts:
        for raw in text.split():
            token = raw.strip(_EDGE_PUNCT)
            if token:
                out.append(token)
    return out


def splits_into_words(word: str, vocab: set[str]) -> bool:
    """True when `word` is a concatenation of at least two vocabulary words."""
    n = len(word)
    if n > 60:
        return False
    parts = [0] + [-1] * n  # fewest parts needed to cover word[:i], -1 = impossible
    for end in range(1, n + 1):
        for start in range(max(0, end - 20), end):
            if parts[start] >= 0 and word[start:end] in vocab:
                candidate = parts[start] + 1
                if parts[end] < 0 or candidate < parts[end]:
                    parts[end] = candidate
    return parts[n] >= 2


def measure(paths: list[Path]) -> list[tuple]:
    rows = []
    for path in paths:
        outputs: dict[str, tuple[list[str], float, float]] = {}
        for name, extract in EXTRACTORS.items():
            cpu, wall = time.process_time(), time.perf_counter()
            texts = extract(path)
            outputs[name] = (texts, time.process_time() - cpu, time.perf_counter() - wall)
        words = {
            name: {t.lower() for t in tokens(texts) if t.isalpha()}
            for name, (texts, _, _) in outputs.items()
        }
        agreed = words["pypdf"] & words["pypdfium2"]
        vocab = {w for w in agreed if len(w) >= 2} | {"a", "i"}
        pages = len(outputs["pypdfium2"][0])
        for name, (texts, cpu, wall) in outputs.items():
            toks = tokens(texts)
            alpha = [t.lower() for t in toks if t.isalpha()]
            glued = [t for t in alpha if t not in agreed and len(t) >= 6]
            glued = [t for t in glued if splits_into_words(t, vocab)]
            rows.append(
                (
                    path.name,
                    name,
                    pages,
                    cpu,
                    wall,
                    pages / cpu if cpu else float("inf"),
                    sum(1 for t in texts if not t.strip()) if name != "folio parse_pdf" else None,
                    len(toks),
                    sum(1 for t in toks if len(t) > LONG_TOKEN) / max(len(toks), 1),
                    len(glued) / max(len(alpha), 1),
                    Counter(glued).most_common(2),
                )
            )
    return rows


def main(argv: list[str]) -> None:
    logging.disable(logging.WARNING)  # pypdf logs thousands of font warnings on some manuals
    targets = [Path(a) for a in argv] or [ROOT / ".corpus" / "dev"]
    paths = sorted(
        p for t in targets for p in ([t] if t.is_file() else t.glob("*.pdf")) if p.is_file()
    )
    if not paths:
        sys.exit("no PDFs found")
    rows = measure(paths)
    header = ("file", "extractor", "pages", "cpu s", "wall s", "pages/cpu-s", "empty")
    header += ("tokens", f">{LONG_TOKEN}ch", "glued", "glued examples")
    print(" | ".join(header))
    print(" | ".join("---" for _ in header))
    for file, name, pages, cpu, wall, rate, empty, ntok, long_, glued, examples in rows:
        shown = ", ".join(f"{w[:30]}" for w, _ in examples) or "-"
        print(
            f"{file} | {name} | {pages} | {cpu:.2f} | {wall:.2f} | {rate:.0f} | "
            f"{'-' if empty is None else empty} | {ntok} | {long_:.2%} | {glued:.2%} | {shown}"
        )
    print()
    for name in EXTRACTORS:
        mine = [r for r in rows if r[1] == name]
        pages, cpu = sum(r[2] for r in mine), sum(r[3] for r in mine)
        glued = sum(r[9] * r[7] for r in mine) / max(sum(r[7] for r in mine), 1)
        print(
            f"{name}: {pages} pages in {cpu:.1f} CPU s = {pages / cpu:.0f} pages/CPU-s; "
            f"glued ~{glued:.2%} of tokens"
        )


if __name__ == "__main__":
    main(sys.argv[1:])
