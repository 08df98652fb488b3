"""Reasoning written inline in the answer text, split out while it streams.

vLLM serving gpt-oss returns the harmony analysis channel in its own field, and so does
llama.cpp with its reasoning parser on. Other set-ups put it in the content itself: gpt-oss
without a parser writes `<|channel|>analysis<|message|>…<|end|>` before the final channel,
reasoning models such as Qwen3 or DeepSeek-R1 write `<think>…</think>`. Either way it must never
reach the answer, so content deltas pass through this splitter, which also copes with a marker
cut in two by the stream.
"""

from __future__ import annotations

from collections.abc import Iterator

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

    def feed(self, text: str) -> Iterator[tuple[str, str]]:
        self._buffer += text
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
