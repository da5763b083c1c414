"""One call from the executor to a served function: the request Inngest sends, the answer."""

from __future__ import annotations

import json
import logging
import time
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import httpx

from inngest_app.testing.clock import Clock
from inngest_app.testing.runs import Run, parse_time
from inngest_app.testing.signing import cloud_headers, step_call

logger = logging.getLogger(__name__)

# Error codes with which the SDK refuses a call before running the function: retrying cannot
# help, so the executor fails the run at once instead of retrying.
REFUSAL_CODES = frozenset(
    {
        "body_invalid",
        "function_not_found",
        "header_missing",
        "query_param_missing",
        "server_kind_mismatch",
        "sig_verification_failed",
        "signing_key_unspecified",
        "url_invalid",
    }
)


@dataclass(frozen=True)
class Answer:
    """The app's answer, with a streamed (HTTP 201) answer already unwrapped."""

    status: int
    body: Any
    headers: Mapping[str, str]  # lower-cased names
    sent_at: float = 0.0  # wall-clock time the request was sent

    @property
    def no_retry(self) -> bool:
        """`X-Inngest-No-Retry: true`: the SDK says retrying is pointless."""
        return self.headers.get("x-inngest-no-retry") == "true"

    @property
    def retry_after(self) -> str | None:
        """`Retry-After`: seconds, or an ISO-8601 date."""
        return self.headers.get("retry-after")

    def retry_time(self, clock: Clock, backoff_s: float) -> float:
        """When to retry: at `Retry-After` (seconds, or a date) if the app sent one, else after
        `backoff_s`."""
        now = clock.now()
        if self.retry_after:
            try:
                return now + float(self.retry_after)
            except ValueError:
                pass
            try:
                return max(now, self.app_time(self.retry_after, clock))
            except ValueError:
                logger.warning("ignoring unreadable Retry-After %r", self.retry_after)
        return now + backoff_s

    def app_time(self, iso: str, clock: Clock) -> float:
        """A time the app sent (ISO-8601, cut to the millisecond) on `clock`; the end of that
        millisecond, so a sleep or a retry is never shorter than asked."""
        return clock.from_wall(parse_time(iso) + 0.001, self.sent_at)

    @property
    def function_error(self) -> dict[str, Any] | None:
        """The error the function raised (a 500, or a 400 with a no-retry header), if any."""
        if self.status not in (400, 500) or not isinstance(self.body, dict):
            return None
        if not isinstance(self.body.get("message"), str):
            return None
        if self.body.get("code") in REFUSAL_CODES:
            return None
        return self.body


def call_url(runtime_url: str, function_id: str, step_id: str) -> str:
    """The function's registered URL with `fnId` and `stepId` set for this call."""
    parts = urllib.parse.urlsplit(runtime_url)
    query = dict(urllib.parse.parse_qsl(parts.query))
    query["fnId"], query["stepId"] = function_id, step_id
    return urllib.parse.urlunsplit(parts._replace(query=urllib.parse.urlencode(query)))


def request_body(run: Run, *, attempt: int, max_attempts: int) -> bytes:
    """The call's JSON body, canonical (RFC 8785) so that raw body == what the SDK verifies."""
    return step_call(
        run.event,
        run_id=run.run_id,
        steps=run.steps,
        attempt=attempt,
        max_attempts=max_attempts,
        stack=run.stack,
        events=run.events,
        disable_immediate_execution=run.disable_immediate,
    )


def request_headers(body: bytes, signing_key: str | None) -> dict[str, str]:
    """Headers of a call; signed with the wall-clock time (apps may refuse stale signatures)."""
    headers = {"Content-Type": "application/json", "X-Inngest-Server-Kind": "dev"}
    if signing_key:
        headers.update(cloud_headers(body, signing_key, int(time.time())))
    return headers


async def post(
    http: httpx.AsyncClient, url: str, body: bytes, headers: Mapping[str, str], timeout_s: float
) -> Answer:
    """POST the call and read the whole answer (keepalive bytes of a stream included)."""
    sent_at = time.time()
    response = await http.post(url, content=body, headers=dict(headers), timeout=timeout_s)
    return unwrap(response, sent_at)


def unwrap(response: httpx.Response, sent_at: float = 0.0) -> Answer:
    """Status, decoded body and lower-cased headers; a streamed (201) envelope is opened."""
    headers = {k.lower(): v for k, v in response.headers.items()}
    try:
        payload = response.json()
    except ValueError:
        return Answer(response.status_code, response.text, headers, sent_at)
    if response.status_code == 201 and isinstance(payload, dict) and "status" in payload:
        inner = {str(k).lower(): str(v) for k, v in (payload.get("headers") or {}).items()}
        body = payload.get("body")
        if isinstance(body, str):
            try:
                body = json.loads(body)
            except ValueError:
                pass
        return Answer(int(payload["status"]), body, inner, sent_at)
    return Answer(response.status_code, payload, headers, sent_at)
