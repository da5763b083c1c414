"""The GitHub capture SQL functions on a real Postgres: keyed on GitHub ids, idempotent, bulk."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator

import asyncpg
import pytest

from inngest_app.repos.github import (
    CommentRow,
    ContributorRow,
    ETag,
    GithubRepo,
    PullRequestRow,
    RepositoryMeta,
    ReviewRow,
    SizeUpdate,
    SyncState,
)
from inngest_app.store import PostgresTransport, StoreError
from inngest_app.store.postgres import create_pool

T0 = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


@pytest.fixture
async def pool(database_url: str) -> AsyncIterator[asyncpg.Pool]:
    pool = await create_pool(database_url, min_size=1, max_size=4)
    yield pool
    await pool.close()


@pytest.fixture
def repo(pool: asyncpg.Pool) -> GithubRepo:
    return GithubRepo(PostgresTransport(pool))


def pr(github_id: int, number: int, *, updated: int = 0, **changes: object) -> PullRequestRow:
    values: dict[str, object] = {
        "github_id": github_id,
        "number": number,
        "title": f"PR {number}",
        "state": "open",
        "draft": False,
        "merged": False,
        "created_at": T0,
        "updated_at": T0 + dt.timedelta(hours=updated),
        "author_id": 1,
    }
    values.update(changes)
    return PullRequestRow.model_validate(values)


async def test_page_store_is_idempotent_and_newer_wins(repo: GithubRepo) -> None:
    created = await repo.upsert_repository(
        RepositoryMeta(github_id=42, owner="Acme", name="Widgets", stars=3)
    )
    assert (created.status, created.stars, created.is_priority) == ("active", 3, False)
    authors = [ContributorRow(github_id=1, login="ada"), ContributorRow(github_id=2, login="bob")]
    prs = [pr(100, 1), pr(101, 2, draft=True)]
    reviews = [ReviewRow(github_id=500, pull_request_id=100, state="APPROVED", author_id=2)]
    comments = [
        CommentRow(kind="issue", github_id=7, pull_request_id=100, created_at=T0, author_id=2),
        CommentRow(kind="review", github_id=7, pull_request_id=101, created_at=T0, review_id=500),
    ]
    page = {"contributors": authors, "pull_requests": prs, "reviews": reviews, "comments": comments}
    first = await repo.store_page(repository_id=created.id, **page)
    assert first.model_dump() == {
        "contributors": 2,
        "pull_requests": 2,
        "reviews": 1,
        "comments": 2,
        "workspaces": [],  # in no workspace: no recomputation is due
    }
    again = await repo.store_page(repository_id=created.id, **page)
    assert again.model_dump() == {
        "contributors": 0,
        "pull_requests": 0,
        "reviews": 0,
        "comments": 0,
        "workspaces": [],
    }

    # A newer copy replaces the row; an older one (a stale page) does not.
    newer = await repo.store_page(
        repository_id=created.id, pull_requests=[pr(100, 1, updated=2, state="merged", merged=True)]
    )
    stale = await repo.store_page(
        repository_id=created.id, pull_requests=[pr(100, 1, updated=1, title="old")]
    )
    assert (newer.pull_requests, stale.pull_requests) == (1, 0)
    status = await repo.status(owner="acme", name="WIDGETS")
    assert status is not None
    assert status.counts.model_dump() == {
        "pull_requests": 2,
        "open_pull_requests": 1,
        "reviews": 1,
        "comments": 2,
        "discussions": 0,
        "contributors": 1,
    }


async def test_ghost_author_and_unknown_repository(repo: GithubRepo, pool: asyncpg.Pool) -> None:
    created = await repo.upsert_repository(RepositoryMeta(github_id=1, owner="o", name="n"))
    await repo.store_page(repository_id=created.id, pull_requests=[pr(9, 1, author_id=None)])
    assert await pool.fetchval("select author_id from pull_requests where github_id = 9") is None
    with pytest.raises(StoreError) as err:
        await repo.store_page(repository_id=created.id + 1000, pull_requests=[pr(10, 2)])
    assert not err.value.retriable


async def test_repository_lifecycle(repo: GithubRepo) -> None:
    first = await repo.upsert_repository(RepositoryMeta(github_id=1, owner="o", name="n"))
    sized = await repo.set_sizes([SizeUpdate(id=first.id, pr_count=250, size_class="medium")])
    assert sized == 1
    assert await repo.set_sizes([SizeUpdate(id=first.id, pr_count=250, size_class="medium")]) == 0
    missing = await repo.mark_missing(owner="O", name="N", at=T0)
    assert missing is not None and missing.status == "missing"
    assert (missing.missing_checks, missing.recheck_at) == (1, T0 + dt.timedelta(hours=1))
    again = await repo.mark_missing(owner="o", name="n", at=T0)  # back-off doubles
    assert again is not None and again.recheck_at == T0 + dt.timedelta(hours=2)
    for _ in range(10):
        again = await repo.mark_missing(owner="o", name="n", at=T0)
    assert again is not None and again.recheck_at == T0 + dt.timedelta(days=7)  # at most
    assert [r.id for r in await repo.recheck_due(at=T0 + dt.timedelta(days=7), limit=10)] == [
        first.id
    ]
    assert await repo.recheck_due(at=T0 + dt.timedelta(days=6), limit=10) == []
    assert [r.id for r in await repo.list()] == []
    back = await repo.upsert_repository(RepositoryMeta(github_id=1, owner="o", name="n", stars=5))
    assert (back.id, back.status, back.size_class, back.stars) == (first.id, "active", "medium", 5)
    assert (back.missing_checks, back.recheck_at) == (0, None)
    assert await repo.set_priority([first.id], is_priority=True) == 1
    assert await repo.set_priority([first.id], is_priority=True) == 0
    assert (await repo.list())[0].is_priority

    # a pass moves the watermark only when complete, never back, to the pass's newest time
    async def advance(high: dt.datetime | None, cursor: str | None) -> SyncState:
        return await repo.advance_sync(
            repository_id=first.id,
            kind="pull_requests",
            high=high,
            cursor=cursor,
            complete=cursor is None,
        )

    started = await advance(T0, "100")
    assert (started.watermark, started.pass_high, started.in_progress) == (None, T0, True)
    going = await advance(T0 + dt.timedelta(hours=1), "200")
    assert (going.pass_high, going.pass_cursor, going.pass_pages) == (T0, "200", 2)
    done = await advance(None, None)
    assert (done.watermark, done.caught_up) == (T0, True)
    kept = await advance(T0 - dt.timedelta(days=1), None)
    assert kept.watermark == T0
    synced = await repo.finish_run(repository_id=first.id, kind="pull_requests", reason="manual")
    assert synced.sync_watermark == T0 and synced.last_sync_reason == "manual"
    # The name moved to another repository: the old row is renamed aside, not lost.
    other = await repo.upsert_repository(RepositoryMeta(github_id=2, owner="o", name="n"))
    assert other.id != first.id
    listed = {r.github_id: (r.name, r.status) for r in await repo.list(include_missing=True)}
    assert listed == {1: ("n~1", "missing"), 2: ("n", "active")}


async def test_etags_round_trip(repo: GithubRepo) -> None:
    tags = {"https://api.github.com/a": ETag(etag='W/"1"', next_url="https://api.github.com/b")}
    assert await repo.put_etags("pr:o/n#1", tags) == 1
    assert await repo.etags("pr:o/n#1") == tags
    assert await repo.etags("pr:o/n#2") == {}
