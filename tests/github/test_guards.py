"""Newer wins: an older copy of a review or comment (a page read before a newer one was
stored) never overwrites the newer one."""

from __future__ import annotations

import datetime as dt

from inngest_app.repos.github import (
    CommentRow,
    GithubRepo,
    PullRequestRow,
    RepositoryMeta,
    ReviewRow,
)
from tests.harness import LiveFactory

T1 = dt.datetime(2026, 2, 1, 10, tzinfo=dt.UTC)
T2 = T1 + dt.timedelta(hours=1)


async def test_older_reviews_and_comments_never_overwrite_newer(start_live: LiveFactory) -> None:
    async with start_live() as live:
        repo = GithubRepo(live.services.transport)
        stored = await repo.upsert_repository(RepositoryMeta(github_id=1, owner="a", name="b"))
        pr = PullRequestRow(
            github_id=10,
            number=1,
            title="t",
            state="open",
            draft=False,
            merged=False,
            created_at=T1,
            updated_at=T2,
        )

        def review(state: str, at: dt.datetime) -> ReviewRow:
            return ReviewRow(github_id=20, pull_request_id=10, state=state, submitted_at=at)

        def comment(path: str, at: dt.datetime) -> CommentRow:
            return CommentRow(
                kind="review",
                github_id=30,
                pull_request_id=10,
                created_at=T1,
                path=path,
                updated_at=at,
            )

        new = await repo.store_page(
            repository_id=stored.id,
            pull_requests=[pr],
            reviews=[review("APPROVED", T2)],
            comments=[comment("new.py", T2)],
        )
        assert (new.reviews, new.comments) == (1, 1)
        old = await repo.store_page(
            repository_id=stored.id,
            reviews=[review("COMMENTED", T1)],
            comments=[comment("old.py", T1)],
        )
        assert (old.reviews, old.comments) == (0, 0)
        assert await live.pool.fetchval("select state from reviews") == "APPROVED"
        assert await live.pool.fetchval("select path from comments") == "new.py"
        # and the newer one still replaces
        newer = await repo.store_page(
            repository_id=stored.id,
            comments=[comment("newer.py", T2 + dt.timedelta(minutes=1))],
        )
        assert newer.comments == 1
        assert await live.pool.fetchval("select path from comments") == "newer.py"
