"""The sensitive-term filter: terms a company keeps out of questions and answers.

The list is a text file (`FOLIO_BLOCKED_TERMS_FILE`), one entry a line: a plain term, matched
case-insensitively (a Latin term as a whole word, so "gun" does not block "begun"; a Chinese
term anywhere, as Chinese has no spaces), or `re:` and a regular expression. `#` starts a
comment line. The file is re-read when its modification time changes, so an edit takes effect
without a restart; a line that is not a valid regex is logged and skipped, never fatal.

A question holding a term is refused before retrieval (the asker is not told which term: that
would teach them the list). An answer's matching text is replaced by `***` before any client
sees it, the stream included: `StreamMasker` holds back the last few characters of the stream
until it knows no term starts in them.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from pathlib import Path

log = logging.getLogger("folio.terms")

MASK = "***"
RECHECK_S = 1.0  # the file's mtime is looked at no more often than this
_HAN = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")
# A regex entry may match this many characters at most for streaming to mask it whole.
_REGEX_REACH = 64


def _pattern(line: str) -> str | None:
    if line.startswith("re:"):
        expr = line[3:].strip()
        try:
            re.compile(expr)
        except re.error as exc:
            log.warning(
                "blocked terms: invalid regex skipped", extra={"regex": expr, "err": str(exc)}
            )
            return None
        return f"(?:{expr})"
    term = re.escape(line)
    if _HAN.search(line):
        return term
    return rf"(?<!\w){term}(?!\w)"


class BlockedTerms:
    def __init__(self, path: Path | None) -> None:
        self.path = path
        self._mtime: float | None = None
        self._regex: re.Pattern[str] | None = None
        self._reach = 0
        self._lock = threading.Lock()
        self._checked = 0.0  # monotonic time of the last stat()

    def _current(self) -> re.Pattern[str] | None:
        if self.path is None:
            return None
        now = time.monotonic()
        if self._regex is not None and now - self._checked < RECHECK_S:
            return self._regex
        self._checked = now
        try:
            mtime = self.path.stat().st_mtime
        except OSError:
            mtime = None
        if mtime != self._mtime:
            with self._lock:
                self._load(mtime)
        return self._regex

    def _load(self, mtime: float | None) -> None:
        parts, reach = [], 0
        if mtime is not None:
            for raw in self.path.read_text(encoding="utf-8", errors="replace").splitlines():
                line = raw.strip()
                if not line or line.startswith("#"):
                    continue
                pattern = _pattern(line)
                if pattern:
                    parts.append(pattern)
                    reach = max(reach, _REGEX_REACH if line.startswith("re:") else len(line))
        else:
            log.warning("blocked terms file missing", extra={"file": str(self.path)})
        self._regex = re.compile("|".join(parts), re.IGNORECASE) if parts else None
        self._reach = reach
        self._mtime = mtime
        log.info("blocked terms loaded", extra={"file": str(self.path), "terms": len(parts)})

    def blocks(self, text: str) -> bool:
        regex = self._current()
        return bool(regex and regex.search(text))

    def mask(self, text: str) -> str:
        regex = self._current()
        return regex.sub(MASK, text) if regex and text else text

    def masker(self) -> StreamMasker:
        return StreamMasker(self)


class StreamMasker:
    """Masks a text that arrives in pieces: `push` returns what may be shown now, `flush` the
    rest; the pieces add up to `mask(whole text)` for any term shorter than the hold-back."""

    def __init__(self, terms: BlockedTerms) -> None:
        self.terms = terms
        self._buffer = ""
        self._before = ""  # the last character shown: a whole-word term looks behind it

    def push(self, piece: str) -> str:
        regex = self.terms._current()
        self._buffer += piece
        if regex is None:
            return self._take(len(self._buffer), [])
        matches = [
            (m.start() - len(self._before), m.end() - len(self._before))
            for m in regex.finditer(self._before + self._buffer)
            if m.end() > len(self._before)
        ]
        end = len(self._buffer)
        cut = max(0, end - max(self.terms._reach - 1, 0))
        for start, stop in matches:
            if start < cut < stop or (stop == end and start < cut):
                cut = max(start, 0)
                break
        return self._take(cut, [(a, b) for a, b in matches if b <= cut])

    def flush(self) -> str:
        out = self.terms.mask(self._before + self._buffer)[len(self._before) :]
        self._buffer = ""
        return out

    def _take(self, cut: int, spans: list[tuple[int, int]]) -> str:
        out, pos = [], 0
        for start, stop in spans:
            out.append(self._buffer[pos : max(start, 0)])
            out.append(MASK)
            pos = stop
        out.append(self._buffer[pos:cut])
        if cut:
            self._before = self._buffer[cut - 1]
        self._buffer = self._buffer[cut:]
        return "".join(out)
