"""Workspaces, their member repositories and daily metrics: every operation one SQL function."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from inngest_app.store import Transport


class _Row(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")


class Member(_Row):
    """A repository of a workspace, named by owner/name; `captured` once a sync completed."""

    owner: str
    name: str
    is_priority: bool
    added_at: dt.datetime
    added_by_admin: bool = False
    repository_id: int | None = None
    captured: bool = False
    status: str | None = None
    last_synced_at: dt.datetime | None = None


class Workspace(_Row):
    """A workspace and its members."""

    id: uuid.UUID
    name: str
    slug: str
    owner_id: str
    data_retention_days: int
    created_at: dt.datetime
    repositories: list[Member]

    def member(self, owner: str, name: str) -> Member | None:
        """The member named `owner/name` (GitHub names are case-insensitive), or None."""
        wanted = (owner.lower(), name.lower())
        return next(
            (m for m in self.repositories if (m.owner.lower(), m.name.lower()) == wanted), None
        )


class MembershipChange(_Row):
    """What adding or removing a member did."""

    owner: str | None = None
    name: str | None = None
    added: bool = False
    removed: bool = False
    changed: bool = False
    is_priority: bool = False
    repository_id: int | None = None
    captured: bool = False
    limit_reached: bool = False


class RepositoryState(_Row):
    """Whether a repository is known (has a row) and captured (synced at least once)."""

    known: bool
    captured: bool
    repository_id: int | None = None
    owner: str | None = None
    name: str | None = None


class DailyMetrics(_Row):
    """One row of `workspace_metrics_daily`."""

    workspace_id: uuid.UUID
    date: dt.date
    total_prs: int
    prs_opened: int
    prs_merged: int
    prs_closed: int
    open_at_end: int
    active_contributors: int
    reviews: int
    comments: int
    median_time_to_merge_hours: float | None
    pr_velocity: float
    top_contributors: list[dict[str, Any]]
    trend_total_prs: int
    computed_at: dt.datetime


class WorkspacesRepo:
    """Every data operation on workspaces, each one SQL function (one transaction)."""

    def __init__(self, transport: Transport) -> None:
        self._t = transport

    async def create(
        self,
        *,
        owner_id: str,
        name: str,
        slug: str,
        retention_days: int | None,
        max_per_owner: int = 1_000_000,
    ) -> Workspace | Literal["slug_taken", "limit_reached"]:
        """The new workspace; "slug_taken" when the owner has one with this slug already,
        "limit_reached" when they have `max_per_owner` workspaces."""
        result = await self._t.call(
            "workspace_create",
            {
                "p_owner_id": owner_id,
                "p_name": name,
                "p_slug": slug,
                "p_retention_days": retention_days,
                "p_max_per_owner": max_per_owner,
            },
        )
        if result["created"]:
            return Workspace.model_validate(result["workspace"])
        return "limit_reached" if result.get("limit_reached") else "slug_taken"

    async def get(self, workspace_id: uuid.UUID) -> Workspace | None:
        """The workspace with its members, or None."""
        result = await self._t.call("workspace_get", {"p_id": workspace_id})
        return None if result is None else Workspace.model_validate(result)

    async def add_repository(
        self,
        workspace_id: uuid.UUID,
        *,
        owner: str,
        name: str,
        is_priority: bool,
        by_admin: bool = False,
        max_repositories: int = 1_000_000,
    ) -> MembershipChange:
        """Add a member (or re-mark its priority); `changed` is False if nothing changed,
        `limit_reached` if a new member would exceed `max_repositories`. An admin's addition
        shares a private repository with the workspace."""
        result = await self._t.call(
            "workspace_add_repository",
            {
                "p_workspace_id": workspace_id,
                "p_owner": owner,
                "p_name": name,
                "p_is_priority": is_priority,
                "p_by_admin": by_admin,
                "p_max_repositories": max_repositories,
            },
        )
        return MembershipChange.model_validate(result)

    async def remove_repository(
        self, workspace_id: uuid.UUID, *, owner: str, name: str
    ) -> MembershipChange:
        """Remove a member; `removed` is False if it was not one."""
        result = await self._t.call(
            "workspace_remove_repository",
            {"p_workspace_id": workspace_id, "p_owner": owner, "p_name": name},
        )
        return MembershipChange.model_validate(result)

    async def repository_state(
        self, *, repository_id: int | None, owner: str | None, name: str | None
    ) -> RepositoryState:
        """Whether the repository (by our id, else by `owner/name`) has been captured."""
        result = await self._t.call(
            "workspace_repository_state",
            {"p_id": repository_id, "p_owner": owner, "p_name": name},
        )
        return RepositoryState.model_validate(result)

    async def compute_day(self, workspace_id: uuid.UUID, day: dt.date) -> DailyMetrics | None:
        """Compute and upsert one day's metrics; None if the workspace does not exist."""
        result = await self._t.call(
            "workspace_compute_day", {"p_workspace_id": workspace_id, "p_date": day}
        )
        return None if result is None else DailyMetrics.model_validate(result)

    async def compute_range(self, workspace_id: uuid.UUID, *, until: dt.date, days: int) -> int:
        """Recompute the `days` days ending at `until`; returns the days computed."""
        result = await self._t.call(
            "workspace_compute_range",
            {"p_workspace_id": workspace_id, "p_until": until, "p_days": days},
        )
        return int(result)

    async def recompute(
        self, workspace_id: uuid.UUID, *, until: dt.date, days: int
    ) -> tuple[int, dt.date | None]:
        """Recompute the `days` days ending at `until`, extended back to the day the
        workspace's metrics are stale from (claimed in the same transaction); the days
        computed and the first of them."""
        result = await self._t.call(
            "workspace_recompute",
            {"p_workspace_id": workspace_id, "p_until": until, "p_days": days},
        )
        first = result.get("from")
        return int(result["days"]), dt.date.fromisoformat(first) if first else None

    async def ids_page(self, *, after: uuid.UUID | None, limit: int) -> list[uuid.UUID]:
        """Workspace ids after `after` in id order (keyset pages for the nightly fan-out)."""
        result = await self._t.call("workspace_ids_page", {"p_after": after, "p_limit": limit})
        return [uuid.UUID(value) for value in result]

    async def series(
        self, workspace_id: uuid.UUID, *, until: dt.date, days: int
    ) -> list[DailyMetrics]:
        """The stored daily rows of the `days` days ending at `until`, oldest first."""
        result = await self._t.call(
            "workspace_metrics_series",
            {"p_workspace_id": workspace_id, "p_until": until, "p_days": days},
        )
        return [DailyMetrics.model_validate(row) for row in result]

    async def cleanup_batch(self, *, today: dt.date, limit: int) -> int:
        """Delete at most `limit` rows past their workspace's retention; returns how many."""
        result = await self._t.call("workspace_cleanup_batch", {"p_today": today, "p_limit": limit})
        return int(result)
