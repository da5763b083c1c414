"""A GitHub capture handler alone: a fake GitHub client, a fake repository, a fake step context."""

from __future__ import annotations

import datetime as dt
from typing import Any

import inngest
import pytest

from functions.github.common import Deps
from functions.github.discovery import classify_single
from inngest_app.github.client import GraphQLResult, RateLimited
from inngest_app.github.events import CLASSIFY_ONE
from inngest_app.repos.github import Repository
from inngest_app.repos.github_rows import RepositoryMeta
from tests.fakes import fake_context, step_of

ASKED_AT = dt.datetime(2026, 3, 1, 12, 0, tzinfo=dt.UTC)


def _node(pr_count: int) -> dict[str, Any]:
    """GitHub's `RepositoryFields` of `octo/hello`."""
    return {
        "databaseId": 1296269,
        "id": "MDEwOlJlcG9zaXRvcnkxMjk2MjY5",
        "owner": {"login": "octo"},
        "name": "hello",
        "stargazerCount": 80,
        "forkCount": 9,
        "isPrivate": False,
        "defaultBranchRef": {"name": "main"},
        "hasDiscussionsEnabled": True,
        "allPullRequests": {"totalCount": pr_count},
    }


class FakeGithub:
    """Answers the metadata query with `node` (None: the repository resolves to null)."""

    def __init__(self, node: dict[str, Any] | None, *, error: Exception | None = None) -> None:
        self.node, self.error = node, error
        self.asked: list[dict[str, Any]] = []

    async def graphql(self, query: str, variables: dict[str, Any], **_: Any) -> GraphQLResult:
        self.asked.append(dict(variables))
        if self.error is not None:
            raise self.error
        return GraphQLResult(data={"repository": self.node}, errors=[], rate_limit=None)


class FakeRepositories:
    """Repositories stored from GitHub's metadata; repositories marked missing."""

    def __init__(self) -> None:
        self.stored: list[RepositoryMeta] = []
        self.missing: list[tuple[str, str, dt.datetime]] = []

    async def upsert_repository(self, meta: RepositoryMeta) -> Repository:
        self.stored.append(meta)
        fields = meta.model_dump(exclude_none=True)
        return Repository(id=7, created_at=ASKED_AT, updated_at=ASKED_AT, **fields)

    async def mark_missing(self, *, owner: str, name: str, at: dt.datetime) -> None:
        self.missing.append((owner, name, at))


def _deps(github: FakeGithub, repo: FakeRepositories) -> Deps:
    return Deps(repo=lambda: repo, github=lambda: github)  # type: ignore[arg-type,return-value]


def _ctx() -> inngest.Context:
    data = {"repository": {"owner": "octo", "name": "hello"}}
    return fake_context(CLASSIFY_ONE, data, ts=ASKED_AT)


@pytest.mark.parametrize(
    ("pr_count", "size"), [(99, "small"), (100, "medium"), (500, "medium"), (501, "large")]
)
async def test_a_repository_is_sized_from_its_pull_request_count(pr_count: int, size: str) -> None:
    github, repo = FakeGithub(_node(pr_count)), FakeRepositories()
    ctx = _ctx()
    result = await classify_single(ctx, deps=_deps(github, repo))

    assert result == {
        "repository": "octo/hello",
        "pr_count": pr_count,
        "size_class": size,
        "status": "active",
    }
    assert step_of(ctx).ids == ["classify"]
    assert github.asked == [{"owner": "octo", "name": "hello"}]
    (meta,) = repo.stored
    assert (meta.github_id, meta.owner, meta.name, meta.size_class) == (
        1296269,
        "octo",
        "hello",
        size,
    )


async def test_a_repository_github_does_not_know_is_marked_missing_and_not_retried() -> None:
    repo = FakeRepositories()
    ctx = _ctx()
    with pytest.raises(inngest.NonRetriableError, match="octo/hello not found on GitHub"):
        await classify_single(ctx, deps=_deps(FakeGithub(None), repo))
    # the back-off is counted from when the event asked, not from when the run happened
    assert repo.missing == [("octo", "hello", ASKED_AT)] and repo.stored == []


async def test_a_rate_limit_retries_when_github_says() -> None:
    reset = ASKED_AT + dt.timedelta(minutes=17)
    limited = RateLimited("primary limit spent", retry_at=reset, kind="primary")
    repo = FakeRepositories()
    with pytest.raises(inngest.RetryAfterError) as raised:
        await classify_single(_ctx(), deps=_deps(FakeGithub(None, error=limited), repo))
    assert raised.value.retry_after == reset
    assert repo.missing == [] and repo.stored == []
