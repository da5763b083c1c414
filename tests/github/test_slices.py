"""Loops over repositories, workspaces and pages work in slices, well under Inngest's 1,000
steps per run, and hand over to a fresh run through an event with a deterministic id. The
slices are shrunk here (the code under test runs in this process) so that a handful of rows
crosses several slices; the bounds at the real sizes are checked from the same constants."""

from __future__ import annotations

from collections import Counter

import pytest

import functions.workspaces as workspace_functions
from functions.github import common, discovery, discussions
from inngest_app.testing import Run
from tests.github.fake import FakeGithub, pull_request
from tests.github.journeys import capture_live
from tests.harness import LiveFactory

STEP_LIMIT = 1_000


def steps(run: Run) -> int:
    return len(run.step_names(None))


def test_the_real_slices_stay_well_under_the_step_limit() -> None:
    # list + send per page, and one hand-over
    assert 2 * discussions.SLICE_PAGES + 1 <= STEP_LIMIT // 4
    assert 2 * workspace_functions.FAN_OUT_PAGES + 1 <= STEP_LIMIT // 4
    # a batch and a possible sleep each, and one hand-over
    assert 2 * discovery.SLICE_BATCHES + 1 <= STEP_LIMIT // 4
    assert workspace_functions.CLEANUP_BATCHES + 1 <= STEP_LIMIT // 4


async def test_discussions_fan_out_hands_over_and_reaches_every_repository_once(
    start_live: LiveFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(discussions, "SEND_BATCH", 2)
    monkeypatch.setattr(discussions, "SLICE_PAGES", 2)
    fake = FakeGithub()
    async with capture_live(start_live, fake) as live:
        for i in range(9):
            await live.pool.execute(
                "insert into repositories (github_id, owner, name, has_discussions)"
                " values ($1, 'acme', $2, true)",
                100 + i,
                f"r{i}",
            )
            fake.add_repository("acme", f"r{i}", database_id=100 + i, discussions=[])
        await live.executor.fire_cron("sync-discussions-cron")
        await live.executor.run_until_idle()
        fan_outs = live.executor.runs("sync-discussions-cron")
        assert [r.status for r in fan_outs] == ["completed"] * 3  # 4 + 4 + 1
        assert all(steps(r) <= 2 * 2 + 1 for r in fan_outs)
        captured = Counter(
            r.output["repository"] for r in live.executor.runs("capture-repository-discussions")
        )
        assert captured == {f"acme/r{i}": 1 for i in range(9)}


async def test_classification_hands_over_in_slices(
    start_live: LiveFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(discovery, "SIZES_BATCH", 2)
    monkeypatch.setattr(discovery, "SLICE_BATCHES", 2)
    fake = FakeGithub()
    async with capture_live(start_live, fake) as live:
        for i in range(7):
            fake.add_repository(
                "acme", f"r{i}", database_id=200 + i, pull_requests=[pull_request(1)] * i
            )
            await live.pool.execute(
                "insert into repositories (github_id, owner, name) values ($1, 'acme', $2)",
                200 + i,
                f"r{i}",
            )
        await live.executor.send({"name": "classify/repository.size", "data": {}})
        await live.executor.run_until_idle()
        runs = live.executor.runs("classify-repository-size")
        assert [r.status for r in runs] == ["completed"] * 2  # 4 + 3
        assert sum(r.output["classified"] for r in runs) == 7
        assert all(steps(r) <= 2 * 2 + 1 for r in runs)
        sized = await live.pool.fetch("select name, pr_count from repositories order by name")
        assert [r["pr_count"] for r in sized] == list(range(7))


async def test_the_nightly_fan_out_hands_over_and_reaches_every_workspace_once(
    start_live: LiveFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(workspace_functions, "FAN_OUT_BATCH", 2)
    monkeypatch.setattr(workspace_functions, "FAN_OUT_PAGES", 2)
    async with start_live() as live:
        await live.pool.execute(
            "insert into workspaces (owner_id, name, slug)"
            " select 'u' || i, 'W' || i, 'w' || i from generate_series(1, 9) i"
        )
        await live.executor.fire_cron("scheduled-workspace-aggregation")
        await live.executor.run_until_idle()
        fan_outs = live.executor.runs("scheduled-workspace-aggregation")
        assert [r.status for r in fan_outs] == ["completed"] * 3
        aggregated = Counter(
            r.event["data"]["workspaceId"]
            for r in live.executor.runs("aggregate-workspace-metrics")
        )
        assert len(aggregated) == 9 and set(aggregated.values()) == {1}


async def test_an_enhanced_sync_at_its_maximum_pages_stays_well_under_the_limit(
    start_live: LiveFactory,
) -> None:
    fake = FakeGithub()
    prs = [pull_request(n) for n in range(1, 2 * 50 * 3 + 1)]  # 300 PRs: 6 pages of 50
    fake.add_repository("acme", "widgets", database_id=9, pull_requests=prs)
    fake.remaining, fake.cost = 150, 30  # the budget runs low: a sleep after most pages
    async with capture_live(start_live, fake) as live:
        await live.executor.send(
            {
                "name": "capture/repository.sync-enhanced",
                "data": {"repository": {"owner": "acme", "name": "widgets"}, "pages": 50},
            }
        )
        await live.executor.run_until_idle()
        [run] = live.executor.runs("capture-repository-sync-enhanced")
        assert run.status == "completed", run.error
        assert await live.pool.fetchval("select count(*) from pull_requests") == 300
        # per page: a step and at most one sleep; the maximum budget is 50 pages
        per_page = steps(run) / run.output["pages"]
        assert per_page <= 2.5 and 50 * per_page + 5 < STEP_LIMIT // 4
    assert common.SEND_BATCH == 500


async def test_cleanup_hands_over_and_deletes_every_stale_row(
    start_live: LiveFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(workspace_functions, "CLEANUP_BATCH", 2)
    monkeypatch.setattr(workspace_functions, "CLEANUP_BATCHES", 2)
    async with start_live() as live:
        ws = await live.pool.fetchval(
            "insert into workspaces (owner_id, name, slug, data_retention_days)"
            " values ('u', 'W', 'w', 1) returning id"
        )
        await live.pool.execute(
            "insert into workspace_metrics_daily (workspace_id, date, total_prs, prs_opened,"
            " prs_merged, prs_closed, open_at_end, active_contributors, reviews, comments,"
            " pr_velocity, trend_total_prs)"
            " select $1, current_date - i, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0"
            " from generate_series(0, 9) i",
            ws,
        )
        await live.executor.send({"name": "cleanup/workspace-metrics", "data": {}})
        await live.executor.run_until_idle()
        runs = live.executor.runs("cleanup-workspace-metrics-data")
        assert [r.status for r in runs] == ["completed"] * 3  # 4 + 4 + 1
        assert all(steps(r) <= 2 + 1 for r in runs)
        assert sum(r.output["deleted"] for r in runs) == 9
        assert await live.pool.fetchval("select count(*) from workspace_metrics_daily") == 1
