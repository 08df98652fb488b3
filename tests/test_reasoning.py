"""The inline-reasoning splitter: any cut of the stream gives the same answer and reasoning."""

from __future__ import annotations

import pytest

from generation.reasoning import InlineReasoning

HARMONY = (
    "<|channel|>analysis<|message|>The user asks about E17. Passage 1 has it.<|end|>"
    "<|start|>assistant<|channel|>final<|message|>E17 means the cut-out tripped [1].<|return|>"
)
THINK = "<think>Look at passage 2.</think>The seal lasts 4000 h [2]. a < b and <|x|> stay."


def split(text: str, size: int) -> tuple[str, str]:
    parts = {"content": "", "reasoning": ""}
    inline = InlineReasoning()
    for i in range(0, len(text), size):
        for kind, piece in inline.feed(text[i : i + size]):
            parts[kind] += piece
    for kind, piece in inline.flush():
        parts[kind] += piece
    return parts["content"], parts["reasoning"]


@pytest.mark.parametrize("size", [1, 2, 3, 7, 1000])
def test_harmony_channels_split_at_any_cut(size):
    assert split(HARMONY, size) == (
        "E17 means the cut-out tripped [1].",
        "The user asks about E17. Passage 1 has it.",
    )


@pytest.mark.parametrize("size", [1, 4, 1000])
def test_think_tags_split_and_lookalikes_kept(size):
    assert split(THINK, size) == (
        "The seal lasts 4000 h [2]. a < b and <|x|> stay.",
        "Look at passage 2.",
    )


def test_plain_answer_passes_unchanged_even_ending_in_a_marker_prefix():
    assert split("Press <", 1) == ("Press <", "")
    assert split("No markers here [1].", 3) == ("No markers here [1].", "")


# gpt-oss through a server that strips the harmony special tokens
STRIPPED = (
    "analysisThe user asks about E17. Passage 1 has it."
    "assistantfinalE17 means the cut-out tripped [1]."
)


@pytest.mark.parametrize("size", [1, 2, 3, 5, 8, 13, 1000])
def test_stripped_harmony_split_at_any_cut(size):
    assert split(STRIPPED, size) == (
        "E17 means the cut-out tripped [1].",
        "The user asks about E17. Passage 1 has it.",
    )
    assert split("\n" + STRIPPED, size)[1] == "The user asks about E17. Passage 1 has it."


@pytest.mark.parametrize("size", [1, 3, 1000])
def test_stripped_form_only_at_the_very_start(size):
    # an answer that starts with the word and never reaches "assistantfinal" is the answer
    assert split("analysis of the log shows error E17 [1].", size) == (
        "analysis of the log shows error E17 [1].",
        "",
    )
    later = "See the analysis first. The assistantfinal step is manual [2]."
    assert split(later, size) == (later, "")
    assert split("Analysis: E17 [1]. assistantfinal", size) == (
        "Analysis: E17 [1]. assistantfinal",
        "",
    )
    assert split("ana", size) == ("ana", "")


def test_ordinary_answer_is_not_held_back():
    inline = InlineReasoning()
    assert list(inline.feed("an")) == []  # could still become "analysis"
    assert list(inline.feed("d then")) == [("content", "and then")]
    inline = InlineReasoning()
    assert list(inline.feed("Hold")) == [("content", "Hold")]
