"""Rows of the GitHub capture tables, as the capture writes them (see `repos.github`)."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

SizeClass = Literal["small", "medium", "large"]


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


SyncKind = Literal["pull_requests", "activity"]
SYNC_KINDS: tuple[SyncKind, ...] = ("pull_requests", "activity")


class SyncState(_Row):
    """Where one kind of sync of a repository stands (see the capture-state migration)."""

    kind: SyncKind
    watermark: dt.datetime | None = None
    pass_high: dt.datetime | None = None
    pass_cursor: str | None = None
    pass_pages: int = 0
    last_run_at: dt.datetime | None = None
    completed_at: dt.datetime | None = None

    @property
    def in_progress(self) -> bool:
        """A pass stopped at its budget and is to be continued."""
        return self.pass_cursor is not None

    @property
    def caught_up(self) -> bool:
        """A pass completed and none is in progress."""
        return self.completed_at is not None and not self.in_progress


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
    # workspaces whose metrics the written rows made stale (a recomputation is due)
    workspaces: list[str] = []


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
