"""Source kinds and failure classification, on real-shaped responses (pure, no I/O)."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import httpx
import pytest
import respx
from pydantic import ValidationError

from inngest_app.outbound import GuardedClient
from inngest_app.queries.config import GoogleSearchSource, HttpJsonSource, QueryConfig
from inngest_app.queries.fetch import (
    RateLimited,
    SourceClient,
    TransientError,
    classify,
    parse_retry_after,
)
from inngest_app.queries.sources import GoogleSearch, HttpJson, SourceError, canonical_link

FIXTURES = Path(__file__).resolve().parents[3] / "shared" / "fixtures"
NOW = dt.datetime(2026, 11, 22, 12, 0, tzinfo=dt.UTC)


def _response(
    body: Any,
    *,
    status: int = 200,
    headers: dict[str, str] | None = None,
    url: str = "https://api.acme.test/items",
) -> httpx.Response:
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    return httpx.Response(
        status, content=content, headers=headers or {}, request=httpx.Request("GET", url)
    )


def _http(**overrides: Any) -> HttpJson:
    config = {
        "url": "https://api.acme.test/items",
        "results_path": "data.items",
        "row_key": "id",
        "pagination": {"style": "page", "size": 2},
        **overrides,
    }
    return HttpJson(HttpJsonSource.model_validate(config))


def test_page_number_pagination_advances_and_stops_on_a_short_page() -> None:
    source = _http()
    assert source.request(source.first_cursor()).params == {"page": 1}
    full = source.parse(_response({"data": {"items": [{"id": 1}, {"id": 2}]}}), 1)
    assert [r["key"] for r in full.rows] == ["1", "2"] and full.next_cursor == 2
    short = source.parse(_response({"data": {"items": [{"id": 3}]}}), 2)
    assert short.next_cursor is None


def test_offset_and_cursor_pagination() -> None:
    offset = _http(pagination={"style": "offset", "limit": 2})
    assert offset.request(0).params == {"offset": 0, "limit": 2}
    assert offset.parse(_response({"data": {"items": [{"id": 1}, {"id": 2}]}}), 0).next_cursor == 2
    cursor = _http(pagination={"style": "cursor", "next_path": "data.next"})
    page = cursor.parse(_response({"data": {"items": [{"id": 1}], "next": "abc"}}), None)
    assert page.next_cursor == "abc" and cursor.request("abc").params == {"cursor": "abc"}
    last = cursor.parse(_response({"data": {"items": [{"id": 2}], "next": None}}), "abc")
    assert last.next_cursor is None


def test_link_header_pagination_on_githubs_recorded_pages() -> None:
    recording = json.loads(
        (
            FIXTURES / "github/rest/recorded/pygithub/issues.list-comments.paginated.2024-03.json"
        ).read_text()
    )
    source = HttpJson(
        HttpJsonSource.model_validate(
            {
                "url": recording[0]["request"]["url"],
                "row_key": "id",
                "pagination": {"style": "link"},
            }
        )
    )
    cursor, keys = source.first_cursor(), list[str]()
    for exchange in recording:
        spec = source.request(cursor)
        assert spec.url.split("?")[0].endswith("/comments")
        response = exchange["response"]
        # the recording stores decoded bodies: drop the wire encodings
        headers = {
            k: v
            for k, v in response["headers"]
            if k.lower() not in ("content-encoding", "transfer-encoding")
        }
        page = source.parse(
            _response(response["body"], headers=headers, url=exchange["request"]["url"]), cursor
        )
        keys.extend(r["key"] for r in page.rows)
        cursor = page.next_cursor
    assert cursor is None  # the last page has no rel="next"
    assert len(keys) == len(set(keys)) == sum(len(e["response"]["body"]) for e in recording)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"<html>oops</html>", "not JSON"),
        ({"data": {}}, "results path 'data.items' is not in the response"),
        ({"data": {"items": {"id": 1}}}, "is not a list"),
        ({"data": {"items": [{"id": 1}, {"name": "no key"}]}}, "row 1 has no 'id' field"),
    ],
)
def test_unusable_answers_name_the_problem(body: Any, message: str) -> None:
    with pytest.raises(SourceError, match=message):
        _http().parse(_response(body), 1)


def test_google_preset_pages_by_ten_up_to_the_maximum() -> None:
    source = GoogleSearch(
        GoogleSearchSource(kind="google_cse", q="inngest", cx="cx1", max_results=25),
        api_key="AIza-test",
    )
    spec = source.request(source.first_cursor())
    assert spec.params == {"q": "inngest", "cx": "cx1", "start": 1, "num": 10, "key": "AIza-test"}
    assert source.request(21).params["num"] == 5  # never asks past the maximum
    items = [{"link": f"https://Example.com/{i}/#top", "title": str(i)} for i in range(10)]
    page = source.parse(_response({"items": items, "queries": {"nextPage": [{}]}}), 1)
    assert page.next_cursor == 11 and page.rows[0]["key"] == "https://example.com/0"
    last = source.parse(_response({"items": items[:5], "queries": {"nextPage": [{}]}}), 21)
    assert last.next_cursor is None
    no_next = source.parse(_response({"items": items, "queries": {}}), 1)
    assert no_next.next_cursor is None


def test_google_maximum_cannot_exceed_what_the_api_allows() -> None:
    with pytest.raises(ValidationError, match="max_results"):
        GoogleSearchSource(kind="google_cse", q="x", cx="y", max_results=101)


def test_canonical_link() -> None:
    assert canonical_link("HTTPS://Example.COM/a/?q=1#frag") == "https://example.com/a?q=1"


@pytest.mark.parametrize(
    ("status", "body", "expected"),
    [
        (401, {"message": "Bad credentials"}, "invalid credentials"),
        (403, {"message": "Forbidden"}, "invalid credentials"),
        (402, {"message": "Payment required"}, "quota exceeded"),
        (403, {"error": {"message": "Daily Limit Exceeded: quota"}}, "quota exceeded"),
        (404, {"message": "Not Found"}, "HTTP 404: Not Found"),
    ],
)
def test_permanent_errors(status: int, body: Any, expected: str) -> None:
    with pytest.raises(SourceError, match=expected):
        classify(_response(body, status=status), now=NOW)


def test_transient_and_rate_limit_errors() -> None:
    with pytest.raises(TransientError):
        classify(_response({"error": "Server Error"}, status=500), now=NOW)
    with pytest.raises(RateLimited) as limited:
        classify(_response({}, status=429, headers={"Retry-After": "120"}), now=NOW)
    assert limited.value.retry_after_s == 120
    date = "Sun, 22 Nov 2026 12:05:00 GMT"
    assert parse_retry_after(date, now=NOW) == 300
    assert parse_retry_after("soon", now=NOW) is None


@pytest.mark.parametrize(
    ("config", "field"),
    [
        ({"source": {"kind": "http", "row_key": "id"}}, "source.http.url"),
        (
            {
                "source": {
                    "kind": "http",
                    "url": "https://a.test",
                    "row_key": "id",
                    "pagination": {"style": "sideways"},
                }
            },
            "pagination",
        ),
        (
            {
                "source": {
                    "kind": "http",
                    "url": "https://a.test",
                    "row_key": "id",
                    "headers": {"Authorization": "Bearer x"},
                }
            },
            "named credential",
        ),
        ({"source": {"kind": "ftp"}}, "source"),
    ],
)
def test_invalid_configs_are_refused_naming_the_field(config: dict[str, Any], field: str) -> None:
    with pytest.raises(ValidationError, match=field):
        QueryConfig.model_validate(config)


def test_a_github_style_403_rate_limit_is_a_rate_limit_not_bad_credentials() -> None:
    reset = str(int(NOW.timestamp()) + 1800)
    headers = {"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": reset}
    with pytest.raises(RateLimited) as limited:
        classify(
            _response({"message": "API rate limit exceeded"}, status=403, headers=headers), now=NOW
        )
    assert limited.value.retry_after_s == 1800
    with pytest.raises(RateLimited) as secondary:
        body = {"message": "You have exceeded a secondary rate limit"}
        classify(_response(body, status=403, headers={"Retry-After": "30"}), now=NOW)
    assert secondary.value.retry_after_s == 30


async def test_source_client_sends_the_credential_and_the_configured_request() -> None:
    source = _http(
        method="POST",
        params={"q": "x"},
        body={"filter": "open"},
        headers={"Accept": "application/vnd.acme+json"},
    )
    with respx.mock(assert_all_called=True) as mock:
        route = mock.post("https://api.acme.test/items").respond(
            200, json={"data": {"items": [{"id": 1}, {"id": 2}]}}
        )
        async with GuardedClient() as outbound:
            page = await SourceClient(outbound).fetch(
                source,
                3,
                authorization="Bearer acme-token",
                now=NOW,
                bound_hosts=frozenset({"api.acme.test"}),
            )
    sent = route.calls.last.request
    assert sent.headers["authorization"] == "Bearer acme-token"
    assert sent.headers["accept"] == "application/vnd.acme+json"
    assert dict(sent.url.params) == {"q": "x", "page": "3"}
    assert json.loads(sent.content) == {"filter": "open"}
    assert [r["key"] for r in page.rows] == ["1", "2"] and page.next_cursor == 4


async def test_source_client_turns_network_trouble_into_a_transient_error() -> None:
    with respx.mock() as mock:
        mock.get("https://api.acme.test/items").mock(side_effect=httpx.ReadTimeout("slow"))
        async with GuardedClient() as outbound:
            with pytest.raises(TransientError, match="ReadTimeout"):
                await SourceClient(outbound).fetch(_http(), 1, authorization=None, now=NOW)


def test_retry_after_as_an_http_date_in_the_past_is_zero() -> None:
    assert parse_retry_after("Sun, 22 Nov 2026 11:00:00 GMT", now=NOW) == 0
