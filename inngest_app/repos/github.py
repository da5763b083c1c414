"""GitHub capture storage: repositories, contributors, pull requests, reviews, comments,
discussions and REST ETags.

Every write is one SQL function call. Page writes are bulk: each table's rows travel as one jsonb
array and are upserted by one statement keyed on GitHub's ids; unchanged rows are left as they
are, so a repeated capture changes nothing (the counts returned are rows actually written).
"""

from __future__ import annotations

import builtins
import datetime as dt
from collections.abc import Sequence
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from inngest_app.repos.github_rows import (
    SYNC_KINDS,
    CommentRow,
    ContributorRow,
    DiscussionRow,
    DiscussionWrite,
    ETag,
    PageWrite,
    PullRequestRow,
    RepositoryMeta,
    ReviewRow,
    SizeClass,
    SizeUpdate,
    SyncKind,
    SyncState,
)
from inngest_app.store import Transport

__all__ = [
    "SYNC_KINDS",
    "CommentRow",
    "ContributorRow",
    "DiscussionRow",
    "DiscussionWrite",
    "ETag",
    "GithubRepo",
    "PageWrite",
    "PullRequestRow",
    "Repository",
    "RepositoryMeta",
    "ReviewRow",
    "SizeUpdate",
    "SyncKind",
    "SyncState",
]

RepositoryStatus = Literal["active", "missing"]


class _Row(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")


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
    missing_checks: int = 0
    recheck_at: dt.datetime | None = None
    last_error: str | None = None
    last_error_at: dt.datetime | None = None
    created_at: dt.datetime
    updated_at: dt.datetime
    sync_state: list[SyncState] = []

    def state(self, kind: SyncKind) -> SyncState | None:
        """The state of one kind of sync, None before its first run."""
        return next((s for s in self.sync_state if s.kind == kind), None)

    @property
    def full_name(self) -> str:
        """`owner/name`."""
        return f"{self.owner}/{self.name}"


class RepositoryKey(_Row):
    """A repository's id and name: what a fan-out needs."""

    id: int
    owner: str
    name: str


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

    async def page(
        self, *, after: int, limit: int, discussions_only: bool = False
    ) -> builtins.list[RepositoryKey]:
        """Active repositories after id `after`, in id order (a fan-out's slice)."""
        rows = await self._transport.call(
            "github_repositories_page",
            {"p_after": after, "p_limit": limit, "p_discussions_only": discussions_only},
        )
        return [RepositoryKey.model_validate(r) for r in rows or []]

    async def mark_missing(self, *, owner: str, name: str, at: dt.datetime) -> Repository | None:
        """Mark a repository GitHub does not know (any more) as `missing`, to be checked again
        after a back-off that doubles with each consecutive miss (1 h ... 7 days after `at`)."""
        row = await self._transport.call(
            "github_mark_missing", {"p_owner": owner, "p_name": name, "p_at": at}
        )
        return None if row is None else Repository.model_validate(row)

    async def recheck_due(self, *, at: dt.datetime, limit: int) -> builtins.list[Repository]:
        """Missing repositories whose re-check is due at `at`."""
        rows = await self._transport.call("github_recheck_due", {"p_at": at, "p_limit": limit})
        return [Repository.model_validate(r) for r in rows or []]

    async def record_error(self, *, repository_id: int, error: str) -> None:
        """Record one repository's failure (a fan-out goes on with the others)."""
        await self._transport.call(
            "github_record_error", {"p_repository_id": repository_id, "p_error": error}
        )

    async def visible_to(self, *, owner: str, name: str, user_id: str) -> bool:
        """Whether an admin shared this (private) repository with `user_id` via a workspace."""
        return bool(
            await self._transport.call(
                "github_visible_to", {"p_owner": owner, "p_name": name, "p_user_id": user_id}
            )
        )

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

    async def advance_sync(
        self,
        *,
        repository_id: int,
        kind: SyncKind,
        high: dt.datetime | None,
        cursor: str | None,
        complete: bool,
    ) -> SyncState:
        """Record a page of a pass: where it stopped, or (complete) the new watermark."""
        row = await self._transport.call(
            "github_sync_advance",
            {
                "p_repository_id": repository_id,
                "p_kind": kind,
                "p_high": high,
                "p_cursor": cursor,
                "p_complete": complete,
            },
        )
        return SyncState.model_validate(row)

    async def finish_run(self, *, repository_id: int, kind: SyncKind, reason: str) -> Repository:
        """Record that a sync run ended (the skip windows count from it)."""
        row = await self._transport.call(
            "github_finish_run",
            {"p_repository_id": repository_id, "p_kind": kind, "p_reason": reason},
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
