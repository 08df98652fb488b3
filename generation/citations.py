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

from folio import text as lang
from retrieval.prompt import REFUSALS

_MARKER = re.compile(r"\[(\s*\d+(?:\s*[-,–]\s*\d+)*\s*)\]")
_REFUSAL_PATTERNS = re.compile(
    r"((manuals?|passages?) (do|does|did) ?n[o']t (cover|contain|answer|mention|address|say)"
    r"|not (covered|mentioned|found|addressed) in the (manuals?|passages?)"
    r"|none of the (manuals|passages) (is|are|covers?|contains?|mentions?|answers?|address)"
    r"|passages? (is|are) not about|not in the manuals|no information (about|on)|cannot answer"
    # Chinese: 手册中没有涉及…, 文档未提及…, 段落里并没有说明…, 无法根据手册回答…, 没有相关信息
    r"|(手册|文档|资料|段落|材料|内容|说明书)(中|里|内)?(并|都|均)?(没有|未|不|没)"
    r"(涉及|提及|提到|包含|覆盖|说明|介绍|讲|写|给出|相关)"
    r"|无法(根据|从|依据|在).{0,12}(回答|找到|得知|确定)"
    r"|没有(找到)?(相关|有关)的?(信息|内容|说明|资料))",
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


def content_words(text: str) -> set[str]:
    return lang.content_words(text)


def support(sentence: str, passage: str) -> float:
    """Share of the sentence's content words that the passage contains.

    Across languages (an English answer from a Chinese page) only what both languages write
    alike can be compared: names, identifiers and numbers, the words that are not common in the
    sentence's language. A sentence with none of those cannot be checked lexically and keeps
    its citation.
    """
    words = content_words(sentence)
    if lang.detect_language(sentence) != lang.detect_language(passage):
        words = {w for w in words if not lang.is_han(w) and not lang.is_common(w)}
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
    return lang.sentences(text)


def is_refusal(text: str) -> bool:
    """Whether an answer says the manuals do not cover the question, in either language and in
    the model's own wording (a long answer that mentions a gap somewhere is not a refusal)."""
    body = _MARKER.sub("", text).strip()
    if any(body.startswith(r[:-1]) for r in REFUSALS.values()):
        return True
    limit = 240 if lang.detect_language(body) is lang.Lang.EN else 100
    return bool(_REFUSAL_PATTERNS.search(body)) and len(body) < limit


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
    m = re.search(r"([.!?:;。！？：；]*)$", sentence)
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
