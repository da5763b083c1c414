"""GraphQL nodes (repositories, pull requests with nested activity, discussions) into rows."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from inngest_app.github.parse.common import (
    Batch,
    required_time,
    size_class,
    to_int,
    to_time,
)
from inngest_app.repos.github import (
    CommentRow,
    ContributorRow,
    DiscussionRow,
    PullRequestRow,
    RepositoryMeta,
    ReviewRow,
)


def gql_actor(actor: Any) -> ContributorRow | None:
    """An `Actor` (ActorFields); None for a deleted account or one without a database id."""
    if not isinstance(actor, Mapping):
        return None
    github_id, login = to_int(actor.get("databaseId")), actor.get("login")
    if github_id is None or not isinstance(login, str):
        return None
    return ContributorRow(
        github_id=github_id,
        login=login,
        avatar_url=actor.get("avatarUrl"),
        type=str(actor.get("__typename") or "User"),
    )


def gql_repository(repo: Mapping[str, Any]) -> RepositoryMeta:
    """`RepositoryFields` into metadata, sized from its pull-request count."""
    total = to_int((repo.get("allPullRequests") or {}).get("totalCount"))
    return RepositoryMeta(
        github_id=int(repo["databaseId"]),
        node_id=repo.get("id"),
        owner=str((repo.get("owner") or {})["login"]),
        name=str(repo["name"]),
        stars=to_int(repo.get("stargazerCount")),
        forks=to_int(repo.get("forkCount")),
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
        merged_at=to_time(node.get("mergedAt")),
        created_at=required_time(node.get("createdAt"), "createdAt"),
        updated_at=required_time(node.get("updatedAt"), "updatedAt"),
        closed_at=to_time(node.get("closedAt")),
        author_id=batch.author(gql_actor(node.get("author"))),
        additions=to_int(node.get("additions")),
        deletions=to_int(node.get("deletions")),
        changed_files=to_int(node.get("changedFiles")),
        commits=to_int((node.get("commits") or {}).get("totalCount")),
        base_ref=node.get("baseRefName"),
        head_ref=node.get("headRefName"),
        url=node.get("url"),
    )
    batch.pull_requests.append(row)
    for review in (node.get("reviews") or {}).get("nodes") or []:
        review_id = to_int((review or {}).get("fullDatabaseId"))
        if review_id is None:
            continue
        batch.reviews.append(
            ReviewRow(
                github_id=review_id,
                pull_request_id=row.github_id,
                state=str(review.get("state") or "COMMENTED"),
                author_id=batch.author(gql_actor(review.get("author"))),
                submitted_at=to_time(review.get("submittedAt")),
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
    github_id = to_int((node or {}).get("fullDatabaseId"))
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
            created_at=required_time(node.get("createdAt"), "comment createdAt"),
            updated_at=to_time(node.get("updatedAt")),
            url=node.get("url"),
        )
    )


def gql_discussions(nodes: Iterable[Any], batch: Batch) -> None:
    """Discussion nodes into `batch`."""
    for node in nodes:
        github_id = to_int((node or {}).get("databaseId"))
        if github_id is None:
            continue
        batch.discussions.append(
            DiscussionRow(
                github_id=github_id,
                number=int(node["number"]),
                title=str(node.get("title") or ""),
                created_at=required_time(node.get("createdAt"), "createdAt"),
                updated_at=required_time(node.get("updatedAt"), "updatedAt"),
                author_id=batch.author(gql_actor(node.get("author"))),
                category=(node.get("category") or {}).get("name"),
                answered=bool(node.get("isAnswered")),
                closed=bool(node.get("closed")),
                comment_count=to_int((node.get("comments") or {}).get("totalCount")) or 0,
                upvotes=to_int(node.get("upvoteCount")) or 0,
                url=node.get("url"),
            )
        )
