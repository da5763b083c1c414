"""The GitHub client against the recorded responses: limits, errors, pagination, ETags."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator

import httpx
import pytest
import respx

from inngest_app.github.client import (
    GithubClient,
    GithubUnavailable,
    NotFound,
    RateLimited,
    Refused,
    graphql_url,
    list_pages,
    rate_limit_error,
)
from tests.github import support

API = "https://api.github.com"
NOW = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient() as client:
        yield client


def client(http: httpx.AsyncClient, *, now: float | None = None, **kw: object) -> GithubClient:
    clock = (lambda: now) if now is not None else (lambda: NOW.timestamp())
    return GithubClient(http, token="ghp_t", clock=clock, **kw)  # type: ignore[arg-type]


def test_graphql_url_for_github_and_enterprise() -> None:
    assert graphql_url("https://api.github.com/") == "https://api.github.com/graphql"
    assert graphql_url("https://ghe.example.com/api/v3") == "https://ghe.example.com/api/graphql"


def test_recorded_limits_are_read_by_githubs_rules() -> None:
    [_, primary] = support.recorded(
        "rest/recorded/pygithub/error.403.primary-rate-limit-exceeded.2013-05.json"
    )
    response = support.response_of(primary, x_ratelimit_reset=str(int(NOW.timestamp()) + 300))
    limited = rate_limit_error(403, response.headers, response.json(), now=NOW)
    assert limited is not None and limited.kind == "primary"
    assert limited.retry_at == NOW + dt.timedelta(seconds=300)

    [secondary] = support.recorded(
        "rest/recorded/pygithub/error.403.secondary-rate-limit.retry-after.2018-10.json"
    )
    response = support.response_of(secondary)
    limited = rate_limit_error(403, response.headers, response.json(), now=NOW)
    assert limited is not None and limited.kind == "secondary"
    assert limited.retry_at == NOW + dt.timedelta(seconds=60)

    # The current wording without retry-after: a minute; a plain 403 is no limit at all.
    current = {"message": "You have exceeded a secondary rate limit. Please wait."}
    limited = rate_limit_error(403, httpx.Headers(), current, now=NOW)
    assert limited is not None and limited.retry_at == NOW + dt.timedelta(seconds=60)
    assert (
        rate_limit_error(403, httpx.Headers(), {"message": "Resource not accessible"}, now=NOW)
        is None
    )


@respx.mock
async def test_a_spent_primary_limit_stops_the_next_request(http: httpx.AsyncClient) -> None:
    # The recorded pair: a 200 that spends the last request, then the 403.
    ok, refused = support.recorded(
        "rest/recorded/pygithub/error.403.primary-rate-limit-exceeded.2013-05.json"
    )
    reset = int(NOW.timestamp()) + 600
    route = respx.get(f"{API}/users/jacquev6").mock(
        side_effect=[
            support.response_of(ok, x_ratelimit_reset=str(reset)),
            support.response_of(refused, x_ratelimit_reset=str(reset)),
        ]
    )
    gh = client(http)
    first = await gh.rest("/users/jacquev6")
    assert first.body["login"] == "jacquev6"
    with pytest.raises(RateLimited) as err:
        await gh.rest("/users/jacquev6")
    assert err.value.retry_at == dt.datetime.fromtimestamp(reset, dt.UTC)
    assert route.call_count == 1  # not sent: it would have been refused
    after_reset = client(http, now=reset + 1)
    with pytest.raises(RateLimited):  # a fresh client sends it, and GitHub refuses it
        await after_reset.rest("/users/jacquev6")
    assert route.call_count == 2


@respx.mock
async def test_errors_are_sorted(http: httpx.AsyncClient) -> None:
    [server_error, recovered] = support.recorded(
        "rest/recorded/pygithub/error.500-then-200.repos.get.2018.json"
    )
    respx.get(f"{API}/repos/PyGithub/PyGithub").mock(
        side_effect=[support.response_of(server_error), support.response_of(recorded := recovered)]
    )
    gh = client(http)
    with pytest.raises(GithubUnavailable):
        await gh.rest("/repos/PyGithub/PyGithub")
    assert (await gh.rest("/repos/PyGithub/PyGithub")).body["id"] == recorded["response"]["body"][
        "id"
    ]
    respx.get(f"{API}/repos/o/gone").mock(
        return_value=httpx.Response(404, json={"message": "Not Found"})
    )
    with pytest.raises(NotFound):
        await gh.rest("/repos/o/gone")
    respx.get(f"{API}/repos/o/secret").mock(
        return_value=httpx.Response(401, json={"message": "Bad credentials"})
    )
    with pytest.raises(Refused, match="GITHUB_TOKEN"):
        await gh.rest("/repos/o/secret")
    [unprocessable] = support.recorded(
        "graphql/responses/pygithub.mutation.enable-automerge-error.2023-06.json"
    )
    respx.post(f"{API}/graphql").mock(return_value=support.response_of(unprocessable))
    with pytest.raises(Refused, match="UNPROCESSABLE"):  # HTTP 200 with errors is a failure
        await gh.graphql("query { viewer { login } }", {})


@respx.mock
async def test_pagination_follows_links_on_the_api_host_only(http: httpx.AsyncClient) -> None:
    pages = support.recorded("rest/recorded/pygithub/issues.list-comments.paginated.2024-03.json")
    for entry in pages:
        respx.get(entry["request"]["url"]).mock(return_value=support.response_of(entry))
    gh = client(http)
    listing = await list_pages(
        gh, "/repos/PyGithub/PyGithub/issues/1136/comments", params={"per_page": 3}
    )
    assert listing.pages == 3
    assert len(listing.items) == sum(len(e["response"]["body"]) for e in pages)

    # Asked again with the validators: 304s cost nothing and walk the stored links.
    def not_modified(request: httpx.Request) -> httpx.Response:
        return httpx.Response(304, headers={"etag": request.headers["if-none-match"]})

    for entry in pages:
        respx.get(entry["request"]["url"]).mock(side_effect=not_modified)
    again = await list_pages(
        gh,
        "/repos/PyGithub/PyGithub/issues/1136/comments",
        params={"per_page": 3},
        etags=listing.etags,
    )
    assert (again.pages, again.not_modified, again.items) == (3, 3, [])

    evil = httpx.Response(
        200, json=[], headers={"link": '<https://evil.example/steal>; rel="next"'}
    )
    respx.get(f"{API}/repos/o/n/pulls/1/reviews").mock(return_value=evil)
    with pytest.raises(Refused, match="another host"):
        await list_pages(gh, "/repos/o/n/pulls/1/reviews")


@respx.mock
async def test_bodies_are_bounded(http: httpx.AsyncClient) -> None:
    respx.get(f"{API}/big").mock(
        return_value=httpx.Response(200, content=b"[" + b"1," * 1000 + b"1]")
    )
    with pytest.raises(Refused, match="larger than"):
        await client(http, max_body_bytes=100).rest("/big")


@respx.mock
async def test_graphql_rate_limited_waits_for_the_budgets_reset(http: httpx.AsyncClient) -> None:
    reset = int(NOW.timestamp()) + 900
    respx.post(f"{API}/graphql").mock(
        return_value=httpx.Response(
            200,
            headers={"x-ratelimit-remaining": "0", "x-ratelimit-reset": str(reset)},
            json={
                "data": None,
                "errors": [{"type": "RATE_LIMITED", "message": "API rate limit exceeded"}],
            },
        )
    )
    with pytest.raises(RateLimited) as err:
        await client(http).graphql("query { viewer { login } }", {})
    assert err.value.retry_at == dt.datetime.fromtimestamp(reset, dt.UTC)
