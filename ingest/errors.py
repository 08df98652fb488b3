"""The one exception ingest raises to its callers.

Every refusal carries a short `reason` meant for the person who uploaded the file ("encrypted
PDF: a password is required"), so the CLI and the web app can show it as is instead of a
traceback.
"""

from __future__ import annotations


class IngestError(Exception):
    """A file that cannot be ingested, with a human-readable reason."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def human_size(n_bytes: float) -> str:
    """'250 MB', '3.1 GB', '12 bytes': sizes in reasons are read by people, not parsed."""
    if n_bytes < 1024:
        return f"{int(n_bytes)} bytes"
    for unit in ("KB", "MB", "GB", "TB"):
        n_bytes /= 1024
        if n_bytes < 1024 or unit == "TB":
            return f"{n_bytes:.1f} {unit}" if n_bytes < 10 else f"{n_bytes:.0f} {unit}"
    raise AssertionError("unreachable")
