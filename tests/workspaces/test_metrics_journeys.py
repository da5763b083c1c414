"""Workspace metrics follow captures: a repository added before it is captured, whose capture
is held up by a rate limit, counts on its past days once captured; a removal takes it out of
every day; the window ends at the last computed day (yesterday)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import httpx

from tests.github.fake import GRAPHQL_URL, FakeGithub
from tests.github.journeys import USER, active_pr, age_syncs, capture_live, workspace_metrics
from tests.harness import LiveFactory


def _at(days_ago: int, hour: int) -> dt.datetime:
    today = dt.datetime.now(dt.UTC).date()
    return dt.datetime.combine(today - dt.timedelta(days=days_ago), dt.time(hour), dt.UTC)


def _opened(number: int, at: dt.datetime, reviews: int = 1) -> dict[str, Any]:
    """Opened, reviewed and commented at `at`."""
    return active_pr(number, updated=at, created=at, reviews=reviews, author=number)


def _limited_first(fake: FakeGithub, seconds: int) -> Callable[[httpx.Request], httpx.Response]:
    calls: list[int] = []

    def answer(request: httpx.Request) -> httpx.Response:
        calls.append(1)
        if len(calls) == 1:
            return httpx.Response(
                429, headers={"retry-after": str(seconds)}, json={"message": "slow down"}
            )
        return fake.handle(request)

    return answer


async def test_a_repository_added_before_its_slow_capture_counts_on_its_past_days(
    start_live: LiveFactory,
) -> None:
    fake = FakeGithub()
    # three days ago: 4 opened (2 reviews, 1 comment each); yesterday: 3 opened
    nodes = [_opened(n, _at(3, 9 + n), reviews=2) for n in range(1, 5)]
    nodes += [_opened(n, _at(1, 8 + n)) for n in range(5, 8)]
    fake.add_repository("acme", "widgets", database_id=9, pull_requests=nodes)
    async with capture_live(start_live) as live:
        live.mock.post(GRAPHQL_URL).mock(side_effect=_limited_first(fake, 900))
        created = await live.api.post("/api/workspaces", json={"name": "Team"}, headers=USER)
        workspace_id = created.json()["id"]
        added = await live.api.post(
            f"/api/workspaces/{workspace_id}/repositories/Acme/Widgets", headers=USER
        )
        assert added.status_code == 201 and added.json()["captured"] is False
        await live.executor.run_until_idle()

        week = await workspace_metrics(live, workspace_id, 7)
        summary = week["summary"]
        assert (summary["prsOpened"], summary["reviews"], summary["comments"]) == (7, 11, 7)
        assert week["until"] == (dt.datetime.now(dt.UTC).date() - dt.timedelta(1)).isoformat()
        by_day = {row["date"]: row for row in week["series"]}
        assert by_day[_at(3, 0).date().isoformat()]["prs_opened"] == 4
        # days=1 is yesterday, the last computed day: its row, and its trend against the day
        # before (0 opened) is +100 %, never today's empty -100 %
        one = await workspace_metrics(live, workspace_id, 1)
        assert [row["date"] for row in one["series"]] == [_at(1, 0).date().isoformat()]
        assert (one["summary"]["prsOpened"], one["summary"]["trend"]) == (3, 100)

        # removed: out of every day, including days older than the last 30
        removed = await live.api.delete(
            f"/api/workspaces/{workspace_id}/repositories/acme/widgets", headers=USER
        )
        assert removed.status_code == 200
        await live.executor.run_until_idle()
        summary = (await workspace_metrics(live, workspace_id, 7))["summary"]
        assert (summary["prsOpened"], summary["reviews"], summary["comments"]) == (0, 0, 0)


async def test_activity_captured_after_its_day_was_aggregated_is_counted(
    start_live: LiveFactory,
) -> None:
    fake = FakeGithub()
    nodes = [_opened(1, _at(2, 10))]
    repo = fake.add_repository("acme", "widgets", database_id=9, pull_requests=nodes)
    async with capture_live(start_live, fake) as live:
        created = await live.api.post("/api/workspaces", json={"name": "Team"}, headers=USER)
        workspace_id = created.json()["id"]
        await live.api.post(
            f"/api/workspaces/{workspace_id}/repositories/acme/widgets", headers=USER
        )
        await live.executor.run_until_idle()
        assert (await workspace_metrics(live, workspace_id, 7))["summary"]["prsOpened"] == 1
        # a pull request of two days ago appears late (GitHub lagged, or it was made public)
        repo["pullRequests"].append(_opened(2, _at(2, 11), reviews=3))
        await age_syncs(live, 48)
        await live.executor.send(
            {
                "name": "capture/repository.sync-enhanced",
                "data": {"repository": {"owner": "acme", "name": "widgets"}, "reason": "scheduled"},
            }
        )
        await live.executor.run_until_idle()
        summary = (await workspace_metrics(live, workspace_id, 7))["summary"]
        assert (summary["prsOpened"], summary["reviews"]) == (2, 4)
