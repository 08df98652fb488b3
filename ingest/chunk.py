"""Token-aware chunking that keeps every chunk on one page of one document.

A chunk that straddled two pages would be cited with the wrong page half of the time, so pages
are hard boundaries; inside a page, chunks end at line or sentence boundaries and overlap by a
few sentences so that a step split across two chunks is still whole in one of them.

Headings (`Page.headings`, told by type size in PDFs) start a new chunk once the current one
holds MIN_SECTION_TOKENS, with no overlap carried across them, and a heading never ends a
chunk: consumer manuals have a heading every few lines, and chunks that ran across three or
four short sections ("Reconnecting", "Clearing the pairing list") blurred their vectors. Smaller
sections stay with their neighbour. Each chunk's section is the outline's path followed by the
heading in force where the chunk starts (carried over from earlier pages), so the embedder and
BM25's section column see "Pairing a second device" even in a PDF without an outline.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

from folio import text as lang
from folio.types import Chunk, Page, chunk_id
from ingest.layout import bare

CountTokens = Callable[[list[str]], list[int]]

# A table-of-contents entry ("6.3.5 Byte-compilation . . . . . 31") points at a page; it never
# answers a question, yet it matches every term of one, so it is not indexed.
# Back-of-book index entries ("DESTDIR . . . . 8, 39") likewise.
_PAGE_REF = r"[\divxlcIVXLC]+"
_TOC_LINE = re.compile(rf"(?:\.\s?){{4,}}\s*{_PAGE_REF}(?:\s*[,–-]\s*{_PAGE_REF})*\s*$")


# A heading starts a new chunk only when the current one holds at least this many tokens; a
# smaller section (a heading and a line) is kept with the next one rather than left alone.
MIN_SECTION_TOKENS = 32


@dataclass(frozen=True)
class _Segment:
    start: int
    end: int
    tokens: int
    heading: bool = False  # the segment is (part of) a heading line


def heading_spans(text: str, headings: Iterable[str]) -> list[tuple[int, int, str]]:
    """(start, end, heading) of each heading printed as whole lines of `text`, in order.

    A heading wrapped over lines matches across the line break. A heading not found (dropped
    with a contents line, or not alone on its line) is skipped; the search goes on from the
    last one found, so a later line that repeats a heading's words is not taken for it.
    """
    found = []
    pos = 0
    for head in headings:
        words = head.split()
        if not words:
            continue
        pattern = re.compile(r"(?m)^[ \t]*" + r"\s+".join(map(re.escape, words)) + r"[ \t]*$")
        m = pattern.search(text, pos)
        if m is not None:
            found.append((m.start(), m.end(), head))
            pos = m.end()
    return found


def section_path(outline: str, heading: str | None) -> str:
    """The outline's path followed by the heading in force, unless the outline already ends
    with it (books whose outline lists the same headings)."""
    if not heading:
        return outline
    if bare(outline.rsplit(" > ", 1)[-1]) == bare(heading):
        return outline
    return f"{outline} > {heading}" if outline else heading


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


def _pack(
    segs: list[_Segment], max_tokens: int, overlap: int, min_section: int = MIN_SECTION_TOKENS
) -> list[list[_Segment]]:
    groups: list[list[_Segment]] = []
    current: list[_Segment] = []
    size = 0
    for i, seg in enumerate(segs):
        starts_section = seg.heading and (i == 0 or not segs[i - 1].heading)
        if current and starts_section and size >= min_section:
            groups.append(current)  # a new section: no overlap carried into it
            current, size = [], 0
        elif current and size + seg.tokens > max_tokens:
            head: list[_Segment] = []  # a heading never ends a chunk: it moves on with its text
            while len(current) > 1 and current[-1].heading:
                head.insert(0, current.pop())
            groups.append(current)
            carry: list[_Segment] = []
            carried = 0
            if not head:
                for prev in reversed(current):
                    if (
                        carried + prev.tokens > overlap
                        or len(carry) + 1 >= len(current)
                        or prev.heading
                    ):
                        break
                    carry.insert(0, prev)
                    carried += prev.tokens
            current = carry + head
            size = carried + sum(h.tokens for h in head)
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
    heading: str | None = None,
) -> list[Chunk]:
    """The page's chunks; `heading` is the heading in force where the page starts (the last
    one of an earlier page), for the sections of the chunks before the page's first heading."""
    text = without_toc_lines(page.text)
    spans = segments(text)
    if not spans:
        return []
    heads = heading_spans(text, page.headings)
    counts = count_tokens([text[a:b] for a, b in spans])
    segs: list[_Segment] = []
    for span, n in zip(spans, counts, strict=True):
        if n > max_tokens:
            segs.extend(_split_long(text, span, n, max_tokens))
        else:
            is_head = any(a <= span[0] and span[1] <= b for a, b, _ in heads)
            segs.append(_Segment(span[0], span[1], n, is_head))
    chunks = []
    for i, group in enumerate(_pack(segs, max_tokens, overlap)):
        start, end = group[0].start, group[-1].end
        in_force = [h for a, _, h in heads if a <= start]
        section = section_path(page.section, in_force[-1] if in_force else heading)
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
                section=section,
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
    heading: str | None = None  # the last heading seen, in force at the top of the next page
    outline: str | None = None
    for page in pages:
        if page.section != outline:  # a new outline section: an earlier heading is over
            heading, outline = None, page.section
        for c in chunk_page(
            page,
            doc_id=doc_id,
            first_ord=ord_,
            count_tokens=count_tokens,
            max_tokens=max_tokens,
            overlap=overlap,
            heading=heading,
        ):
            yield c
            ord_ += 1
        found = heading_spans(without_toc_lines(page.text), page.headings)
        if found:
            heading = found[-1][2]


def embedding_text(chunk: Chunk, title: str) -> str:
    """What the embedder sees: the chunk under its manual title and section heading."""
    head = " > ".join(p for p in (title, chunk.section) if p)
    return f"{head}\n{chunk.text}" if head else chunk.text
