"""Reasoning written inline in the answer text, split out while it streams.

vLLM serving gpt-oss returns the harmony analysis channel in its own field, and so does
llama.cpp with its reasoning parser on. Other set-ups put it in the content itself: gpt-oss
without a parser writes `<|channel|>analysis<|message|>…<|end|>` before the final channel,
reasoning models such as Qwen3 or DeepSeek-R1 write `<think>…</think>`. A server that strips
special tokens from gpt-oss's output (vLLM or llama.cpp without a reasoning parser) leaves the
channel names glued to the text: `analysisThe user asks…assistantfinalE17 means…`. That form is
recognised only at the very start of a message ("analysis" there, "assistantfinal" later): the
text is held until "assistantfinal" arrives (all of it before is reasoning) or the message ends
without it (then it was an answer that happens to start with "analysis"). Either way reasoning
must never reach the answer, so content deltas pass through this splitter, which also copes
with a marker cut in two by the stream.
"""

from __future__ import annotations

from collections.abc import Iterator

# harmony with its special tokens stripped: "analysis" + reasoning + "assistantfinal" + answer
STRIPPED_ANALYSIS = "analysis"
STRIPPED_FINAL = "assistantfinal"

# marker -> what follows it: "reasoning", "content", or "" (the marker alone is dropped)
MARKERS: dict[str, str] = {
    "<think>": "reasoning",
    "</think>": "content",
    "<|channel|>analysis<|message|>": "reasoning",
    "<|channel|>commentary<|message|>": "reasoning",
    "<|channel|>final<|message|>": "content",
    "<|end|>": "content",
    "<|start|>assistant": "",
    "<|return|>": "",
}


class InlineReasoning:
    """Feed content text in, get ("content" | "reasoning", text) pieces out."""

    def __init__(self) -> None:
        self.mode = "content"
        self._buffer = ""
        self._at_start = True  # nothing handed out yet: the stripped harmony form is possible

    def feed(self, text: str) -> Iterator[tuple[str, str]]:
        self._buffer += text
        if self._at_start:
            head = self._buffer.lstrip()
            if STRIPPED_ANALYSIS.startswith(head):
                return  # "", "ana": may still become "analysis"
            if head.startswith(STRIPPED_ANALYSIS):
                end = head.find(STRIPPED_FINAL, len(STRIPPED_ANALYSIS))
                if end < 0:
                    return  # reasoning until "assistantfinal", or an answer if it never comes
                if end > len(STRIPPED_ANALYSIS):
                    yield "reasoning", head[len(STRIPPED_ANALYSIS) : end]
                self._buffer = head[end + len(STRIPPED_FINAL) :]
            self._at_start = False
        yield from self._split()

    def _split(self) -> Iterator[tuple[str, str]]:
        while True:
            found = _earliest_marker(self._buffer)
            if found is None:
                break
            at, marker = found
            if at:
                yield self.mode, self._buffer[:at]
            self.mode = MARKERS[marker] or self.mode
            self._buffer = self._buffer[at + len(marker) :]
        keep = _partial_marker_len(self._buffer)
        ready = self._buffer[: len(self._buffer) - keep]
        self._buffer = self._buffer[len(ready) :]
        if ready:
            yield self.mode, ready

    def flush(self) -> Iterator[tuple[str, str]]:
        """The end of the stream: a held-back tail was not a marker after all."""
        if self._at_start:  # "analysis…" and no "assistantfinal": it was the answer
            self._at_start = False
            yield from self._split()
        if self._buffer:
            yield self.mode, self._buffer
        self._buffer = ""


def _earliest_marker(text: str) -> tuple[int, str] | None:
    hits = [(at, m) for m in MARKERS if (at := text.find(m)) >= 0]
    return min(hits) if hits else None


def _partial_marker_len(text: str) -> int:
    """Length of the longest tail of `text` that could be the start of a marker."""
    best = 0
    for marker in MARKERS:
        for n in range(min(len(marker) - 1, len(text)), best, -1):
            if text.endswith(marker[:n]):
                best = n
                break
    return best
