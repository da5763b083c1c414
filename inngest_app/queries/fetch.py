"""One page over HTTP, and what each kind of failure means for the query."""

from __future__ import annotations

import datetime as dt
import email.utils
from typing import Any

import httpx

from inngest_app.outbound import GuardedClient, OutboundRefused
from inngest_app.queries.credentials import normal_host
from inngest_app.queries.sources import Page, Source, SourceError

SHORT_RETRY_AFTER_S = 60.0  # at or below: retry the step; above: pause the query
DEFAULT_PAUSE_S = 900.0  # a 429 that does not say when to come back
MESSAGE_MAX_CHARS = 200


class TransientError(Exception):
    """Network trouble or a 5xx: the platform retries the step."""


class RateLimited(Exception):
    """HTTP 429; `retry_after_s` is what the API asked for (None if it did not say)."""

    def __init__(self, retry_after_s: float | None) -> None:
        super().__init__(f"rate limited (retry after {retry_after_s}s)")
        self.retry_after_s = retry_after_s


def parse_retry_after(value: str | None, *, now: dt.datetime) -> float | None:
    """Seconds from `Retry-After` (delta-seconds or an HTTP date), or None."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return max(0.0, (when - now).total_seconds())


def _rate_limit_wait(response: httpx.Response, *, now: dt.datetime) -> float | None:
    """`Retry-After`, else the seconds until `X-RateLimit-Reset` (Unix time), else None."""
    wait = parse_retry_after(response.headers.get("retry-after"), now=now)
    reset = response.headers.get("x-ratelimit-reset", "")
    if wait is None and reset.isdigit():
        wait = max(0.0, int(reset) - now.timestamp())
    return wait


def _message(response: httpx.Response) -> str:
    """A short, single-line account of an error answer: the API's own message from a JSON body,
    else only the status line (a non-JSON body, which may be anything, is never echoed)."""
    status_line = f"{response.status_code} {response.reason_phrase}".strip()
    try:
        body: Any = response.json()
    except ValueError:
        return status_line
    if isinstance(body, dict):
        error = body.get("error")
        if isinstance(error, dict):
            text = str(error.get("message") or status_line)
        else:
            text = str(body.get("message") or error or status_line)
    else:
        text = status_line
    return " ".join(text.split())[:MESSAGE_MAX_CHARS]


def classify(response: httpx.Response, *, now: dt.datetime) -> None:
    """Raise what a non-2xx answer means; return quietly for a 2xx."""
    status = response.status_code
    if status < 300:
        return
    if status == 429:
        raise RateLimited(parse_retry_after(response.headers.get("retry-after"), now=now))
    if status >= 500:
        raise TransientError(f"source answered HTTP {status}: {_message(response)}")
    message = _message(response)
    if status == 403 and (
        "rate limit" in message.lower() or response.headers.get("x-ratelimit-remaining") == "0"
    ):
        # GitHub-style: a 403 that is a rate limit, with the reset time in its own header
        raise RateLimited(_rate_limit_wait(response, now=now))
    if status in (401, 403) and "quota" not in message.lower():
        raise SourceError("invalid credentials", code="invalid_credentials")
    if status == 402 or "quota" in message.lower():
        raise SourceError("quota exceeded", code="quota_exceeded")
    raise SourceError(f"source answered HTTP {status}: {message}", code="client_error")


class SourceClient:
    """Fetches one page of a source through the guarded outbound client: the destination's
    address is checked, the body is cut at `max_bytes` and the request has a total deadline.

    A request that carries a credential (`authorization`, or one built into the request, as
    Google's key) names `bound_hosts`: its URL's host must be one of them, on every page (a
    `Link` or cursor leading elsewhere fails the query with `host_not_allowed`)."""

    def __init__(
        self,
        outbound: GuardedClient,
        *,
        max_bytes: int | None = None,
        deadline_s: float | None = None,
    ) -> None:
        self._outbound = outbound
        self._max_bytes, self._deadline_s = max_bytes, deadline_s

    async def fetch(
        self,
        source: Source,
        cursor: Any,
        *,
        authorization: str | None,
        now: dt.datetime,
        bound_hosts: frozenset[str] | None = None,
    ) -> Page:
        """Request the page at `cursor` and parse it; raises TransientError, RateLimited or
        SourceError (permanent)."""
        spec = source.request(cursor)
        if authorization is not None or bound_hosts is not None:
            try:
                host = normal_host(httpx.URL(spec.url).host)
            except httpx.InvalidURL:
                raise SourceError("the next page's URL is not valid", code="bad_url") from None
            if host not in (bound_hosts or frozenset()):
                raise SourceError(
                    f"the credential may not be sent to {host}", code="host_not_allowed"
                )
        headers = dict(spec.headers)
        if authorization:
            headers["Authorization"] = authorization
        try:
            response = await self._outbound.request(
                spec.method,
                spec.url,
                params=spec.params or None,
                json=spec.json,
                headers=headers,
                max_bytes=self._max_bytes,
                deadline_s=self._deadline_s,
            )
        except OutboundRefused as exc:
            raise SourceError(exc.message, code=exc.code) from None
        except httpx.TransportError as exc:
            detail = " ".join(str(exc).split())[:MESSAGE_MAX_CHARS]
            raise TransientError(f"network error: {type(exc).__name__}: {detail}") from exc
        classify(response, now=now)
        return source.parse(response, cursor)
