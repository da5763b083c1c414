"""Rules no journey pins on its own, each checked so that changing it breaks a test: flow
control as Inngest sees it, the REST page cap, day boundaries, velocity and the trend rule in
Python and SQL alike, one aggregation at a time per workspace, and the nightly fan-out's ids."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from types import SimpleNamespace

import httpx
import pytest
import respx

from inngest_app.github.client import GithubClient, list_pages
from inngest_app.workspaces.metrics import summarize, trend, velocity
from tests.github import support
from tests.harness import LiveFactory

PER_REPOSITORY = [
    "capture-repository-sync-graphql",
    "capture-repository-sync-enhanced",
    "capture-pr-details",
    "classify-single-repository",
    "discover-new-repository",
    "capture-repository-discussions",
]


async def test_github_flow_control_as_registered(start_live: LiveFactory) -> None:
    async with start_live(github_token="ghp_x") as live:
        registry = live.executor.registry
        event = {"data": {"repository": {"owner": "acme", "name": "widgets"}}}
        for fn in PER_REPOSITORY:
            flow = registry.flow(registry.resolve(fn))
            assert flow.throttle is not None, fn
            assert (flow.throttle.limit, flow.throttle.period_s, flow.throttle.burst) == (
                60,
                60.0,
                10,
            ), fn
            buckets = sorted((c.limit, c.bucket(fn, event)) for c in flow.concurrency)
            assert buckets == [
                (1, ("env", "repository:acme/widgets")),  # one call per repository
                (10, ("account", "github-api")),  # and ten for the whole account
            ], fn
        # one aggregation at a time per workspace, across both functions that compute
        ws = {"data": {"workspaceId": str(uuid.uuid4())}}
        pools = set()
        for fn in ("aggregate-workspace-metrics", "recompute-workspace-metrics"):
            flow = registry.flow(registry.resolve(fn))
            [limit] = flow.concurrency
            assert limit.limit == 1
            pools.add(limit.bucket(fn, ws))
        assert len(pools) == 1


@respx.mock
async def test_rest_lists_stop_at_exactly_max_pages() -> None:
    pages = support.recorded("rest/recorded/pygithub/issues.list-comments.paginated.2024-03.json")
    for entry in pages:
        respx.get(entry["request"]["url"]).mock(return_value=support.response_of(entry))
    async with httpx.AsyncClient() as http:
        gh = GithubClient(http, token="ghp_t")
        path = "/repos/PyGithub/PyGithub/issues/1136/comments"
        for cap in (1, 2, 3):
            listing = await list_pages(gh, path, params={"per_page": 3}, max_pages=cap)
            assert listing.pages == cap
            expected = sum(len(e["response"]["body"]) for e in pages[:cap])
            assert len(listing.items) == expected


def _day(**figures: int) -> SimpleNamespace:
    base = dict.fromkeys(
        ("total_prs", "prs_opened", "prs_merged", "prs_closed", "reviews", "comments"), 0
    )
    return SimpleNamespace(date=dt.date(2026, 1, 1), **{**base, **figures})


def test_velocity_is_merged_per_day_as_a_true_division() -> None:
    assert velocity(4, 3) == pytest.approx(4 / 3)
    assert velocity(3, 0) == 3.0  # max(1, days)
    summary = summarize([_day(prs_merged=2), _day(prs_merged=2)], [], days=3)
    assert summary["prVelocity"] == pytest.approx(1.3333, abs=1e-4)


TREND_CASES = [
    (3, 2, 50),
    (1, 2, -50),
    (5, 8, -38),  # -37.5: half away from zero
    (11, 8, 38),  # 37.5
    (201, 200, 1),  # 0.5
    (199, 200, -1),  # -0.5
    (0, 4, -100),
    (7, 0, 100),  # after a quiet day: 100
    (0, 0, 100),
]


@pytest.mark.parametrize(("current", "previous", "expected"), TREND_CASES)
def test_trend_rule(current: int, previous: int, expected: int) -> None:
    assert trend(current, previous) == expected


async def test_trend_in_sql_is_the_same_rule(start_live: LiveFactory) -> None:
    async with start_live() as live:
        for current, previous, expected in TREND_CASES:
            found = await live.pool.fetchval("select workspace_trend($1, $2)", current, previous)
            assert found == expected == trend(current, previous), (current, previous)


async def test_a_merge_at_midnight_counts_on_that_day_only(start_live: LiveFactory) -> None:
    midnight = dt.datetime(2026, 3, 10, tzinfo=dt.UTC)
    async with start_live() as live:
        repo_id = await live.pool.fetchval(
            "insert into repositories (github_id, owner, name, last_synced_at)"
            " values (1, 'acme', 'w', now()) returning id"
        )
        await live.pool.execute(
            "insert into pull_requests (github_id, repository_id, number, title, state, merged,"
            " merged_at, created_at, updated_at, closed_at)"
            " values (5, $1, 1, 'pr', 'merged', true, $2, $3, $2, $2)",
            repo_id,
            midnight,
            midnight - dt.timedelta(days=2),
        )
        ws = await live.pool.fetchval(
            "insert into workspaces (owner_id, name, slug) values ('u', 'W', 'w') returning id"
        )
        await live.pool.execute(
            "insert into workspace_repositories (workspace_id, owner, name)"
            " values ($1, 'acme', 'w')",
            ws,
        )
        merged = {}
        for day in (midnight.date() - dt.timedelta(days=1), midnight.date()):
            row = json.loads(
                await live.pool.fetchval("select workspace_compute_day($1, $2)", ws, day)
            )
            merged[day] = (row["prs_merged"], row["open_at_end"])
        assert merged == {
            midnight.date() - dt.timedelta(days=1): (0, 1),  # still open at the day's end
            midnight.date(): (1, 0),
        }


async def test_the_nightly_fan_out_sends_each_day_once(start_live: LiveFactory) -> None:
    async with start_live() as live:
        await live.pool.execute(
            "insert into workspaces (owner_id, name, slug)"
            " select 'u' || i, 'W' || i, 'w' || i from generate_series(1, 3) i"
        )
        await live.executor.fire_cron("scheduled-workspace-aggregation")
        await live.executor.fire_cron("scheduled-workspace-aggregation")  # a second firing
        await live.executor.run_until_idle()
        first = live.executor.runs("aggregate-workspace-metrics")
        assert len(first) == 3
        live.clock.advance(86_400)  # the next night is not taken for a repeat
        await live.executor.fire_cron("scheduled-workspace-aggregation")
        await live.executor.run_until_idle()
        runs = live.executor.runs("aggregate-workspace-metrics")
        assert len(runs) == 6
        days = sorted({r.event["data"]["date"] for r in runs})
        assert len(days) == 2
        assert {r.event["data"]["days"] for r in runs} == {3}  # the trailing window
