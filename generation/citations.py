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
_SPACED_MARKER = re.compile(r"([ \t]*)" + _MARKER.pattern)
_OPEN_MARKER = re.compile(r"\[[\s\d,\-–]*\Z")  # a marker the stream has not finished yet
_END_MARKS = ".!?:;。！？：；"
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


def support(sentence: str, passage: str) -> float | None:
    """Share of the sentence's content words that the passage contains; None when it cannot
    be checked lexically.

    Across languages (an English answer from a Chinese page) only what both languages write
    alike can be compared: names, identifiers and numbers, the words that are not common in the
    sentence's language. Numbers weigh as a whole: a sentence whose number (a port, a size, a
    timeout) the passage does not contain is not supported by it, however many other words
    match (the local model answered "port 3493" from R's help passages: NUT's port, from another
    passage). A sentence with none of those is unverifiable (None): it keeps a
    citation the model gave, and Folio never adds one on that basis. A sentence with no content
    words at all ("Yes.", "See below.") supports nothing: 0.0, so an answer made of such
    sentences is never shown as a cited answer.
    """
    words = content_words(sentence)
    if not words:
        return 0.0
    if lang.detect_language(sentence) != lang.detect_language(passage):
        words = {w for w in words if not lang.is_han(w) and not lang.is_common(w)}
        if not words:
            return None
    have = content_words(passage)
    share = len(words & have) / len(words)
    numbers = {w for w in words if any(ch.isdigit() for ch in w)}
    if numbers:  # a port, a size, a timeout: the fact a reader acts on must be in the passage
        share *= len(numbers & have) / len(numbers)
    return share


def strip_markers(text: str) -> str:
    """The text without its `[n]` markers."""
    return _MARKER.sub("", text).strip()


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
    body = strip_markers(text)
    if any(body.startswith(r[:-1]) for r in REFUSALS.values()):
        return True
    limit = 240 if lang.detect_language(body) is lang.Lang.EN else 100
    return bool(_REFUSAL_PATTERNS.search(body)) and len(body) < limit


def refusal_settled(prefix: str) -> bool | None:
    """`is_refusal` of every answer that starts with `prefix` when the prefix already decides
    it, else None (the stream's verifier holds Folio's added citations until it knows). Mirrors
    `is_refusal`: change the two together (tests/test_verified.py checks that they agree)."""
    body = strip_markers(_without_open_marker(prefix))
    if any(body.startswith(r[:-1]) for r in REFUSALS.values()):
        return True
    if len(body) >= 240:  # past is_refusal's longest limit, and not starting like a refusal
        return False
    # Chinese: with 60 Han characters an answer under 240 characters stays Chinese (limit 100)
    han = len(re.findall(f"[{lang.HAN}]", body))
    if len(body) >= 100 and han * (lang.HAN_WEIGHT + 1) >= 240:
        return False
    return None


def check(answer: str, passages: Sequence[str], *, repair: bool = True) -> CheckedAnswer:
    """Check every sentence against the passages it cites (1-based numbers)."""
    refused = is_refusal(answer)
    checks: list[SentenceCheck] = []
    out_parts: list[str] = []
    for sentence in split_sentences(answer):
        sc, text = check_sentence(sentence, passages, refused=refused, repair=repair)
        checks.append(sc)
        out_parts.append(text)
    final = _join(answer, out_parts)
    used = list(dict.fromkeys(parse_markers(final)))
    all_invalid = sorted({i for sc in checks for i in sc.invalid})
    return CheckedAnswer(final, checks, used, all_invalid, refused)


def check_sentence(
    sentence: str, passages: Sequence[str], *, refused: bool, repair: bool = True
) -> tuple[SentenceCheck, str]:
    """One sentence of an answer: its check and its repaired text (markers that point nowhere
    dropped, Folio's citation inserted before the end mark). `refused` is whether the whole
    answer is a refusal: then no citation is added. `check` and the stream's verifier
    (`generation.verified`) both call this, so the stream and the answer agree."""
    n = len(passages)
    markers = parse_markers(sentence)
    valid = [m for m in dict.fromkeys(markers) if 1 <= m <= n]
    invalid = [m for m in dict.fromkeys(markers) if not 1 <= m <= n]
    bare = _SPACED_MARKER.sub("", sentence).strip()  # "… factory [1]." -> "… factory."
    sc = SentenceCheck(bare, valid, invalid=invalid)
    raw = {i + 1: support(bare, p) for i, p in enumerate(passages)}
    scores = {m: s for m, s in raw.items() if s is not None}  # what can be checked
    sc.support = {m: round(scores[m], 3) for m in valid if m in scores}
    factual = len(content_words(bare)) >= 3 and not refused
    if valid:
        sc.supported = any(raw[m] is None or raw[m] >= SUPPORTED for m in valid)
    if repair and factual and scores and not sc.supported:
        best = max(scores, key=scores.get)
        if scores[best] >= SUPPORTED:
            sc.added = [best]
            sc.supported = True
    text = _repair_markers(sentence, n).rstrip()
    if sc.added:
        text = _insert_before_end(text, "".join(f"[{a}]" for a in sc.added))
    return sc, text


def stable_prefix(partial: str, n: int) -> str:
    """The start of an unfinished sentence as `check_sentence` will write it, whatever follows:
    markers so far repaired, less a marker still open (`[` before `7]`) and less the end
    (spaces and end marks), where a citation may yet be inserted or a dropped marker take the
    spaces before it. What the stream shows of the sentence being written."""
    text = _repair_markers(_without_open_marker(partial), n)
    end = len(text)
    while end and (text[end - 1].isspace() or text[end - 1] in _END_MARKS):
        end -= 1
    return text[:end]


def _without_open_marker(text: str) -> str:
    m = _OPEN_MARKER.search(text)
    return text[: m.start()] if m else text


def _repair_markers(text: str, n: int) -> str:
    """Valid markers written one by one (`[1, 2]` -> `[1][2]`); markers that point nowhere
    dropped with the spaces before them (`red [7].` -> `red.`)."""

    def keep(m: re.Match) -> str:
        kept = _keep_valid(m, n)
        return m.group(1) + kept if kept else ""

    return _SPACED_MARKER.sub(keep, text)


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
