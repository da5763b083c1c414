"""GitHub capture storage: repositories, contributors, pull requests, reviews, comments,
discussions and REST ETags.

Every write is one SQL function call. Page writes are bulk: each table's rows travel as one jsonb
array and are upserted by one statement keyed on GitHub's ids; unchanged rows are left as they
are, so a repeated capture changes nothing (the counts returned are rows actually written).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from inngest_app.store import Transport

SizeClass = Literal["small", "medium", "large"]
RepositoryStatus = Literal["active", "missing"]


class _Row(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")


class RepositoryMeta(_Row):
    """What GitHub says about a repository (fields left None are kept as stored)."""

    github_id: int
    owner: str
    name: str
    node_id: str | None = None
    stars: int | None = None
    forks: int | None = None
    is_private: bool | None = None
    default_branch: str | None = None
    has_discussions: bool | None = None
    pr_count: int | None = None
    size_class: SizeClass | None = None

    def to_sql(self) -> dict[str, Any]:
        """The jsonb argument: unknown fields are left out (kept as stored)."""
        return self.model_dump(mode="json", exclude_none=True)


class Repository(_Row):
    """A row of `repositories`; `id` is the service's id, the one other tables reference."""

    id: int
    github_id: int
    owner: str
    name: str
    node_id: str | None = None
    stars: int = 0
    forks: int = 0
    is_private: bool = False
    default_branch: str | None = None
    has_discussions: bool = False
    pr_count: int | None = None
    size_class: SizeClass | None = None
    is_priority: bool = False
    status: RepositoryStatus = "active"
    last_synced_at: dt.datetime | None = None
    sync_watermark: dt.datetime | None = None
    last_sync_reason: str | None = None
    created_at: dt.datetime
    updated_at: dt.datetime

    @property
    def full_name(self) -> str:
        """`owner/name`."""
        return f"{self.owner}/{self.name}"


class RepositoryCounts(_Row):
    """What has been captured for a repository."""

    pull_requests: int
    open_pull_requests: int
    reviews: int
    comments: int
    discussions: int
    contributors: int


class RepositoryStatusRow(Repository):
    """A repository with its capture counts."""

    counts: RepositoryCounts


class ContributorRow(_Row):
    """A GitHub account that authored something."""

    github_id: int
    login: str
    avatar_url: str | None = None
    type: str = "User"


class PullRequestRow(_Row):
    """A pull request as captured (REST or GraphQL)."""

    github_id: int
    number: int
    title: str
    state: Literal["open", "closed", "merged"]
    draft: bool
    merged: bool
    created_at: dt.datetime
    updated_at: dt.datetime
    node_id: str | None = None
    merged_at: dt.datetime | None = None
    closed_at: dt.datetime | None = None
    author_id: int | None = None
    additions: int | None = None
    deletions: int | None = None
    changed_files: int | None = None
    commits: int | None = None
    base_ref: str | None = None
    head_ref: str | None = None
    url: str | None = None


class ReviewRow(_Row):
    """A pull-request review."""

    github_id: int
    pull_request_id: int
    state: str
    author_id: int | None = None
    submitted_at: dt.datetime | None = None
    url: str | None = None


class CommentRow(_Row):
    """An issue comment (`kind="issue"`) or a review comment on the diff (`kind="review"`)."""

    kind: Literal["issue", "review"]
    github_id: int
    pull_request_id: int
    created_at: dt.datetime
    review_id: int | None = None
    author_id: int | None = None
    path: str | None = None
    updated_at: dt.datetime | None = None
    url: str | None = None


class DiscussionRow(_Row):
    """A repository discussion."""

    github_id: int
    number: int
    title: str
    created_at: dt.datetime
    updated_at: dt.datetime
    author_id: int | None = None
    category: str | None = None
    answered: bool = False
    closed: bool = False
    comment_count: int = 0
    upvotes: int = 0
    url: str | None = None


class PageWrite(_Row):
    """Rows written by one page store (unchanged rows are not counted)."""

    contributors: int
    pull_requests: int
    reviews: int
    comments: int


class DiscussionWrite(_Row):
    """Rows written by one discussions store."""

    contributors: int
    discussions: int


class ETag(_Row):
    """A stored REST validator and the page's `Link: next`."""

    etag: str
    next_url: str | None = None


class SizeUpdate(_Row):
    """A repository's pull-request count and the class it sets."""

    id: int
    pr_count: int
    size_class: SizeClass


def _rows(rows: Sequence[BaseModel]) -> list[dict[str, Any]]:
    # Absent keys read as null in jsonb_to_recordset: leaving the Nones out is less to encode.
    return [row.model_dump(mode="json", exclude_none=True) for row in rows]


class GithubRepo:
    """Calls the GitHub capture SQL functions."""

    def __init__(self, transport: Transport) -> None:
        self._transport = transport

    async def upsert_repository(self, meta: RepositoryMeta) -> Repository:
        """Create or refresh a repository from GitHub's metadata; it becomes active."""
        row = await self._transport.call("github_upsert_repository", {"p_repo": meta.to_sql()})
        return Repository.model_validate(row)

    async def find(self, *, owner: str, name: str) -> Repository | None:
        """The tracked repository `owner/name` (case-insensitive), or None."""
        row = await self._transport.call(
            "github_find_repository", {"p_owner": owner, "p_name": name}
        )
        return None if row is None else Repository.model_validate(row)

    async def status(self, *, owner: str, name: str) -> RepositoryStatusRow | None:
        """The repository with its capture counts, or None."""
        row = await self._transport.call(
            "github_repository_status", {"p_owner": owner, "p_name": name}
        )
        return None if row is None else RepositoryStatusRow.model_validate(row)

    async def list(self, *, include_missing: bool = False) -> list[Repository]:
        """Tracked repositories: priority first, then least recently synced."""
        rows = await self._transport.call(
            "github_list_repositories", {"p_include_missing": include_missing}
        )
        return [Repository.model_validate(r) for r in rows or []]

    async def mark_missing(self, *, owner: str, name: str) -> Repository | None:
        """Mark a repository GitHub does not know (any more) as `missing`."""
        row = await self._transport.call("github_mark_missing", {"p_owner": owner, "p_name": name})
        return None if row is None else Repository.model_validate(row)

    async def set_sizes(self, sizes: Sequence[SizeUpdate]) -> int:
        """Store pull-request counts and size classes; the number of rows changed."""
        changed = await self._transport.call("github_set_sizes", {"p_sizes": _rows(sizes)})
        return int(changed or 0)

    async def set_priority(self, repository_ids: Sequence[int], *, is_priority: bool) -> int:
        """Flag repositories as priority (synced first and hourly) or not; rows changed."""
        changed = await self._transport.call(
            "github_set_priority", {"p_ids": list(repository_ids), "p_is_priority": is_priority}
        )
        return int(changed or 0)

    async def finish_sync(
        self, *, repository_id: int, watermark: dt.datetime | None, reason: str
    ) -> Repository:
        """Record a completed sync; the watermark never moves back."""
        row = await self._transport.call(
            "github_finish_sync",
            {"p_repository_id": repository_id, "p_watermark": watermark, "p_reason": reason},
        )
        return Repository.model_validate(row)

    async def store_page(
        self,
        *,
        repository_id: int,
        contributors: Sequence[ContributorRow] = (),
        pull_requests: Sequence[PullRequestRow] = (),
        reviews: Sequence[ReviewRow] = (),
        comments: Sequence[CommentRow] = (),
    ) -> PageWrite:
        """Upsert one page of activity, one statement per table, in one transaction."""
        row = await self._transport.call(
            "github_store_page",
            {
                "p_repository_id": repository_id,
                "p_contributors": _rows(contributors),
                "p_pull_requests": _rows(pull_requests),
                "p_reviews": _rows(reviews),
                "p_comments": _rows(comments),
            },
        )
        return PageWrite.model_validate(row)

    async def store_discussions(
        self,
        *,
        repository_id: int,
        contributors: Sequence[ContributorRow],
        discussions: Sequence[DiscussionRow],
    ) -> DiscussionWrite:
        """Upsert a page of discussions and their authors."""
        row = await self._transport.call(
            "github_store_discussions",
            {
                "p_repository_id": repository_id,
                "p_contributors": _rows(contributors),
                "p_discussions": _rows(discussions),
            },
        )
        return DiscussionWrite.model_validate(row)

    async def etags(self, scope: str) -> dict[str, ETag]:
        """Stored validators of a capture scope, by URL."""
        found = await self._transport.call("github_get_etags", {"p_scope": scope})
        return {url: ETag.model_validate(v) for url, v in (found or {}).items()}

    async def put_etags(self, scope: str, etags: dict[str, ETag]) -> int:
        """Store validators of a capture scope (one statement)."""
        rows = [{"url": url, **tag.model_dump()} for url, tag in etags.items()]
        return int(
            await self._transport.call("github_put_etags", {"p_scope": scope, "p_rows": rows}) or 0
        )
