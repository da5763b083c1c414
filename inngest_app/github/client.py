"""A small typed GitHub client (REST and GraphQL) on the service's shared `httpx.AsyncClient`.

It never retries: Inngest does, with a record of each attempt. What it adds is the reading of
GitHub's answers into errors that say what to do next:

- `RateLimited` (retry at `.retry_at`): the primary limit exhausted (`x-ratelimit-remaining: 0`,
  wait for `x-ratelimit-reset`), a secondary limit (403/429 with `retry-after`, or GitHub's
  "secondary rate limit" / abuse message: wait `retry-after`, else a minute), a GraphQL
  `RATE_LIMITED` error. Once a response says the primary limit is spent, the next request is not
  even sent before the reset.
- `NotFound` (404, or a GraphQL `NOT_FOUND` error): permanent.
- `Refused` (401, 403 without a limit, 422, a GraphQL error other than the transient ones, a
  `Link` to another host): permanent.
- anything else (5xx, network errors, GraphQL `INTERNAL`/`TIMEOUT`): `GithubUnavailable`,
  retriable.

The API origin is operator-set (`GITHUB_API_URL`); `Link: next` URLs from responses are followed
only when they stay on that origin.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx

from inngest_app.github.answers import (
    GithubError,
    GithubUnavailable,
    GraphQLResult,
    NotFound,
    RateLimit,
    RateLimited,
    Refused,
    RequestCount,
    RestResponse,
    from_unix,
    graphql_failure,
    message_of,
    rate_limit_error,
    rate_limit_of,
)

__all__ = [
    "GithubClient",
    "GithubError",
    "GithubUnavailable",
    "GraphQLResult",
    "Listing",
    "NotFound",
    "RateLimit",
    "RateLimited",
    "Refused",
    "RequestCount",
    "RestResponse",
    "graphql_url",
    "list_pages",
    "rate_limit_error",
]

DEFAULT_API_URL = "https://api.github.com"
API_VERSION = "2022-11-28"
MAX_BODY_BYTES = 20 * 1024 * 1024


def graphql_url(api_url: str) -> str:
    """GraphQL's endpoint for a REST API origin (GitHub Enterprise serves `/api/graphql`)."""
    base = api_url.rstrip("/")
    if base.endswith("/api/v3"):
        return base[: -len("/v3")] + "/graphql"
    return base + "/graphql"


@dataclass
class GithubClient:
    """Typed REST and GraphQL calls with explicit timeouts; no retries of its own."""

    http: httpx.AsyncClient
    token: str
    api_url: str = DEFAULT_API_URL
    timeout_s: float = 10.0
    max_body_bytes: int = MAX_BODY_BYTES
    clock: Callable[[], float] = time.time
    requests: RequestCount = field(default_factory=RequestCount)
    # When a response said the primary limit is spent: resource -> reset time.
    _exhausted: dict[str, dt.datetime] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.api_url = self.api_url.rstrip("/")
        self._origin = httpx.URL(self.api_url)

    def _now(self) -> dt.datetime:
        return dt.datetime.fromtimestamp(self.clock(), dt.UTC)

    def _headers(self, extra: Mapping[str, str] | None = None) -> dict[str, str]:
        headers = {
            "Authorization": f"Bearer {self.token}",
            "Accept": "application/vnd.github+json",
            "X-GitHub-Api-Version": API_VERSION,
            "User-Agent": "inngest-app",
        }
        headers.update(extra or {})
        return headers

    def url(self, path: str) -> str:
        """An absolute API URL for `path`; an absolute URL must stay on the API origin."""
        if path.startswith("/"):
            return self.api_url + path
        target = httpx.URL(path)
        if (target.scheme, target.host, target.port) != (
            self._origin.scheme,
            self._origin.host,
            self._origin.port,
        ):
            raise Refused(f"refusing to follow a GitHub link to another host: {target.host}")
        return str(target)

    def _gate(self, resource: str) -> None:
        until = self._exhausted.get(resource)
        if until is not None and self._now() < until:
            raise RateLimited(
                f"primary rate limit ({resource}) exhausted until {until.isoformat()}",
                retry_at=until,
                kind="primary",
            )

    def _note_limits(self, resource: str, headers: httpx.Headers) -> None:
        if headers.get("x-ratelimit-remaining") == "0":
            reset = from_unix(headers.get("x-ratelimit-reset"))
            if reset is not None:
                self._exhausted[headers.get("x-ratelimit-resource") or resource] = reset

    async def _send(
        self, method: str, url: str, *, resource: str, headers: dict[str, str], **kwargs: Any
    ) -> tuple[httpx.Response, Any]:
        self._gate(resource)
        request = self.http.build_request(
            method, url, headers=headers, timeout=self.timeout_s, **kwargs
        )
        try:
            response = await self.http.send(request, stream=True)
        except httpx.TransportError as exc:
            raise GithubUnavailable(f"GitHub unreachable: {exc}") from exc
        try:
            chunks, size = [], 0
            async for chunk in response.aiter_bytes():
                size += len(chunk)
                if size > self.max_body_bytes:
                    raise Refused(f"GitHub response larger than {self.max_body_bytes} bytes")
                chunks.append(chunk)
        except httpx.TransportError as exc:
            raise GithubUnavailable(f"GitHub response cut off: {exc}") from exc
        finally:
            await response.aclose()
        raw = b"".join(chunks)
        try:
            body: Any = json.loads(raw) if raw else None
        except ValueError:
            body = None
        if response.is_success:
            # A good answer that spent the last request: the next would be refused. (A refusal
            # raises its own RateLimited, and is not remembered: the retry comes at its reset.)
            self._note_limits(resource, response.headers)
        return response, body

    def _check(self, response: httpx.Response, body: Any) -> None:
        status = response.status_code
        if status < 400 or status == 304:
            return
        limited = rate_limit_error(status, response.headers, body, now=self._now())
        if limited is not None:
            raise limited
        message = message_of(body, response.reason_phrase)
        if status == 404:
            raise NotFound(f"GitHub 404: {message}")
        if status == 401:
            raise Refused(f"GitHub refused GITHUB_TOKEN (401): {message}", status=status)
        if status >= 500:
            raise GithubUnavailable(f"GitHub {status}: {message}")
        raise Refused(f"GitHub {status}: {message}", status=status)

    async def rest(
        self,
        path: str,
        *,
        params: Mapping[str, str | int] | None = None,
        etag: str | None = None,
    ) -> RestResponse:
        """`GET path` (or an absolute URL on the API origin); with `etag`, conditionally."""
        url = self.url(path)
        extra = {"If-None-Match": etag} if etag else None
        response, body = await self._send(
            "GET", url, resource="core", headers=self._headers(extra), params=params
        )
        self.requests.rest += 1
        self._check(response, body)
        if response.status_code == 304:
            self.requests.not_modified += 1
        next_link = response.links.get("next", {}).get("url")
        return RestResponse(
            url=str(response.request.url),
            status=response.status_code,
            body=None if response.status_code == 304 else body,
            etag=response.headers.get("etag"),
            next_url=self.url(next_link) if next_link else None,
        )

    async def graphql(
        self, query: str, variables: Mapping[str, Any], *, partial: bool = False
    ) -> GraphQLResult:
        """Run a query. HTTP 200 with `errors` is a failure unless `partial` (then the caller
        reads `errors` beside the data, e.g. one NOT_FOUND among batched repositories)."""
        response, body = await self._send(
            "POST",
            graphql_url(self.api_url),
            resource="graphql",
            headers=self._headers(),
            json={"query": query, "variables": dict(variables)},
        )
        self.requests.graphql += 1
        self._check(response, body)
        if not isinstance(body, dict):
            raise GithubUnavailable("GitHub GraphQL answered without a JSON object")
        errors = [e for e in body.get("errors") or [] if isinstance(e, dict)]
        data = body.get("data") if isinstance(body.get("data"), dict) else None
        if errors and (not partial or data is None):
            failure = graphql_failure(errors, now=self._now())
            reset = from_unix(response.headers.get("x-ratelimit-reset"))
            if isinstance(failure, RateLimited) and reset is not None:
                failure.retry_at = max(self._now(), reset)  # the budget's own reset time
            raise failure
        if data is None:
            raise GithubUnavailable("GitHub GraphQL answered without data")
        return GraphQLResult(data=data, errors=errors, rate_limit=rate_limit_of(data))


@dataclass
class Listing:
    """All pages of a REST list: the items of pages that changed, and each page's validator."""

    items: list[Any] = field(default_factory=list)
    etags: dict[str, tuple[str, str | None]] = field(default_factory=dict)
    pages: int = 0
    not_modified: int = 0


async def list_pages(
    client: GithubClient,
    path: str,
    *,
    params: Mapping[str, str | int] | None = None,
    etags: Mapping[str, tuple[str, str | None]] | None = None,
    max_pages: int = 50,
) -> Listing:
    """Every page of a REST list, following `Link: next` (on the API origin only), asking
    conditionally with the stored ETags: a page answered 304 is unchanged (its items are
    already stored) and its stored `next` link is followed."""
    known = etags or {}
    listing = Listing()
    url: str | None = client.url(path)
    first = True
    while url is not None and listing.pages < max_pages:
        target = url if not first or params is None else str(httpx.URL(url, params=params))
        first = False
        stored = known.get(target)
        response = await client.rest(target, etag=stored[0] if stored else None)
        listing.pages += 1
        if response.not_modified and stored is not None:
            listing.not_modified += 1
            listing.etags[target] = stored
            url = stored[1]
            continue
        if isinstance(response.body, list):
            listing.items.extend(response.body)
        if response.etag:
            listing.etags[target] = (response.etag, response.next_url)
        url = response.next_url
    return listing
