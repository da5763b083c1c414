"""GitHub capture end to end: events → the test executor → the functions → GitHub (respx) → rows.

GraphQL is answered by `tests.github.fake` (documents executed against GitHub's real schema over
fixture-seeded data); REST by the recorded responses in `shared/fixtures/github/rest`; error
cases by the recorded 403s and the recorded GraphQL `NOT_FOUND`.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest

from inngest_app.testing import Run
from tests.github import support
from tests.github.fake import (
    GRAPHQL_URL,
    T0,
    FakeGithub,
    actor,
    comment,
    pull_request,
    pull_requests_from_pr_list,
    review,
)
from tests.harness import Live, LiveFactory

TOKEN = "ghp_test_token_0123456789"
REPO = {"owner": "monalisa", "name": "hello", "github_id": "123456"}


@pytest.fixture(autouse=True)
def _fast_send_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("inngest._internal.client_lib.client.RETRY_BASE_DELAY", 0.0)


@asynccontextmanager
async def github_live(
    start_live: LiveFactory, fake: FakeGithub | None = None, **overrides: Any
) -> AsyncIterator[Live]:
    settings = {"github_token": TOKEN, **overrides}
    async with start_live(**settings) as live:
        if fake is not None:
            live.mock.post(GRAPHQL_URL).mock(side_effect=fake.handle)
        yield live


async def run_event(live: Live, name: str, data: dict[str, Any]) -> Run:
    [event_id] = await live.executor.send({"name": name, "data": data})
    # A generous real-time budget: the suite shares a loaded machine.
    return await live.executor.wait_for(lambda r: r.event.get("id") == event_id, timeout=60)


async def rows(live: Live, sql: str, *args: Any) -> list[dict[str, Any]]:
    return [dict(r) for r in await live.pool.fetch(sql, *args)]


async def snapshot(live: Live) -> dict[str, list[dict[str, Any]]]:
    """Every captured row, without capture timestamps."""
    tables = {
        "repositories": "select github_id, owner, name, stars, pr_count, size_class, status,"
        " sync_watermark from repositories order by id",
        "contributors": "select * from contributors order by github_id",
        "pull_requests": "select * from pull_requests order by github_id",
        "reviews": "select * from reviews order by github_id",
        "comments": "select * from comments order by kind, github_id",
    }
    out = {}
    for table, sql in tables.items():
        found = await rows(live, sql)
        for row in found:
            row.pop("captured_at", None)
            row.pop("updated_at", None) if table == "contributors" else None
        out[table] = found
    return out


def hello(fake: FakeGithub, extra: list[dict[str, Any]] | None = None) -> None:
    fake.add_repository(
        "monalisa",
        "hello",
        database_id=123456,
        pull_requests=pull_requests_from_pr_list() + (extra or []),
    )


async def age_last_sync(live: Live, hours: float) -> None:
    await live.pool.execute(
        "update repositories set last_synced_at = now() - make_interval(secs => $1)",
        hours * 3600,
    )
    # the skip windows count per kind of sync
    await live.pool.execute(
        "update github_sync_state set last_run_at = now() - make_interval(secs => $1)",
        hours * 3600,
    )


# --- capture/repository.sync-graphql -----------------------------------------------------------


async def test_sync_graphql_captures_then_repeats_nothing_then_picks_up_updates(
    start_live: LiveFactory,
) -> None:
    fake = FakeGithub()
    ghost_pr = pull_request(40, updated=T0, author=None, title="by a deleted user")
    hello(fake, [ghost_pr])
    async with github_live(start_live, fake) as live:
        # The seed's own payload (no reason: a manual sync).
        run = await run_event(live, "capture/repository.sync", {"repository": REPO})
        assert run.status == "completed", run.error
        assert run.output["written"]["pull_requests"] == 4
        prs = {r["number"]: r for r in await rows(live, "select * from pull_requests")}
        assert set(prs) == {28, 29, 32, 40}
        assert (prs[32]["draft"], prs[32]["state"]) == (True, "open")
        assert (prs[28]["state"], prs[28]["merged"]) == ("merged", True)
        assert prs[40]["author_id"] is None  # ghost author: no row, no crash
        [repo] = await rows(live, "select * from repositories")
        assert (repo["github_id"], repo["size_class"], repo["pr_count"]) == (123456, "small", 4)
        assert repo["sync_watermark"] == T0
        first = await snapshot(live)

        # A manual sync right after is skipped; one an hour later reads, and changes nothing.
        skipped = await run_event(live, "capture/repository.sync", {"repository": REPO})
        assert skipped.output["status"] == "skipped"
        await age_last_sync(live, 1)
        again = await run_event(live, "capture/repository.sync", {"repository": REPO})
        assert again.status == "completed", again.error
        assert again.output["written"] == {
            "contributors": 0,
            "pull_requests": 0,
            "reviews": 0,
            "comments": 0,
        }
        assert await snapshot(live) == first

        # PR 29 is updated after its capture, and a new one opened: the incremental sync
        # (newest updated first, down to the watermark) picks up both and only them.
        pr29 = next(
            p for p in fake.repositories[("monalisa", "hello")]["pullRequests"] if p["number"] == 29
        )
        pr29.update(
            state="CLOSED", title="Fixed bad bug (closed)", updatedAt="2026-01-06T09:00:00Z"
        )
        pr29["closedAt"] = pr29["updatedAt"]
        fake.repositories[("monalisa", "hello")]["pullRequests"].append(
            pull_request(41, updated=T0 + dt.timedelta(hours=2), author=actor("hubot", 77))
        )
        await age_last_sync(live, 1)
        incremental = await run_event(
            live, "capture/repository.sync", {"repository": REPO, "reason": "automatic"}
        )
        assert incremental.status == "completed", incremental.error
        assert incremental.output["written"]["pull_requests"] == 2
        prs = {r["number"]: r for r in await rows(live, "select * from pull_requests")}
        assert (prs[29]["state"], prs[29]["title"]) == ("closed", "Fixed bad bug (closed)")
        assert 41 in prs and len(prs) == 5
        [repo] = await rows(live, "select sync_watermark from repositories")
        assert repo["sync_watermark"] == dt.datetime(2026, 1, 6, 9, tzinfo=dt.UTC)


async def test_sync_reads_as_deep_as_the_size_class_allows(start_live: LiveFactory) -> None:
    fake = FakeGithub()
    many = [pull_request(n, updated=T0 - dt.timedelta(minutes=n)) for n in range(1, 251)]
    fake.add_repository("acme", "widgets", database_id=9, pull_requests=many)
    async with github_live(start_live, fake) as live:
        run = await run_event(
            live, "capture/repository.sync", {"repository": {"owner": "acme", "name": "widgets"}}
        )
        assert run.status == "completed", run.error
        assert run.step_names() == [
            "check-repository",
            "sync-page-1",
            "sync-page-2",
            "sync-page-3",
            "finish-sync",
        ]
        assert run.output["pages"] == 3 and run.output["written"]["pull_requests"] == 250
        [repo] = await rows(live, "select size_class, pr_count from repositories")
        assert (repo["size_class"], repo["pr_count"]) == ("medium", 250)
        assert len(fake.queries) == 3


async def test_graphql_budget_low_sleeps_until_reset(start_live: LiveFactory) -> None:
    fake = FakeGithub(remaining=150, cost=60)  # after page 1: 90 left < reserve
    fake.reset_at = dt.datetime.now(dt.UTC) + dt.timedelta(minutes=30)
    many = [pull_request(n, updated=T0 - dt.timedelta(minutes=n)) for n in range(1, 151)]
    fake.add_repository("acme", "widgets", database_id=9, pull_requests=many)
    async with github_live(start_live, fake) as live:
        run = await run_event(
            live, "capture/repository.sync", {"repository": {"owner": "acme", "name": "widgets"}}
        )
        assert run.status == "completed", run.error
        assert "wait-rate-limit-1" in run.step_names(None)
        assert run.output["written"]["pull_requests"] == 150


# --- rate limits and bad input -------------------------------------------------------------------


def _then(first: httpx.Response, rest: Callable[[httpx.Request], httpx.Response]) -> Any:
    calls: list[int] = []

    def answer(request: httpx.Request) -> httpx.Response:
        calls.append(1)
        return first if len(calls) == 1 else rest(request)

    return answer


@pytest.mark.parametrize("kind", ["primary", "secondary", "secondary-429"])
async def test_rate_limits_retry_at_the_time_github_gives(
    start_live: LiveFactory, kind: str
) -> None:
    fake = FakeGithub()
    hello(fake)
    if kind == "primary":
        # The recorded 403 with `x-ratelimit-remaining: 0`, its reset moved 120 s ahead.
        [_, entry] = support.recorded(
            "rest/recorded/pygithub/error.403.primary-rate-limit-exceeded.2013-05.json"
        )
        wait = 120
        limited = support.response_of(entry, x_ratelimit_reset=str(int(time.time()) + wait))
    elif kind == "secondary":
        [entry] = support.recorded(
            "rest/recorded/pygithub/error.403.secondary-rate-limit.retry-after.2018-10.json"
        )
        wait, limited = 60, support.response_of(entry)  # Retry-After: 60
    else:  # GitHub documents 429 with the current wording; no recording exists
        wait = 30
        limited = httpx.Response(
            429,
            headers={"retry-after": str(wait)},
            json={"message": "You have exceeded a secondary rate limit."},
        )
    async with github_live(start_live) as live:
        live.mock.post(GRAPHQL_URL).mock(side_effect=_then(limited, fake.handle))
        start = live.clock.now()
        run = await run_event(live, "capture/repository.sync", {"repository": REPO})
        assert run.status == "completed", run.error
        assert run.retries == 1
        assert wait - 5 <= live.clock.now() - start <= wait + 2  # reset is whole seconds
        [failure] = [r.error for r in run.step_log if r.error]
        assert "rate limit" in str(failure)
        assert len(await rows(live, "select 1 from pull_requests")) == 3


async def test_not_found_marks_missing_without_retry(start_live: LiveFactory) -> None:
    # The recorded GraphQL answer: HTTP 200, data null, errors [{type: NOT_FOUND}].
    entry = support.recorded("graphql/responses/pygithub.query.node-with-errors.2024-09.json")[1]
    async with github_live(start_live) as live:
        route = live.mock.post(GRAPHQL_URL).mock(return_value=support.response_of(entry))
        await live.pool.execute(
            "insert into repositories (github_id, owner, name) values (123456, 'monalisa', 'hello')"
        )
        run = await run_event(live, "capture/repository.sync", {"repository": REPO})
        assert run.status == "failed" and run.retries == 0
        assert "not found" in str(run.error)
        assert route.call_count == 1
        [repo] = await rows(live, "select status from repositories")
        assert repo["status"] == "missing"


async def test_no_token_fails_without_retry_naming_it(start_live: LiveFactory) -> None:
    async with start_live() as live:
        run = await run_event(live, "capture/repository.sync", {"repository": REPO})
        assert run.status == "failed" and run.retries == 0
        assert "GITHUB_TOKEN" in str(run.error)


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"repository": {"owner": "bad/owner", "name": "x"}}, "repository.owner"),
        ({"repository": {"owner": "o", "name": ".."}}, "repository.name"),
        ({"repository": {"owner": "o"}}, "repository.name"),
        ({"repository": REPO, "reason": "sometimes"}, "reason"),
    ],
)
async def test_malformed_payload_names_the_field(
    start_live: LiveFactory, data: dict[str, Any], field: str
) -> None:
    async with github_live(start_live) as live:
        run = await run_event(live, "capture/repository.sync", data)
        assert run.status == "failed" and run.retries == 0
        assert field in str(run.error)


async def test_user_cancel_stops_that_repositorys_run_only(start_live: LiveFactory) -> None:
    fake = FakeGithub()
    hello(fake)
    fake.add_repository("acme", "widgets", database_id=9, pull_requests=[pull_request(1)])
    limited = httpx.Response(429, headers={"retry-after": "600"}, json={"message": "slow down"})
    async with github_live(start_live) as live:
        answers = {"n": 0}

        def answer(request: httpx.Request) -> httpx.Response:
            answers["n"] += 1
            return limited if answers["n"] <= 2 else fake.handle(request)

        live.mock.post(GRAPHQL_URL).mock(side_effect=answer)
        await live.executor.send(
            [
                {"name": "capture/repository.sync", "data": {"repository": REPO}},
                {
                    "name": "capture/repository.sync",
                    "data": {"repository": {"owner": "acme", "name": "widgets"}},
                },
            ]
        )
        await live.executor.run_until_idle(advance_clock=False)  # both wait for their retry
        await live.executor.send(
            {
                "name": "cancel/function",
                "data": {
                    "reason": "user_requested",
                    "repository": {"owner": "acme", "name": "widgets"},
                },
            }
        )
        await live.executor.run_until_idle()
        status = {
            r.event["data"]["repository"]["name"]: r.status
            for r in live.executor.runs("capture-repository-sync-graphql")
        }
        assert status == {"hello": "completed", "widgets": "cancelled"}


# --- capture/repository.sync-enhanced ------------------------------------------------------------


async def test_sync_enhanced_nests_activity_one_request_per_page(start_live: LiveFactory) -> None:
    fake = FakeGithub()
    prs = []
    for n in range(1, 121):
        reviewer = actor(f"reviewer{n % 4}", 500 + n % 4)
        prs.append(
            pull_request(
                n,
                updated=T0 - dt.timedelta(minutes=n),
                author=actor(f"dev{n % 7}", 100 + n % 7),
                reviews=[review(n * 10 + i, reviewer, comments=1) for i in range(3)],
                comments=[comment(n * 1000 + i, reviewer if i else None) for i in range(2)],
            )
        )
    fake.add_repository("acme", "widgets", database_id=9, pull_requests=prs)
    async with github_live(start_live, fake) as live:
        data = {"repository": {"owner": "acme", "name": "widgets"}, "pages": 2}
        run = await run_event(live, "capture/repository.sync-enhanced", data)
        assert run.status == "completed", run.error
        assert len(fake.queries) == 2 and run.output["pages"] == 2
        assert run.output["complete"] is False  # stopped at its budget: a continuation follows
        await live.executor.run_until_idle()
        [_, continuation] = live.executor.runs("capture-repository-sync-enhanced")
        assert continuation.event["data"]["reason"] == "continuation"
        assert continuation.output["complete"] is True and len(fake.queries) == 3
        counts = await rows(
            live,
            "select (select count(*) from pull_requests) prs, (select count(*) from reviews) rv,"
            " (select count(*) from comments where kind = 'review') rc,"
            " (select count(*) from comments where kind = 'issue') ic,"
            " (select count(*) from comments where author_id is null) ghosts",
        )
        assert counts == [{"prs": 120, "rv": 360, "rc": 360, "ic": 240, "ghosts": 120}]
        again = await run_event(
            live, "capture/repository.sync-enhanced", {**data, "reason": "automatic"}
        )
        assert again.output["status"] == "skipped"  # synced moments ago
        first = await snapshot(live)
        await age_last_sync(live, 2)
        repeat = await run_event(live, "capture/repository.sync-enhanced", data)
        assert repeat.status == "completed", repeat.error
        assert set(repeat.output["written"].values()) == {0}
        assert await snapshot(live) == first


# --- capture/pr.details over REST ----------------------------------------------------------------


def pr_details_api(live: Live) -> dict[str, int]:
    """The recorded REST responses, served at PR 3370's URLs (304 when the ETag matches)."""
    rec = "rest/recorded/pygithub/"
    pull = support.recorded(rec + "pulls.get.PyGithub-3370.2026-01.json")[0]
    reviews = support.recorded(rec + "pulls.list-reviews.2018-03.json")[0]
    review_comments = support.recorded(rec + "pulls.list-review-comments.2023-06.json")[0]
    issue_pages = support.recorded(rec + "issues.list-comments.paginated.2024-03.json")
    base = "https://api.github.com/repos/PyGithub/PyGithub"
    served: dict[str, int] = {}

    def serve(entry: dict[str, Any], *, link: str | None = None) -> Any:
        def answer(request: httpx.Request) -> httpx.Response:
            served[request.url.path] = served.get(request.url.path, 0) + 1
            recorded = support.response_of(entry)
            etag = recorded.headers.get("etag")
            if etag and request.headers.get("if-none-match") == etag:
                return httpx.Response(304, headers={"etag": etag})
            if link is not None:
                recorded.headers["link"] = link
            return recorded

        return answer

    live.mock.get(f"{base}/pulls/3370").mock(side_effect=serve(pull))
    live.mock.get(f"{base}/pulls/3370/reviews").mock(side_effect=serve(reviews))
    live.mock.get(f"{base}/pulls/3370/comments").mock(side_effect=serve(review_comments))
    # The issue-comments pages: page 1 at the repository's URL, then GitHub's own `Link`s,
    # which switch to /repositories/{id}/... (as recorded).
    first_next = issue_pages[0]["response"]["headers"]
    link = next(v for k, v in first_next if k.lower() == "link")
    live.mock.get(f"{base}/issues/3370/comments").mock(side_effect=serve(issue_pages[0], link=link))
    for i, entry in enumerate(issue_pages[1:], start=2):
        live.mock.get(
            "https://api.github.com/repositories/3544490/issues/1136/comments",
            params={"per_page": "3", "page": str(i)},
        ).mock(side_effect=serve(entry))
    return served


async def test_pr_details_all_pages_then_conditional_repeat(start_live: LiveFactory) -> None:
    async with github_live(start_live) as live:
        served = pr_details_api(live)
        data = {"repository": {"owner": "PyGithub", "name": "PyGithub"}, "pr_number": 3370}
        run = await run_event(live, "capture/pr.details", data)
        assert run.status == "completed", run.error
        assert run.output["requests"] == 6  # PR, reviews, review comments, 3 comment pages
        [pr] = await rows(live, "select * from pull_requests")
        assert (pr["github_id"], pr["number"], pr["state"], pr["draft"]) == (
            2806945628,
            3370,
            "merged",
            False,
        )
        assert (pr["additions"], pr["deletions"], pr["changed_files"]) == (7, 7, 4)
        [author] = await rows(
            live, "select * from contributors where github_id = $1", pr["author_id"]
        )
        assert (author["login"], author["type"]) == ("dependabot[bot]", "Bot")
        [repo] = await rows(live, "select github_id, owner, name, status from repositories")
        assert repo == {
            "github_id": 3544490,
            "owner": "PyGithub",
            "name": "PyGithub",
            "status": "active",
        }
        issue_total = sum(
            len(e["response"]["body"])
            for e in support.recorded(
                "rest/recorded/pygithub/issues.list-comments.paginated.2024-03.json"
            )
        )
        kinds = {
            r["kind"]: r["n"]
            for r in await rows(live, "select kind, count(*) n from comments group by kind")
        }
        assert kinds["issue"] == issue_total and kinds["review"] >= 1
        assert len(await rows(live, "select 1 from reviews")) >= 1
        first = await snapshot(live)

        again = await run_event(live, "capture/pr.details", data)
        assert again.status == "completed", again.error
        assert again.output["not_modified"] == 5  # every list page answered 304
        assert again.output["written"]["comments"] == 0
        assert await snapshot(live) == first
        assert served["/repos/PyGithub/PyGithub/pulls/3370"] == 2


# --- discovery, classification, schedules --------------------------------------------------------


async def test_discover_creates_classifies_and_sends_the_initial_sync(
    start_live: LiveFactory,
) -> None:
    fake = FakeGithub()
    hello(fake)
    async with github_live(start_live, fake) as live:
        data = {"repository": {"owner": "monalisa", "name": "hello"}}
        run = await run_event(live, "discover/new-repository", data)
        assert run.status == "completed", run.error
        assert run.output["status"] == "created" and run.output["size_class"] == "small"
        await live.executor.run_until_idle()
        # the enhanced sync: pull requests with their reviews and comments
        [sync] = live.executor.runs("capture-repository-sync-enhanced")
        assert sync.status == "completed", sync.error
        assert sync.event["data"] == {
            "repository": {"owner": "monalisa", "name": "hello", "github_id": "123456"},
            "reason": "automatic",
        }
        assert len(await rows(live, "select 1 from pull_requests")) == 3
        known = await run_event(live, "discover/new-repository", data)
        assert known.output["status"] == "known"
        await live.executor.run_until_idle()
        assert len(live.executor.runs("capture-repository-sync-enhanced")) == 1


async def test_classify_all_and_single(start_live: LiveFactory) -> None:
    fake = FakeGithub()
    sizes = {"tiny": 3, "mid": 100, "big": 501}
    for i, (name, count) in enumerate(sizes.items()):
        fake.add_repository(
            "acme", name, database_id=10 + i, pull_requests=[pull_request(n) for n in range(count)]
        )
    async with github_live(start_live, fake) as live:
        for i, name in enumerate([*sizes, "gone"]):
            await live.pool.execute(
                "insert into repositories (github_id, owner, name) values ($1, 'acme', $2)",
                10 + i,
                name,
            )
        run = await run_event(live, "classify/repository.size", {})
        assert run.status == "completed", run.error
        assert run.output == {"repositories": 4, "classified": 3, "missing": ["acme/gone"]}
        assert len(fake.queries) == 1  # one batched query
        found = {
            r["name"]: (r["size_class"], r["status"])
            for r in await rows(live, "select name, size_class, status from repositories")
        }
        assert found == {
            "tiny": ("small", "active"),
            "mid": ("medium", "active"),
            "big": ("large", "active"),
            "gone": (None, "missing"),
        }
        fake.repositories[("acme", "tiny")]["pullRequests"] += [
            pull_request(n) for n in range(100, 200)
        ]
        single = await run_event(
            live, "classify/single-repository", {"repository": {"owner": "acme", "name": "tiny"}}
        )
        assert single.output == {
            "repository": "acme/tiny",
            "pr_count": 103,
            "size_class": "medium",
            "status": "active",
        }


async def test_workspace_priorities_sends_priority_first(start_live: LiveFactory) -> None:
    async with github_live(start_live) as live:
        for i, (name, priority, hours) in enumerate(
            [("old", False, 30), ("fresh", False, 2), ("hot", True, 2), ("hotter", True, None)]
        ):
            await live.pool.execute(
                "insert into repositories (github_id, owner, name, is_priority, last_synced_at)"
                " values ($1, 'acme', $2, $3, now() - make_interval(hours => $4::int))",
                i + 1,
                name,
                priority,
                hours,
            )
            # when the reviews-and-comments sync last ran: what the schedule reads
            await live.pool.execute(
                "insert into github_sync_state (repository_id, kind, last_run_at)"
                " select id, 'activity', now() - make_interval(hours => $2::int)"
                " from repositories where name = $1 and $2::int is not null",
                name,
                hours,
            )
        run = await run_event(live, "sync/workspace-priorities", {})
        assert run.status == "completed", run.error
        assert run.output["order"] == ["acme/hotter", "acme/hot", "acme/old"]
        sent = [e for e in live.executor.events if e["name"] == "capture/repository.sync-enhanced"]
        assert [(e["data"]["repository"]["name"], e["data"]["reason"]) for e in sent] == [
            ("hotter", "automatic"),
            ("hot", "automatic"),
            ("old", "scheduled"),
        ]
        cron = await live.executor.fire_cron("sync-workspace-priorities")
        assert cron.function_id.endswith("sync-workspace-priorities")


async def test_discussions_cron(start_live: LiveFactory) -> None:
    fake = FakeGithub()
    discussions = [
        {
            "databaseId": 700 + n,
            "number": n,
            "title": f"Question {n}",
            "createdAt": "2026-01-01T00:00:00Z",
            "updatedAt": f"2026-01-0{n}T00:00:00Z",
            "closed": False,
            "isAnswered": n == 1,
            "upvoteCount": n,
            "url": f"https://github.com/acme/widgets/discussions/{n}",
            "category": {"name": "Q&A"},
            "comments": {"totalCount": 2 * n},
            "author": actor("asker", 900) if n == 1 else None,
        }
        for n in (1, 2)
    ]
    fake.add_repository("acme", "widgets", database_id=9, discussions=discussions)
    async with github_live(start_live, fake) as live:
        await run_event(
            live, "classify/single-repository", {"repository": {"owner": "acme", "name": "widgets"}}
        )
        run = await live.executor.fire_cron("sync-discussions-cron")
        await live.executor.run_until_idle()
        done = live.executor.run(run.run_id)
        assert done.status == "completed", done.error
        assert done.output["sent"] == 1  # one event per repository, each its own run
        [capture] = live.executor.runs("capture-repository-discussions")
        assert capture.output == {
            "repository": "acme/widgets",
            "status": "synced",
            "discussions": 2,
            "written": 2,
        }
        found = await rows(
            live,
            "select number, answered, comment_count, author_id from discussions order by number",
        )
        assert found == [
            {"number": 1, "answered": True, "comment_count": 2, "author_id": 900},
            {"number": 2, "answered": False, "comment_count": 4, "author_id": None},
        ]


def test_missing_token_warns_once_at_start(
    make_settings: Callable[..., Any], caplog: pytest.LogCaptureFixture
) -> None:
    from inngest_app.app import create_app

    with caplog.at_level("WARNING", logger="functions.github"):
        create_app(make_settings())
        warned = [r for r in caplog.records if "GITHUB_TOKEN" in r.getMessage()]
        assert len(warned) == 1
        caplog.clear()
        create_app(make_settings(github_token=TOKEN))
        assert not [r for r in caplog.records if "GITHUB_TOKEN" in r.getMessage()]


async def test_one_github_call_per_repository_at_a_time(start_live: LiveFactory) -> None:
    """Per-repository functions share one concurrency key per repository: whatever runs are
    queued for it, GitHub never sees two of its requests at once, while another repository's
    go on in parallel."""
    fake = FakeGithub()
    hello(fake)
    fake.add_repository("acme", "widgets", database_id=9, pull_requests=[pull_request(1)])
    in_flight: dict[str, int] = {}
    peak: dict[str, int] = {}

    async def tracked(repository: str, answer: Callable[[], httpx.Response]) -> httpx.Response:
        in_flight[repository] = in_flight.get(repository, 0) + 1
        total = sum(in_flight.values())
        peak[repository] = max(peak.get(repository, 0), in_flight[repository])
        peak["*"] = max(peak.get("*", 0), total)
        await asyncio.sleep(0.05)  # long enough for another call to overlap, if allowed
        in_flight[repository] -= 1
        return answer()

    async def graphql(request: httpx.Request) -> httpx.Response:
        name = json.loads(request.content)["variables"]["name"]
        return await tracked(name, lambda: fake.handle(request))

    pull = support.recorded("rest/recorded/pygithub/pulls.get.PyGithub-3370.2026-01.json")[0]

    async def rest(request: httpx.Request) -> httpx.Response:
        parts = request.url.path.split("/")
        body: Any = [] if parts[-1] in {"reviews", "comments"} else pull["response"]["body"]
        return await tracked(parts[3], lambda: httpx.Response(200, json=body))

    async with github_live(start_live) as live:
        live.mock.post(GRAPHQL_URL).mock(side_effect=graphql)
        live.mock.get(host="api.github.com").mock(side_effect=rest)
        widgets = {"owner": "acme", "name": "widgets"}
        events = [
            {"name": "capture/pr.details", "data": {"repository": REPO, "pr_number": n}}
            for n in (1, 2, 3)
        ]
        events += [
            {"name": "capture/repository.sync", "data": {"repository": REPO}},
            {"name": "capture/repository.sync", "data": {"repository": widgets}},
            {"name": "capture/pr.details", "data": {"repository": widgets, "pr_number": 1}},
        ]
        await live.executor.send(events)
        await live.executor.run_until_idle()
        runs = [r for r in live.executor.runs() if r.event["name"].startswith("capture/")]
        assert [r.status for r in runs] == ["completed"] * 6, [r.error for r in runs]
        assert peak["hello"] == 1 and peak["widgets"] == 1
        assert peak["*"] >= 2  # the two repositories did overlap: the limit is per repository
