"""Limits per caller: requests per window and LLM tokens per day, so one script cannot take the
GPU from everyone else.

A caller is an API key, a logged-in (or proxy) user, or, when auth is off, a client address.
Request limits use the `limits` library's moving window ("60/minute" = at most 60 in any 60
seconds, not 120 across a minute boundary), kept in memory: Folio is one process, and a restart
forgiving the current window is harmless. Token use per day is counted from the usage the LLM
server reports for each answer (an estimate when it reports none) and resets at UTC midnight.
"""

from __future__ import annotations

import math
import threading
import time
from datetime import UTC, datetime
from enum import StrEnum

from limits import RateLimitItem
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter

from folio.settings import parse_rate
from services.errors import ServiceError


class Limit(StrEnum):
    REQUESTS = "requests"
    TOKENS = "tokens"


class Quotas:
    def __init__(self, rate_limit: str | None, tokens_per_day: int | None) -> None:
        self.default = parse_rate(rate_limit) if rate_limit else []
        self.tokens_per_day = tokens_per_day
        self._limiter = MovingWindowRateLimiter(MemoryStorage())
        self._parsed: dict[str, list[RateLimitItem]] = {}
        self._tokens: dict[str, tuple[str, int]] = {}  # caller -> (UTC day, tokens used)
        self._lock = threading.Lock()

    @classmethod
    def from_settings(cls, settings) -> Quotas:
        return cls(settings.rate_limit, settings.tokens_per_day)

    def _items(self, override: str | None) -> list[RateLimitItem]:
        if override is None:
            return self.default
        if override not in self._parsed:
            self._parsed[override] = parse_rate(override)
        return self._parsed[override]

    def hit(self, caller: str, override: str | None = None) -> None:
        """Count one request; raise 429 (with Retry-After) when a window is full."""
        for item in self._items(override):
            if not self._limiter.hit(item, caller):
                reset = self._limiter.get_window_stats(item, caller).reset_time
                retry = max(1, math.ceil(reset - time.time()))
                raise ServiceError(
                    429,
                    f"rate limit reached: {item} for {caller}; retry in {retry} s",
                    "rate_limited",
                    headers={"Retry-After": str(retry)},
                    extra={"limit": Limit.REQUESTS.value, "rate": str(item)},
                )

    def check_tokens(self, caller: str, cap: int | None = None) -> None:
        """Before an LLM answer: 429 when today's tokens are spent."""
        cap = cap or self.tokens_per_day
        if not cap:
            return
        used = self.tokens_used(caller)
        if used >= cap:
            retry = _seconds_to_midnight()
            raise ServiceError(
                429,
                f"daily token limit reached: {used} of {cap} LLM tokens used today by "
                f"{caller}; it resets at 00:00 UTC (or ask with retrieval_only for passages)",
                "rate_limited",
                headers={"Retry-After": str(retry)},
                extra={"limit": Limit.TOKENS.value, "tokens_per_day": cap},
            )

    def spend_tokens(self, caller: str, tokens: int) -> None:
        today = _today()
        with self._lock:
            day, used = self._tokens.get(caller, (today, 0))
            self._tokens[caller] = (today, (used if day == today else 0) + max(0, tokens))

    def tokens_used(self, caller: str) -> int:
        day, used = self._tokens.get(caller, (_today(), 0))
        return used if day == _today() else 0


def _today() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%d")


def _seconds_to_midnight() -> int:
    now = datetime.now(UTC)
    return max(1, 86400 - (now.hour * 3600 + now.minute * 60 + now.second))
