"""Token-aware chunking that keeps every chunk on one page of one document.

A chunk that straddled two pages would be cited with the wrong page half of the time, so pages
are hard boundaries; inside a page, chunks end at line or sentence boundaries and overlap by a
few sentences so that a step split across two chunks is still whole in one of them.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

from folio import text as lang
from folio.types import Chunk, Page, chunk_id

CountTokens = Callable[[list[str]], list[int]]

# A table-of-contents entry ("6.3.5 Byte-compilation . . . . . 31") points at a page; it never
# answers a question, yet it matches every term of one, so it is not indexed.
# Back-of-book index entries ("DESTDIR . . . . 8, 39") likewise.
_PAGE_REF = r"[\divxlcIVXLC]+"
_TOC_LINE = re.compile(rf"(?:\.\s?){{4,}}\s*{_PAGE_REF}(?:\s*[,–-]\s*{_PAGE_REF})*\s*$")


@dataclass(frozen=True)
class _Segment:
    start: int
    end: int
    tokens: int


def without_toc_lines(text: str) -> str:
    """The page text as it is indexed: a chunk is a slice of this, so what is dropped here
    cannot reappear between two kept lines."""
    return "\n".join(line for line in text.split("\n") if not _TOC_LINE.search(line))


def segments(text: str) -> list[tuple[int, int]]:
    """(start, end) spans of lines, with long lines cut into sentences (of either language)."""
    return lang.sentence_spans(text)


def _split_long(text: str, span: tuple[int, int], tokens: int, limit: int) -> list[_Segment]:
    """Cut a span longer than the limit at word boundaries (between Han characters in Chinese),
    sized by its token density."""
    a, b = span
    parts = -(-tokens // limit)
    cuts = [0, *(p for p in lang.break_points(text[a:b]) if p > 0), b - a]
    words = [(x, y) for x, y in zip(cuts, cuts[1:], strict=False) if text[a + x : a + y].strip()]
    per = max(1, -(-len(words) // parts))
    out = []
    for i in range(0, len(words), per):
        group = words[i : i + per]
        out.append(
            _Segment(a + group[0][0], a + group[-1][1], -(-tokens * len(group) // len(words)))
        )
    return out


def _pack(segs: list[_Segment], max_tokens: int, overlap: int) -> list[list[_Segment]]:
    groups: list[list[_Segment]] = []
    current: list[_Segment] = []
    size = 0
    for seg in segs:
        if current and size + seg.tokens > max_tokens:
            groups.append(current)
            carry: list[_Segment] = []
            carried = 0
            for prev in reversed(current):
                if carried + prev.tokens > overlap or len(carry) + 1 >= len(current):
                    break
                carry.insert(0, prev)
                carried += prev.tokens
            current, size = carry, carried
        current.append(seg)
        size += seg.tokens
    if current:
        groups.append(current)
    return groups


def chunk_page(
    page: Page,
    *,
    doc_id: str,
    first_ord: int,
    count_tokens: CountTokens,
    max_tokens: int = 220,
    overlap: int = 40,
) -> list[Chunk]:
    text = without_toc_lines(page.text)
    spans = segments(text)
    if not spans:
        return []
    counts = count_tokens([text[a:b] for a, b in spans])
    segs: list[_Segment] = []
    for span, n in zip(spans, counts, strict=True):
        if n > max_tokens:
            segs.extend(_split_long(text, span, n, max_tokens))
        else:
            segs.append(_Segment(span[0], span[1], n))
    chunks = []
    for i, group in enumerate(_pack(segs, max_tokens, overlap)):
        start, end = group[0].start, group[-1].end
        ord_ = first_ord + i
        chunks.append(
            Chunk(
                id=chunk_id(doc_id, ord_),
                doc_id=doc_id,
                ord=ord_,
                text=text[start:end],
                page_start=page.number,
                page_end=page.number,
                label_start=page.label,
                label_end=page.label,
                section=page.section,
                char_start=start,
                char_end=end,
                tokens=sum(s.tokens for s in group),
                ocr=page.ocr,
            )
        )
    return chunks


def chunk_pages(
    pages: Iterable[Page],
    *,
    doc_id: str,
    count_tokens: CountTokens,
    max_tokens: int = 220,
    overlap: int = 40,
) -> Iterator[Chunk]:
    """Chunks of a document in reading order with consecutive `ord`s; streams page by page."""
    ord_ = 0
    for page in pages:
        for c in chunk_page(
            page,
            doc_id=doc_id,
            first_ord=ord_,
            count_tokens=count_tokens,
            max_tokens=max_tokens,
            overlap=overlap,
        ):
            yield c
            ord_ += 1


def embedding_text(chunk: Chunk, title: str) -> str:
    """What the embedder sees: the chunk under its manual title and section heading."""
    head = " > ".join(p for p in (title, chunk.section) if p)
    return f"{head}\n{chunk.text}" if head else chunk.text
