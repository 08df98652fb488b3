"""The verified stream: whatever the chunks, the text handed out is the checked answer.

Pure: no model, no server. Every answer below is fed cut every possible way up to 7 characters
and at random places; what comes out must add up to `check(answer).text` exactly, and nothing
shown on the way may be a marker that points nowhere or an open one.
"""

from __future__ import annotations

import random
import re

import pytest

from generation.citations import check, is_refusal, refusal_settled
from generation.verified import VerifiedStream

PASSAGES = [
    "Replace the HEPA filter (part AQF-30) every 12 months or when the indicator turns red.",
    "Hold RESET for 3 seconds until the filter indicator turns green.",
    "恢复出厂设置：在通电状态下，用牙签按住背面的 RESET 孔 8 秒，指示灯变为红色后松开。",
]
LONG = (
    "Replace the HEPA filter every 12 months or when the indicator turns red [7]. The unit "
    "ships with a lifetime warranty from the factory [1]. Hold RESET for 3 seconds until the "
    "filter indicator turns green. After that, the indicator stays green for a year [2, 9]."
)
ANSWERS = {
    "long, out of range, unsupported, uncited": LONG,
    "short with an added citation": "Hold RESET for 3 seconds. Then it turns green [7].",
    "list": "To reset:\n1. Hold RESET for 3 seconds [2].\n2. Check it turns green [2, 7].",
    "markers after the stop": "Replace the filter every 12 months. [1] Hold RESET [4-5]. [2]",
    "marker at the start": "[7] Hold RESET for 3 seconds until the filter indicator turns green.",
    "range and list markers": "The filter is AQF-30 [1-2]. Hold RESET [ 2 , 8 ] for 3 seconds.",
    "literal brackets": "Press [OK] then [Enter] on the panel [1]; see [note 2] below [3].",
    "spaces around": "  \n Hold RESET for 3 seconds [2].  \n\n  It turns green [7]. \n",
    "refusal": "The manuals do not cover this.",
    "refusal with a marker": "The manuals do not cover this [7].",
    "refusal in own words after a claim": (
        "Hold RESET for 3 seconds until the filter indicator turns green. The manuals do not "
        "say how often to do this [7]."
    ),
    "chinese": (
        "用牙签按住背面的 RESET 孔 8 秒 [7]。指示灯变为红色后松开 [3]。"
        "把路由器放进冰箱冷冻两小时 [1]。"
    ),
    "chinese, uncited": (
        "恢复出厂设置时，用牙签按住背面的 RESET 孔 8 秒，指示灯变为红色后松开。完成。"
    ),
    "chinese closers": "他说：“按住 RESET 孔 8 秒。”然后松开 [3]。",
    "chinese refusal": "手册中没有涉及这个问题 [7]。",
    "only a bad marker": "[7]",
    "empty": "",
    "no stop at the end": "Hold RESET for 3 seconds until the filter indicator turns green [2",
}
OPEN_MARKER = re.compile(r"\[[\s\d,\-–]*$")


def stream(answer: str, cuts: list[int], passages=PASSAGES) -> list[str]:
    """The cumulative text shown after each piece, cutting `answer` at `cuts`."""
    v = VerifiedStream(passages)
    shown, bounds = [], [0, *sorted(set(cuts)), len(answer)]
    for a, b in zip(bounds, bounds[1:], strict=False):
        v.feed(answer[a:b])
        shown.append(v.text)
    v.flush()
    shown.append(v.text)
    return shown


def chunkings(answer: str) -> list[list[int]]:
    rng = random.Random(len(answer))
    every = [list(range(size, len(answer), size)) for size in range(1, 8)]
    scattered = [sorted(rng.sample(range(1, max(2, len(answer))), min(6, len(answer) // 3)))
                 for _ in range(20)]  # fmt: skip
    return [[], *every, *scattered]


@pytest.mark.parametrize("name", list(ANSWERS))
def test_the_stream_adds_up_to_the_checked_answer_at_any_cut(name):
    answer = ANSWERS[name]
    final = check(answer.strip(), PASSAGES).text
    bad = {f"[{m}]" for m in range(len(PASSAGES) + 1, 12)}
    for cuts in chunkings(answer):
        shown = stream(answer, cuts)
        assert shown[-1] == final, (cuts, shown[-1], final)
        for text in shown:  # every state a client can display
            assert final.startswith(text)  # never something the check takes back
            assert not any(b in text for b in bad)
            assert not OPEN_MARKER.search(text)


def test_invalid_marker_cut_across_chunks_is_never_shown():
    pieces = ["Hold RESET for 3 seconds until the indicator turns green [", "7", "]. Then"]
    v = VerifiedStream(PASSAGES)
    out = [v.feed(p) for p in pieces] + [v.flush()]
    assert "[" not in "".join(out[:2])
    assert v.text == check("".join(pieces), PASSAGES).text
    assert "[7]" not in v.text and "[2]" in v.text  # Folio's citation, not the model's


def test_words_stream_before_the_sentence_ends():
    v = VerifiedStream(PASSAGES)
    assert v.feed("Hold RESET for") == "Hold RESET for"
    assert v.feed(" 3 seconds [2") == " 3 seconds"  # the open marker waits
    assert v.feed("] until") == " [2] until"
    v.feed(" the filter indicator turns green.")
    assert v.text.endswith("turns green")  # the end mark waits for the sentence to finish


def test_long_answer_is_not_held_back_by_the_refusal_question():
    v = VerifiedStream(PASSAGES)
    v.feed(LONG + " And")  # > 240 characters: it cannot be a refusal any more
    assert v.text == check(LONG, PASSAGES).text + " And"


def test_short_answer_waits_only_from_where_a_refusal_would_differ():
    v = VerifiedStream(PASSAGES)
    v.feed("Hold RESET for 3 seconds. Then it")
    # "Hold RESET for 3 seconds" gets [2] unless the answer turns out to be a refusal
    assert v.text == "Hold RESET for 3 seconds"
    v.feed(" turns green [7].")
    assert v.flush() == " [2]. Then it turns green."


def test_stream_of_a_refusal_adds_no_citation():
    answer = "Hold RESET for 3 seconds. The manuals do not say how often."
    shown = stream(answer, list(range(3, len(answer), 3)))
    assert is_refusal(answer) and shown[-1] == answer == check(answer, PASSAGES).text


def test_chinese_answer_streamed_in_pieces():
    answer = ANSWERS["chinese"] * 3  # 180 characters, most of them Han: not a refusal
    v = VerifiedStream(PASSAGES)
    seen = [v.feed(answer[i : i + 2]) for i in range(0, len(answer), 2)] + [v.flush()]
    assert "".join(seen) == check(answer, PASSAGES).text
    assert "[7]" not in "".join(seen) and "[1]" in "".join(seen)
    # every sentence shows, its citation repaired, as soon as the next one starts
    v = VerifiedStream(PASSAGES)
    v.feed(answer[: answer.index("指示灯", 120) + 1])
    assert v.text.endswith("。指") and v.text.count("。") == 7
    assert check(answer, PASSAGES).text.startswith(v.text)
    # a short Chinese answer shows its words, and waits from where Folio adds a citation
    v = VerifiedStream(PASSAGES)
    v.feed(ANSWERS["chinese"][:30])
    assert v.text == "用牙签按住背面的 RESET 孔 8 秒"


REFUSAL_PROBES = [
    *ANSWERS.values(),
    "The manuals do not cover this. " + "Valve V3 must be closed before the pump starts. " * 6,
    "Valve V3 must be closed before the pump starts. " * 4 + "The manuals do not say why.",
    "Valve V3 must be closed. " * 3 + "The passages do not mention the torque.",
    "按住复位按钮十秒钟，指示灯变为红色，松开按钮后路由器自动重启。" * 3
    + "手册中没有涉及这个问题。",
    "手册中没有涉及如何搭建 OpenVPN。" + "Open the admin page at 192.168.1.1 and log in. " * 5,
    "抱歉，提供的段落并未提及 Zigbee 网关功能。" + "a" * 90,
]


@pytest.mark.parametrize("answer", REFUSAL_PROBES)
def test_refusal_settled_agrees_with_is_refusal_on_every_prefix(answer):
    final = is_refusal(answer.strip())
    for end in range(len(answer) + 1):
        settled = refusal_settled(answer[:end])
        assert settled in (None, final), (answer[:end], settled, final)


def test_refusal_settled_decides_early_when_it_can():
    assert refusal_settled("The manuals do not cover this") is True
    assert refusal_settled("手册中没有涉及这个问题") is True
    assert refusal_settled(LONG) is False
    assert refusal_settled(ANSWERS["chinese"] * 3) is False  # Chinese, past 100 characters
    assert refusal_settled(ANSWERS["chinese"]) is None
    assert refusal_settled("Hold RESET for 3 seconds [2].") is None
