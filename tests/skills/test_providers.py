"""Provider error classification (pure) and the SDK clients' settings."""

from __future__ import annotations

import httpx
import pytest

from inngest_app.skills.providers import (
    AnthropicProvider,
    OpenAIProvider,
    is_retryable,
    retry_after_s,
    status_error,
)
from tests.skills.support import fixture


@pytest.mark.parametrize(
    ("status", "kind", "message", "retryable"),
    [
        (529, "overloaded_error", "Overloaded", True),
        (429, "rate_limit_error", "slow down", True),
        (503, None, None, True),
        (500, "api_error", "Internal server error", True),
        (400, "invalid_request_error", "The server is overloaded, try later", True),
        (400, "invalid_request_error", "max_tokens too large", False),
        (401, "authentication_error", "invalid x-api-key", False),
        (403, "permission_error", "no", False),
        (404, "not_found_error", "model: nope", False),
        (413, "request_too_large", "too big", False),
    ],
)
def test_retryable_answers(status: int, kind: str, message: str, retryable: bool) -> None:
    assert is_retryable(status, kind, message) is retryable


def test_errors_from_the_documented_bodies() -> None:
    overloaded = status_error("anthropic", 529, fixture("anthropic.error.overloaded.json"), {})
    assert (
        overloaded.retryable
        and str(overloaded) == "anthropic answered 529 overloaded_error: Overloaded"
    )
    auth = status_error("openai", 401, fixture("openai.error.invalid_api_key.json")["error"], {})
    assert not auth.retryable and "invalid_request_error: Incorrect API key" in str(auth)
    limited = status_error("anthropic", 429, {}, {"retry-after": "12"})
    assert limited.retry_after_s == 12
    assert status_error("anthropic", 400, None, {"retry-after": "5"}).retry_after_s is None


@pytest.mark.parametrize(
    ("header", "seconds"),
    [(None, None), ("7", 7.0), ("0.5", 0.5), ("soon", None), ("-1", None), ("99999", 300.0)],
)
def test_retry_after(header: str | None, seconds: float | None) -> None:
    headers = {} if header is None else {"retry-after": header}
    assert retry_after_s(headers) == seconds


async def test_sdk_retries_are_off_and_timeouts_explicit() -> None:
    async with httpx.AsyncClient() as http:
        anthropic = AnthropicProvider(api_key="k", http=http, timeout_s=42, base_url=None)
        openai = OpenAIProvider(api_key=None, http=http, timeout_s=42, base_url="http://x/v1")
        for client in (anthropic._client, openai._client):
            assert client.max_retries == 0
            assert isinstance(client.timeout, httpx.Timeout) and client.timeout.read == 42
            assert client._client is http
