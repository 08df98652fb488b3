"""The answer stream, checked as it is written: clients never see the model's raw text.

`citations.check` repairs a finished answer: markers that point nowhere are dropped, a citation
the model forgot is added, unsupported sentences are flagged. Streaming the model's tokens as
they come would show `…red [7].` while the answer is written and `…red [1].` once it is checked,
next to Sources that list only [1]. So the answer's content passes through `VerifiedStream`,
which hands out only text the final check keeps: every piece it returns extends a prefix of
`check(answer).text`, and when the stream ends the pieces add up to exactly that text.

How, and why this way:
- **Per sentence, with the sentence's words streamed.** Sentences are cut by the language
  layer (`folio.text.sentence_spans`: `. ! ?` before a capital, `。！？；` without a space, line
  breaks), as `check` cuts them. A sentence is finished when the text after its end decides the
  cut (a capital after `. `, anything but a closing quote after `。`); it then goes through
  `citations.check_sentence`, the very function `check` runs on each sentence, and is joined to
  the previous one with the model's own separator, as `check` joins them. Of the sentence being
  written, its words go out at once with their markers repaired (`citations.stable_prefix`);
  only an open marker (`[` waiting for `7]`, however the chunks cut it) and the end of the
  sentence (spaces and end marks, where Folio may insert the citation the model forgot) wait
  for the sentence to finish. Words therefore show as soon as they are written (first-token
  latency is unchanged), and no marker is shown before it is known to point somewhere.
- **A refusal is decided by the whole answer** (`check` adds no citation to a refusal), so
  `citations.refusal_settled` says when the text so far decides it: an answer that starts like
  Folio's refusal is one, an answer longer than any refusal (240 characters, 100 for one mostly
  in Chinese) is not. Until then a sentence that would get an added citation only if the answer
  is not a refusal is shown up to where the two versions differ (its end mark) and the text
  after it waits: only in a short answer, and only when Folio adds a citation there.
- **Why not only a final replacement**: the browser could swap the text at the end, but an
  OpenAI-compatible client appends deltas and cannot take text back, and a reader would see a
  citation vanish. The `done` event still carries the checked answer: the browser renders it
  (with citation chips) in place of the streamed text, which by then reads the same. Should the
  two ever differ (a bug), `Answerer` logs a warning and the CLI prints the checked answer.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from folio import text as lang
from generation.citations import check_sentence, is_refusal, refusal_settled, stable_prefix

log = logging.getLogger("folio.answer")


class VerifiedStream:
    """Feed the answer's content deltas in order; get back the checked text to show."""

    def __init__(self, passages: Sequence[str]) -> None:
        self.passages = list(passages)
        self.text = ""  # everything handed out so far
        self._raw: list[str] = []
        self._pending = ""  # raw text after the last finished sentence
        self._sentences: list[tuple[str, str]] = []  # finished: (separator before it, sentence)
        self._parts: dict[tuple[int, bool], tuple[bool, str]] = {}  # -> (citation added, text)
        self._fixed = ""  # repaired text of the finished sentences that are settled
        self._next = 0  # the first finished sentence not in _fixed yet
        self._refused: bool | None = None
        # a finished sentence is cited and supported (if the answer is no refusal): the answer
        # has grounded content (`generation.grounded`)
        self.grounded = False

    @property
    def refused(self) -> bool | None:
        """Whether the answer is a refusal, once the text decides it (None until then)."""
        return self._refused

    def feed(self, delta: str) -> str:
        """The checked text that `delta` lets through (often "", while a marker is open)."""
        self._raw.append(delta)
        self._pending += delta
        spans = lang.sentence_spans(self._pending)
        while len(spans) > 1:  # a sentence followed by another one is finished
            self._finish_sentence(spans[0])
            spans = lang.sentence_spans(self._pending)
        if self._refused is None:
            self._refused = refusal_settled("".join(self._raw))
        return self._hand_out(spans[0][0] if spans else None)

    def flush(self) -> str:
        """The end of the answer: the last sentence is finished, the refusal question decided."""
        while spans := lang.sentence_spans(self._pending):
            self._finish_sentence(spans[0])
        refused = is_refusal("".join(self._raw).strip())
        if self._refused is not None and self._refused != refused:
            log.warning("refusal_settled disagrees with is_refusal", extra={"text": self.text})
        self._refused = refused
        return self._hand_out(None)

    def _finish_sentence(self, span: tuple[int, int]) -> None:
        a, b = span
        self._sentences.append((self._pending[:a], self._pending[a:b]))
        self._pending = self._pending[b:]

    def _part(self, i: int, refused: bool) -> tuple[bool, str]:
        key = (i, refused)
        if key not in self._parts:
            sc, text = check_sentence(self._sentences[i][1], self.passages, refused=refused)
            self._parts[key] = (bool(sc.added), text)
            if not refused and sc.supported and (sc.cited or sc.added):
                self.grounded = True
        return self._parts[key]

    def _settled_part(self, i: int) -> str | None:
        """Sentence i as the checked answer will have it, or None while that depends on
        whether the answer turns out to be a refusal."""
        if self._refused is not None:
            return self._part(i, self._refused)[1]
        added, text = self._part(i, False)
        return None if added else text  # nothing added: a refusal reads the same

    def _hand_out(self, current: int | None) -> str:
        """Extend what was handed out to all that is now certain; `current` is where the
        unfinished sentence starts in the pending text."""
        while self._next < len(self._sentences):
            part = self._settled_part(self._next)
            if part is None:
                break
            self._fixed += self._sentences[self._next][0] + part
            self._next += 1
        if self._next < len(self._sentences):  # waiting for the refusal question
            sep = self._sentences[self._next][0]
            tail = sep + _common_prefix(
                self._part(self._next, False)[1], self._part(self._next, True)[1]
            )
        elif current is not None:
            n = len(self.passages)
            tail = self._pending[:current] + stable_prefix(self._pending[current:], n)
        else:
            tail = ""
        visible = (self._fixed + tail).strip()
        if not visible.startswith(self.text):  # never: what was shown cannot be taken back
            log.warning("verified stream went back", extra={"shown": self.text, "now": visible})
            return ""
        piece, self.text = visible[len(self.text) :], visible
        return piece


def _common_prefix(a: str, b: str) -> str:
    i = 0
    while i < min(len(a), len(b)) and a[i] == b[i]:
        i += 1
    return a[:i]
