"""Parse, check and repair the `[n]` citations in an answer.

A small model often omits markers or points at the wrong passage, and even a large one can cite a
passage that does not say what the sentence claims. So every sentence is checked against the
passage it cites (a lexical support score over content words), markers that point nowhere are
dropped, and an uncited sentence that one passage clearly supports gets that citation, flagged
as added by Folio. Sentences that no passage supports are marked, never shown as cited.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from retrieval.prompt import REFUSAL

_MARKER = re.compile(r"\[(\s*\d+(?:\s*[-,–]\s*\d+)*\s*)\]")
_SENT = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9\"'(\[*-])|\n+")
_WORD = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.\-/]*[A-Za-z0-9]|[A-Za-z0-9]")
_STOP = frozenset(
    """a an the and or but if then than of to in on at by for with from as is are was were be been
    being it its this that these those you your we our they their he she his her them there here
    can could should would will may might must shall do does did done not no yes so such also
    into onto out up down over under about after before when where which who whom what how why
    all any each every some more most other only own same very just too use used using
    set""".split()
)
_REFUSAL_PATTERNS = re.compile(
    r"((manuals?|passages?) (do|does|did) ?n[o']t (cover|contain|answer|mention|address|say)"
    r"|not (covered|mentioned|found|addressed) in the (manuals?|passages?)"
    r"|none of the (manuals|passages) (is|are|covers?|contains?|mentions?|answers?|address)"
    r"|passages? (is|are) not about|not in the manuals|no information (about|on)|cannot answer)",
    re.IGNORECASE,
)

SUPPORTED = 0.5  # share of a sentence's content words found in the passage


@dataclass
class SentenceCheck:
    text: str
    cited: list[int]  # passage numbers the model gave (valid ones)
    support: dict[int, float] = field(default_factory=dict)
    supported: bool = False
    added: list[int] = field(default_factory=list)  # citations Folio attached
    invalid: list[int] = field(default_factory=list)  # markers pointing to no passage


@dataclass
class CheckedAnswer:
    text: str  # answer with invalid markers removed and Folio's repairs inserted
    sentences: list[SentenceCheck]
    used: list[int]  # passage numbers cited in the final text, in order of first use
    invalid: list[int]
    refused: bool


def _stem(w: str) -> str:
    w = w.lower()
    for suf in ("ing", "ed", "es", "s"):
        if len(w) > len(suf) + 3 and w.endswith(suf):
            return w[: -len(suf)]
    return w


def content_words(text: str) -> set[str]:
    return {_stem(w) for w in _WORD.findall(text) if w.lower() not in _STOP and len(w) > 1}


def support(sentence: str, passage: str) -> float:
    """Share of the sentence's content words that the passage contains."""
    words = content_words(sentence)
    if not words:
        return 1.0
    return len(words & content_words(passage)) / len(words)


def parse_markers(text: str) -> list[int]:
    nums: list[int] = []
    for m in _MARKER.finditer(text):
        for part in re.split(r"\s*,\s*", m.group(1).strip()):
            if re.search(r"[-–]", part):
                a, b = (int(x) for x in re.split(r"\s*[-–]\s*", part))
                if 0 < b - a < 10:
                    nums.extend(range(a, b + 1))
            elif part.isdigit():
                nums.append(int(part))
    return nums


def split_sentences(text: str) -> list[str]:
    return [s for s in _SENT.split(text) if s and s.strip()]


def is_refusal(text: str) -> bool:
    body = _MARKER.sub("", text).strip()
    return body.startswith(REFUSAL[:-1]) or bool(_REFUSAL_PATTERNS.search(body) and len(body) < 240)


def check(answer: str, passages: Sequence[str], *, repair: bool = True) -> CheckedAnswer:
    """Check every sentence against the passages it cites (1-based numbers)."""
    n = len(passages)
    refused = is_refusal(answer)
    checks: list[SentenceCheck] = []
    out_parts: list[str] = []
    for sentence in split_sentences(answer):
        markers = parse_markers(sentence)
        valid = [m for m in dict.fromkeys(markers) if 1 <= m <= n]
        invalid = [m for m in dict.fromkeys(markers) if not 1 <= m <= n]
        bare = _MARKER.sub("", sentence).strip()
        sc = SentenceCheck(bare, valid, invalid=invalid)
        scores = {i + 1: support(bare, p) for i, p in enumerate(passages)}
        sc.support = {m: round(scores[m], 3) for m in valid}
        factual = len(content_words(bare)) >= 3 and not refused
        if valid:
            sc.supported = any(scores[m] >= SUPPORTED for m in valid)
            if repair and not sc.supported and factual:
                best = max(scores, key=scores.get)
                if scores[best] >= SUPPORTED:
                    sc.added = [best]
                    sc.supported = True
        elif repair and factual and scores:
            best = max(scores, key=scores.get)
            if scores[best] >= SUPPORTED:
                sc.added = [best]
                sc.supported = True
        checks.append(sc)
        text = _MARKER.sub(lambda m: _keep_valid(m, n), sentence).rstrip()
        if sc.added:
            text = _insert_before_end(text, "".join(f"[{a}]" for a in sc.added))
        out_parts.append(text)
    final = _join(answer, out_parts)
    used = list(dict.fromkeys(parse_markers(final)))
    all_invalid = sorted({i for sc in checks for i in sc.invalid})
    return CheckedAnswer(final, checks, used, all_invalid, refused)


def _keep_valid(m: re.Match, n: int) -> str:
    nums = [x for x in parse_markers(m.group(0)) if 1 <= x <= n]
    return "".join(f"[{x}]" for x in dict.fromkeys(nums))


def _insert_before_end(sentence: str, marker: str) -> str:
    m = re.search(r"([.!?:;]*)$", sentence)
    end = m.start() if m else len(sentence)
    return f"{sentence[:end].rstrip()} {marker}{sentence[end:]}"


def _join(original: str, parts: list[str]) -> str:
    """Re-join sentences keeping the original's line structure (lists stay lists)."""
    joined: list[str] = []
    cursor = 0
    for sentence, part in zip(split_sentences(original), parts, strict=True):
        idx = original.find(sentence, cursor)
        sep = original[cursor:idx] if idx >= 0 else " "
        joined.append(sep if joined else "")
        joined.append(part)
        cursor = idx + len(sentence) if idx >= 0 else cursor
    return "".join(joined).strip()
