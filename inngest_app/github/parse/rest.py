"""REST JSON (a pull request, its reviews and comments, a repository, a user) into rows."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from inngest_app.github.parse.common import (
    GHOST_ID,
    GHOST_LOGIN,
    Batch,
    required_time,
    to_int,
    to_time,
)
from inngest_app.repos.github import (
    CommentRow,
    ContributorRow,
    PullRequestRow,
    RepositoryMeta,
    ReviewRow,
)


def rest_user(user: Any) -> ContributorRow | None:
    """A REST `user` object, or None for a deleted (ghost) account."""
    if not isinstance(user, Mapping):
        return None
    github_id, login = to_int(user.get("id")), user.get("login")
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
        stars=to_int(repo.get("stargazers_count")),
        forks=to_int(repo.get("forks_count")),
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
        merged_at=to_time(body.get("merged_at")),
        created_at=required_time(body.get("created_at"), "created_at"),
        updated_at=required_time(body.get("updated_at"), "updated_at"),
        closed_at=to_time(body.get("closed_at")),
        author_id=batch.author(rest_user(body.get("user"))),
        additions=to_int(body.get("additions")),
        deletions=to_int(body.get("deletions")),
        changed_files=to_int(body.get("changed_files")),
        commits=to_int(body.get("commits")),
        base_ref=(body.get("base") or {}).get("ref"),
        head_ref=(body.get("head") or {}).get("ref"),
        url=body.get("html_url"),
    )
    batch.pull_requests.append(row)
    return row


def rest_reviews(items: Iterable[Any], pull_request_id: int, batch: Batch) -> None:
    """`GET .../pulls/{n}/reviews` items into `batch`."""
    for item in items:
        if not isinstance(item, Mapping) or to_int(item.get("id")) is None:
            continue
        batch.reviews.append(
            ReviewRow(
                github_id=int(item["id"]),
                pull_request_id=pull_request_id,
                state=str(item.get("state") or "COMMENTED"),
                author_id=batch.author(rest_user(item.get("user"))),
                submitted_at=to_time(item.get("submitted_at")),
                url=item.get("html_url"),
            )
        )


def rest_comments(items: Iterable[Any], pull_request_id: int, batch: Batch, *, kind: str) -> None:
    """Issue comments (`kind="issue"`) or review comments (`kind="review"`) into `batch`."""
    for item in items:
        if not isinstance(item, Mapping) or to_int(item.get("id")) is None:
            continue
        batch.comments.append(
            CommentRow(
                kind=kind,
                github_id=int(item["id"]),
                pull_request_id=pull_request_id,
                review_id=to_int(item.get("pull_request_review_id")),
                author_id=batch.author(rest_user(item.get("user"))),
                path=item.get("path"),
                created_at=required_time(item.get("created_at"), "comment created_at"),
                updated_at=to_time(item.get("updated_at")),
                url=item.get("html_url"),
            )
        )
