"""Structured logs: one JSON object per line, with what happened to which file."""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path

_STANDARD = set(vars(logging.makeLogRecord({}))) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        data = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        data.update({k: v for k, v in vars(record).items() if k not in _STANDARD})
        if record.exc_info:
            data["exc"] = self.formatException(record.exc_info)
        return json.dumps(data, default=str, ensure_ascii=False)


def setup_logging(log_dir: Path | None, *, verbose: bool = False) -> None:
    """JSON lines to `log_dir/folio.jsonl` at INFO; stderr shows warnings (or INFO with -v)."""
    root = logging.getLogger("folio")
    root.setLevel(logging.INFO)
    root.handlers.clear()
    root.propagate = False
    err = logging.StreamHandler()
    err.setLevel(logging.INFO if verbose else logging.WARNING)
    err.setFormatter(JsonFormatter())
    root.addHandler(err)
    if log_dir is not None:
        log_dir.mkdir(parents=True, exist_ok=True)
        fh = logging.FileHandler(log_dir / "folio.jsonl", encoding="utf-8")
        fh.setFormatter(JsonFormatter())
        root.addHandler(fh)
