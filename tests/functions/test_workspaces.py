"""Workspace functions end to end through the test executor: daily aggregation, the nightly
fan-out, membership changes (discovery, one debounced recomputation) and retention cleanup."""

from __future__ import annotations

import datetime as dt
import math
import uuid

import pytest

from tests.harness import Live, LiveFactory
from tests.queries.support import JWT_SECRET, token
from tests.workspaces.support import DAY0, expected_day, seed_activity

AGGREGATE = "aggregate/workspace-metrics"


async def _workspace(live: Live, owner: str = "user-1", slug: str = "team") -> uuid.UUID:
    workspace_id: uuid.UUID = await live.pool.fetchval(
        "insert into workspaces (owner_id, name, slug) values ($1, 'Team', $2) returning id",
        owner,
        slug,
    )
    return workspace_id


async def _member(live: Live, workspace_id: uuid.UUID, owner: str, name: str) -> None:
    await live.pool.execute(
        "insert into workspace_repositories (workspace_id, owner, name) values ($1, $2, $3)",
        workspace_id,
        owner,
        name,
    )


async def test_aggregation_computes_yesterday_by_default_and_a_given_day(
    start_live: LiveFactory,
) -> None:
    async with start_live() as live:
        async with live.pool.acquire() as conn:
            activity = await seed_activity(conn, repos=2)
        workspace_id = await _workspace(live)
        await _member(live, workspace_id, "acme", "repo-1")
        # sent five past midnight on DAY0 + 4 → "yesterday" is DAY0 + 3
        sent = dt.datetime.combine(DAY0 + dt.timedelta(days=4), dt.time(0, 5), dt.UTC)
        await live.executor.send(
            {
                "name": AGGREGATE,
                "data": {"workspaceId": str(workspace_id)},
                "ts": int(sent.timestamp() * 1000),
            }
        )
        await live.executor.send(
            {"name": AGGREGATE, "data": {"workspaceId": str(workspace_id), "date": str(DAY0)}}
        )
        await live.executor.run_until_idle()
        runs = live.executor.runs("aggregate-workspace-metrics")
        assert [r.status for r in runs] == ["completed", "completed"], [r.error for r in runs]
        stored = {
            row["date"]: row
            for row in await live.pool.fetch("select * from workspace_metrics_daily")
        }
        assert set(stored) == {DAY0 + dt.timedelta(days=3), DAY0}
        for day, row in stored.items():
            want = expected_day(activity, {("acme", "repo-1")}, day)
            assert row["total_prs"] == want["total_prs"] and row["reviews"] == want["reviews"]
        assert runs[0].step_names() == [f"compute-{DAY0 + dt.timedelta(days=3)}"]


async def test_aggregation_bad_input_fails_without_retry_and_unknown_workspace_writes_nothing(
    start_live: LiveFactory,
) -> None:
    async with start_live() as live:
        await live.executor.send({"name": AGGREGATE, "data": {"workspaceId": "not-a-uuid"}})
        await live.executor.send({"name": AGGREGATE, "data": {"workspaceId": str(uuid.uuid4())}})
        await live.executor.run_until_idle()
        bad, unknown = live.executor.runs("aggregate-workspace-metrics")
        assert bad.status == "failed" and bad.retries == 0
        assert "workspaceId" in bad.error["message"]
        assert unknown.status == "completed" and unknown.output["skipped"] == "no such workspace"
        assert await live.pool.fetchval("select count(*) from workspace_metrics_daily") == 0


@pytest.mark.parametrize("count", [0, 501])
async def test_nightly_fan_out_sends_one_step_per_500_workspaces(
    start_live: LiveFactory, count: int
) -> None:
    async with start_live() as live:
        await live.pool.execute(
            "insert into workspaces (owner_id, name, slug)"
            " select 'u' || i, 'W' || i, 'w' || i from generate_series(1, $1) i",
            count,
        )
        cron = await live.executor.fire_cron("scheduled-workspace-aggregation")
        await live.executor.run_until_idle()
        assert cron.status == "completed", cron.error
        sends = [name for name in cron.step_names(None) if name.startswith("fan-out-")]
        assert len(sends) == math.ceil(count / 500)
        assert cron.output["workspaces"] == count
        aggregated = live.executor.runs("aggregate-workspace-metrics")
        assert len(aggregated) == count
        assert all(run.status == "completed" for run in aggregated)
        # each workspace's yesterday and the 2 days before (late activity counts)
        assert await live.pool.fetchval("select count(*) from workspace_metrics_daily") == 3 * count
        yesterday = dt.datetime.fromtimestamp(live.clock.now(), dt.UTC).date() - dt.timedelta(1)
        if count:
            assert aggregated[0].event["data"]["date"] == str(yesterday)


async def test_adding_an_uncaptured_repository_discovers_it_then_recomputes_30_days(
    start_live: LiveFactory,
) -> None:
    async with start_live(supabase_jwt_secret=JWT_SECRET) as live:
        workspace_id = await _workspace(live)
        path = f"/api/workspaces/{workspace_id}/repositories/continuedev/continue"
        response = await live.api.post(path, headers=token())
        assert response.status_code == 201, response.text
        await live.executor.run_until_idle()
        [change] = live.executor.runs("handle-workspace-repository-change")
        assert change.status == "completed", change.error
        assert change.output["discovered"] is True
        [discover] = [e for e in live.executor.events if e["name"] == "discover/new-repository"]
        assert discover["data"]["repository"] == {"owner": "continuedev", "name": "continue"}
        [recompute] = live.executor.runs("recompute-workspace-metrics")
        assert recompute.status == "completed" and recompute.output["days"] == 30
        assert await live.pool.fetchval("select count(*) from workspace_metrics_daily") == 30


async def test_a_captured_repository_is_not_discovered_again(start_live: LiveFactory) -> None:
    async with start_live(supabase_jwt_secret=JWT_SECRET) as live:
        async with live.pool.acquire() as conn:
            await seed_activity(conn, repos=1, prs_per_repo=3)
        workspace_id = await _workspace(live)
        response = await live.api.post(
            f"/api/workspaces/{workspace_id}/repositories/acme/repo-0", headers=token()
        )
        assert response.status_code == 201 and response.json()["captured"] is True
        await live.executor.run_until_idle()
        [change] = live.executor.runs("handle-workspace-repository-change")
        assert change.output["discovered"] is False
        assert not [e for e in live.executor.events if e["name"] == "discover/new-repository"]


async def test_ten_changes_in_five_seconds_cost_one_recomputation(
    start_live: LiveFactory,
) -> None:
    async with start_live(supabase_jwt_secret=JWT_SECRET) as live:
        workspace_id = await _workspace(live)
        other = await _workspace(live, slug="other")
        for i in range(10):
            response = await live.api.post(
                f"/api/workspaces/{workspace_id}/repositories/acme/repo-{i}", headers=token()
            )
            assert response.status_code == 201
            await live.executor.run_until_idle(advance_clock=False)
            live.clock.advance(0.5)
        await live.api.post(f"/api/workspaces/{other}/repositories/acme/x", headers=token())
        await live.executor.run_until_idle()
        changes = live.executor.runs("handle-workspace-repository-change")
        assert len(changes) == 11 and all(run.status == "completed" for run in changes)
        recomputes = live.executor.runs("recompute-workspace-metrics")
        by_workspace = sorted(r.event["data"]["workspaceId"] for r in recomputes)
        assert by_workspace == sorted([str(workspace_id), str(other)])  # one each, none dropped
        [ours] = [r for r in recomputes if r.event["data"]["workspaceId"] == str(workspace_id)]
        assert [reason.reason for reason in ours.reasons] == ["debounced"]
        members = await live.pool.fetchval(
            "select count(*) from workspace_repositories where workspace_id = $1", workspace_id
        )
        assert members == 10


async def test_cleanup_keeps_exactly_the_last_90_days(start_live: LiveFactory) -> None:
    async with start_live() as live:
        workspace_id = await _workspace(live)
        today = dt.datetime.fromtimestamp(live.clock.now(), dt.UTC).date()
        await live.pool.execute("select workspace_compute_range($1, $2, 120)", workspace_id, today)
        await live.executor.send({"name": "cleanup/workspace-metrics", "data": {}})
        await live.executor.run_until_idle()
        [run] = live.executor.runs("cleanup-workspace-metrics-data")
        assert run.status == "completed", run.error
        assert run.output["deleted"] == 30
        dates = [
            row["date"]
            for row in await live.pool.fetch(
                "select date from workspace_metrics_daily order by date"
            )
        ]
        assert dates == [today - dt.timedelta(days=d) for d in range(89, -1, -1)]
        cron = await live.executor.fire_cron("cleanup-workspace-metrics-data")
        await live.executor.run_until_idle()
        assert cron.status == "completed" and cron.output["deleted"] == 0
