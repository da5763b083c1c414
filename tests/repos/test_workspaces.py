"""Workspace storage on a real Postgres: metrics against an independent computation, membership,
priority, and retention."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import AsyncIterator

import asyncpg
import pytest

from inngest_app.repos.workspaces import WorkspacesRepo
from inngest_app.store import PostgresTransport, StoreError
from inngest_app.store.postgres import create_pool
from tests.workspaces.support import DAY0, SPAN_DAYS, expected_day, seed_activity


@pytest.fixture
async def pool(database_url: str) -> AsyncIterator[asyncpg.Pool]:
    pool = await create_pool(database_url, min_size=1, max_size=3)
    yield pool
    await pool.close()


@pytest.fixture
def repo(pool: asyncpg.Pool) -> WorkspacesRepo:
    return WorkspacesRepo(PostgresTransport(pool))


async def test_daily_metrics_equal_an_independent_computation(
    pool: asyncpg.Pool, repo: WorkspacesRepo
) -> None:
    async with pool.acquire() as conn:
        activity = await seed_activity(conn)
    workspace = await repo.create(owner_id="u1", name="Team", slug="team", retention_days=None)
    assert workspace is not None
    members = {("acme", "repo-0"), ("acme", "repo-2")}  # repo-1 is not a member
    for owner, name in members:
        await repo.add_repository(workspace.id, owner=owner, name=name, is_priority=False)
    checked = 0
    for offset in range(-1, SPAN_DAYS + 2):
        day = DAY0 + dt.timedelta(days=offset)
        got = await repo.compute_day(workspace.id, day)
        assert got is not None
        want = expected_day(activity, members, day)
        top = [(c["login"], c["total"]) for c in got.top_contributors]
        assert top == want.pop("top_contributors"), day
        median = want.pop("median_time_to_merge_hours")
        if median is None:
            assert got.median_time_to_merge_hours is None
        else:
            assert got.median_time_to_merge_hours == pytest.approx(median, rel=1e-9)
        assert got.model_dump(include=set(want)) == want, day
        checked += bool(want["total_prs"])
    assert checked >= SPAN_DAYS - 1  # the fixture really has activity to compare


async def test_recomputing_a_day_changes_nothing_and_a_missing_workspace_writes_nothing(
    pool: asyncpg.Pool, repo: WorkspacesRepo
) -> None:
    async with pool.acquire() as conn:
        await seed_activity(conn, repos=1)
    workspace = await repo.create(owner_id="u1", name="Team", slug="team", retention_days=None)
    assert workspace is not None
    await repo.add_repository(workspace.id, owner="ACME", name="Repo-0", is_priority=False)
    first = await repo.compute_day(workspace.id, DAY0)
    again = await repo.compute_day(workspace.id, DAY0)
    assert first is not None and again is not None and first.total_prs > 0
    assert first.model_dump(exclude={"computed_at"}) == again.model_dump(exclude={"computed_at"})
    assert await pool.fetchval("select count(*) from workspace_metrics_daily") == 1

    assert await repo.compute_day(uuid.uuid4(), DAY0) is None
    assert await pool.fetchval("select count(*) from workspace_metrics_daily") == 1


async def test_compute_range_recomputes_each_day_and_refuses_a_silly_range(
    pool: asyncpg.Pool, repo: WorkspacesRepo
) -> None:
    workspace = await repo.create(owner_id="u1", name="Team", slug="team", retention_days=None)
    assert workspace is not None
    assert await repo.compute_range(workspace.id, until=DAY0, days=30) == 30
    assert await pool.fetchval("select count(*) from workspace_metrics_daily") == 30
    with pytest.raises(StoreError) as refused:
        await repo.compute_range(workspace.id, until=DAY0, days=10_000)
    assert not refused.value.retriable


async def test_priority_follows_membership_also_for_a_repository_captured_later(
    pool: asyncpg.Pool, repo: WorkspacesRepo
) -> None:
    one = await repo.create(owner_id="u1", name="One", slug="one", retention_days=None)
    two = await repo.create(owner_id="u2", name="Two", slug="two", retention_days=None)
    assert one is not None and two is not None
    change = await repo.add_repository(one.id, owner="acme", name="later", is_priority=True)
    assert change.added and not change.captured and change.repository_id is None
    await pool.execute(
        "insert into repositories (github_id, owner, name) values (1, 'Acme', 'Later')"
    )
    priority = "select is_priority from repositories where github_id = 1"
    assert await pool.fetchval(priority) is True
    await repo.add_repository(two.id, owner="acme", name="later", is_priority=True)
    await repo.remove_repository(one.id, owner="acme", name="later")
    assert await pool.fetchval(priority) is True  # still a priority of workspace two
    again = await repo.add_repository(two.id, owner="acme", name="later", is_priority=False)
    assert not again.added and again.changed
    assert await pool.fetchval(priority) is False
    fetched = await repo.get(two.id)
    assert fetched is not None and fetched.member("ACME", "LATER") is not None


async def test_cleanup_keeps_exactly_each_workspaces_retention(
    pool: asyncpg.Pool, repo: WorkspacesRepo
) -> None:
    default = await repo.create(owner_id="u1", name="A", slug="a", retention_days=None)
    short = await repo.create(owner_id="u1", name="B", slug="b", retention_days=7)
    assert default is not None and short is not None and default.data_retention_days == 90
    today = dt.date(2026, 12, 1)
    for workspace in (default, short):
        await repo.compute_range(workspace.id, until=today, days=120)
    deleted = 0
    while batch := await repo.cleanup_batch(today=today, limit=25):
        deleted += batch
    assert deleted == (120 - 90) + (120 - 7)
    kept = await pool.fetch(
        "select workspace_id, min(date) as first, max(date) as last, count(*) as n"
        " from workspace_metrics_daily group by workspace_id"
    )
    by_id = {row["workspace_id"]: row for row in kept}
    assert by_id[default.id]["n"] == 90
    assert by_id[default.id]["first"] == today - dt.timedelta(days=89)
    assert by_id[short.id]["n"] == 7 and by_id[short.id]["last"] == today


async def test_a_duplicate_slug_of_one_owner_is_refused(repo: WorkspacesRepo) -> None:
    assert await repo.create(owner_id="u1", name="A", slug="team", retention_days=None)
    taken = await repo.create(owner_id="u1", name="B", slug="team", retention_days=None)
    assert taken == "slug_taken"
    assert await repo.create(owner_id="u2", name="C", slug="team", retention_days=None)
