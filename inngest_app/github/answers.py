"""What GitHub's answers mean: the errors that say what to do next (retry at a time, give up,
try again later), the typed results, and the rules that read rate limits from a response."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import httpx

from inngest_app.queries.fetch import parse_retry_after

SECONDARY_DEFAULT_WAIT_S = 60.0
_SECONDARY_MARKERS = ("secondary rate limit", "abuse detection")
_TRANSIENT_GRAPHQL = frozenset({"INTERNAL", "TIMEOUT", "SERVICE_UNAVAILABLE"})


class GithubError(Exception):
    """A GitHub request did not give a usable answer."""


class GithubUnavailable(GithubError):
    """A transient failure (5xx, network, GitHub-side timeout): try again later."""


class Refused(GithubError):
    """GitHub refused the request for good (credentials, permissions, validation)."""

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class NotFound(GithubError):
    """The resource does not exist, or the token cannot see it."""


class RateLimited(GithubError):
    """A rate limit: retry at `retry_at`. `kind` is `primary` or `secondary`."""

    def __init__(self, message: str, *, retry_at: dt.datetime, kind: str) -> None:
        super().__init__(message)
        self.retry_at = retry_at
        self.kind = kind


@dataclass(frozen=True)
class RateLimit:
    """GraphQL's `rateLimit { cost remaining resetAt }` of one query."""

    cost: int
    remaining: int
    reset_at: dt.datetime


@dataclass(frozen=True)
class RestResponse:
    """One REST answer: a body (None on a 304), its validator and its `Link: next`."""

    url: str
    status: int
    body: Any
    etag: str | None
    next_url: str | None

    @property
    def not_modified(self) -> bool:
        """A conditional request matched: the stored copy is current (and cost no quota)."""
        return self.status == 304


@dataclass(frozen=True)
class GraphQLResult:
    """`data` of a GraphQL answer, the errors GitHub reported beside it, and its rate limit."""

    data: dict[str, Any]
    errors: list[dict[str, Any]]
    rate_limit: RateLimit | None


@dataclass
class RequestCount:
    """Requests sent, by API (what the benchmark reports)."""

    rest: int = 0
    graphql: int = 0
    not_modified: int = 0

    @property
    def total(self) -> int:
        """All requests sent."""
        return self.rest + self.graphql


def from_unix(value: str | None) -> dt.datetime | None:
    """A unix-seconds header value as a time, or None."""
    if value is None or not value.strip().isdigit():
        return None
    return dt.datetime.fromtimestamp(int(value), dt.UTC)


def message_of(body: Any, fallback: str) -> str:
    """GitHub's `message` in an error body, else `fallback`."""
    if isinstance(body, dict) and isinstance(body.get("message"), str):
        return str(body["message"])
    return fallback


def rate_limit_error(
    status: int, headers: httpx.Headers, body: Any, *, now: dt.datetime
) -> RateLimited | None:
    """The rate limit a 403/429 answer reports, if it is one (GitHub's documented rules)."""
    if status not in (403, 429):
        return None
    message = message_of(body, f"HTTP {status}")
    retry_after = parse_retry_after(headers.get("retry-after"), now=now)
    if retry_after is not None:
        return RateLimited(
            f"secondary rate limit: {message}",
            retry_at=now + dt.timedelta(seconds=retry_after),
            kind="secondary",
        )
    reset = from_unix(headers.get("x-ratelimit-reset"))
    if headers.get("x-ratelimit-remaining") == "0":
        return RateLimited(
            f"primary rate limit exhausted: {message}",
            retry_at=max(now, reset) if reset else now + dt.timedelta(seconds=60),
            kind="primary",
        )
    if status == 429 or any(m in message.lower() for m in _SECONDARY_MARKERS):
        return RateLimited(
            f"secondary rate limit: {message}",
            retry_at=now + dt.timedelta(seconds=SECONDARY_DEFAULT_WAIT_S),
            kind="secondary",
        )
    return None


def graphql_failure(errors: list[dict[str, Any]], *, now: dt.datetime) -> GithubError:
    """What a GraphQL `errors` list means, judged by its first error's `type`."""
    first = errors[0] if errors else {}
    kind = str(first.get("type") or "")
    message = "; ".join(str(e.get("message", "")) for e in errors[:3]) or "GraphQL error"
    if kind == "NOT_FOUND":
        return NotFound(message)
    if kind == "RATE_LIMITED":
        return RateLimited(
            f"GraphQL rate limit: {message}",
            retry_at=now + dt.timedelta(seconds=SECONDARY_DEFAULT_WAIT_S),
            kind="primary",
        )
    if kind in _TRANSIENT_GRAPHQL:
        return GithubUnavailable(f"GraphQL {kind}: {message}")
    return Refused(f"GraphQL {kind or 'error'}: {message}")


def rate_limit_of(data: Mapping[str, Any]) -> RateLimit | None:
    """The `rateLimit` a GraphQL query asked for, when it did (and it is well-formed)."""
    raw = data.get("rateLimit")
    if not isinstance(raw, dict):
        return None
    try:
        return RateLimit(
            cost=int(raw["cost"]),
            remaining=int(raw["remaining"]),
            reset_at=dt.datetime.fromisoformat(str(raw["resetAt"]).replace("Z", "+00:00")),
        )
    except (KeyError, TypeError, ValueError):
        return None
