"""Source kinds: how to request page N and read rows and the next cursor from the answer.

Adding a source kind is one class with `request(cursor)` and `parse(response, cursor)`.
"""

from __future__ import annotations

import urllib.parse
from dataclasses import dataclass, field
from typing import Any, Protocol

import httpx

from inngest_app.queries.config import (
    CursorField,
    GoogleSearchSource,
    HttpJsonSource,
    LinkHeader,
    Offset,
    PageNumber,
    SinglePage,
)

GOOGLE_CSE_URL = "https://www.googleapis.com/customsearch/v1"
GOOGLE_PAGE_SIZE = 10


class SourceError(Exception):
    """The source answered something this query cannot use (a permanent problem)."""

    def __init__(self, message: str, *, code: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class RequestSpec:
    """One HTTP request, as data (so it can be tested and logged without secrets)."""

    method: str
    url: str
    params: dict[str, Any]
    json: dict[str, Any] | None = None
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Page:
    """Rows (`[{"key", "row"}]`) and where to continue (None: no more pages)."""

    rows: list[dict[str, Any]]
    next_cursor: Any


class Source(Protocol):
    """A source kind."""

    def first_cursor(self) -> Any:
        """The cursor of page 1."""
        ...

    def request(self, cursor: Any) -> RequestSpec:
        """The request for the page at `cursor`."""
        ...

    def parse(self, response: httpx.Response, cursor: Any) -> Page:
        """Rows and the next cursor; `SourceError` if the answer is unusable."""
        ...


def dig(value: Any, path: str) -> Any:
    """`value` at dotted `path` ('' is `value` itself); KeyError if a segment is missing."""
    if not path:
        return value
    for part in path.split("."):
        if isinstance(value, dict) and part in value:
            value = value[part]
        elif isinstance(value, list) and part.isdigit() and int(part) < len(value):
            value = value[int(part)]
        else:
            raise KeyError(part)
    return value


def _json(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        kind = response.headers.get("content-type", "unknown content type").split(";")[0][:60]
        raise SourceError(f"response is not JSON ({kind})", code="invalid_response") from None


def keyed_rows(items: Any, *, results_path: str, row_key: str) -> list[dict[str, Any]]:
    """Pair each row with its key; a missing list or key is a `SourceError` naming it."""
    if not isinstance(items, list):
        where = f"'{results_path}'" if results_path else "the response root"
        raise SourceError(f"results path {where} is not a list", code="invalid_response")
    rows = []
    for index, item in enumerate(items):
        try:
            key = dig(item, row_key)
        except KeyError:
            raise SourceError(
                f"row {index} has no '{row_key}' field (the row key)", code="invalid_response"
            ) from None
        if key is None or isinstance(key, dict | list):
            raise SourceError(f"row {index}: '{row_key}' is not a scalar", code="invalid_response")
        rows.append({"key": str(key), "row": item})
    return rows


class HttpJson:
    """The generic, per-query configured HTTP JSON source."""

    def __init__(self, config: HttpJsonSource) -> None:
        self.config = config

    def first_cursor(self) -> Any:
        pagination = self.config.pagination
        if isinstance(pagination, PageNumber):
            return pagination.start
        if isinstance(pagination, Offset):
            return 0
        return None

    def request(self, cursor: Any) -> RequestSpec:
        config, pagination = self.config, self.config.pagination
        url, params = str(config.url), dict(config.params)
        if isinstance(pagination, PageNumber):
            params[pagination.param] = cursor
            if pagination.size_param and pagination.size:
                params[pagination.size_param] = pagination.size
        elif isinstance(pagination, Offset):
            params[pagination.param] = cursor
            params[pagination.limit_param] = pagination.limit
        elif isinstance(pagination, CursorField) and cursor is not None:
            params[pagination.param] = cursor
        elif isinstance(pagination, LinkHeader) and cursor is not None:
            url, params = str(cursor), {}  # the next link carries its own query
        return RequestSpec(config.method, url, params, config.body, dict(config.headers))

    def parse(self, response: httpx.Response, cursor: Any) -> Page:
        config, pagination = self.config, self.config.pagination
        document = _json(response)
        try:
            items = dig(document, config.results_path)
        except KeyError:
            raise SourceError(
                f"results path '{config.results_path}' is not in the response",
                code="invalid_response",
            ) from None
        rows = keyed_rows(items, results_path=config.results_path, row_key=config.row_key)
        return Page(rows, self._next(pagination, document, response, cursor, len(rows)))

    @staticmethod
    def _next(
        pagination: Any, document: Any, response: httpx.Response, cursor: Any, count: int
    ) -> Any:
        if isinstance(pagination, SinglePage) or count == 0:
            return None
        if isinstance(pagination, PageNumber):
            if pagination.size and count < pagination.size:
                return None
            return int(cursor) + 1
        if isinstance(pagination, Offset):
            return None if count < pagination.limit else int(cursor) + pagination.limit
        if isinstance(pagination, CursorField):
            try:
                following = dig(document, pagination.next_path)
            except KeyError:
                return None
            return following or None
        if isinstance(pagination, LinkHeader):
            link = response.links.get("next")
            return urllib.parse.urljoin(str(response.url), link["url"]) if link else None
        return None


def canonical_link(link: str) -> str:
    """The link Google results are deduplicated on: no fragment, lower-case host, no final '/'."""
    parts = urllib.parse.urlsplit(link.strip())
    path = parts.path.rstrip("/") or ""
    return urllib.parse.urlunsplit(
        (parts.scheme.lower(), parts.netloc.lower(), path, parts.query, "")
    )


class GoogleSearch:
    """Google Custom Search JSON API: `start` = 1, 11, 21… up to the query's maximum."""

    def __init__(self, config: GoogleSearchSource, *, api_key: str | None) -> None:
        self.config, self._api_key = config, api_key

    def first_cursor(self) -> Any:
        return 1

    def request(self, cursor: Any) -> RequestSpec:
        start = int(cursor)
        num = min(GOOGLE_PAGE_SIZE, self.config.max_results - start + 1)
        params: dict[str, Any] = {
            "q": self.config.q,
            "cx": self.config.cx,
            "start": start,
            "num": num,
        }
        if self._api_key:
            params["key"] = self._api_key
        return RequestSpec("GET", GOOGLE_CSE_URL, params)

    def parse(self, response: httpx.Response, cursor: Any) -> Page:
        document = _json(response)
        if not isinstance(document, dict):
            raise SourceError("response is not a JSON object", code="invalid_response")
        items = document.get("items", [])
        for item in items:
            if isinstance(item, dict) and isinstance(item.get("link"), str):
                item["canonical_link"] = canonical_link(item["link"])
        rows = keyed_rows(items, results_path="items", row_key="canonical_link")
        following = int(cursor) + GOOGLE_PAGE_SIZE
        has_next = bool(document.get("queries", {}).get("nextPage"))
        done = not rows or not has_next or following > self.config.max_results
        return Page(rows, None if done else following)


def build_source(config: HttpJsonSource | GoogleSearchSource, *, credential: str | None) -> Source:
    """The source kind for a query's config (`credential` is the resolved secret, if any)."""
    if isinstance(config, GoogleSearchSource):
        return GoogleSearch(config, api_key=credential)
    return HttpJson(config)
