"""GitHub's answers (REST JSON, GraphQL nodes) read into rows. Pure functions, no I/O.

Deleted accounts come back as `null` (GraphQL, some REST endpoints) or as the `ghost` user
(REST): both become a null author, never an error. Fields GitHub's real data leaves null where
the documented schema does not (e.g. review comments' `start_side`) are simply not read.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from inngest_app.repos.github import (
    CommentRow,
    ContributorRow,
    DiscussionRow,
    PullRequestRow,
    RepositoryMeta,
    ReviewRow,
)

GHOST_LOGIN = "ghost"
GHOST_ID = 10137  # GitHub's placeholder account for deleted users


def _int(value: Any) -> int | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _time(value: Any) -> dt.datetime | None:
    if not isinstance(value, str) or not value:
        return None
    return dt.datetime.fromisoformat(value.replace("Z", "+00:00"))


def _required_time(value: Any, what: str) -> dt.datetime:
    parsed = _time(value)
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


# --- REST ------------------------------------------------------------------------------------


def rest_user(user: Any) -> ContributorRow | None:
    """A REST `user` object, or None for a deleted (ghost) account."""
    if not isinstance(user, Mapping):
        return None
    github_id, login = _int(user.get("id")), user.get("login")
    if github_id is None or not isinstance(login, str):
        return None
    if login == GHOST_LOGIN and github_id == GHOST_ID:
        return None
    return ContributorRow(
        github_id=github_id,
        login=login,
        avatar_url=user.get("avatar_url"),
        type=str(user.get("type") or "User"),
    )


def rest_repository(repo: Mapping[str, Any]) -> RepositoryMeta:
    """A REST repository object (`GET /repos/{owner}/{name}`, a PR's `base.repo`)."""
    owner = repo.get("owner") or {}
    return RepositoryMeta(
        github_id=int(repo["id"]),
        node_id=repo.get("node_id"),
        owner=str(owner.get("login") or str(repo["full_name"]).split("/")[0]),
        name=str(repo["name"]),
        stars=_int(repo.get("stargazers_count")),
        forks=_int(repo.get("forks_count")),
        is_private=bool(repo.get("private", False)),
        default_branch=repo.get("default_branch"),
        has_discussions=repo.get("has_discussions"),
    )


def rest_pull_request(body: Mapping[str, Any], batch: Batch) -> PullRequestRow:
    """`GET /repos/{o}/{n}/pulls/{number}` into a row (its author into `batch`)."""
    merged = bool(body.get("merged")) or body.get("merged_at") is not None
    state = "merged" if merged else str(body.get("state") or "open").lower()
    row = PullRequestRow(
        github_id=int(body["id"]),
        node_id=body.get("node_id"),
        number=int(body["number"]),
        title=str(body.get("title") or ""),
        state=state,
        draft=bool(body.get("draft", False)),
        merged=merged,
        merged_at=_time(body.get("merged_at")),
        created_at=_required_time(body.get("created_at"), "created_at"),
        updated_at=_required_time(body.get("updated_at"), "updated_at"),
        closed_at=_time(body.get("closed_at")),
        author_id=batch.author(rest_user(body.get("user"))),
        additions=_int(body.get("additions")),
        deletions=_int(body.get("deletions")),
        changed_files=_int(body.get("changed_files")),
        commits=_int(body.get("commits")),
        base_ref=(body.get("base") or {}).get("ref"),
        head_ref=(body.get("head") or {}).get("ref"),
        url=body.get("html_url"),
    )
    batch.pull_requests.append(row)
    return row


def rest_reviews(items: Iterable[Any], pull_request_id: int, batch: Batch) -> None:
    """`GET .../pulls/{n}/reviews` items into `batch`."""
    for item in items:
        if not isinstance(item, Mapping) or _int(item.get("id")) is None:
            continue
        batch.reviews.append(
            ReviewRow(
                github_id=int(item["id"]),
                pull_request_id=pull_request_id,
                state=str(item.get("state") or "COMMENTED"),
                author_id=batch.author(rest_user(item.get("user"))),
                submitted_at=_time(item.get("submitted_at")),
                url=item.get("html_url"),
            )
        )


def rest_comments(items: Iterable[Any], pull_request_id: int, batch: Batch, *, kind: str) -> None:
    """Issue comments (`kind="issue"`) or review comments (`kind="review"`) into `batch`."""
    for item in items:
        if not isinstance(item, Mapping) or _int(item.get("id")) is None:
            continue
        batch.comments.append(
            CommentRow(
                kind=kind,
                github_id=int(item["id"]),
                pull_request_id=pull_request_id,
                review_id=_int(item.get("pull_request_review_id")),
                author_id=batch.author(rest_user(item.get("user"))),
                path=item.get("path"),
                created_at=_required_time(item.get("created_at"), "comment created_at"),
                updated_at=_time(item.get("updated_at")),
                url=item.get("html_url"),
            )
        )


# --- GraphQL ---------------------------------------------------------------------------------


def gql_actor(actor: Any) -> ContributorRow | None:
    """An `Actor` (ActorFields); None for a deleted account or one without a database id."""
    if not isinstance(actor, Mapping):
        return None
    github_id, login = _int(actor.get("databaseId")), actor.get("login")
    if github_id is None or not isinstance(login, str):
        return None
    return ContributorRow(
        github_id=github_id,
        login=login,
        avatar_url=actor.get("avatarUrl"),
        type=str(actor.get("__typename") or "User"),
    )


def size_class(pr_count: int) -> str:
    """small < 100 pull requests, medium 100-500, large > 500."""
    if pr_count < 100:
        return "small"
    if pr_count <= 500:
        return "medium"
    return "large"


def gql_repository(repo: Mapping[str, Any]) -> RepositoryMeta:
    """`RepositoryFields` into metadata, sized from its pull-request count."""
    total = _int((repo.get("allPullRequests") or {}).get("totalCount"))
    return RepositoryMeta(
        github_id=int(repo["databaseId"]),
        node_id=repo.get("id"),
        owner=str((repo.get("owner") or {})["login"]),
        name=str(repo["name"]),
        stars=_int(repo.get("stargazerCount")),
        forks=_int(repo.get("forkCount")),
        is_private=repo.get("isPrivate"),
        default_branch=(repo.get("defaultBranchRef") or {}).get("name"),
        has_discussions=repo.get("hasDiscussionsEnabled"),
        pr_count=total,
        size_class=None if total is None else size_class(total),
    )


def gql_pull_request(node: Mapping[str, Any], batch: Batch) -> PullRequestRow:
    """`PullRequestFields` (plus nested reviews and comments, when asked) into `batch`."""
    state = str(node.get("state") or "OPEN").lower()
    row = PullRequestRow(
        github_id=int(node["fullDatabaseId"]),
        node_id=node.get("id"),
        number=int(node["number"]),
        title=str(node.get("title") or ""),
        state=state,
        draft=bool(node.get("isDraft", False)),
        merged=bool(node.get("merged", False)),
        merged_at=_time(node.get("mergedAt")),
        created_at=_required_time(node.get("createdAt"), "createdAt"),
        updated_at=_required_time(node.get("updatedAt"), "updatedAt"),
        closed_at=_time(node.get("closedAt")),
        author_id=batch.author(gql_actor(node.get("author"))),
        additions=_int(node.get("additions")),
        deletions=_int(node.get("deletions")),
        changed_files=_int(node.get("changedFiles")),
        commits=_int((node.get("commits") or {}).get("totalCount")),
        base_ref=node.get("baseRefName"),
        head_ref=node.get("headRefName"),
        url=node.get("url"),
    )
    batch.pull_requests.append(row)
    for review in (node.get("reviews") or {}).get("nodes") or []:
        review_id = _int((review or {}).get("fullDatabaseId"))
        if review_id is None:
            continue
        batch.reviews.append(
            ReviewRow(
                github_id=review_id,
                pull_request_id=row.github_id,
                state=str(review.get("state") or "COMMENTED"),
                author_id=batch.author(gql_actor(review.get("author"))),
                submitted_at=_time(review.get("submittedAt")),
                url=review.get("url"),
            )
        )
        for comment in (review.get("comments") or {}).get("nodes") or []:
            _gql_comment(comment, row.github_id, batch, kind="review", review_id=review_id)
    for comment in (node.get("comments") or {}).get("nodes") or []:
        _gql_comment(comment, row.github_id, batch, kind="issue", review_id=None)
    return row


def _gql_comment(
    node: Any, pull_request_id: int, batch: Batch, *, kind: str, review_id: int | None
) -> None:
    github_id = _int((node or {}).get("fullDatabaseId"))
    if github_id is None:
        return
    batch.comments.append(
        CommentRow(
            kind=kind,
            github_id=github_id,
            pull_request_id=pull_request_id,
            review_id=review_id,
            author_id=batch.author(gql_actor(node.get("author"))),
            path=node.get("path"),
            created_at=_required_time(node.get("createdAt"), "comment createdAt"),
            updated_at=_time(node.get("updatedAt")),
            url=node.get("url"),
        )
    )


def gql_discussions(nodes: Iterable[Any], batch: Batch) -> None:
    """Discussion nodes into `batch`."""
    for node in nodes:
        github_id = _int((node or {}).get("databaseId"))
        if github_id is None:
            continue
        batch.discussions.append(
            DiscussionRow(
                github_id=github_id,
                number=int(node["number"]),
                title=str(node.get("title") or ""),
                created_at=_required_time(node.get("createdAt"), "createdAt"),
                updated_at=_required_time(node.get("updatedAt"), "updatedAt"),
                author_id=batch.author(gql_actor(node.get("author"))),
                category=(node.get("category") or {}).get("name"),
                answered=bool(node.get("isAnswered")),
                closed=bool(node.get("closed")),
                comment_count=_int((node.get("comments") or {}).get("totalCount")) or 0,
                upvotes=_int(node.get("upvoteCount")) or 0,
                url=node.get("url"),
            )
        )
