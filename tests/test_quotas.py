"""Limits per caller: a moving window of requests and a daily token budget, each refusal a 429
that says which limit and when to retry."""

from __future__ import annotations

import pytest

from folio.settings import Settings, parse_rate
from services.errors import ServiceError
from services.quotas import Limit, Quotas


def test_the_window_admits_exactly_the_limit_then_429_with_retry_after() -> None:
    quotas = Quotas("5/minute", None)
    for _ in range(5):
        quotas.hit("key:wiki")
    with pytest.raises(ServiceError) as exc:
        quotas.hit("key:wiki")
    err = exc.value
    assert err.status == 429 and err.extra["limit"] == Limit.REQUESTS
    assert 1 <= int(err.headers["Retry-After"]) <= 60
    quotas.hit("key:other")  # another caller has its own window


def test_a_key_override_replaces_the_global_limit() -> None:
    quotas = Quotas("100/minute", None)
    quotas.hit("key:script", "1/minute")
    with pytest.raises(ServiceError):
        quotas.hit("key:script", "1/minute")


def test_no_limit_configured_never_refuses() -> None:
    quotas = Quotas(None, None)
    for _ in range(500):
        quotas.hit("address:10.0.0.1")


def test_the_daily_token_budget_refuses_once_spent() -> None:
    quotas = Quotas(None, 1000)
    quotas.check_tokens("user:ann")
    quotas.spend_tokens("user:ann", 600)
    quotas.check_tokens("user:ann")
    quotas.spend_tokens("user:ann", 500)
    with pytest.raises(ServiceError) as exc:
        quotas.check_tokens("user:ann")
    assert exc.value.extra["limit"] == Limit.TOKENS and "1100 of 1000" in exc.value.message
    quotas.check_tokens("user:bob")


@pytest.mark.parametrize("text", ["60/minute", "10 per second", "10/second;300/hour"])
def test_rate_syntax_is_accepted(text: str) -> None:
    assert parse_rate(text)


def test_a_bad_rate_setting_is_a_one_line_settings_error() -> None:
    from pydantic import ValidationError

    from folio.settings import settings_error

    with pytest.raises(ValidationError) as exc:
        Settings(rate_limit="sixty a minute")
    line = settings_error(exc.value)
    assert line.startswith("FOLIO_RATE_LIMIT:") and "\n" not in line
