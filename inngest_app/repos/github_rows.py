"""Rows of the GitHub capture tables, as the capture writes them (see `repos.github`)."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import BaseModel, ConfigDict

SizeClass = Literal["small", "medium", "large"]


class _Row(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")


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
