"""What the REST and GraphQL readers share: tolerant scalar readers, the page's `Batch` of rows,
and a repository's size class."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from inngest_app.repos.github import (
    CommentRow,
    ContributorRow,
    DiscussionRow,
    PullRequestRow,
    ReviewRow,
)

GHOST_LOGIN = "ghost"
GHOST_ID = 10137  # GitHub's placeholder account for deleted users


def to_int(value: Any) -> int | None:
    """An integer, or None (booleans and junk included)."""
    if value is None or isinstance(value, bool):
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def to_time(value: Any) -> dt.datetime | None:
    """An ISO time (`Z` or offset), or None."""
    if not isinstance(value, str) or not value:
        return None
    return dt.datetime.fromisoformat(value.replace("Z", "+00:00"))


def required_time(value: Any, what: str) -> dt.datetime:
    """An ISO time; `ValueError` naming `what` when it is missing."""
    parsed = to_time(value)
    if parsed is None:
        raise ValueError(f"{what} is missing")
    return parsed


@dataclass
class Batch:
    """Rows of one page, contributors deduplicated: what one bulk store writes."""

    contributors: dict[int, ContributorRow] = field(default_factory=dict)
    pull_requests: list[PullRequestRow] = field(default_factory=list)
    reviews: list[ReviewRow] = field(default_factory=list)
    comments: list[CommentRow] = field(default_factory=list)
    discussions: list[DiscussionRow] = field(default_factory=list)

    def author(self, contributor: ContributorRow | None) -> int | None:
        """Remember `contributor` and return its id (None for a ghost)."""
        if contributor is None:
            return None
        self.contributors[contributor.github_id] = contributor
        return contributor.github_id

    @property
    def rows(self) -> int:
        """Activity rows in the batch (contributors not counted)."""
        return (
            len(self.pull_requests) + len(self.reviews) + len(self.comments) + len(self.discussions)
        )


def size_class(pr_count: int) -> str:
    """small < 100 pull requests, medium 100-500, large > 500."""
    if pr_count < 100:
        return "small"
    if pr_count <= 500:
        return "medium"
    return "large"
